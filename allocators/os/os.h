// The OS contract every in-house allocator uses: reserve/commit/decommit/release
// of address space, and the few other things the cores ask of the platform.
// Allocators never call mmap/munmap/madvise/mprotect (or VirtualAlloc/
// VirtualFree) anywhere else, so tests can count mapped bytes here and a port
// touches one file: os_linux.cc or os_windows.cc, chosen at build time (os.cc
// holds what they share).
//
// Linux merges what Windows keeps apart. Windows has three page states: free,
// reserved (address space only) and committed (charged against the commit
// limit, whether touched or not; the working set is the touched part). Linux
// has no commit charge per range under the default overcommit: a page costs
// something only once touched (RSS). Where the two differ, each call says so.
#pragma once
#include <stddef.h>
#include <stdint.h>
#if defined(__linux__)
#include <sys/single_threaded.h>
#endif

namespace heapmark::os {

// System page size (4096 on both); read once and cached.
size_t page_size() noexcept;

// The unit and alignment of every reservation: the page size on Linux, 64 KiB
// on Windows (VirtualAlloc places reservations on 64 KiB boundaries).
size_t allocation_granularity() noexcept;

// Reserve address space without backing it. size > 0 and a multiple of
// page_size(); align is 0 or a power of two >= page_size(). Returns nullptr on
// failure (never throws, no errno promise).
// Linux: mmap PROT_NONE, over-reserved and trimmed for alignment.
// Windows: VirtualAlloc(MEM_RESERVE); a reservation cannot be trimmed, so an
// aligned one is found by reserving size + align, releasing it and reserving
// again at the aligned address inside it (retried if another thread took it).
void* reserve(size_t size, size_t align = 0) noexcept;

// Make [addr, addr+size) usable (read/write). addr page aligned, size a multiple
// of the page size, range inside a reservation. Returns false on failure.
// Linux: mprotect read/write; pages cost nothing until touched.
// Windows: VirtualAlloc(MEM_COMMIT); the whole range is charged at once.
bool commit(void* addr, size_t size) noexcept;

// Give the physical pages back now, keeping the range reserved. Before the
// range is touched again the caller must recommit() it. Same preconditions as
// commit.
// Linux: madvise(MADV_DONTNEED): RSS drops at once; the range in fact stays
// readable and reads zero, which is why recommit() costs nothing there.
// Windows: VirtualFree(MEM_DECOMMIT): working set and commit charge drop at
// once; touching the range before recommit() faults.
void decommit(void* addr, size_t size) noexcept;

// Make a decommitted range usable again; its pages read zero. Returns false
// when the system cannot back it (Windows: commit limit reached).
// Linux: nothing to do (no system call). Windows: VirtualAlloc(MEM_COMMIT).
bool recommit(void* addr, size_t size) noexcept;

// Drop the contents of pages that must stay usable without notice (an
// allocator that reuses a free chunk without asking: ptmalloc's trimmed free
// chunks); they read zero afterwards. Same preconditions as commit.
// Linux: madvise(MADV_DONTNEED), exactly decommit().
// Windows: MEM_DECOMMIT then MEM_COMMIT: the working set drops, the commit
// charge does not (a usable page is a committed page).
void purge(void* addr, size_t size) noexcept;

// Let the system reclaim the pages lazily; they stay usable, their contents
// undefined until written. Same preconditions as commit.
// Linux: madvise(MADV_FREE) (MADV_DONTNEED where refused): RSS drops only under
// memory pressure, the pages show as LazyFree in smaps.
// Windows: VirtualAlloc(MEM_RESET): the pages stay committed and leave the
// working set only under memory pressure.
void decommit_lazy(void* addr, size_t size) noexcept;

// Give a whole reservation back (addr and size exactly as reserve() returned/was
// given). Linux: munmap. Windows: VirtualFree(MEM_RELEASE).
void release(void* addr, size_t size) noexcept;

// Running totals in bytes (relaxed atomics), for stats and tests. Each counts
// bytes passed to the matching call since process start; they only grow.
// decommitted counts decommit, purge and decommit_lazy; committed counts
// commit and recommit.
struct Counters {
  size_t reserved, committed, decommitted, released;
};
Counters counters() noexcept;

// Reserve and commit in one call (what most allocators want for a fresh
// region); counted as both. Returns nullptr on failure, releasing any partial
// reservation. Linux: one mmap, readable and writable from the start (no
// mprotect). Windows: reserve() then commit().
void* reserve_committed(size_t size, size_t align = 0) noexcept;

// Resize a whole committed reservation (addr and old_size exactly as
// reserve_committed returned/was given), moving it if it must. The contents up
// to the smaller size are kept without being copied (the pages move); pages
// past old_size read zero. Returns the new address, or nullptr when the system
// cannot (the old reservation is then unchanged). Counted as a release of
// old_size and a reservation and commit of new_size. What glibc's realloc does
// with a mmapped chunk.
// Linux: mremap(MREMAP_MAYMOVE). Windows: no equivalent, always nullptr (the
// caller copies, as glibc does where it has no mremap).
void* remap(void* addr, size_t old_size, size_t new_size) noexcept;

// ---- Besides memory, the cores ask the platform for these.

// Processors this process may run on (at least 1): sizes arena limits.
unsigned online_cpus() noexcept;

// 64 unpredictable bits (getrandom; BCryptGenRandom), or a mix of the clock and
// the process id where the system has none to give: seeds pointer tags.
uint64_t entropy() noexcept;

// A coarse monotonic clock in milliseconds: decay epochs.
uint64_t monotonic_ms() noexcept;

// True while the process has never started a second thread (glibc's
// __libc_single_threaded, which glibc's own malloc reads to skip its arena
// locks); always false on Windows, where nothing says so cheaply. Inline on
// Linux: the lock paths read it on every call.
#if defined(__linux__)
inline bool single_threaded() noexcept { return __libc_single_threaded != 0; }
#else
bool single_threaded() noexcept;
#endif

// Sleeps at least ms milliseconds: the decay thread's tick.
void sleep_ms(uint64_t ms) noexcept;

// Starts a detached helper thread with a small stack that never takes the
// process's signals (Linux: all blocked while it is created, so it inherits
// the full mask; Windows has no signals to block). False if it could not start.
bool start_helper_thread(void* (*fn)(void*), size_t stack_bytes) noexcept;

}  // namespace heapmark::os
