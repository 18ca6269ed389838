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

// The step the TSC usually advances by between two back-to-back reads (the
// most frequent non-zero difference; the smallest one is misleading, as a read
// pair straddling a step boundary differs by 1). Virtual machines may advance
// the TSC in coarse steps (26 cycles, 10 ns, seen here): single-call
// latencies are then quantised to the step, and means are the figures to compare.
uint64_t resolution_cycles(int samples = 100'000) noexcept;

// Cost of an empty begin()/end() pair over `samples` pairs: the median, which
// percentiles are net of, and the mean (pairs above 10x the median, i.e.
// interrupted ones, left out), which means are net of. With a coarse TSC the
// two differ (52 cycles in 80% of pairs and 78 in 20% here: median 52, mean 57).
struct Overhead {
  uint64_t median_cycles;
  double mean_cycles;
};
Overhead overhead(int samples = 20'000) noexcept;
inline uint64_t overhead_cycles(int samples = 20'000) noexcept { return overhead(samples).median_cycles; }

uint64_t monotonic_ns() noexcept;      // CLOCK_MONOTONIC, shared by runner and cell
uint64_t monotonic_raw_ns() noexcept;  // CLOCK_MONOTONIC_RAW, not slewed by NTP

}  // namespace heapmark::metrics::tsc
