// Size distributions shared by all workloads, written as "kind:args":
//   fixed:64            every block 64 bytes
//   uniform:16-4096     uniform over [16, 4096]
//   pow2:16-64K         a power of two, exponent uniform over [log2 16, log2 64K]
//   pareto:16-1M:1.5    Pareto with shape 1.5 (default 1.5) from 16, truncated at 1M
//   invsq:4-32K         density proportional to 1/size^2 (many small, a long tail)
// Bounds take K/M/G suffixes. Sampling is noexcept and allocation-free, so a
// generator may call it between measured operations.
#pragma once
#include <cstdint>
#include <string>

#include "workloads/rng.h"

namespace heapmark::workloads {

class SizeDist {
 public:
  enum class Kind : uint8_t { kFixed, kUniform, kPow2, kPareto, kInvSquare };

  // Parses `text`; on failure returns false and says why (naming the valid kinds).
  static bool parse(const std::string& text, SizeDist* out, std::string* why);
  static SizeDist parse_or_throw(const std::string& text);  // throws InputError

  uint64_t sample(Rng& rng) const noexcept;
  uint64_t lo() const noexcept { return lo_; }
  uint64_t hi() const noexcept { return hi_; }
  Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_ = Kind::kFixed;
  uint64_t lo_ = 64, hi_ = 64;
  double shape_ = 1.5;
};

}  // namespace heapmark::workloads
