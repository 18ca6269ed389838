// Builds the report's data model from a Run (see summary.h).
#include "harness/report/summary.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace heapmark::report {
std::vector<Group> groups_of(const Run& run) {
  std::vector<Group> groups;
  std::map<std::string, std::map<std::string, std::set<std::string>>> seen;  // workload -> param -> values
  for (const auto& c : run.cells) {
    for (const auto& [k, v] : c.params) seen[c.workload][k].insert(v);
    bool known = false;
    for (const auto& g : groups) known |= g.workload == c.workload && g.params_id == c.params_id;
    if (known) continue;
    Group g;
    g.workload = c.workload;
    g.params_id = c.params_id;
    g.params = c.params;
    if (c.run) {
      g.program = true;
      g.metric_name = c.run->metric_name;
      g.metric_higher_is_better = c.run->metric_higher_is_better;
    }
    groups.push_back(std::move(g));
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    auto& g = groups[i];
    g.label = g.workload;
    for (const auto& [k, v] : g.params)
      if (seen[g.workload][k].size() > 1) g.label += " " + k + "=" + v;
    g.id = "g" + std::to_string(i);
  }
  return groups;
}

Matrix summarize(const Run& run, const std::vector<Figure>& figures, bool programs) {
  Matrix m;
  for (auto& g : groups_of(run))
    if (g.program == programs) m.groups.push_back(std::move(g));
  m.allocators = run.allocators;
  m.baseline = run.baseline;
  m.figures = figures;
  m.at.assign(figures.size(), std::vector<std::vector<FigureSummary>>(m.groups.size(),
                                                                      std::vector<FigureSummary>(m.allocators.size())));
  auto group_index = [&](const Cell& c) -> size_t {
    for (size_t g = 0; g < m.groups.size(); ++g)
      if (m.groups[g].workload == c.workload && m.groups[g].params_id == c.params_id) return g;
    return m.groups.size();  // a group of the other kind
  };
  auto alloc_index = [&](const std::string& name) -> size_t {
    return static_cast<size_t>(std::find(m.allocators.begin(), m.allocators.end(), name) - m.allocators.begin());
  };
  const size_t base = alloc_index(m.baseline);

  for (size_t f = 0; f < figures.size(); ++f) {
    // [group][allocator] -> block -> value, for the within-block comparisons
    std::vector<std::vector<std::map<int, double>>> by_block(m.groups.size(),
                                                             std::vector<std::map<int, double>>(m.allocators.size()));
    for (const auto& c : run.cells) {
      if (!c.ok()) continue;
      const auto v = c.number(figures[f].path);
      if (!v || !std::isfinite(*v)) continue;
      const size_t g = group_index(c), a = alloc_index(c.allocator);
      if (g == m.groups.size()) continue;
      m.at[f][g][a].values.push_back(*v);
      by_block[g][a][c.block] = *v;
    }
    for (size_t g = 0; g < m.groups.size(); ++g) {
      auto& row = m.at[f][g];
      for (size_t a = 0; a < row.size(); ++a) {
        auto& s = row[a];
        if (!s.present()) continue;
        s.median = stats::median(s.values);
        s.noisy = is_noisy(figures[f], s.values);
        if (a == base || base >= row.size()) continue;
        std::vector<double> paired;
        for (const auto& [block, v] : by_block[g][a]) {
          const auto it = by_block[g][base].find(block);
          if (it == by_block[g][base].end()) continue;
          if (figures[f].scale == Scale::kRatio) {
            if (it->second != 0) paired.push_back(v / it->second);
          } else {
            paired.push_back(v - it->second);
          }
        }
        if (!paired.empty()) s.vs_baseline = stats::bootstrap_median(paired);
      }
      std::vector<size_t> order;
      for (size_t a = 0; a < row.size(); ++a)
        if (row[a].present()) order.push_back(a);
      const bool higher =
          figures[f].direction_from_program ? m.groups[g].metric_higher_is_better : figures[f].higher_is_better;
      std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
        return higher ? row[x].median > row[y].median : row[x].median < row[y].median;
      });
      // Equal as displayed counts as a tie: 0.01 pp apart is not a ranking.
      const auto same = [&](double x, double y) {
        return figures[f].scale == Scale::kDifference ? std::fabs(x - y) < 5e-4
                                                      : std::fabs(x - y) <= 5e-3 * std::max(std::fabs(x), std::fabs(y));
      };
      for (size_t i = 0; i < order.size(); ++i) {
        const bool tie = i > 0 && same(row[order[i]].median, row[order[i - 1]].median);
        row[order[i]].rank = tie ? row[order[i - 1]].rank : static_cast<int>(i) + 1;
        row[order[i]].ranked = static_cast<int>(order.size());
      }
    }
  }
  return m;
}

std::vector<AllocatorDetail> group_details(const Run& run, const Group& g, const std::vector<std::string>& allocators) {
  std::vector<AllocatorDetail> out;
  for (const auto& name : allocators) {
    AllocatorDetail d;
    d.allocator = name;
    std::vector<const Cell*> ok;
    for (const auto& c : run.cells) {
      if (c.allocator != name || c.workload != g.workload || c.params_id != g.params_id) continue;
      if (c.ok()) ok.push_back(&c);
      else ++d.failed_reps;
    }
    d.ok_reps = static_cast<int>(ok.size());
    if (ok.empty() && d.failed_reps == 0) continue;
    if (!ok.empty()) {
      std::vector<const Cell*> by_peak = ok;
      std::stable_sort(by_peak.begin(), by_peak.end(), [](const Cell* x, const Cell* y) {
        return x->memory.peak_r.value_or(0) < y->memory.peak_r.value_or(0);
      });
      d.representative = by_peak[(by_peak.size() - 1) / 2];
      std::set<std::string> ops;
      for (const Cell* c : ok)
        for (const auto& [op, l] : c->latency_ns)
          if (l.count > 0) ops.insert(op);
      for (const auto& op : ops) {
        std::array<double, 5> med{};
        for (size_t p = 0; p < kPercentiles.size(); ++p) {
          std::vector<double> vals;
          for (const Cell* c : ok)
            if (const results::Latency* l = c->latency(op)) vals.push_back(l->*kPercentiles[p]);
          med[p] = stats::median(vals);
        }
        d.latency[op] = med;
      }
      // --timing batch: ns per call over batches, under its own name (charts say which timer).
      std::vector<const results::BatchTiming*> batched;
      for (const Cell* c : ok)
        if (c->batch_ns) batched.push_back(&*c->batch_ns);
      if (!batched.empty()) {
        std::array<double, 5> med{};
        const std::array<double results::BatchTiming::*, 5> quantiles = {
            &results::BatchTiming::p50, &results::BatchTiming::p90, &results::BatchTiming::p99,
            &results::BatchTiming::p999, &results::BatchTiming::max};
        for (size_t p = 0; p < quantiles.size(); ++p) {
          std::vector<double> vals;
          for (const auto* b : batched) vals.push_back(b->*quantiles[p]);
          med[p] = stats::median(vals);
        }
        d.latency[kBatchOp] = med;
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> run_context(const Run& run) {
  const results::RunInfo& r = run.info;
  const results::MachineInfo& m = r.machine;
  std::vector<std::pair<std::string, std::string>> kv;
  size_t ok = 0, failed = 0;
  for (const auto& c : run.cells) (c.ok() ? ok : failed)++;
  auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  auto count = [](double v) { return format_sig(v, 4); };
  kv.emplace_back("run", run.run_id + ", created " + or_dash(r.created_at));
  kv.emplace_back("cells",
                  std::to_string(run.cells.size()) + " of " + std::to_string(r.cells_planned) +
                      " planned: " + std::to_string(ok) + " ok, " + std::to_string(failed) + " failed" +
                      (run.ignored_partial_line ? "; an incomplete last line of cells.jsonl was ignored" : ""));
  std::string cmd;
  for (const auto& a : r.command_line) cmd += (cmd.empty() ? "" : " ") + a;
  kv.emplace_back("command line", cmd);
  kv.emplace_back("heapmark", or_dash(r.heapmark.version) + ", commit " + or_dash(r.heapmark.commit) + ", " +
                                  or_dash(r.heapmark.build_type) + ", compiler " + or_dash(r.heapmark.compiler));
  kv.emplace_back("machine", or_dash(m.hostname) + ": " + or_dash(m.cpu_model) + ", " + std::to_string(m.cpus_online) +
                                 " CPUs online, " +
                                 (m.memory_total_bytes ? format_bytes(double(m.memory_total_bytes)) : "-") +
                                 " memory, " + or_dash(m.arch));
  kv.emplace_back("kernel", or_dash(m.kernel) + "; glibc " + or_dash(m.glibc_version));
  kv.emplace_back("THP", "enabled " + or_dash(m.thp_enabled) + ", defrag " + or_dash(m.thp_defrag));
  std::string tsc =
      "clocksource " + or_dash(m.clocksource) + "; TSC invariant " + std::string(m.tsc.invariant ? "yes" : "no");
  if (m.tsc.hz > 0) tsc += ", " + format_sig(m.tsc.hz / 1e9, 4) + " GHz";
  tsc += ", timer overhead " + format_ns(m.tsc.timer_overhead_ns);
  tsc += ", resolution " + std::to_string(m.tsc.timer_resolution_cycles) + " cycles";
  kv.emplace_back("timer", tsc);
  kv.emplace_back("load at start", count(m.loadavg_at_start[0]) + " " + count(m.loadavg_at_start[1]) + " " +
                                       count(m.loadavg_at_start[2]) + " (1, 5, 15 min)");
  const results::RunOptionsInfo& o = r.options;
  std::string options = "timeout " + count(o.timeout_s) + " s, memory cap ";
  options += o.mem_cap_bytes ? format_bytes(double(o.mem_cap_bytes)) : "-";
  options += ", sampling " + count(o.sample_hz) + " Hz (max " + std::to_string(o.max_points) + " points), touch " +
             or_dash(o.touch) + ", cells on CPU " + std::to_string(o.cell_cpu);
  kv.emplace_back("options", options);
  kv.emplace_back("matrix", std::to_string(r.matrix_facts.reps) + " repetitions, seed " +
                                std::to_string(r.matrix_facts.seed) + ", baseline " + run.baseline);
  return kv;
}

std::vector<AllocatorInfo> allocator_infos(const Run& run) {
  std::vector<AllocatorInfo> out;
  for (const auto& name : run.allocators) {
    AllocatorInfo info;
    info.name = name;
    for (const auto& a : run.info.allocators) {
      if (a.name != name) continue;
      info.kind = a.kind;
      info.version = a.answered ? a.version : "-";
      info.library = a.library.empty() ? "(none: libc)" : a.library;
      for (const auto& [k, v] : a.env) info.env += (info.env.empty() ? "" : " ") + k + "=" + v;
      info.identity = (a.identity_ok ? "proven: " : "NOT proven: ") + a.identity_proof;
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace heapmark::report
