#include "harness/report/tradeoff.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "harness/report/figures.h"
#include "harness/report/stats.h"
#include "harness/report/svg.h"
#include "harness/results/schema.h"

namespace heapmark::report {
namespace {

constexpr const char* kParam = results::param::kReleaseEvery;
constexpr double kMiB = 1024.0 * 1024.0;
// Changes smaller than this share of the off cell's figure are not counted (two runs of one churn cell differ by
// 1.5 % in average R and by up to 20 % in CPU on this project's shared machine: 5 % keeps savings, not noise).
constexpr double kMinShare = 0.05;

// params_id without the release_every entry ("k=v,k=v", sorted).
std::string other_params(const std::string& params_id) {
  std::string out;
  size_t start = 0;
  while (start <= params_id.size()) {
    size_t end = params_id.find(',', start);
    if (end == std::string::npos) end = params_id.size();
    const std::string item = params_id.substr(start, end - start);
    if (!item.empty() && item.rfind(std::string(kParam) + "=", 0) != 0) out += (out.empty() ? "" : ",") + item;
    start = end + 1;
  }
  return out;
}

// One point's repetitions before their medians are taken.
struct Reps {
  std::vector<double> avg_r, cpu_s, faults, release_ms, cost;
  double every_ms = 0;
};

std::optional<double> median_of(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  return stats::median(v);
}

// Marks the points no other point beats on both average R and CPU.
void mark_front(std::vector<TradeoffPoint>& points) {
  for (auto& p : points) {
    p.pareto = true;
    for (const auto& q : points)
      if (&q != &p && q.avg_r <= p.avg_r && q.cpu_s <= p.cpu_s && (q.avg_r < p.avg_r || q.cpu_s < p.cpu_s)) {
        p.pareto = false;
        break;
      }
  }
}

std::string mib(double bytes) { return format_sig(bytes / kMiB) + " MiB"; }

}  // namespace

std::vector<TradeoffGroup> tradeoff_groups(const Run& run) {
  // (workload, other params) -> allocator -> every -> repetitions
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::map<std::string, Reps>>> at;
  std::map<std::pair<std::string, std::string>, TradeoffGroup> meta;
  std::vector<std::pair<std::string, std::string>> order;
  for (const auto& c : run.cells) {
    const auto every = c.params.find(kParam);
    if (every == c.params.end() || !c.ok() || !c.memory.avg_r) continue;
    const std::pair<std::string, std::string> key{c.workload, other_params(c.params_id)};
    if (!meta.count(key)) {
      TradeoffGroup g;
      g.workload = c.workload;
      g.label = c.workload + (key.second.empty() ? "" : " " + key.second);
      g.program = c.run.has_value();
      g.cost_name = g.program ? (c.run->metric_name.empty() ? "" : c.run->metric_name) : "alloc p99 (ns)";
      meta[key] = g;
      order.push_back(key);
    }
    Reps& r = at[key][c.allocator][every->second];
    r.avg_r.push_back(static_cast<double>(*c.memory.avg_r));
    r.cpu_s.push_back(c.cpu.user_s + c.cpu.sys_s);
    r.faults.push_back(static_cast<double>(c.cpu.minflt));
    r.release_ms.push_back(c.release_schedule ? c.release_schedule->total_ms : 0);
    r.every_ms = c.release_schedule ? c.release_schedule->every_ms : 0;
    if (c.run && c.run->metric) r.cost.push_back(*c.run->metric);
    if (!c.run)
      if (const auto p99 = c.number(results::path::kAllocP99)) r.cost.push_back(*p99);
  }
  std::vector<TradeoffGroup> out;
  for (const auto& key : order) {
    TradeoffGroup g = meta.at(key);
    for (const auto& name : run.allocators) {
      const auto a = at[key].find(name);
      if (a == at[key].end()) continue;
      std::vector<TradeoffPoint> mine;
      for (const auto& [every, r] : a->second)
        mine.push_back(TradeoffPoint{name, every, r.every_ms, static_cast<int>(r.avg_r.size()), stats::median(r.avg_r),
                                     stats::median(r.cpu_s), stats::median(r.faults), stats::median(r.release_ms),
                                     median_of(r.cost), false});
      // off first, then from the longest interval to the shortest
      std::sort(mine.begin(), mine.end(), [](const TradeoffPoint& x, const TradeoffPoint& y) {
        const double ex = x.every_ms > 0 ? x.every_ms : INFINITY, ey = y.every_ms > 0 ? y.every_ms : INFINITY;
        return ex > ey;
      });
      g.points.insert(g.points.end(), mine.begin(), mine.end());
    }
    mark_front(g.points);
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<std::string> best_buys(const TradeoffGroup& g) {
  std::vector<std::string> out;
  for (size_t i = 0; i < g.points.size();) {
    size_t end = i;
    while (end < g.points.size() && g.points[end].allocator == g.points[i].allocator) ++end;
    const TradeoffPoint* off = nullptr;
    for (size_t k = i; k < end; ++k)
      if (g.points[k].every_ms == 0) off = &g.points[k];
    std::string line = g.points[i].allocator + ": ";
    if (!off) {
      out.push_back(line + "no off cell to measure the schedules against");
      i = end;
      continue;
    }
    // A saving below kMinShare of off's average R, or a CPU change below kMinShare of off's CPU, is within what
    // repetitions of one cell differ by; a CPU change that small is charged as kMinShare, so no rate is infinite.
    const TradeoffPoint* best = nullptr;
    double best_rate = 0;
    for (size_t k = i; k < end; ++k) {
      const TradeoffPoint& p = g.points[k];
      const double saved = off->avg_r - p.avg_r, extra = std::max(p.cpu_s - off->cpu_s, kMinShare * off->cpu_s);
      if (p.every_ms == 0 || saved < kMinShare * off->avg_r) continue;
      if (!best || saved / extra > best_rate) {
        best = &p;
        best_rate = saved / extra;
      }
    }
    if (!best) {
      line += "no interval lowered its average R by " + format_sig(kMinShare * 100, 2) +
              " % or more (off: " + mib(off->avg_r) + ")";
    } else {
      const double extra = best->cpu_s - off->cpu_s;
      line += "every " + best->every + " bought the most per CPU second: " + mib(off->avg_r - best->avg_r) +
              " less average R (" + mib(off->avg_r) + " to " + mib(best->avg_r) + ")";
      line +=
          extra < kMinShare * off->cpu_s
              ? " with no CPU above off's beyond " + format_sig(kMinShare * 100, 2) + " %"
              : " for " + format_sig(extra) + " CPU s more, " + format_sig(best_rate / kMiB) + " MiB per CPU second";
    }
    out.push_back(line);
    i = end;
  }
  return out;
}

void add_tradeoff_section(Document& d, const Run& run, const std::vector<TradeoffGroup>& groups) {
  if (groups.empty()) return;
  d.heading(2, "Release schedules: what they buy and cost", "release-schedules")
      .note(
          "Each point is one allocator at one --release-every interval, medians over its ok repetitions: average R "
          "(the area under the RSS timeline over the run's time; a program: anonymous RSS) against user+sys CPU. A "
          "point on the Pareto front (marked) has no other point, of any allocator, with both less average R and "
          "less CPU. The calls' own time is in CPU; minor faults count pages given back and faulted in again.");
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const TradeoffGroup& g = groups[gi];
    const std::string id = "release-" + std::to_string(gi);  // a workload may appear with several parameter sets
    d.heading(3, g.label, id);
    svg::LineChart chart;
    chart.title = g.label + ": average R against CPU, per release interval";
    chart.id = id;
    chart.x.label = "CPU, user + sys (s)";
    chart.y.label = std::string(g.program ? "average anonymous RSS" : "average R") + " (MiB)";
    chart.y.scale = kMiB;
    std::vector<const TradeoffPoint*> front;
    for (size_t i = 0; i < g.points.size();) {
      size_t end = i;
      while (end < g.points.size() && g.points[end].allocator == g.points[i].allocator) ++end;
      const size_t index = static_cast<size_t>(
          std::find(run.allocators.begin(), run.allocators.end(), g.points[i].allocator) - run.allocators.begin());
      svg::Series s;
      s.name = g.points[i].allocator;
      s.colour = svg::colour(index);
      s.dash = svg::dash(index);
      s.markers = true;
      for (size_t k = i; k < end; ++k) {
        const TradeoffPoint& p = g.points[k];
        s.x.push_back(p.cpu_s);
        s.y.push_back(p.avg_r);
        s.point_titles.push_back(p.allocator + " every " + p.every + ": average " + mib(p.avg_r) + ", CPU " +
                                 format_sig(p.cpu_s) + " s" + (p.pareto ? " (on the Pareto front)" : ""));
      }
      chart.series.push_back(std::move(s));
      i = end;
    }
    for (const auto& p : g.points)
      if (p.pareto) front.push_back(&p);
    std::sort(front.begin(), front.end(), [](const auto* a, const auto* b) { return a->cpu_s < b->cpu_s; });
    svg::Series f;
    f.name = "Pareto front";
    f.colour = "#555555";
    f.dash = "4 3";
    f.stroke_width = 1;
    for (const auto* p : front) {
      f.x.push_back(p->cpu_s);
      f.y.push_back(p->avg_r);
    }
    chart.series.push_back(std::move(f));
    d.html("<div class=\"chart\">" + svg::render(chart) + "</div>\n");

    Table t;
    // The cost column only where some point has one (a program without a metric has none).
    const bool costs = std::any_of(g.points.begin(), g.points.end(), [](const auto& p) { return p.cost.has_value(); });
    t.head = {"allocator", "every", "avg R (MiB)", "CPU (s)", "minor faults", "in release calls (ms)"};
    if (costs) t.head.push_back(g.cost_name.empty() ? "metric" : g.cost_name);
    t.head.push_back("front");
    t.label_columns = 2;
    std::string last;
    for (const auto& p : g.points) {
      std::vector<TableCell> row;
      row.push_back(p.allocator == last ? TableCell() : HeadingCell(p.allocator));
      last = p.allocator;
      row.emplace_back(p.every);
      row.emplace_back(format_sig(p.avg_r / kMiB));
      row.emplace_back(format_sig(p.cpu_s));
      row.emplace_back(format_sig(p.faults));
      row.emplace_back(p.every_ms > 0 ? format_sig(p.release_ms) : "–");
      if (costs) row.emplace_back(p.cost ? format_sig(*p.cost) : "–");
      for (size_t k = 2; k < row.size(); ++k) row[k].noisy = p.reps < 3 && row[k].text != "–";
      row.emplace_back(p.pareto ? "✓" : "");
      t.rows.push_back(std::move(row));
    }
    d.table(std::move(t)).list(best_buys(g));
  }
}

}  // namespace heapmark::report
