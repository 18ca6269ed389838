// The buddy allocator's Core (shim::AllocatorCore, shim/core_concept.h): one
// process-wide BuddyHeap with 16-byte minimum blocks, configured once from the
// environment at the first call (a malformed value aborts, naming it: shim/env.h):
//   HEAPMARK_BUDDY_DECOMMIT=eager|threshold|never|decay (default decay)
//     eager: every free page-or-larger block is decommitted at once (RSS follows
//       frees exactly, one madvise per such free);
//     threshold: free dirty pages accumulate up to HEAPMARK_BUDDY_DECOMMIT_THRESHOLD
//       bytes (default 8M; a size: 8388608, 8M, 8MiB, 8MB), then all are decommitted in one pass.
//       Churn of more than the threshold pays for it twice: the madvise, then a
//       page fault per page when the pages are written again;
//     decay: a free page goes back once it has stayed free for one to two periods
//       of HEAPMARK_BUDDY_DECAY_MS (default 1000), at a later call that takes the
//       heap's lock (there is no thread: an idle process keeps them, as jemalloc
//       without its background thread). The default: pages that a program frees
//       and writes again within a period cost neither a syscall nor a fault
//       (jemalloc's and mimalloc's delayed purging, with a two-bit page age);
//     never: nothing is decommitted and wholly free regions are kept (a baseline);
//       malloc_trim / heapmark_allocator_release still return everything.
//   HEAPMARK_BUDDY_MIN_BLOCK=16..4096 (a size, default 16): smallest block, rounded
//     up to a power of two and clamped to that range.
//   HEAPMARK_BUDDY_THREAD_CACHE=0|1 (default 1): per-thread caches of blocks below
//     a page (thread_cache.h); 0 is the seeds' design, every call on the tree under the lock.
#pragma once
#include <stddef.h>

#include "buddy/buddy_heap.h"
#include "shim/introspect.h"

namespace heapmark::buddy {

BuddyHeap& global_heap() noexcept;  // initialised from the environment on first use

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
  static const char* name() noexcept { return "buddy"; }
  static const char* version() noexcept { return "0.1.0"; }
};

}  // namespace heapmark::buddy
