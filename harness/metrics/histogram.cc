#include "harness/metrics/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace heapmark::metrics {

void Histogram::clear() noexcept {
  std::memset(counts, 0, sizeof counts);
  total = 0;
  min = std::numeric_limits<uint64_t>::max();
  max = 0;
  sum = 0;
}

uint64_t Histogram::bucket_low(size_t b) noexcept {
  if (b < kExact) return b;
  const uint64_t octave = (b - kExact) / kSub;  // 0 for [2^8, 2^9)
  const uint64_t mantissa = kSub + (b - kExact) % kSub;
  return mantissa << (octave + 1);
}

uint64_t Histogram::bucket_width(size_t b) noexcept {
  if (b < kExact) return 1;
  return uint64_t{1} << ((b - kExact) / kSub + 1);
}

void Histogram::merge(const Histogram& other) noexcept {
  for (size_t i = 0; i < kBuckets; ++i) counts[i] += other.counts[i];
  total += other.total;
  sum += other.sum;
  min = std::min(min, other.min);
  max = std::max(max, other.max);
}

uint64_t Histogram::quantile(double q) const noexcept {
  if (total == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(total))));
  uint64_t seen = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    seen += counts[b];
    if (seen >= rank) {
      const uint64_t mid = bucket_low(b) + (bucket_width(b) - 1) / 2;
      return std::clamp(mid, min, max);
    }
  }
  return max;
}

}  // namespace heapmark::metrics
