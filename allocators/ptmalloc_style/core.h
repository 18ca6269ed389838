// heapmark's ptmalloc-style allocator core: a transparent model of glibc 2.36
// malloc (boundary-tag chunks, tcache, fastbins, unsorted/small/large bins, a
// brk-like main heap, mmap threshold, arenas of fixed-size heaps) plus release
// policies that return whole free pages inside the heap, which glibc does not.
//
// Settings, read once from the environment at the first call (like GLIBC_TUNABLES):
//   HEAPMARK_PT_RELEASE=glibc|eager|decay  glibc (default): only the top is trimmed
//        (above the trim threshold), as glibc does. eager: whole free pages inside
//        free chunks are decommitted by the free that creates them, and a free
//        that reaches the top trims it to the top pad. decay: those pages are
//        decommitted after DECAY_MS/2..DECAY_MS of arena activity, and the top is
//        trimmed to the pad on each decay tick; ticks come from the arena's slow
//        path (the clock is read every 64 operations, never on the tcache fast
//        path) and from a background thread that wakes every DECAY_MS/2.
//   HEAPMARK_PT_DECAY_MS=<ms>              decay delay (default 500, min 1)
//   HEAPMARK_PT_DECAY_THREAD=0|1           decay's background thread (default 1);
//        with 0 an idle process keeps its pages until its next allocator call
//   HEAPMARK_PT_TRIM_THRESHOLD=<bytes>     M_TRIM_THRESHOLD (default 128 KiB)
//   HEAPMARK_PT_TOP_PAD=<bytes>            M_TOP_PAD (default 128 KiB)
//   HEAPMARK_PT_MMAP_THRESHOLD=<bytes>     M_MMAP_THRESHOLD (default 128 KiB, max 32 MiB)
//   HEAPMARK_PT_MMAP_DYNAMIC=0|1           glibc's dynamic mmap/trim threshold rule;
//        default 1, or 0 when a threshold or the top pad is set (as mallopt does)
//   HEAPMARK_PT_ARENA_MAX=<n>              M_ARENA_MAX (default 8 x online CPUs)
//   HEAPMARK_PT_TCACHE_COUNT=<n>           glibc.malloc.tcache_count (default 7, 0 = off)
//   HEAPMARK_PT_MXFAST=<bytes>             M_MXFAST (default 128, max 160)
//   HEAPMARK_PT_MAIN_HEAP=<bytes>          address space reserved for the main heap
//        (default 64 GiB, halved until the reservation succeeds)
// Sizes are bytes, optionally with k/m/g, then optionally iB or B (8M = 8MiB =
// 8MB); <n> is a plain number; DECAY_MS also takes 500ms or 2s. A malformed value
// aborts with one line naming it (shim/env.h): a run never measures a default
// it was not asked for.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "shim/introspect.h"

namespace heapmark::pt {

enum class ReleasePolicy : int { glibc = 0, eager = 1, decay = 2 };

struct Settings {
  ReleasePolicy release;
  unsigned decay_ms;
  bool decay_thread;                               // decay mode with its background ticking thread
  size_t trim_threshold, top_pad, mmap_threshold;  // initial values
  bool mmap_dynamic;
  unsigned arena_max;
  unsigned tcache_count;
  size_t max_fast;
  size_t main_heap_reserve;  // what was actually reserved
};

// The Core contract (shim::AllocatorCore, shim/core_concept.h), plus helpers for tests.
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
  static const char* name() noexcept { return "ptmalloc-style"; }
  static const char* version() noexcept { return "0.1.0 (model of glibc 2.36 ptmalloc2)"; }

  // --- for tests (prefixed API only) ---
  static const Settings& settings() noexcept;
  // Walks every arena's heaps checking boundary tags, coalescing, bin membership
  // and ordering, fastbin/tcache contents. nullptr when consistent, else a static
  // one-line description of the first inconsistency.
  static const char* check_heap() noexcept;
  // Calls fn for every free chunk in every arena's bins (not fastbins, tcache or
  // tops), under that arena's lock: fn must not allocate.
  static void for_each_free_chunk(void (*fn)(void* chunk, size_t size, void* ctx), void* ctx) noexcept;
  // Returns the calling thread's tcache chunks to their arenas.
  static void flush_thread_cache() noexcept;
  // Current (possibly dynamically raised) thresholds.
  static size_t mmap_threshold() noexcept;
  static size_t trim_threshold() noexcept;
  // Looks up one named figure of stats(); 0 when absent.
  static unsigned long long stat(const char* name) noexcept;
};

}  // namespace heapmark::pt
