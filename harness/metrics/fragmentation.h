// Fragmentation and return figures of DESIGN.md, from R(t) = anonymous RSS
// minus the cell's baseline R0 and L(t) = live requested bytes:
//   F4 = R(t_R) / L(t_L) - 1   peak RSS over peak live (the headline)
//   F3 = R(t_R) / L(t_R) - 1   at the RSS peak, over what was live then
//   F1 = integral R / integral L - 1
//   internal = sum usable / sum requested - 1 (over live blocks at the live peak)
//   rho = dR / dL over a phase: the fraction of freed bytes whose pages left RSS
// Each returns NaN when its denominator is zero; JSON writes NaN as null.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

namespace heapmark::metrics {

inline double ratio_minus_one(double num, double den) {
  return den > 0 ? num / den - 1.0 : std::numeric_limits<double>::quiet_NaN();
}
inline double f4(uint64_t peak_r, uint64_t peak_live) {
  return ratio_minus_one(static_cast<double>(peak_r), static_cast<double>(peak_live));
}
inline double f3(uint64_t peak_r, uint64_t live_at_peak_r) {
  return ratio_minus_one(static_cast<double>(peak_r), static_cast<double>(live_at_peak_r));
}
inline double f1(double integral_r, double integral_l) { return ratio_minus_one(integral_r, integral_l); }
inline double internal(uint64_t usable, uint64_t requested) {
  return usable > 0 ? ratio_minus_one(static_cast<double>(usable), static_cast<double>(requested))
                    : std::numeric_limits<double>::quiet_NaN();
}
// r_begin/r_end: R at the phase's start and end; l_begin/l_end likewise.
inline double rho(int64_t r_begin, int64_t r_end, int64_t l_begin, int64_t l_end) {
  const int64_t dl = l_end - l_begin;
  if (dl == 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(r_end - r_begin) / static_cast<double>(dl);
}

// Whether a phase (live bytes l_begin -> l_end) counts as "freeing" for the
// headline "returned after free": it freed at least 1 MiB and 10% of the live
// bytes. In a phase that mostly allocates and frees a little, rho divides RSS
// growth by a tiny drop (values like -1400%).
inline bool frees_a_real_share(int64_t l_begin, int64_t l_end) {
  return l_begin - l_end >= std::max<int64_t>(int64_t{1} << 20, l_begin / 10);
}

// Share of the memory that was returnable at a peak and has left RSS since:
// (R_peak - R) / (R_peak - L), clipped to [0, 1]; nullopt when less than 1 MiB
// was returnable (page granularity, not the allocator). `resident` is R, or
// R - LazyFree to count lazily freed pages as returned.
inline std::optional<double> returned_share(double peak_r, double resident, double live) {
  const double returnable = peak_r - live;
  if (returnable < 1024.0 * 1024.0) return std::nullopt;
  return std::clamp((peak_r - resident) / returnable, 0.0, 1.0);
}
// This share back counts as "returned" at a phase end (the repro verdicts) ...
inline constexpr double kReturnedShare = 0.75;
// ... and this much back ends a phase that waits for the allocator: RSS is
// back at the live level but for what the allocator keeps for itself.
inline constexpr double kBackShare = 0.95;

}  // namespace heapmark::metrics
