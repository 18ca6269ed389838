// The OS contract every in-house allocator uses: reserve/commit/decommit/release
// of address space. Allocators never call mmap/munmap/madvise/mprotect anywhere
// else, so tests can count mapped bytes here and a port touches one file.
#pragma once
#include <stddef.h>

namespace heapmark::os {

// System page size (4096 here); read once and cached.
size_t page_size() noexcept;

// Reserve address space without backing it (PROT_NONE). size > 0 and a multiple
// of page_size(); align is 0 or a power of two >= page_size(). Returns nullptr on
// failure (never throws, no errno promise).
void* reserve(size_t size, size_t align = 0) noexcept;

// Make [addr, addr+size) usable (read/write). addr page aligned, size a multiple
// of the page size, range inside a reservation. Returns false on failure (ENOMEM).
bool commit(void* addr, size_t size) noexcept;

// Give the physical pages back now (RSS drops at once, MADV_DONTNEED); the range
// stays reserved and committed and reads return zero afterwards. Same
// preconditions as commit.
void decommit(void* addr, size_t size) noexcept;

// Let the kernel reclaim the pages lazily (MADV_FREE): RSS drops only under
// memory pressure, the pages show as LazyFree in smaps. Same preconditions as commit.
void decommit_lazy(void* addr, size_t size) noexcept;

// Unmap a whole reservation (addr and size exactly as reserve() returned/was given).
void release(void* addr, size_t size) noexcept;

// Running totals in bytes (relaxed atomics), for stats and tests. Each counts
// bytes passed to the matching call since process start; they only grow.
struct Counters {
  size_t reserved, committed, decommitted, released;
};
Counters counters() noexcept;

// Convenience: reserve + commit in one call (what most allocators want for a
// fresh region). Returns nullptr on failure, releasing any partial reservation.
void* reserve_committed(size_t size, size_t align = 0) noexcept;

}  // namespace heapmark::os
