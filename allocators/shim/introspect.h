// The introspection ABI every in-house allocator library exports next to the
// malloc family. The harness finds these with dlsym inside a cell, exactly as
// it finds mallctl or mi_version in the third-party libraries. None of them
// may allocate: a cell calls them between measured operations.
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// One named figure; `name` points to static storage.
struct heapmark_stat {
  const char* name;
  unsigned long long value;
};

// Registry name of this allocator, e.g. "ptmalloc-style", "buddy", "slab".
const char* heapmark_allocator_name(void);
// Version string (static storage).
const char* heapmark_allocator_version(void);
// 1 when p is a live block this allocator returned, else 0. Used as the
// identity probe: the cell mallocs and asks the allocator to claim the block.
int heapmark_allocator_owns(const void* p);
// Writes up to `max` figures into `out` and returns how many it wrote.
size_t heapmark_allocator_stats(struct heapmark_stat* out, size_t max);
// Every in-house allocator reports "live_bytes" (what the program holds,
// mmapped blocks included), "free_bytes" (free memory it keeps, resident or
// not) and "releasable_bytes" (what heapmark_allocator_release would give
// back now).
// The allocator's own settings as figures (release policy, decay delay,
// thresholds), for the results: what it configured itself to.
size_t heapmark_allocator_config(struct heapmark_stat* out, size_t max);

// How long, at most, freed memory takes to go back to the OS by itself, and
// what does it (see Horizon in allocators/registry/family.h).
struct heapmark_horizon {
  unsigned long long ms;  // 0: no clock is involved
  int background;         // 1: a thread of the allocator returns memory without allocator calls
  const char* what;       // static storage
};
void heapmark_allocator_horizon(struct heapmark_horizon* out);
// Returns every free page it can to the OS (the malloc_trim(0) equivalent),
// for the calling thread's caches and the shared state.
void heapmark_allocator_release(void);

#ifdef __cplusplus
}
#endif
