// TSC calibration sanity: cycles converted with the calibrated frequency agree
// with CLOCK_MONOTONIC_RAW over an independent interval.
#include "harness/metrics/tsc.h"

#include <gtest/gtest.h>
#include <time.h>

#include <x86intrin.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace tsc = heapmark::metrics::tsc;

TEST(Tsc, InvariantFlagAgreesWithCpuinfo) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  bool nonstop = false;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) nonstop = line.find(" nonstop_tsc") != std::string::npos;
  // The kernel sets nonstop_tsc from the same CPUID bit.
  EXPECT_EQ(tsc::invariant(), nonstop);
}

// Brackets a TSC read between two CLOCK_MONOTONIC_RAW reads; a preemption in
// between shows as a wide bracket, and such a pair is taken again.
struct Stamp {
  uint64_t ns, cycles;
};
static Stamp stamp() {
  for (;;) {
    const uint64_t a = tsc::monotonic_raw_ns();
    const uint64_t c = tsc::begin();
    const uint64_t b = tsc::monotonic_raw_ns();
    if (b - a < 20'000) return {a + (b - a) / 2, c};
  }
}

TEST(Tsc, CalibratedFrequencyPredictsOtherIntervals) {
  const double hz = tsc::calibrate_hz(10'000'000, 3);
  ASSERT_GT(hz, 1e8);  // no x86-64 TSC runs below 100 MHz
  ASSERT_LT(hz, 1e10);
  // The median of five independent 50 ms intervals: one preempted interval
  // cannot move it.
  std::vector<double> ratios;
  for (int i = 0; i < 5; ++i) {
    const Stamp s0 = stamp();
    timespec ts{0, 50'000'000};
    nanosleep(&ts, nullptr);
    const Stamp s1 = stamp();
    ratios.push_back(static_cast<double>(s1.cycles - s0.cycles) * 1e9 / hz / static_cast<double>(s1.ns - s0.ns));
  }
  std::sort(ratios.begin(), ratios.end());
  EXPECT_NEAR(ratios[2], 1.0, 0.01);
}

// The figures overhead() and resolution_cycles() report agree with the same
// quantities measured here, independently, from raw samples.
TEST(Tsc, ResolutionIsTheMostCommonStepOfTheCounter) {
  const uint64_t res = tsc::resolution_cycles(20'000);
  std::map<uint64_t, int> steps;
  for (int i = 0; i < 20'000; ++i) {
    const uint64_t a = __rdtsc();
    uint64_t b;
    do b = __rdtsc();
    while (b == a);
    ++steps[b - a];
  }
  // The reported step is one the counter takes at least a fifth of the time
  // (the mode, up to sampling noise between two equally common steps).
  EXPECT_GE(steps[res], 20'000 / 5) << "reported resolution " << res << " cycles is not a common step";
}

TEST(Tsc, OverheadIsTheMedianAndTheUninterruptedMeanOfEmptyTimedPairs) {
  const auto o = tsc::overhead(20'000);
  std::vector<uint64_t> pairs(20'000);
  for (auto& p : pairs) {
    const uint64_t a = tsc::begin();
    p = tsc::end() - a;
  }
  std::sort(pairs.begin(), pairs.end());
  EXPECT_GE(o.median_cycles, pairs[pairs.size() / 4]) << "median below the independent sample's first quartile";
  EXPECT_LE(o.median_cycles, pairs[pairs.size() * 3 / 4]) << "median above the independent sample's third quartile";
  EXPECT_LT(o.median_cycles, 2000u);  // a fenced rdtsc pair costs tens of cycles, not microseconds
  // The mean leaves out interrupted pairs (beyond 10x the median).
  double sum = 0, n = 0;
  for (uint64_t p : pairs)
    if (p <= 10 * pairs[pairs.size() / 2]) sum += static_cast<double>(p), ++n;
  EXPECT_NEAR(o.mean_cycles, sum / n, 0.25 * sum / n);
}
