// Log-linear latency histogram with bounded memory and a stated error bound.
//
// Values below 256 are counted exactly. Above, each power-of-two range [2^e, 2^(e+1))
// is split into 128 equal buckets, so a bucket is at most 1/128 of its lower bound
// wide; reporting its midpoint bounds the relative error by 1/256 (0.39%), well
// inside the 1% the harness promises. Values at or above 2^48 (78 hours of TSC at
// 1 GHz) land in the last bucket; the exact maximum is kept separately.
//
// The struct is plain data with a fixed-size array so a cell can place it in
// memory it mmaps before measurement: record() never allocates.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>

namespace heapmark::metrics {

struct Histogram {
  static constexpr int kSubBits = 7;  // 128 buckets per octave
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  static constexpr uint64_t kExact = 2 * kSub;  // [0, 256) counted exactly
  static constexpr int kMaxExponent = 47;       // last octave [2^47, 2^48)
  static constexpr size_t kBuckets = kExact + (kMaxExponent - kSubBits) * kSub;
  // Upper bound of |reported - true| / true for any quantile.
  static constexpr double kRelativeError = 1.0 / (2 * kSub);

  uint64_t counts[kBuckets];
  uint64_t total;
  uint64_t min;
  uint64_t max;
  double sum;  // for the mean; double so it cannot overflow

  void clear() noexcept;

  static size_t bucket_of(uint64_t v) noexcept {
    if (v < kExact) return static_cast<size_t>(v);
    const int e = 63 - std::countl_zero(v);  // e >= 8
    if (e > kMaxExponent) return kBuckets - 1;
    const int shift = e - kSubBits;
    const uint64_t mantissa = v >> shift;  // in [128, 256)
    return static_cast<size_t>(kExact + static_cast<uint64_t>(e - kSubBits - 1) * kSub + (mantissa - kSub));
  }
  static uint64_t bucket_low(size_t b) noexcept;
  static uint64_t bucket_width(size_t b) noexcept;

  void record(uint64_t v) noexcept {
    ++counts[bucket_of(v)];
    ++total;
    sum += static_cast<double>(v);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  void merge(const Histogram& other) noexcept;

  // Value at quantile q in [0, 1] (q = 0.5 is the median): the midpoint of the
  // bucket holding the ceil(q * total)-th smallest value, clamped to [min, max].
  // Returns 0 for an empty histogram.
  uint64_t quantile(double q) const noexcept;
  double mean() const noexcept { return total ? sum / static_cast<double>(total) : 0.0; }
};

}  // namespace heapmark::metrics
