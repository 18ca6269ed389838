// Tables for the report page and summary.md (see views.h).
#include "harness/report/views.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace heapmark::report {
namespace {

std::string group_title(const Group& g) {
  std::string t = g.workload;
  for (const auto& [k, v] : g.params) t += " " + k + "=" + v;
  return t;
}

}  // namespace

std::string change_with_interval(const Figure& f, const stats::Estimate& e) {
  std::string s = format_change(f, e.point);
  if (e.n < 2) return s + " (1 block)";
  if (f.scale == Scale::kRatio) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " [%.2f, %.2f]", e.lo, e.hi);
    return s + buf;
  }
  return s + " [" + format_points(e.lo) + ", " + format_points(e.hi) + "]";
}

std::string method_text(const std::string& baseline) {
  return "Each table cell shows the median over the repetitions that finished. Below it: the figure relative to the "
         "baseline allocator (" +
         baseline +
         "), as the median of the within-block ratios (or, for fractions such as F4 and \"returned after free\", the "
         "within-block differences in percentage points, pp); cells of one block ran the same program back to back, "
         "so the pairing removes drift between blocks. The interval in brackets is a 95% percentile bootstrap "
         "interval (4000 resamples of the blocks, fixed seed); with 3 repetitions it is exactly the range of the 3 "
         "ratios, so more repetitions are needed for a tight interval. Colours rank the allocators of one column from "
         "best (green) to worst (red). "
         "Noise: " +
         noise_rule_text() + ".";
}

Table matrix_table(const Run& run, const Matrix& m, size_t f) {
  Table t;
  t.css_class = "matrix";
  t.head.push_back("allocator");
  const Figure& fig = m.figures[f];
  // A program's own metric: only the programs that declare one, named with its direction.
  std::vector<size_t> shown;
  for (size_t g = 0; g < m.groups.size(); ++g) {
    const Group& gr = m.groups[g];
    if (fig.direction_from_program && gr.metric_name.empty()) continue;
    shown.push_back(g);
    t.head.push_back(fig.direction_from_program ? gr.label + " (" + gr.metric_name + ", " +
                                                      (gr.metric_higher_is_better ? "higher" : "lower") + " is better)"
                                                : gr.label);
  }
  if (shown.empty()) return {};
  for (size_t a = 0; a < m.allocators.size(); ++a) {
    std::vector<TableCell> row;
    row.push_back(HeadingCell(m.allocators[a], m.allocators[a] == m.baseline ? "baseline" : ""));
    for (size_t g : shown) {
      const auto& s = m.at[f][g][a];
      TableCell c;
      if (!s.present()) {
        int failed = 0, ok = 0;
        for (const auto& cell : run.cells)
          if (cell.allocator == m.allocators[a] && cell.workload == m.groups[g].workload &&
              cell.params_id == m.groups[g].params_id)
            (cell.ok() ? ok : failed)++;
        if (ok) {
          c.text = "n/a";
          c.title = "undefined (null) in every ok repetition, e.g. F4 on a live set below 1 MiB";
        } else {
          c.text = failed ? "failed" : "-";
          c.title = failed ? std::to_string(failed) + " failed cell(s): see Failed cells" : "not run";
        }
        row.push_back(c);
        continue;
      }
      c.text = format_value(fig, s.median);
      c.noisy = s.noisy;
      if (s.ranked > 1) c.heat = static_cast<double>(s.rank - 1) / static_cast<double>(s.ranked - 1);
      if (m.allocators[a] == m.baseline) c.note = "baseline";
      else if (s.vs_baseline) c.note = change_with_interval(fig, *s.vs_baseline);
      std::string values;
      for (double v : s.values) values += (values.empty() ? "" : ", ") + format_value(fig, v);
      c.title = group_title(m.groups[g]) + "\n" + std::to_string(s.values.size()) + " repetition(s): " + values +
                "\nrank " + std::to_string(s.rank) + " of " + std::to_string(s.ranked) + (s.noisy ? "\nnoisy" : "");
      row.push_back(c);
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table server_figures_table(const Run& run, const Group& g, const std::vector<std::string>& allocators) {
  // The keys the suite entry asked to show, from run.json's matrix.
  std::vector<std::string> keys;
  if (const auto it = run.info.matrix_facts.server_show.find(g.workload); it != run.info.matrix_facts.server_show.end())
    keys = it->second;
  Table t;
  t.css_class = "server";
  t.label_columns = 2;
  t.head = {"allocator", "phase", "RSS", "anonymous"};
  t.head.insert(t.head.end(), keys.begin(), keys.end());
  for (const auto& name : allocators) {
    std::vector<const Cell*> ok;
    for (const auto& c : run.cells)
      if (c.allocator == name && c.workload == g.workload && c.ok()) ok.push_back(&c);
    if (ok.empty()) continue;
    for (size_t i = 0; i < ok.front()->phases.size(); ++i) {
      std::vector<double> rss, anon;
      std::map<std::string, std::vector<double>> figures;
      for (const Cell* c : ok) {
        if (i >= c->phases.size() || !c->phases[i].end) continue;
        const auto& e = *c->phases[i].end;
        rss.push_back(static_cast<double>(e.rss));
        anon.push_back(static_cast<double>(e.anonymous));
        for (const auto& [k, v] : e.reported) {
          char* end = nullptr;
          const double x = std::strtod(v.c_str(), &end);
          if (end != v.c_str()) figures[k].push_back(x);
        }
      }
      if (rss.empty()) continue;
      std::vector<TableCell> row{HeadingCell(name),
                                 {ok.front()->phases[i].name},
                                 {format_bytes(stats::median(rss))},
                                 {format_bytes(stats::median(anon))}};
      for (const auto& k : keys) {
        const auto it = figures.find(k);
        if (it == figures.end()) {
          row.emplace_back("-");
          continue;
        }
        row.emplace_back(format_sig(stats::median(it->second), 4));  // as the program printed it: units are its own
      }
      row[2].title = std::to_string(rss.size()) + " ok repetition(s): medians";
      t.rows.push_back(std::move(row));
    }
  }
  return t;
}

Table failed_table(const Run& run) {
  Table t;
  t.css_class = "failed";
  t.numeric = false;
  t.head = {"allocator", "workload and parameters", "rep", "cause", "detail"};
  for (const auto& c : run.cells) {
    if (c.ok()) continue;
    std::string where = c.workload;
    for (const auto& [k, v] : c.params) where += " " + k + "=" + v;
    TableCell detail(c.detail);
    if (!c.stderr_tail.empty()) detail.title = "stderr (last 4 KiB):\n" + c.stderr_tail;
    t.rows.push_back(
        {HeadingCell(c.allocator), {where}, {std::to_string(c.rep)}, {c.cause.empty() ? "unknown" : c.cause}, detail});
  }
  return t;
}

Table counters_table(const Run& run, const Group& g, const std::vector<std::string>& allocators) {
  Table t;
  t.css_class = "counters";
  t.head = {"event (per 1k calls)"};
  std::vector<std::vector<const Cell*>> ok;
  for (const auto& name : allocators) {
    std::vector<const Cell*> cs;
    for (const auto& c : run.cells)
      if (c.allocator == name && c.workload == g.workload && c.params_id == g.params_id && c.ok() && c.counters)
        cs.push_back(&c);
    if (cs.empty()) continue;
    t.head.push_back(name);
    ok.push_back(std::move(cs));
  }
  if (ok.empty()) return t;
  auto row_of = [&](const std::string& label, auto value_of) {
    std::vector<TableCell> row{HeadingCell(label)};
    for (const auto& cs : ok) {
      std::vector<double> vals;
      std::string why;
      for (const Cell* c : cs) {
        const std::optional<double> v = value_of(*c, why);
        if (v) vals.push_back(*v);
      }
      TableCell cell(vals.empty() ? (why.empty() ? "-" : "unavailable") : format_sig(stats::median(vals)));
      cell.title = vals.empty() ? why : std::to_string(vals.size()) + " repetition" + (vals.size() == 1 ? "" : "s");
      row.push_back(std::move(cell));
    }
    t.rows.push_back(std::move(row));
  };
  for (const auto& e : ok.front().front()->counters->events)
    row_of(e.name, [&](const Cell& c, std::string& why) -> std::optional<double> {
      for (const auto& x : c.counters->events)
        if (x.name == e.name) {
          if (!x.available) why = x.reason;
          return x.available ? x.per_1k_calls : std::nullopt;
        }
      return std::nullopt;
    });
  row_of("IPC (instructions per cycle)", [](const Cell& c, std::string& why) -> std::optional<double> {
    if (!c.counters->ipc) why = "needs cycles and instructions, which these cells could not count";
    return c.counters->ipc;
  });
  return t;
}

Table micro_table(const Run& run) {
  // benchmark name -> allocator -> per-repetition (calls/s, cpu ns per iteration)
  std::vector<std::string> names;
  std::map<std::string, std::map<std::string, std::vector<std::pair<double, double>>>> values;
  for (const auto& c : run.cells) {
    const auto* micro = c.raw.if_contains("micro");
    if (!c.ok() || !micro || !micro->is_array()) continue;
    for (const auto& b : micro->get_array()) {
      if (!b.is_object()) continue;
      const auto& o = b.get_object();
      const auto* name = o.if_contains("name");
      const auto* calls = o.if_contains("calls_per_second");
      const auto* cpu = o.if_contains("cpu_time_ns");
      if (!name || !name->is_string() || !calls || !calls->is_number() || !cpu || !cpu->is_number()) continue;
      const std::string n(name->get_string());
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
      values[n][c.allocator].emplace_back(calls->to_number<double>(), cpu->to_number<double>());
    }
  }
  Table t;
  t.css_class = "micro";
  if (names.empty()) return t;
  std::vector<std::string> allocators;
  for (const auto& a : run.allocators)
    for (const auto& [n, per] : values)
      if (per.count(a) && std::find(allocators.begin(), allocators.end(), a) == allocators.end())
        allocators.push_back(a);
  t.head = {"benchmark"};
  t.head.insert(t.head.end(), allocators.begin(), allocators.end());
  for (const auto& n : names) {
    std::vector<TableCell> row{HeadingCell(n)};
    std::vector<std::pair<double, size_t>> medians;  // for ranking: higher calls/s is better
    for (const auto& a : allocators) {
      const auto it = values[n].find(a);
      if (it == values[n].end()) {
        row.emplace_back("-");
        continue;
      }
      std::vector<double> calls, cpu;
      for (const auto& [c, ns] : it->second) calls.push_back(c), cpu.push_back(ns);
      const double med = stats::median(calls);
      TableCell cell(format_sig(med / 1e6) + " M/s", format_sig(stats::median(cpu)) + " ns/iter");
      cell.title = std::to_string(calls.size()) + " repetition(s)";
      cell.noisy = calls.size() < 3;
      medians.emplace_back(med, row.size());
      row.push_back(std::move(cell));
    }
    std::sort(medians.begin(), medians.end(), [](auto& x, auto& y) { return x.first > y.first; });
    for (size_t r = 0; r < medians.size() && medians.size() > 1; ++r)
      row[medians[r].second].heat = static_cast<double>(r) / static_cast<double>(medians.size() - 1);
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table context_table(const std::vector<std::pair<std::string, std::string>>& context) {
  Table t;
  t.css_class = "context";
  t.numeric = false;
  t.head = {"", ""};
  for (const auto& [k, v] : context) t.rows.push_back({HeadingCell(k), {v}});
  return t;
}

Table allocator_table(const Run& run) {
  Table t;
  t.css_class = "allocators";
  t.numeric = false;
  t.head = {"allocator", "kind", "version", "library", "environment", "identity"};
  for (const auto& a : allocator_infos(run))
    t.rows.push_back(
        {HeadingCell(a.name), {a.kind}, {a.version}, {a.library}, {a.env.empty() ? "-" : a.env}, {a.identity}});
  return t;
}

}  // namespace heapmark::report
