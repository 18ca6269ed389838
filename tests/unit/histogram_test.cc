// The log-linear histogram's promise: any quantile within 1/256 of the exact
// order statistic, for any distribution, with bounded memory.
#include "harness/metrics/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

using heapmark::metrics::Histogram;

namespace {

std::unique_ptr<Histogram> fresh() {
  auto h = std::make_unique<Histogram>();
  h->clear();
  return h;
}

uint64_t exact_quantile(std::vector<uint64_t> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))));
  return v[rank - 1];
}

}  // namespace

TEST(Histogram, BucketsTileTheRangeWithoutGaps) {
  for (size_t b = 0; b + 1 < Histogram::kBuckets; ++b) {
    ASSERT_EQ(Histogram::bucket_low(b) + Histogram::bucket_width(b), Histogram::bucket_low(b + 1)) << "bucket " << b;
    ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_low(b)), b);
    ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_low(b) + Histogram::bucket_width(b) - 1), b);
  }
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::kBuckets - 1);
}

TEST(Histogram, BucketWidthIsAtMostOne128thOfItsLowerBound) {
  for (size_t b = Histogram::kExact; b < Histogram::kBuckets; ++b)
    ASSERT_LE(Histogram::bucket_width(b) * 128, Histogram::bucket_low(b)) << "bucket " << b;
}

// Property test: random values from several shapes, every decile and the tails.
TEST(Histogram, QuantilesWithinStatedErrorForManyDistributions) {
  std::mt19937_64 rng(12345);
  std::lognormal_distribution<double> lognormal(5.0, 2.0);
  std::exponential_distribution<double> expo(1.0 / 3000);
  std::uniform_int_distribution<uint64_t> uniform(0, uint64_t{1} << 40);
  for (int shape = 0; shape < 4; ++shape) {
    for (int trial = 0; trial < 5; ++trial) {
      auto h = fresh();
      std::vector<uint64_t> values;
      const int n = 1 + static_cast<int>(rng() % 50000);
      for (int i = 0; i < n; ++i) {
        uint64_t v;
        switch (shape) {
          case 0: v = static_cast<uint64_t>(lognormal(rng)); break;
          case 1: v = static_cast<uint64_t>(expo(rng)); break;
          case 2: v = uniform(rng); break;
          default: v = rng() % 300; break;  // the exact range
        }
        values.push_back(v);
        h->record(v);
      }
      ASSERT_EQ(h->total, values.size());
      for (double q : {0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0}) {
        const double exact = static_cast<double>(exact_quantile(values, q));
        const double got = static_cast<double>(h->quantile(q));
        ASSERT_LE(std::abs(got - exact), exact * Histogram::kRelativeError + 0.5)
            << "shape " << shape << " n " << n << " q " << q << " exact " << exact << " got " << got;
      }
      EXPECT_EQ(h->min, *std::min_element(values.begin(), values.end()));
      EXPECT_EQ(h->max, *std::max_element(values.begin(), values.end()));
    }
  }
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  auto a = fresh(), b = fresh(), all = fresh();
  for (uint64_t v = 1; v < 100000; v += 7) {
    (v % 3 ? a : b)->record(v);
    all->record(v);
  }
  a->merge(*b);
  EXPECT_EQ(a->total, all->total);
  for (double q : {0.01, 0.5, 0.99}) EXPECT_EQ(a->quantile(q), all->quantile(q));
  EXPECT_EQ(std::memcmp(a->counts, all->counts, sizeof a->counts), 0);
}

TEST(Histogram, EmptyHistogramReportsZero) {
  auto h = fresh();
  EXPECT_EQ(h->quantile(0.5), 0u);
  EXPECT_EQ(h->mean(), 0.0);
}
