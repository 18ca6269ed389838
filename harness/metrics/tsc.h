// Cycle timer for per-operation latency.
//
// begin() fences so the allocator call cannot start before the timestamp;
// end() uses rdtscp, which waits for the call to retire, then fences so later
// work cannot start before it. What remains, the cost of the pair itself, is
// measured per cell (overhead_cycles) and recorded, not guessed.
#pragma once
#include <x86intrin.h>

#include <cstdint>

namespace heapmark::metrics::tsc {

inline uint64_t begin() noexcept {
  _mm_lfence();
  const uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}

inline uint64_t end() noexcept {
  unsigned aux;
  const uint64_t t = __rdtscp(&aux);
  _mm_lfence();
  return t;
}

// CPUID 0x80000007 EDX bit 8: the TSC ticks at a constant rate in every P/C-state,
// the precondition for converting cycles to nanoseconds with one frequency.
bool invariant() noexcept;

// TSC ticks per second, measured against CLOCK_MONOTONIC_RAW over `window_ns`.
// Takes the median of `rounds` windows so one preemption does not skew it.
double calibrate_hz(uint64_t window_ns = 20'000'000, int rounds = 5) noexcept;

// Smallest non-zero step between two consecutive TSC reads. Virtual machines
// may advance the TSC in coarse steps (26 cycles, 10 ns, seen here); latencies
// are then quantised to this step and only their distribution is meaningful.
uint64_t resolution_cycles(int samples = 100'000) noexcept;

// Median cycles of an empty begin()/end() pair over `samples` pairs.
uint64_t overhead_cycles(int samples = 20'000) noexcept;

uint64_t monotonic_ns() noexcept;       // CLOCK_MONOTONIC, shared by runner and cell
uint64_t monotonic_raw_ns() noexcept;   // CLOCK_MONOTONIC_RAW, not slewed by NTP

}  // namespace heapmark::metrics::tsc
