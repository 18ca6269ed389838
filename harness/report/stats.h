// Summary statistics for reports and compare: medians, quartiles and
// percentile-bootstrap intervals. Resampling uses a fixed-seed generator so a
// report of the same results is the same file every time (golden tests rely on it).
#pragma once
#include <cstdint>
#include <vector>

namespace heapmark::report::stats {

// Linear interpolation between order statistics (R's type 7); NaN for no data.
double quantile(std::vector<double> v, double q);
double median(std::vector<double> v);
double iqr(const std::vector<double>& v);

struct BootstrapOptions {
  int resamples = 4000;
  double level = 0.95;
  uint64_t seed = 0x6865617020626f6fULL;
};

// A point estimate with its interval; lo == hi == point when n < 2 (no spread to resample).
struct Estimate {
  double point = 0, lo = 0, hi = 0;
  int n = 0;
};

// Median of one sample, with a percentile-bootstrap interval (resample the
// sample with replacement, take each resample's median). Used on within-block
// ratios or differences: each block ran the same program under every allocator.
Estimate bootstrap_median(const std::vector<double>& xs, const BootstrapOptions& opt = {});

// Two independent samples (e.g. the repetitions of one cell in two runs):
// median(b) / median(a), or median(b) - median(a), each side resampled on its own.
Estimate bootstrap_ratio_of_medians(const std::vector<double>& a, const std::vector<double>& b,
                                    const BootstrapOptions& opt = {});
Estimate bootstrap_diff_of_medians(const std::vector<double>& a, const std::vector<double>& b,
                                   const BootstrapOptions& opt = {});

}  // namespace heapmark::report::stats
