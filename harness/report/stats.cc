// Medians, quartiles and percentile-bootstrap intervals (see stats.h).
#include "harness/report/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace heapmark::report::stats {
namespace {

// splitmix64: tiny, good enough for resampling indices, identical everywhere.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

double sorted_quantile(const std::vector<double>& v, double q) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double h = (static_cast<double>(v.size()) - 1) * q;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

double resample_median(const std::vector<double>& xs, Rng& rng, std::vector<double>& scratch) {
  scratch.resize(xs.size());
  for (auto& x : scratch) x = xs[rng.below(xs.size())];
  std::sort(scratch.begin(), scratch.end());
  return sorted_quantile(scratch, 0.5);
}

template <typename Combine>
Estimate two_sample(const std::vector<double>& a, const std::vector<double>& b, const BootstrapOptions& opt,
                    Combine combine) {
  Estimate e;
  e.n = static_cast<int>(std::min(a.size(), b.size()));
  if (a.empty() || b.empty()) {
    e.point = e.lo = e.hi = std::numeric_limits<double>::quiet_NaN();
    return e;
  }
  e.point = combine(median(a), median(b));
  e.lo = e.hi = e.point;
  if (a.size() < 2 && b.size() < 2) return e;
  Rng rng{opt.seed};
  std::vector<double> stats, sa, sb;
  stats.reserve(opt.resamples);
  for (int i = 0; i < opt.resamples; ++i) {
    const double ma = resample_median(a, rng, sa), mb = resample_median(b, rng, sb);
    const double s = combine(ma, mb);
    if (std::isfinite(s)) stats.push_back(s);
  }
  std::sort(stats.begin(), stats.end());
  const double tail = (1 - opt.level) / 2;
  e.lo = sorted_quantile(stats, tail);
  e.hi = sorted_quantile(stats, 1 - tail);
  return e;
}

}  // namespace

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return sorted_quantile(v, q);
}

double median(std::vector<double> v) { return quantile(std::move(v), 0.5); }

double iqr(const std::vector<double>& v) {
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  return sorted_quantile(s, 0.75) - sorted_quantile(s, 0.25);
}

Estimate bootstrap_median(const std::vector<double>& xs, const BootstrapOptions& opt) {
  Estimate e;
  e.n = static_cast<int>(xs.size());
  if (xs.empty()) {
    e.point = e.lo = e.hi = std::numeric_limits<double>::quiet_NaN();
    return e;
  }
  e.point = e.lo = e.hi = median(xs);
  if (xs.size() < 2) return e;
  Rng rng{opt.seed};
  std::vector<double> stats(opt.resamples), scratch;
  for (auto& s : stats) s = resample_median(xs, rng, scratch);
  std::sort(stats.begin(), stats.end());
  const double tail = (1 - opt.level) / 2;
  e.lo = sorted_quantile(stats, tail);
  e.hi = sorted_quantile(stats, 1 - tail);
  return e;
}

Estimate bootstrap_ratio_of_medians(const std::vector<double>& a, const std::vector<double>& b,
                                    const BootstrapOptions& opt) {
  return two_sample(a, b, opt,
                    [](double ma, double mb) { return ma == 0 ? std::numeric_limits<double>::quiet_NaN() : mb / ma; });
}

Estimate bootstrap_diff_of_medians(const std::vector<double>& a, const std::vector<double>& b,
                                   const BootstrapOptions& opt) {
  return two_sample(a, b, opt, [](double ma, double mb) { return mb - ma; });
}

}  // namespace heapmark::report::stats
