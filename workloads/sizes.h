// Size distributions shared by all workloads, written as "kind:args":
//   fixed:64            every block 64 bytes
//   uniform:16-4096     uniform over [16, 4096]
//   pow2:16-64K         a power of two, exponent uniform over [log2 16, log2 64K]
//   pareto:16-1M:1.5    Pareto with shape 1.5 (default 1.5) from 16, truncated at 1M
//   invsq:4-32K         density proportional to 1/size^2 (many small, a long tail)
//   mixed:16-1K:64K-4M:0.01
//                       small+large: uniform over the first range, except a fraction
//                       (default 0.01) uniform over the second (services: many small
//                       objects, a few large buffers)
//   empirical:/path/sizes.csv
//                       sizes with weights from a CSV of "size,weight" rows, or of
//                       fleetbench's "size,alloc_rate,num_live" rows (its
//                       fleetbench/tcmalloc/distributions/TCMALLOC_*.csv, no header):
//                       alloc_rate weights the sizes (it is how often each size is
//                       allocated); num_live, the live heap at a snapshot, is checked but
//                       not sampled from, since which blocks stay live is the workload's
//                       lifetime model. The first row's field count fixes the layout, or
//                       an optional header naming it; '#' comments and blank lines
//                       allowed; sizes take K/M/G suffixes; weights and num_live are
//                       numbers >= 0, the weights not all 0.
// Bounds take K/M/G suffixes. Sampling is noexcept and allocation-free, so a
// generator may call it between measured operations: the empirical CSV is read
// once when the spec is parsed (before measurement) into a fixed table inside
// SizeDist, so a SizeDist is self-contained wherever it is copied (Scratch).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "workloads/rng.h"

namespace heapmark::workloads {

class SizeDist {
 public:
  enum class Kind : uint8_t { kFixed, kUniform, kPow2, kPareto, kInvSquare, kMixed, kEmpirical };
  // Rows an empirical CSV may have (16 bytes each: the table is part of every
  // SizeDist). A larger file is rejected with its file and line. fleetbench's
  // largest distribution has 1228 rows.
  static constexpr size_t kEmpiricalCapacity = 2048;

  // Parses `text`; on failure returns false and says why in one line (naming the
  // valid kinds, or for a CSV the file, line and field).
  static bool parse(const std::string& text, SizeDist* out, std::string* why);
  static SizeDist parse_or_throw(const std::string& text);  // throws InputError
  // The valid spec forms, e.g. for `heapmark list workloads`.
  static const char* kinds() noexcept;

  uint64_t sample(Rng& rng) const noexcept;
  uint64_t lo() const noexcept { return lo_; }
  uint64_t hi() const noexcept { return hi_; }
  Kind kind() const noexcept { return kind_; }
  size_t empirical_rows() const noexcept { return rows_; }

 private:
  static bool read_csv(const std::string& text, const std::string& path, SizeDist& d, std::string* why);

  Kind kind_ = Kind::kFixed;
  uint64_t lo_ = 64, hi_ = 64;
  double shape_ = 1.5;
  // kMixed: small range [lo_, small_hi_], large range [large_lo_, hi_], chosen with large_frac_.
  uint64_t small_hi_ = 0, large_lo_ = 0;
  double large_frac_ = 0.01;
  // kEmpirical: row i has size table_size_[i] and cumulative weight table_cum_[i].
  size_t rows_ = 0;
  uint64_t table_size_[kEmpiricalCapacity] = {};
  double table_cum_[kEmpiricalCapacity] = {};
};

}  // namespace heapmark::workloads
