// The figure catalogue and unit formatting (see figures.h).
#include "harness/report/figures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "harness/report/stats.h"
#include "harness/results/schema.h"

namespace heapmark::report {

const std::vector<Figure>& headline_figures() {
  static const std::vector<Figure> figs = {
      {results::path::kThroughput, "throughput", "allocator calls per second of measured time (higher is better)",
       Unit::kOpsPerS, true, Scale::kRatio, "faster", "slower"},
      {results::path::kAllocP99, "alloc p99",
       "99th percentile latency of one malloc, net of timer overhead (lower is better)", Unit::kNs, false,
       Scale::kRatio, "faster", "slower"},
      {results::path::kPeakR, "peak R",
       "largest anonymous RSS above the cell's baseline R0 during the program (lower is better)", Unit::kBytes, false,
       Scale::kRatio, "smaller", "larger"},
      {results::path::kReturnedAfterFree, "returned after free",
       "share of freed bytes whose pages left RSS in the first phase that freed at least 1 MiB and 10% of the live "
       "bytes (higher is better)",
       Unit::kFraction, true, Scale::kDifference, "returns more", "returns less"},
      {results::path::kF4, "F4", "peak R over peak live bytes, minus 1 (lower is better)", Unit::kFraction, false,
       Scale::kDifference, "less fragmented", "more fragmented"},
  };
  return figs;
}

const std::vector<Figure>& program_figures() {
  static const std::vector<Figure> figs = {
      {results::path::kWall, "wall", "the program's wall time, spawn to exit (lower is better)", Unit::kSeconds, false,
       Scale::kRatio, "faster", "slower"},
      {results::path::kUserCpu, "user CPU", "user CPU time of the program, from wait4 (lower is better)",
       Unit::kSeconds, false, Scale::kRatio, "less", "more"},
      {results::path::kSysCpu, "sys CPU",
       "kernel CPU time of the program: page faults, madvise, munmap (lower is better)", Unit::kSeconds, false,
       Scale::kRatio, "less", "more"},
      {results::path::kVmHwm, "peak RSS",
       "the program's own VmHWM as it exited: binary and libraries included (lower is better)", Unit::kBytes, false,
       Scale::kRatio, "smaller", "larger"},
      {results::path::kMinorFaults, "minor faults", "pages the kernel had to fault in (lower is better)", Unit::kCount,
       false, Scale::kRatio, "fewer", "more"},
      {results::path::kProgramMetric, "program's metric",
       "the program's own figure, read from its output with the suite's regex (the column says which and its "
       "direction)",
       Unit::kCount, true, Scale::kRatio, "better", "worse", true},
  };
  return figs;
}

const std::vector<Figure>& compare_figures() {
  static const std::vector<Figure> figs = [] {
    std::vector<Figure> f = headline_figures();
    const std::vector<Figure> more = {
        {results::path::kAllocP50, "alloc p50", "median malloc latency", Unit::kNs, false, Scale::kRatio, "faster",
         "slower"},
        {results::path::kAllocP999, "alloc p99.9", "99.9th percentile malloc latency", Unit::kNs, false, Scale::kRatio,
         "faster", "slower"},
        {results::path::kFreeP50, "free p50", "median free latency", Unit::kNs, false, Scale::kRatio, "faster",
         "slower"},
        {results::path::kFreeP99, "free p99", "99th percentile free latency", Unit::kNs, false, Scale::kRatio, "faster",
         "slower"},
        {results::path::kVmHwm, "VmHWM", "peak total RSS of the cell process", Unit::kBytes, false, Scale::kRatio,
         "smaller", "larger"},
        {results::path::kSysCpu, "sys CPU", "kernel CPU time of the cell", Unit::kSeconds, false, Scale::kRatio, "less",
         "more"},
    };
    f.insert(f.begin() + 2, more.begin(), more.begin() + 5);
    // Beside peak R: the same quantity averaged over time (a program's: its anonymous RSS).
    const Figure avg_r{results::path::kAvgR,
                       "avg R",
                       "anonymous RSS above R0 averaged over the phases' time (a program: its anonymous RSS over its "
                       "run); what a byte-second bill sees (lower is better)",
                       Unit::kBytes,
                       false,
                       Scale::kRatio,
                       "smaller",
                       "larger"};
    f.insert(std::find_if(f.begin(), f.end(), [](const Figure& x) { return x.path == results::path::kPeakR; }) + 1,
             avg_r);
    f.push_back(more[5]);
    const std::vector<Figure> measured_where_possible = {
        {results::path::kBatchNsPerCall, "ns/call (batch)",
         "mean ns per allocator call from --timing batch (runs of consecutive calls, one timestamp pair each)",
         Unit::kNs, false, Scale::kRatio, "faster", "slower"},
        {results::path::kPageFaultsPer1k, "faults/1k calls",
         "page faults per thousand allocator calls (perf_event_open)", Unit::kCount, false, Scale::kRatio, "fewer",
         "more"},
        {results::path::kIpc, "IPC", "instructions per cycle over the phases, where the machine has a PMU",
         Unit::kCount, true, Scale::kRatio, "higher", "lower"},
    };
    f.insert(f.end(), measured_where_possible.begin(), measured_where_possible.end());
    // The program figures not already there (VmHWM and sys CPU are).
    for (const auto& p : program_figures())
      if (std::none_of(f.begin(), f.end(), [&](const Figure& x) { return x.path == p.path; })) f.push_back(p);
    return f;
  }();
  return figs;
}

bool program_only(const Figure& f) {
  using namespace results::path;
  return f.path == kWall || f.path == kUserCpu || f.path == kMinorFaults || f.path == kProgramMetric;
}

const Figure* find_figure(const std::string& path) {
  for (const auto& f : compare_figures())
    if (f.path == path) return &f;
  return nullptr;
}

bool is_noisy(const Figure& f, const std::vector<double>& values) {
  if (values.size() < 3) return true;
  const double spread = stats::iqr(values);
  if (f.scale == Scale::kDifference) return spread > kNoisyAbsoluteIqr;
  const double m = std::fabs(stats::median(values));
  return m == 0 ? spread > 0 : spread / m > kNoisyRelativeIqr;
}

std::string noise_rule_text() {
  char buf[256];
  std::snprintf(
      buf, sizeof buf,
      "a figure is marked noisy (~) when the interquartile range of its repetitions exceeds %.0f%% of their "
      "median (for fractions such as F4: exceeds %.0f percentage points), or when it has fewer than 3 repetitions",
      kNoisyRelativeIqr * 100, kNoisyAbsoluteIqr * 100);
  return buf;
}

std::string format_sig(double v, int digits) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  const double a = std::fabs(v);
  int decimals = 0;
  if (a > 0) decimals = std::max(0, digits - 1 - static_cast<int>(std::floor(std::log10(a))));
  decimals = std::min(decimals, 6);
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s == "-0" || s.rfind("-0.", 0) == 0) {
    bool all_zero = true;
    for (char c : s) all_zero &= (c == '-' || c == '0' || c == '.');
    if (all_zero) s.erase(0, 1);
  }
  return s;
}

std::string format_bytes(double v) {
  const double a = std::fabs(v);
  if (a >= 1024.0 * 1024 * 1024) return format_sig(v / (1024.0 * 1024 * 1024)) + " GiB";
  if (a >= 1024.0 * 1024) return format_sig(v / (1024.0 * 1024)) + " MiB";
  if (a >= 1024.0) return format_sig(v / 1024.0) + " KiB";
  return format_sig(v) + " B";
}

std::string format_ns(double v) {
  const double a = std::fabs(v);
  if (a >= 1e9) return format_sig(v / 1e9) + " s";
  if (a >= 1e6) return format_sig(v / 1e6) + " ms";
  if (a >= 1e3) return format_sig(v / 1e3) + " µs";
  return format_sig(v) + " ns";
}

std::string format_value(const Figure& f, double v) {
  if (!std::isfinite(v)) return "n/a";
  switch (f.unit) {
    case Unit::kOpsPerS:
      if (std::fabs(v) >= 1e6) return format_sig(v / 1e6) + " M/s";
      if (std::fabs(v) >= 1e3) return format_sig(v / 1e3) + " k/s";
      return format_sig(v) + " /s";
    case Unit::kNs: return format_ns(v);
    case Unit::kBytes: return format_bytes(v);
    case Unit::kFraction: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f %%", v * 100);
      return std::string(buf) == "-0.0 %" ? "0.0 %" : buf;
    }
    case Unit::kSeconds: return format_ns(v * 1e9);
    case Unit::kCount:
      if (std::fabs(v) >= 1e9) return format_sig(v / 1e9) + " G";
      if (std::fabs(v) >= 1e6) return format_sig(v / 1e6) + " M";
      if (std::fabs(v) >= 1e4) return format_sig(v / 1e3) + " k";
      return format_sig(v, 4);
  }
  return format_sig(v);
}

std::string format_change(const Figure& f, double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  if (f.scale == Scale::kRatio) {
    std::snprintf(buf, sizeof buf, "%.2f×", v);
    return buf;
  }
  return format_points(v) + " pp";
}

std::string format_points(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f", v * 100);
  return std::string(buf) == "-0.0" ? "+0.0" : buf;
}

}  // namespace heapmark::report
