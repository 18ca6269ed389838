// A deliberately trivial allocator Core (bump allocation in one reservation,
// blocks never reused) used to check the shim layers and the shared test
// harnesses independently of any real allocator. It meets the same contract as
// the real cores (shim::AllocatorCore, asserted below the struct).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

#include "os/os.h"
#include "shim/core_concept.h"
#include "shim/diag.h"
#include "shim/introspect.h"

namespace heapmark::testing {

struct TrivialCore {
  struct Header {
    size_t size;
    uint64_t state;
  };
  static constexpr uint64_t kLive = 0x4c495645'4c495645ull, kFreed = 0x46524545'46524545ull;
  static constexpr size_t kArena = size_t(4) << 30;

  static inline std::atomic<char*> base_{nullptr};
  static inline std::atomic<size_t> top_{0};
  static inline std::atomic<size_t> in_use_{0};

  [[noreturn]] static void die(const char* msg) noexcept { shim::die("trivial", msg); }
  static char* arena() noexcept {
    char* b = base_.load(std::memory_order_acquire);
    if (b) return b;
    char* fresh = static_cast<char*>(os::reserve_committed(kArena));
    if (!fresh) return nullptr;
    if (!base_.compare_exchange_strong(b, fresh)) {
      os::release(fresh, kArena);
      return b;
    }
    return fresh;
  }
  static void* alloc_aligned(size_t align, size_t n) noexcept {
    char* b = arena();
    if (!b || n > kArena) return nullptr;
    if (align < 16) align = 16;
    size_t need = n + align + sizeof(Header);
    size_t off = top_.fetch_add((need + 15) & ~size_t(15));
    if (off + need > kArena) return nullptr;
    uintptr_t p = (reinterpret_cast<uintptr_t>(b) + off + sizeof(Header) + align - 1) & ~(uintptr_t)(align - 1);
    Header* h = reinterpret_cast<Header*>(p) - 1;
    h->size = n;
    h->state = kLive;
    in_use_ += n;
    return reinterpret_cast<void*>(p);
  }
  static void* alloc(size_t n) noexcept { return alloc_aligned(16, n); }
  static Header* header(const void* p) noexcept { return const_cast<Header*>(static_cast<const Header*>(p) - 1); }
  static bool in_arena(const void* p) noexcept {
    char* b = base_.load();
    return b && p > b && static_cast<const char*>(p) < b + kArena && reinterpret_cast<uintptr_t>(p) % 16 == 0;
  }
  static bool owns(const void* p) noexcept { return in_arena(p) && header(p)->state == kLive; }
  static void free(void* p) noexcept {
    if (!in_arena(p)) die("free(): invalid pointer");
    Header* h = header(p);
    if (h->state == kFreed) die("free(): double free detected");
    if (h->state != kLive) die("free(): invalid pointer");
    h->state = kFreed;
    in_use_ -= h->size;
  }
  static size_t usable_size(const void* p) noexcept { return header(p)->size; }
  static void* realloc(void* p, size_t n) noexcept {
    void* q = alloc(n);
    if (!q) return nullptr;
    size_t old = usable_size(p);
    memcpy(q, p, old < n ? old : n);
    free(p);
    return q;
  }
  static constexpr bool kReleases = false;  // nothing is ever given back: trim has nothing to return
  static void release() noexcept {}
  static size_t stats(heapmark_stat* out, size_t max) noexcept {
    if (max < 1) return 0;
    out[0] = {"in_use_bytes", in_use_.load()};
    return 1;
  }
  static size_t config(heapmark_stat*, size_t) noexcept { return 0; }
  static heapmark_horizon horizon() noexcept { return {0, 0, "none needed: nothing is ever reused"}; }
  static void prefork() noexcept {}
  static void postfork_parent() noexcept {}
  static void postfork_child() noexcept {}
  static const char* name() noexcept { return "trivial"; }
  static const char* version() noexcept { return "0"; }
};
static_assert(shim::AllocatorCore<TrivialCore>);

}  // namespace heapmark::testing
