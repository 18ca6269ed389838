// The report's per-group charts (see charts.h).
#include "harness/report/charts.h"

#include <algorithm>
#include <cmath>

#include "harness/report/svg.h"

namespace heapmark::report {
namespace {

size_t colour_index(const std::vector<std::string>& allocators, const std::string& name) {
  return static_cast<size_t>(std::find(allocators.begin(), allocators.end(), name) - allocators.begin());
}

std::string trim_zeros(std::string s) {
  const size_t sp = s.find(' ');
  std::string num = s.substr(0, sp), unit = sp == std::string::npos ? "" : s.substr(sp);
  if (num.find('.') != std::string::npos) {
    while (!num.empty() && num.back() == '0') num.pop_back();
    if (!num.empty() && num.back() == '.') num.pop_back();
  }
  return num + unit;
}

// Unit for a byte axis from the largest value: (divisor, name).
std::pair<double, std::string> byte_unit(double max) {
  if (max >= 1024.0 * 1024 * 1024) return {1024.0 * 1024 * 1024, "GiB"};
  if (max >= 1024.0 * 1024) return {1024.0 * 1024, "MiB"};
  if (max >= 1024.0) return {1024.0, "KiB"};
  return {1, "B"};
}

std::string number_tick(double v) { return trim_zeros(format_sig(v, 3)); }

svg::Series series(std::string name, std::string colour, std::string dash, std::vector<double> x, std::vector<double> y,
                   double width) {
  svg::Series s;
  s.name = std::move(name);
  s.colour = std::move(colour);
  s.dash = std::move(dash);
  s.x = std::move(x);
  s.y = std::move(y);
  s.stroke_width = width;
  return s;
}

}  // namespace

std::string rss_timeline_chart(const Group& g, const std::vector<AllocatorDetail>& details,
                               const std::vector<std::string>& allocators, const std::string& baseline) {
  svg::LineChart c;
  c.id = g.id + "-rss";
  c.title = "RSS over time: " + g.label;
  double tmax = 0, ymax = 0;
  const Cell* band_source = nullptr;
  for (const auto& d : details) {
    if (!d.representative) continue;
    const Cell& cell = *d.representative;
    if (!band_source || d.allocator == baseline) band_source = &cell;
    for (size_t i = 0; i < cell.timeline.t_s.size(); ++i) {
      if (cell.timeline.t_s[i] < 0) continue;  // setup, before R0 was taken: R means nothing there
      tmax = std::max(tmax, cell.timeline.t_s[i]);
      ymax = std::max(
          {ymax, std::fabs(cell.timeline.anon[i] - static_cast<double>(cell.memory.r0_anon)), cell.timeline.live[i]});
    }
  }
  if (!band_source) return "";
  const bool ms = tmax < 2;
  c.x.scale = ms ? 1e-3 : 1;
  c.x.label = ms ? "time since the first phase began (ms)" : "time since the first phase began (s)";
  c.x.format = number_tick;
  const auto [div, unit] = byte_unit(ymax);
  c.y.scale = div;
  const std::string what = g.program ? "anonymous RSS" : "R and live bytes";
  c.y.label = what + " (" + unit + ")";
  c.y.format = number_tick;
  // The log axis shows small retained sizes beside large peaks; R can be zero or below R0, so it has a floor.
  c.y_log = c.y;
  c.y_log->log = true;
  c.y_log->label = what + " (" + unit + ", log scale; ≤ " + number_tick(c.y_log->log_floor) + " on the bottom edge)";
  for (const auto& p : band_source->phases)
    c.bands.push_back({p.begin_s, p.end ? p.end->end_s : p.begin_s, p.name + " (" + band_source->allocator + ")"});
  bool huge_pages = false;
  for (const auto& d : details) {
    if (!d.representative) continue;
    const Cell& cell = *d.representative;
    const size_t ci = colour_index(allocators, d.allocator);
    svg::Series r = series(d.allocator, svg::colour(ci), svg::dash(ci), {}, {}, 2);
    svg::Series live = series(d.allocator + ": live requested bytes", svg::colour(ci), "5 4", {}, {}, 1.3);
    live.key = d.allocator;
    for (size_t i = 0; i < cell.timeline.t_s.size(); ++i) {
      if (cell.timeline.t_s[i] < 0) continue;
      r.x.push_back(cell.timeline.t_s[i]);
      r.y.push_back(cell.timeline.anon[i] - static_cast<double>(cell.memory.r0_anon));
      live.x.push_back(cell.timeline.t_s[i]);
      live.y.push_back(cell.timeline.live[i]);
    }
    svg::decimate(r.x, r.y, kMaxPointsPerSeries);
    live.in_legend = false;
    svg::decimate(live.x, live.y, kMaxPointsPerSeries);
    svg::Series ends = series(d.allocator + " phase ends", svg::colour(ci), "", {}, {}, 0);
    ends.line = false;
    ends.markers = true;
    ends.in_legend = false;
    ends.key = d.allocator;
    for (const auto& p : cell.phases) {
      if (!p.end) continue;
      const auto& e = *p.end;
      ends.x.push_back(e.end_s);
      ends.y.push_back(static_cast<double>(e.r));
      ends.point_titles.push_back(
          d.allocator + ", end of " + p.name + " (rep " + std::to_string(cell.rep) + "): " +
          (g.program ? "anonymous RSS " + format_bytes(static_cast<double>(e.anonymous)) + ", RSS " +
                           format_bytes(static_cast<double>(e.rss))
                     : "R " + format_bytes(static_cast<double>(e.r)) + ", live " +
                           format_bytes(static_cast<double>(e.live_bytes)) +
                           (e.rho ? ", returned " + format_sig(*e.rho * 100, 3) + " % of freed bytes" : "")) +
          (cell.huge_pages
               ? ", in huge pages " + format_bytes(std::max(0.0, static_cast<double>(e.anon_huge_pages) -
                                                                     static_cast<double>(cell.memory.r0_huge)))
               : ""));
    }
    c.series.push_back(std::move(r));
    if (!g.program) c.series.push_back(std::move(live));  // a real program's live bytes are not known
    c.series.push_back(std::move(ends));
    if (cell.huge_pages) {  // the --thp axis: AnonHugePages at its own rate, beside R
      svg::Series huge = series(d.allocator + ": AnonHugePages", svg::colour(ci), "1 3", {}, {}, 1.5);
      huge.key = d.allocator;
      huge.in_legend = false;
      huge.x = cell.huge_pages->t_s;
      for (double b : cell.huge_pages->bytes) huge.y.push_back(b - static_cast<double>(cell.memory.r0_huge));
      huge_pages = true;
      c.series.push_back(std::move(huge));
    }
  }
  if (huge_pages)
    c.legend_notes.push_back(
        {"<line x1=\"0\" y1=\"6\" x2=\"24\" y2=\"6\" stroke=\"#555\" stroke-width=\"1.5\" "
         "stroke-dasharray=\"1 3\"/>",
         "dotted: AnonHugePages above R0's (smaps_rollup, at most 10 Hz)"});
  if (g.program) {
    c.legend_notes.push_back({"<line x1=\"0\" y1=\"6\" x2=\"24\" y2=\"6\" stroke=\"#555\" stroke-width=\"2\"/>",
                              "solid: the program's anonymous RSS (statm, 1 kHz)"});
  } else {
    c.legend_notes.push_back({"<line x1=\"0\" y1=\"6\" x2=\"24\" y2=\"6\" stroke=\"#555\" stroke-width=\"2\"/>",
                              "solid: R = anonymous RSS − R0"});
    c.legend_notes.push_back(
        {"<line x1=\"0\" y1=\"6\" x2=\"24\" y2=\"6\" stroke=\"#555\" stroke-width=\"1.3\" "
         "stroke-dasharray=\"5 4\"/>",
         "dashed: live requested bytes"});
  }
  c.legend_notes.push_back({"<circle cx=\"12\" cy=\"6\" r=\"3.5\" fill=\"#555\"/>", "dot: R at a phase end"});
  c.legend_notes.push_back(
      {"<rect width=\"24\" height=\"12\" fill=\"#dde4ee\"/>", "bands: phases of " + band_source->allocator});
  return svg::render(c);
}

std::string latency_chart(const Group& g, const std::vector<AllocatorDetail>& details,
                          const std::vector<std::string>& allocators, const std::string& op) {
  svg::LineChart c;
  c.id = g.id + "-lat-" + op;
  const bool batch = op == kBatchOp;
  c.title = batch ? "ns per call, batch timer (runs of consecutive calls, one timestamp pair each): " + g.label
                  : op + " latency percentiles, per-call timer: " + g.label;
  c.width = 560;
  c.height = 340;
  c.x.label = batch ? "percentile over batches (median over repetitions)" : "percentile (median over repetitions)";
  for (const char* l : kPercentileLabels) c.x_categories.push_back(l);
  c.y.label = batch ? "ns per call (log scale)" : "latency (ns, log scale)";
  c.y.log = true;
  c.y.format = [](double v) { return trim_zeros(format_ns(v)); };
  for (const auto& d : details) {
    const auto it = d.latency.find(op);
    if (it == d.latency.end()) continue;
    const size_t ci = colour_index(allocators, d.allocator);
    svg::Series s = series(d.allocator, svg::colour(ci), svg::dash(ci), {}, {}, 1.8);
    s.markers = true;
    for (size_t p = 0; p < it->second.size(); ++p) {
      s.x.push_back(static_cast<double>(p));
      s.y.push_back(it->second[p]);
      s.point_titles.push_back(d.allocator + " " + op + " " + kPercentileLabels[p] + ": " + format_ns(it->second[p]) +
                               " (median of " + std::to_string(d.ok_reps) + " rep" + (d.ok_reps == 1 ? "" : "s") + ")");
    }
    c.series.push_back(std::move(s));
  }
  if (c.series.empty()) return "";
  return svg::render(c);
}

std::string phase_bars_chart(const Group& g, const std::vector<AllocatorDetail>& details,
                             const std::vector<std::string>& allocators) {
  svg::StackedBarChart c;
  c.id = g.id + "-phases";
  c.title = "RSS at phase ends: " + g.label;
  if (g.program) {
    // A real program: what the kernel says, no split by live blocks.
    c.layer_names = {"anonymous RSS (heap, stacks, private mappings), not LazyFree",
                     "LazyFree (freed with MADV_FREE, still resident)",
                     "file-backed RSS (binary, libraries, shared memory)"};
    c.layer_colours = {"#4C78A8", "#B7B7B7", "#72B7B2"};
  } else {
    c.layer_names = {"live requested bytes", "fragmentation (rest of the pages that hold live blocks)",
                     "retained (resident pages with no live block: a release could return them)",
                     "LazyFree (freed with MADV_FREE, still resident)", "allocator metadata (where reported)"};
    c.layer_colours = {"#4C78A8", "#E45756", "#F58518", "#B7B7B7", "#72B7B2"};
  }
  // Phase order from the representative with the most phases.
  const Cell* longest = nullptr;
  double ymax = 0;
  for (const auto& d : details)
    if (d.representative) {
      if (!longest || d.representative->phases.size() > longest->phases.size()) longest = d.representative;
      for (const auto& p : d.representative->phases)
        if (p.end)
          ymax = std::max(ymax, g.program ? static_cast<double>(p.end->rss) : std::fabs(static_cast<double>(p.end->r)));
    }
  if (!longest) return "";
  const auto [div, unit] = byte_unit(ymax);
  c.y.scale = div;
  c.y.label = g.program ? "RSS (" + unit + ")" : "R = anonymous RSS − R0 (" + unit + ")";
  c.y.format = number_tick;
  for (size_t i = 0; i < longest->phases.size(); ++i) {
    svg::BarGroup bg;
    bg.label = longest->phases[i].name;
    for (const auto& d : details) {
      if (!d.representative || i >= d.representative->phases.size()) continue;
      const results::PhaseResult& p = d.representative->phases[i];
      if (!p.end) continue;
      const auto& e = *p.end;
      const double r = std::max(0.0, static_cast<double>(e.r));
      const double live = std::min(r, static_cast<double>(e.live_bytes));
      const double lazy = std::min(r - live, static_cast<double>(e.lazy_free));
      svg::Bar bar;
      bar.label = d.allocator;
      if (g.program) {
        const double anon = static_cast<double>(e.anonymous),
                     lazy_free = std::min(anon, static_cast<double>(e.lazy_free));
        bar.values = {anon - lazy_free, lazy_free, std::max(0.0, static_cast<double>(e.rss) - anon)};
        bar.title = d.allocator + ", end of " + p.name + " (rep " + std::to_string(d.representative->rep) + "): RSS " +
                    format_bytes(static_cast<double>(e.rss)) + ", anonymous " + format_bytes(anon);
        bar.colour = svg::colour(colour_index(allocators, d.allocator));
        bg.bars.push_back(std::move(bar));
        continue;
      }
      if (const auto& b = e.breakdown) {
        // The cell's own split (mincore over the live blocks' pages).
        bar.values = {live, static_cast<double>(b->fragmentation), static_cast<double>(b->retained), lazy,
                      static_cast<double>(b->metadata)};
      } else {
        // Results from before the breakdown existed: everything else is "retained".
        bar.values = {live, 0.0, std::max(0.0, r - live - lazy), lazy, 0.0};
      }
      bar.title = d.allocator + ", end of " + p.name + " (rep " + std::to_string(d.representative->rep) + "): R " +
                  format_bytes(static_cast<double>(e.r));
      bar.colour = svg::colour(colour_index(allocators, d.allocator));
      bg.bars.push_back(std::move(bar));
    }
    c.groups.push_back(std::move(bg));
  }
  return svg::render(c);
}

}  // namespace heapmark::report
