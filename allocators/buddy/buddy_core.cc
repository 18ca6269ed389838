// The buddy allocator's Core over the process-wide BuddyHeap (see buddy_core.h).
#include "buddy/buddy_core.h"

#include <string.h>

#include "shim/env.h"

namespace heapmark::buddy {
namespace {
BuddyHeap g_heap;

void init_from_env() noexcept {
  // The environment only here, once, before the heap is marked ready.
  constexpr const char* kWho = "heapmark buddy";
  Decommit policy = Decommit::kThreshold;
  size_t threshold = size_t(8) << 20, min_block = 16;
  shim::env_choice(kWho, "HEAPMARK_BUDDY_DECOMMIT", kDecommitNames, &policy);
  shim::env_size(kWho, "HEAPMARK_BUDDY_DECOMMIT_THRESHOLD", &threshold);
  shim::env_size(kWho, "HEAPMARK_BUDDY_MIN_BLOCK", &min_block);
  unsigned min_order = 4;
  while (min_order < kPageOrder && (size_t(1) << min_order) < min_block) ++min_order;
  g_heap.init("buddy", min_order, policy, threshold);
}

inline BuddyHeap& heap() noexcept {
  if (__builtin_expect(!g_heap.initialised(), 0)) init_from_env();
  return g_heap;
}
}  // namespace

BuddyHeap& global_heap() noexcept { return heap(); }

void* Core::alloc(size_t n) noexcept { return heap().alloc(n); }
void* Core::alloc_aligned(size_t align, size_t n) noexcept { return heap().alloc_aligned(align, n); }
void Core::free(void* p) noexcept { heap().free(p); }
size_t Core::usable_size(const void* p) noexcept { return heap().usable_size(p); }
bool Core::owns(const void* p) noexcept { return heap().owns(p); }
void Core::release() noexcept { heap().release(); }
size_t Core::stats(heapmark_stat* out, size_t max) noexcept { return heap().stats(out, max); }
size_t Core::config(heapmark_stat* out, size_t max) noexcept { return heap().config(out, max); }
heapmark_horizon Core::horizon() noexcept { return heap().horizon(); }

void* Core::realloc(void* p, size_t n) noexcept {
  BuddyHeap& h = heap();
  size_t old = h.usable_size(p);
  if (old == 0) h.free(p);  // not a live block: free() names the failed check and aborts
  // Stay in place while the block fits and is not more than twice too big.
  if (n <= old && (n > old / 2 || old <= (size_t(1) << h.min_order()))) return p;
  void* q = h.alloc(n);
  if (!q) return nullptr;
  memcpy(q, p, old < n ? old : n);
  h.free(p);
  return q;
}

void Core::prefork() noexcept { heap().lock(); }
void Core::postfork_parent() noexcept { heap().unlock(); }
void Core::postfork_child() noexcept { heap().reinit_lock_after_fork(); }

}  // namespace heapmark::buddy
