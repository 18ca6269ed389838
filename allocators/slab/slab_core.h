// The slab allocator's Core (shim::AllocatorCore): object caches per
// size class (size_classes.h) whose slabs are blocks taken from a BuddyHeap with
// page-sized minimum blocks; per-thread magazines make the common malloc/free
// path lock-free; sizes above the largest class go to that BuddyHeap (power of
// two, up to 4 MiB) and beyond it to their own mapping.
//
// Each slab keeps a free list (plus a bump pointer for never-used objects) and a
// state byte per object (set on malloc, checked and cleared on free with plain
// stores, since only an object's owner changes it; catches double frees from any
// thread); it sits on its cache's full, partial or empty list. A free goes into
// the freeing thread's magazine; full magazines flush to the owning slabs under
// the class lock, so cross-thread frees are safe.
// Empty slabs beyond a reserve go back to the BuddyHeap and from there to the OS.
//
// Environment, read once at the first call (a malformed value aborts, naming
// it: shim/env.h):
//   HEAPMARK_SLAB_DECOMMIT=eager|threshold|never|decay (default decay): policy of
//     the underlying BuddyHeap for pages of returned slabs and large blocks
//     (same meaning as HEAPMARK_BUDDY_DECOMMIT);
//   HEAPMARK_SLAB_DECOMMIT_THRESHOLD=<size> (default 8M; 8388608, 8M, 8MiB, 8MB);
//   HEAPMARK_SLAB_DECAY_MS=<ms> (default 1000): the decay policy's period;
//   HEAPMARK_SLAB_EMPTY_RESERVE=<n> empty slabs kept per class (default 1).
#pragma once
#include <stddef.h>

#include "buddy/buddy_heap.h"
#include "shim/introspect.h"
#include "slab/size_classes.h"

namespace heapmark::slab {

struct Core {
  static void* alloc(size_t n) noexcept;
  static void* alloc_aligned(size_t align, size_t n) noexcept;
  static void free(void* p) noexcept;
  static void* realloc(void* p, size_t n) noexcept;
  static size_t usable_size(const void* p) noexcept;
  static bool owns(const void* p) noexcept;
  static void release() noexcept;
  static size_t stats(heapmark_stat* out, size_t max) noexcept;
  static size_t config(heapmark_stat* out, size_t max) noexcept;
  static heapmark_horizon horizon() noexcept;
  static void prefork() noexcept;
  static void postfork_parent() noexcept;
  static void postfork_child() noexcept;
  static const char* name() noexcept { return "slab"; }
  static const char* version() noexcept { return "0.1.0"; }
};

// Test support. census() checks, with every lock held, that every object of
// every slab is on exactly one of: a magazine, its slab's free list (or never
// carved), allocated; that the allocated objects are exactly the small blocks
// in `live` (pointers above kMaxClass are ignored); and that each slab sits on
// the list its free count implies. Other threads must be quiescent (their
// magazines are read). Returns false with a reason in `why`.
bool census(const void* const* live, size_t nlive, char* why, size_t why_len) noexcept;
// Moves every object in the calling thread's magazines back to the slabs.
void flush_thread_cache() noexcept;
// Bytes of the objects sitting in the calling thread's magazines.
size_t thread_cache_bytes() noexcept;
buddy::BuddyHeap& page_heap() noexcept;

}  // namespace heapmark::slab
