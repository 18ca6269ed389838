// TSC calibration sanity: cycles converted with the calibrated frequency agree
// with CLOCK_MONOTONIC_RAW over an independent interval.
#include "harness/metrics/tsc.h"

#include <gtest/gtest.h>
#include <time.h>

#include <fstream>
#include <string>

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

TEST(Tsc, CalibratedFrequencyPredictsAnotherInterval) {
  const double hz = tsc::calibrate_hz(10'000'000, 3);
  ASSERT_GT(hz, 1e8);   // no x86-64 TSC runs below 100 MHz
  ASSERT_LT(hz, 1e10);
  const uint64_t t0 = tsc::monotonic_raw_ns();
  const uint64_t c0 = tsc::begin();
  timespec ts{0, 50'000'000};
  nanosleep(&ts, nullptr);
  const uint64_t c1 = tsc::end();
  const uint64_t t1 = tsc::monotonic_raw_ns();
  const double predicted_ns = static_cast<double>(c1 - c0) * 1e9 / hz;
  const double actual_ns = static_cast<double>(t1 - t0);
  EXPECT_NEAR(predicted_ns / actual_ns, 1.0, 0.01);
}

TEST(Tsc, OverheadAndResolutionArePlausible) {
  const uint64_t res = tsc::resolution_cycles(10'000);
  const uint64_t ovh = tsc::overhead_cycles(10'000);
  EXPECT_GE(res, 1u);
  EXPECT_LT(ovh, 2000u);  // a fenced rdtsc pair costs tens of cycles, not microseconds
  EXPECT_LE(res, ovh) << "an empty timed pair spans at least one TSC step";
  const auto o = tsc::overhead(10'000);
  EXPECT_GE(o.mean_cycles, static_cast<double>(o.median_cycles) * 0.5);
  EXPECT_LE(o.mean_cycles, static_cast<double>(o.median_cycles) * 10);
}
