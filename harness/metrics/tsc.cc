#include "harness/metrics/tsc.h"

#include <cpuid.h>
#include <time.h>

#include <algorithm>
#include <array>

namespace heapmark::metrics::tsc {

bool invariant() noexcept {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(0x80000000u, &eax, &ebx, &ecx, &edx) || eax < 0x80000007u) return false;
  __get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx);
  return (edx >> 8) & 1u;
}

static uint64_t clock_ns(clockid_t id) noexcept {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t monotonic_ns() noexcept { return clock_ns(CLOCK_MONOTONIC); }
uint64_t monotonic_raw_ns() noexcept { return clock_ns(CLOCK_MONOTONIC_RAW); }

double calibrate_hz(uint64_t window_ns, int rounds) noexcept {
  std::array<double, 16> hz{};
  rounds = std::clamp(rounds, 1, static_cast<int>(hz.size()));
  for (int r = 0; r < rounds; ++r) {
    const uint64_t t0 = monotonic_raw_ns();
    const uint64_t c0 = begin();
    uint64_t t1;
    do t1 = monotonic_raw_ns();
    while (t1 - t0 < window_ns);
    const uint64_t c1 = end();
    hz[r] = static_cast<double>(c1 - c0) * 1e9 / static_cast<double>(t1 - t0);
  }
  std::sort(hz.begin(), hz.begin() + rounds);
  return hz[rounds / 2];
}

// Deltas are bucketed instead of stored: no heap, and small integers need no
// more resolution than this. Called from one thread, before measurement.
static uint32_t g_counts[4096];

uint64_t resolution_cycles(int samples) noexcept {
  std::fill(std::begin(g_counts), std::end(g_counts), 0u);
  for (int i = 0; i < samples; ++i) {
    const uint64_t a = __rdtsc();
    uint64_t b;
    do b = __rdtsc();
    while (b == a);
    ++g_counts[std::min<uint64_t>(b - a, 4095)];
  }
  uint64_t mode = 1;
  for (uint64_t c = 1; c < 4095; ++c)
    if (g_counts[c] > g_counts[mode]) mode = c;
  return mode;
}

Overhead overhead(int samples) noexcept {
  std::fill(std::begin(g_counts), std::end(g_counts), 0u);
  for (int i = 0; i < samples; ++i) {
    const uint64_t a = begin();
    const uint64_t b = end();
    ++g_counts[std::min<uint64_t>(b - a, 4095)];
  }
  Overhead o{4095, 0};
  uint64_t seen = 0;
  for (uint64_t c = 0; c < 4096; ++c) {
    seen += g_counts[c];
    if (seen * 2 >= static_cast<uint64_t>(samples)) {
      o.median_cycles = c;
      break;
    }
  }
  double sum = 0, n = 0;
  for (uint64_t c = 0; c <= std::min<uint64_t>(10 * o.median_cycles, 4095); ++c) {
    sum += static_cast<double>(c) * g_counts[c];
    n += g_counts[c];
  }
  o.mean_cycles = n > 0 ? sum / n : static_cast<double>(o.median_cycles);
  return o;
}

}  // namespace heapmark::metrics::tsc
