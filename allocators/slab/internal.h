// Internals of the slab allocator, shared by its files (see README.md for which
// file holds what): the slab header, the class caches and the per-thread
// magazines, the slab geometry of every class, the process-wide state, the
// inline helpers of the malloc and free fast paths, and each file's functions.
#pragma once
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <array>
#include <atomic>

#include "buddy/buddy_heap.h"
#include "shim/thread_registry.h"
#include "slab/size_classes.h"
#include "slab/slab_core.h"

// Hidden: everything here is resolved inside one link unit (the preload .so or
// a test executable), so -fPIC code reaches it without the GOT or PLT, as when
// it was all file-local.
#pragma GCC visibility push(hidden)

namespace heapmark::slab {
using buddy::BuddyHeap;
using buddy::Region;

struct Cache;

// Lives at the end of its slab; objects start at the slab base.
struct Slab {
  Slab* next;
  Slab* prev;
  char* base;
  void* free_list;      // intrusive list of returned objects
  uint64_t inv;         // the class's offset-to-index multiplier (Geometry::inv), read by every free
  uint32_t free_count;  // free_list length + never-carved objects
  uint32_t carved;      // objects [carved, capacity) were never handed out
  uint32_t capacity;
  uint32_t size;  // the class's object size: free checks an index against it, usable_size returns it
  uint16_t cls;
  uint8_t list;  // which cache list holds it
  // One byte per object follows the struct: 1 while the object is allocated.
  // Only the object's owner (the user, or the thread cache holding it) changes
  // its byte, so plain loads and stores suffice: no locked read-modify-write on
  // the fast path. Racing frees of one object may both pass, as in glibc.
  uint8_t* state_byte(size_t idx) noexcept { return reinterpret_cast<uint8_t*>(this + 1) + idx; }
  bool allocated(size_t idx) noexcept {
    return std::atomic_ref<uint8_t>(*state_byte(idx)).load(std::memory_order_relaxed) != 0;
  }
};
inline void set_state(uint8_t* state, uint8_t allocated) noexcept {
  std::atomic_ref<uint8_t>(*state).store(allocated, std::memory_order_relaxed);
}
static_assert(sizeof(Slab) <= kSlabFixedHeaderBytes);

enum : uint8_t { kPartial = 0, kEmpty = 1, kFull = 2 };

// A class's slabs, on three lists; changed only under the class's lock.
struct alignas(64) Cache {
  Slab* lists[3] = {};
  size_t counts[3] = {};
};

// Two neighbouring classes share a lock. Census and the fork hooks hold every
// class lock at once, and ThreadSanitizer allows a thread at most 64 held locks:
// 72 class locks would pass it (36 shared ones and the heap's do not). A class
// lock is taken only to move a batch between a magazine and the slabs, so
// sharing costs little.
inline constexpr unsigned kClassesPerLock = 2;
inline constexpr unsigned kClassLocks = kClasses / kClassesPerLock;
static_assert(kClasses % kClassesPerLock == 0);
struct alignas(64) ClassLock {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
};

// A cached object and its slab state byte's address, so malloc marks it
// allocated without looking its slab up; side by side, one cache line serves a pop.
struct Slot {
  void* item;
  uint8_t* state;
};

// Where each class's magazine keeps its slots in ThreadCache::slots: each class
// has exactly its capacity (magazine_cap), 1,767 slots in all (28 KiB), not 64
// per class (72 KiB), and a thread touches only the pages of the classes it uses.
struct SlotLayout {
  std::array<uint16_t, kClasses> base{};
  unsigned total = 0;
};
constexpr SlotLayout slot_layout() {
  SlotLayout l{};
  for (unsigned i = 0; i < kClasses; ++i) {
    l.base[i] = uint16_t(l.total);
    l.total += magazine_cap(i);
  }
  return l;
}
inline constexpr SlotLayout kSlots = slot_layout();

// A class's magazine: a stack of `count` slots at ThreadCache::slots + base.
// The heads of every class share a few cache lines apart from the slots.
struct Magazine {
  uint32_t count;
  uint16_t cap;   // 0 in g_dead: every call goes to the slabs
  uint16_t base;  // kSlots.base[class]
};

// The page heap's decay needs calls that reach it; a program whose working set
// fits its magazines makes none, so every kAllocsPerTick mallocs from a
// magazine also offer it a tick (jemalloc's tcache counts events the same way).
inline constexpr uint32_t kAllocsPerTick = 1024;

struct ThreadCache {
  Magazine mags[kClasses];
  uint32_t allocs_to_tick;
  ThreadCache* next_all;
  ThreadCache* prev_all;
  Slot slots[kSlots.total];
  Slot* slots_of(const Magazine& m) noexcept { return slots + m.base; }
};

constexpr std::array<Geometry, kClasses> every_geometry() {
  std::array<Geometry, kClasses> g{};
  for (unsigned i = 0; i < kClasses; ++i) g[i] = geometry(i);
  return g;
}
inline constexpr std::array<Geometry, kClasses> kGeo = every_geometry();

// ------------------------------------------------------------------ process-wide state (setup.cc)
extern BuddyHeap g_heap;
extern Cache g_cache[kClasses];
extern ClassLock g_class_lock[kClassLocks];
inline pthread_mutex_t* lock_of(unsigned cls) noexcept { return &g_class_lock[cls / kClassesPerLock].mu; }
extern std::atomic<bool> g_ready;
extern pthread_key_t g_key;
extern size_t g_empty_reserve;
// Registry of thread caches (for census, fork and reuse after thread exit).
extern shim::ThreadRegistry<ThreadCache> g_threads;
extern std::atomic<size_t> g_slab_bytes;
extern std::atomic<size_t> g_slabs_returned;
// Threads whose cache was torn down (exit) use this one: every cap is 0, so
// each call goes straight to the slabs under the class lock.
extern ThreadCache g_dead;

extern __thread ThreadCache* t_cache __attribute__((tls_model("initial-exec")));

[[noreturn]] void fail(const char* check) noexcept;
void init_global() noexcept;

inline void ensure_init() noexcept {
  if (__builtin_expect(!g_ready.load(std::memory_order_acquire), 0)) init_global();
}

// ------------------------------------------------------------------ slab lists (slab_lists.cc)
void list_remove(Cache& c, Slab* s) noexcept;
void list_push(Cache& c, Slab* s, uint8_t list) noexcept;
inline uint8_t list_for(const Slab* s) noexcept {
  return s->free_count == 0 ? kFull : s->free_count == s->capacity ? kEmpty : kPartial;
}

// The slab holding p, or nullptr (a large block, a huge mapping, or not ours).
inline Slab* slab_of(const void* p, Region** out_region = nullptr) noexcept {
  Region* r = buddy::region_of(p);
  if (!r || r->heap != &g_heap) return nullptr;
  if (out_region) *out_region = r;
  size_t page = size_t(static_cast<const char*>(p) - r->base) >> buddy::kPageOrder;
  return reinterpret_cast<Slab*>(r->pagemap[page].load(std::memory_order_acquire));
}

Slab* new_slab_locked(unsigned cls) noexcept;
void return_slab_locked(Slab* s) noexcept;
// Takes up to n objects of class cls into out[] (with their state bytes'
// addresses); returns how many.
unsigned take_locked(unsigned cls, Slot* out, unsigned n) noexcept;
// Returns objects of class cls to their slabs (their live bits are already clear).
void put_locked(unsigned cls, const Slot* items, unsigned n) noexcept;

// ------------------------------------------------------------------ the slow paths (slab_core.cc)
// Above the largest class: the page heap.
[[gnu::noinline]] void* alloc_large(size_t n) noexcept;
// A large block, a huge mapping, or not ours: the buddy heap checks which.
[[gnu::noinline]] void free_large(void* p) noexcept;
// A free whose magazine is full, or the thread's first call, or a thread past its exit (g_dead: no magazines).
[[gnu::noinline]] void free_slow(void* p, uint8_t* state, unsigned cls) noexcept;

// ------------------------------------------------------------------ thread caches (thread_cache.cc)
// Returns the oldest n objects of tc's magazine of class cls to their slabs.
void flush_magazine(ThreadCache* tc, unsigned cls, unsigned n) noexcept;
ThreadCache* init_thread() noexcept;
void thread_exit(void* v) noexcept;
// A malloc of class cls whose magazine is empty, or the thread's first call.
void* alloc_small_slow(unsigned cls) noexcept;
// Offers the page heap its tick (kAllocsPerTick) and returns p.
void* tick_then(void* p) noexcept;

inline ThreadCache* cache() noexcept {
  ThreadCache* tc = t_cache;
  return __builtin_expect(tc != nullptr, 1) ? tc : init_thread();
}

// Every call that is not a pop from a magazine leaves through a tail call, so
// the pop itself saves no register (as the free path: slab_core.cc).
inline void* alloc_small(unsigned cls) noexcept {
  ThreadCache* tc = t_cache;
  if (__builtin_expect(tc != nullptr, 1)) {
    Magazine& m = tc->mags[cls];
    if (__builtin_expect(m.count != 0, 1)) {
      const Slot& s = tc->slots_of(m)[--m.count];
      set_state(s.state, 1);
      if (__builtin_expect(--tc->allocs_to_tick == 0, 0)) return tick_then(s.item);
      return s.item;
    }
  }
  return alloc_small_slow(cls);
}

// Index of p in its slab, or aborts naming the failed check.
inline size_t object_index(const Slab* s, const void* p) noexcept {
  size_t off = size_t(static_cast<const char*>(p) - s->base);
  size_t idx = (uint64_t(off) * s->inv) >> 40;
  if (idx * s->size != off || idx >= s->capacity) fail("free(): invalid pointer (not the start of an object)");
  return idx;
}

// ------------------------------------------------------------------ the fast paths (Core::alloc, Core::free)
// Inline here so that the preload library's malloc and free (export.cc) are
// the fast paths themselves, not calls to them. Everything but a pop from or a
// push onto a magazine leaves through a tail call, so they save no register.
inline void* alloc_fast(size_t n) noexcept {
  if (__builtin_expect(n <= kMaxClass, 1)) return alloc_small(class_of(n));
  return alloc_large(n);
}

inline void free_fast(void* p) noexcept {
  Slab* s = slab_of(p);
  if (!s) return free_large(p);
  const size_t idx = object_index(s, p);
  uint8_t* state = s->state_byte(idx);
  if (!s->allocated(idx)) fail("free(): double free detected (object is not allocated)");
  set_state(state, 0);
  const unsigned cls = s->cls;
  ThreadCache* tc = t_cache;
  if (__builtin_expect(tc != nullptr, 1)) {
    Magazine& m = tc->mags[cls];
    if (__builtin_expect(m.count < m.cap, 1)) {
      tc->slots_of(m)[m.count++] = Slot{p, state};
      return;
    }
  }
  free_slow(p, state, cls);
}

// ------------------------------------------------------------------ stats (stats.cc)
size_t live_objects(Slab* s) noexcept;  // objects of s marked allocated

}  // namespace heapmark::slab

#pragma GCC visibility pop
