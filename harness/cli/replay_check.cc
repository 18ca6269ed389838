#include "harness/cli/replay_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "harness/report/svg.h"

namespace heapmark::cli {
namespace {

std::string mib(double bytes) { return human(static_cast<uint64_t>(std::fabs(bytes))); }
std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%+.1f%%", 100 * v);
  return b;
}

// How far `v` lies outside [lo, hi] (signed; 0 inside it).
double outside(double v, double lo, double hi) { return v < lo ? v - lo : v > hi ? v - hi : 0; }

// The recorded samples around `t_s` (the first or the last outside them): the recording at t_s lies between.
std::pair<double, double> around(const ReplayCheck& k, double t_s) {
  const auto it = std::upper_bound(k.rec_t.begin(), k.rec_t.end(), t_s);
  if (it == k.rec_t.begin()) return {k.rec_y.front(), k.rec_y.front()};
  if (it == k.rec_t.end()) return {k.rec_y.back(), k.rec_y.back()};
  const size_t i = static_cast<size_t>(it - k.rec_t.begin());
  return {std::min(k.rec_y[i - 1], k.rec_y[i]), std::max(k.rec_y[i - 1], k.rec_y[i])};
}

// Why a replay differs, most likely first, from what points to each.
std::vector<std::string> likely_causes(const ReplayCheck& k, const Summary& s, bool below, bool above) {
  std::vector<std::string> causes;
  // Other live bytes at a phase end than the trace holds there: the threads did not interleave as recorded.
  bool interleaved = false;
  for (const auto& e : k.ends)
    if (std::fabs(e.live_replayed - e.live_recorded) > kReplayTolerance * std::max(e.live_recorded, 1048576.0)) {
      interleaved = true;
      causes.push_back("a thread timing difference: at " + e.phase + " the replay held " + mib(e.live_replayed) +
                       " live where the trace holds " + mib(e.live_recorded) + ": its " + std::to_string(s.threads) +
                       " threads did not interleave as recorded (a free of another thread's block ran earlier or later "
                       "than the recording ran it)");
      break;
    }
  double unexplained = 0;  // live bytes the trace holds beyond what the program had resident
  for (size_t i = 0; i < s.rss.size(); ++i) unexplained = std::max(unexplained, double(s.rss[i].live) - k.rec_y[i]);
  if (unexplained > kReplayTolerance * k.recorded_peak)
    causes.push_back("a missing event kind: at one point the trace holds " + mib(unexplained) +
                     " more live bytes than the program had resident (frees or reallocs missing from the trace, or "
                     "blocks the program never wrote: the replay writes every block it makes)");
  if (below && s.header.version < 2)
    causes.push_back(
        "heapmark's own memory: the recorded RSS includes the recorder's pointer table (up to a quarter of the "
        "heap's span), which a format 1 trace does not count");
  else if (below)
    causes.push_back(
        "memory the program's allocator calls do not explain: its own mmap, thread stacks, or blocks made "
        "before recording began (a missing event kind)");
  if (s.threads > 1 && !interleaved)
    causes.push_back("a thread timing difference: " + std::to_string(s.threads) +
                     " threads, whose calls interleave "
                     "differently in a compressed replay" +
                     std::string(s.header.version < 2
                                     ? ", and without thread lifetimes (format 1): every thread starts at "
                                       "once and none ends where it did"
                                     : ""));
  if (above)
    causes.push_back(
        "time: memory an allocator returns on a timer (decay, a background thread) had less time to go in a "
        "compressed replay");
  return causes;
}

// R at the end of phase i, NaN when the cell has no such end.
double r_at(const report::Cell& c, int i) {
  return i >= 0 && static_cast<size_t>(i) < c.phases.size() && c.phases[i].end ? double(c.phases[i].end->r) : NAN;
}

}  // namespace

double ReplayCheck::End::diff() const { return outside(replayed, recorded_lo, recorded_hi); }
double ReplayCheck::End::diff_pct() const { return diff() / std::max(recorded_hi, 1048576.0); }
double ReplayCheck::run_diff_pct() const { return run_diff / std::max(recorded_peak, 1048576.0); }

ReplayCheck check_replay(const Summary& s, const report::Run& run, const std::vector<registry::Allocator>& known,
                         const std::vector<PhaseAt>& phases) {
  ReplayCheck k;
  if (phases.empty()) return k;
  const int last = phases.back().index;
  if (s.header.allocator.empty()) {
    k.not_checked = s.header.version < 2
                        ? "the trace does not name the allocator it was recorded under (format 1: record it again)"
                        : "the recorder could not name the allocator it ran under";
    return k;
  }
  const registry::Allocator* a = registry::serving(known, s.header.allocator);
  if (!a) {
    k.not_checked = "recorded under " + s.header.allocator + ", which is none of heapmark's allocators";
    return k;
  }
  k.allocator = a->name;
  if (s.rss.empty()) {
    k.not_checked = "the trace has no RSS samples (recorded with --rss-ms 0)";
    return k;
  }
  std::vector<const report::Cell*> cells;
  for (const auto& c : run.cells)
    if (c.allocator == a->name && c.ok() && !std::isnan(r_at(c, last)) && !c.timeline.clock_s.empty())
      cells.push_back(&c);
  if (cells.empty()) {
    k.not_checked = "recorded under " + a->name + ", which this diagnose did not replay on (add it to --allocators)";
    return k;
  }
  std::sort(cells.begin(), cells.end(),
            [&](const report::Cell* x, const report::Cell* y) { return r_at(*x, last) < r_at(*y, last); });
  const report::Cell& c = *cells[cells.size() / 2];
  k.checked = true;
  k.cells = static_cast<int>(cells.size());

  // The program's heap RSS at each sample (seconds from the trace's first event): anonymous RSS less the
  // recorder's pages, from the first sample on (what its allocator calls made resident).
  const double base = double(s.rss[0].anon) - double(s.rss[0].own);
  for (const auto& p : s.rss) {
    k.rec_t.push_back(double(p.t_ms) / 1000);
    k.rec_y.push_back(std::max(0.0, double(p.anon) - double(p.own) - base));
  }
  k.recorded_peak = *std::max_element(k.rec_y.begin(), k.rec_y.end());
  const auto rel_s = [&](double t_ms) { return (t_ms - double(s.t0_ms)) / 1000; };  // the trace's clock -> rec_t's
  for (const auto& p : phases)
    if (!std::isnan(r_at(c, p.index))) {
      const auto [lo, hi] = around(k, rel_s(double(p.t_ms)));
      k.ends.push_back({p.label, rel_s(double(p.t_ms)), lo, hi, r_at(c, p.index), double(p.live),
                        double(c.phases[p.index].end->live_bytes)});
    }
  // Over the run: each replayed point up to the last phase's end, against the recording at the time it had reached.
  const double f_end = c.phases[last].end->end_s;
  const double r0 = double(c.memory.r0_anon);
  const auto& tl = c.timeline;
  for (size_t i = 0; i < tl.t_s.size(); ++i) {
    if (tl.t_s[i] > f_end || tl.clock_s[i] <= 0) continue;
    const double t = rel_s(tl.clock_s[i] * 1000), r = std::max(0.0, tl.anon[i] - r0);
    k.rep_t.push_back(t);
    k.rep_y.push_back(r);
    const auto [lo, hi] = around(k, t);
    if (const double d = outside(r, lo, hi); std::fabs(d) > std::fabs(k.run_diff)) {
      k.run_diff = d;
      k.run_diff_t_s = t;
    }
  }
  bool below = false, above = false;
  for (const auto& e : k.ends) {
    const bool off = std::fabs(e.diff_pct()) > kReplayTolerance;
    k.flagged |= off;
    below |= off && e.diff() < 0;
    above |= off && e.diff() > 0;
  }
  if (std::fabs(k.run_diff_pct()) > kReplayTolerance) {
    k.run_over = true;
    (k.run_diff < 0 ? below : above) = true;
  }
  if (k.flagged || k.run_over) k.causes = likely_causes(k, s, below, above);
  return k;
}

std::string ReplayCheck::line() const {
  if (!checked) return "Self-check: not possible: " + not_checked + ".";
  std::string l = std::string("Self-check against the recording (replayed on ") + allocator +
                  ", the allocator it was recorded under): ";
  l += flagged ? "DIFFERS by more than 5%" : "within 5%";
  for (const auto& e : ends)
    l += "; " + e.phase + " replayed " + mib(e.replayed) + " vs recorded " +
         (e.recorded_lo == e.recorded_hi ? mib(e.recorded_hi) : mib(e.recorded_lo) + " to " + mib(e.recorded_hi)) +
         " (" + pct(e.diff_pct()) + ")";
  char b[256];
  std::snprintf(
      b, sizeof b, "; largest over the run %s at %.3f s (%s of the recorded peak%s)", mib(std::fabs(run_diff)).c_str(),
      run_diff_t_s, pct(run_diff_pct()).c_str(),
      run_over && !flagged ? "; between phase ends a compressed replay's threads need not keep the recorded pace" : "");
  l += b;
  if (!causes.empty()) l += std::string(flagged ? ". Likely: " : ". Between phase ends, likely: ") + causes.front();
  return l + ".";
}

results::SelfCheck ReplayCheck::result() const {
  results::SelfCheck r;
  r.checked = checked;
  r.tolerance = kReplayTolerance;
  r.not_checked = not_checked;
  if (!checked) return r;
  for (const auto& x : ends)
    r.phase_ends.push_back(results::SelfCheckEnd{x.phase, x.t_s, x.recorded_lo, x.recorded_hi, x.replayed, x.diff(),
                                                 100 * x.diff_pct(), x.live_recorded, x.live_replayed});
  r.allocator = allocator;
  r.cells = cells;
  r.run_diff = run_diff;
  r.run_diff_t_s = run_diff_t_s;
  r.recorded_peak = recorded_peak;
  r.run_diff_pct = 100 * run_diff_pct();
  r.flagged = flagged;
  r.run_over_tolerance = run_over;
  r.causes = causes;
  r.line = line();
  return r;
}

std::string ReplayCheck::chart_svg() const {
  if (!checked) return "";
  namespace svg = report::svg;
  svg::LineChart ch;
  ch.title = "Replay on " + allocator + " against the recording: RSS above the start";
  ch.id = "self-check";
  ch.x.label = "recorded time (s)";
  ch.y.label = "RSS above the start (MiB)";
  ch.y.scale = 1048576.0;
  svg::Series r, p;
  r.name = "recorded (the program, less the recorder's pages)";
  r.colour = svg::colour(0);
  r.x = rec_t;
  r.y = rec_y;
  p.name = "replayed (R at the recorded time reached)";
  p.colour = svg::colour(1);
  p.x = rep_t;
  p.y = rep_y;
  svg::decimate(r.x, r.y, 600);
  svg::decimate(p.x, p.y, 600);
  ch.series = {std::move(r), std::move(p)};
  return svg::render(ch);
}

}  // namespace heapmark::cli
