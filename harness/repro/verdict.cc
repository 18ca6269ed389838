// Verdicts from the measured phase ends: how late (if ever) the memory freed
// after the peak left RSS, and what kept it when it did not.
#include <algorithm>

#include "harness/metrics/fragmentation.h"
#include "harness/repro/repro.h"

namespace heapmark::repro {

Assessment assess(const PhasePoint (&ph)[kPhaseCount]) {
  if (!ph[0].present) return {};
  for (int i = 1; i < kPhaseCount; ++i) {
    const auto real = returned_share(ph[0], ph[i]);
    if (!real) continue;
    const std::string when = kPhaseLetters[i];
    if (*real >= metrics::kReturnedShare) {
      if (i <= 2) return {Verdict::kReturned, when};
      return {i == 3 ? Verdict::kUntilActivity : Verdict::kUntilRelease, when};
    }
    // Released with MADV_FREE: gone for the kernel, still counted in RSS.
    const auto lazy = returned_share(ph[0], ph[i], true);
    if (lazy && *lazy >= metrics::kReturnedShare) return {Verdict::kLazy, when};
  }
  const PhasePoint& r = ph[kPhaseCount - 1];
  if (!r.present) return {};
  // Still resident after the release hook: fragmentation when pages pinned by
  // live blocks hold most of what was not returned.
  const double kept = r.r - r.live;
  if (r.has_breakdown && kept > 0 && r.fragmentation >= 0.5 * kept) return {Verdict::kFragmentation, "R"};
  return {Verdict::kNotReturned, "R"};
}

void phases_from_cell(const results::CellResult& cell, PhasePoint (&out)[kPhaseCount]) {
  for (auto& p : out) p = PhasePoint{};
  for (const auto& ph : cell.phases)
    for (int i = 0; i < kPhaseCount; ++i) {
      if (ph.name != kPhaseNames[i] || !ph.end) continue;
      const auto& e = *ph.end;
      PhasePoint& p = out[i];
      p.present = true;
      p.r = static_cast<double>(e.r);
      p.live = static_cast<double>(e.live_bytes);
      p.lazy_free = static_cast<double>(e.lazy_free);
      if (const auto& b = e.breakdown) {
        p.has_breakdown = true;
        p.fragmentation = static_cast<double>(b->fragmentation);
        p.retained = static_cast<double>(b->retained);
        p.metadata = static_cast<double>(b->metadata);
      }
    }
}

}  // namespace heapmark::repro
