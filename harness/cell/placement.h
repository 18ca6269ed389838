// Where a cell's threads run. A cell starts with the CPU mask a normal
// process gets on this machine (the runner spawns it with the mask it had
// before pinning itself), so the allocator sizes its arenas and caches as it
// would when deployed; only then does place() narrow it for measurement.
#pragma once
#include <sched.h>

#include <cstddef>

namespace heapmark::cell {

// "0-3,6" for the CPUs in `set` (at most `len` - 1 characters, cut with "...").
void format_cpus(const cpu_set_t& set, char* out, size_t len) noexcept;
// The calling thread's mask as a CPU list.
void current_cpus(char* out, size_t len) noexcept;

// A single-thread workload is pinned to `cpu` (>= 0). Threads of a
// multi-thread workload must run at the same time, so they keep every CPU the
// cell started with. Returns the CPU pinned to, or -1.
int place(int cpu, size_t threads, const cpu_set_t& started_with) noexcept;

}  // namespace heapmark::cell
