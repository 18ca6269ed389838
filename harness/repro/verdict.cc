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

void phases_from_cell(const boost::json::object& cell, PhasePoint (&out)[kPhaseCount]) {
  for (auto& p : out) p = PhasePoint{};
  const auto* phases = cell.if_contains("phases");
  if (!phases || !phases->is_array()) return;
  auto num = [](const boost::json::object& o, const char* k, double& dst) {
    const auto* v = o.if_contains(k);
    if (!v || !v->is_number()) return false;
    dst = v->to_number<double>();
    return true;
  };
  for (const auto& pv : phases->as_array()) {
    const auto& po = pv.as_object();
    const auto* nm = po.if_contains("name");
    if (!nm || !nm->is_string()) continue;
    for (int i = 0; i < kPhaseCount; ++i) {
      if (nm->as_string() != kPhaseNames[i]) continue;
      PhasePoint& p = out[i];
      p.present = num(po, "r", p.r) && num(po, "live_bytes", p.live);
      num(po, "lazy_free", p.lazy_free);
      if (const auto* b = po.if_contains("breakdown"); b && b->is_object()) {
        const auto& bo = b->as_object();
        p.has_breakdown = num(bo, "fragmentation", p.fragmentation) && num(bo, "retained", p.retained);
        num(bo, "metadata", p.metadata);
      }
    }
  }
}

}  // namespace heapmark::repro
