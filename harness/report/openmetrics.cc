#include "harness/report/openmetrics.h"

#include <cinttypes>
#include <cstdio>
#include <functional>
#include <optional>
#include <vector>

namespace heapmark::report {
namespace {

using openmetrics::Labels;

Labels cell_labels(const Cell& c) {
  Labels l{{"allocator", c.allocator}, {"workload", c.workload}, {"rep", std::to_string(c.rep)}};
  if (!c.params_id.empty()) l.emplace_back("params", c.params_id);
  return l;
}

// One gauge family: its metadata once, then every sample.
struct Family {
  const char* name;
  const char* unit;  // "" when the figure has none OpenMetrics names (a count)
  const char* help;
  // The cell's value, or none.
  std::function<std::optional<double>(const Cell&)> cell;
  // A phase end's value, or none (families of phase figures set this instead).
  std::function<std::optional<double>(const results::PhaseEndResult&)> phase;
};

std::optional<double> opt_u64(const std::optional<uint64_t>& v) {
  return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
}

std::optional<double> alloc_p99_s(const Cell& c) {
  for (const auto& [op, lat] : c.latency_ns)
    if (op == "alloc" && lat.count) return lat.p99 * 1e-9;
  return std::nullopt;
}

const std::vector<Family>& families() {
  static const std::vector<Family> f = {
      {"heapmark_throughput_ops_per_second", "", "Allocator calls per second over the measured phases",
       [](const Cell& c) { return c.throughput_ops_s > 0 ? std::optional<double>(c.throughput_ops_s) : std::nullopt; },
       nullptr},
      {"heapmark_alloc_latency_p99_seconds", "seconds", "99th percentile of one malloc, net of timer overhead",
       alloc_p99_s, nullptr},
      {"heapmark_wall_seconds", "seconds", "Wall time of the cell's process, spawn to exit",
       [](const Cell& c) { return std::optional<double>(c.wall_s); }, nullptr},
      {"heapmark_cpu_user_seconds", "seconds", "User CPU of the cell's process",
       [](const Cell& c) { return std::optional<double>(c.cpu.user_s); }, nullptr},
      {"heapmark_cpu_system_seconds", "seconds", "System CPU of the cell's process",
       [](const Cell& c) { return std::optional<double>(c.cpu.sys_s); }, nullptr},
      {"heapmark_minor_faults", "", "Minor page faults of the cell's process",
       [](const Cell& c) { return std::optional<double>(static_cast<double>(c.cpu.minflt)); }, nullptr},
      {"heapmark_peak_rss_bytes", "bytes", "Peak RSS (VmHWM) of the cell's process",
       [](const Cell& c) { return std::optional<double>(static_cast<double>(c.memory.vm_hwm)); }, nullptr},
      {"heapmark_peak_r_bytes", "bytes",
       "Peak R: anonymous RSS above the cell's baseline (a program: its anonymous RSS)",
       [](const Cell& c) { return opt_u64(c.memory.peak_r); }, nullptr},
      {"heapmark_avg_r_bytes", "bytes", "Time-averaged R over the run",
       [](const Cell& c) { return opt_u64(c.memory.avg_r); }, nullptr},
      {"heapmark_live_peak_bytes", "bytes", "Peak live requested bytes",
       [](const Cell& c) { return opt_u64(c.memory.live_peak); }, nullptr},
      {"heapmark_returned_after_free_ratio", "ratio",
       "Share of the freed bytes given back to the OS by the first phase that freed",
       [](const Cell& c) { return c.memory.returned_after_free; }, nullptr},
      {"heapmark_release_calls_seconds", "seconds", "Time inside a release schedule's calls",
       [](const Cell& c) {
         return c.release_schedule ? std::optional<double>(c.release_schedule->total_ms * 1e-3) : std::nullopt;
       },
       nullptr},
      {"heapmark_phase_r_bytes", "bytes", "R at the phase's end", nullptr,
       [](const results::PhaseEndResult& e) { return std::optional<double>(static_cast<double>(e.r)); }},
      {"heapmark_phase_live_bytes", "bytes", "Live requested bytes at the phase's end", nullptr,
       [](const results::PhaseEndResult& e) { return std::optional<double>(static_cast<double>(e.live_bytes)); }},
      {"heapmark_phase_free_resident_bytes", "bytes",
       "Resident pages that hold no live block at the phase's end (what a release could return)", nullptr,
       [](const results::PhaseEndResult& e) {
         return e.breakdown ? std::optional<double>(static_cast<double>(e.breakdown->retained)) : std::nullopt;
       }},
      {"heapmark_phase_rss_bytes", "bytes", "RSS at the phase's end (smaps_rollup)", nullptr,
       [](const results::PhaseEndResult& e) { return std::optional<double>(static_cast<double>(e.rss)); }},
      {"heapmark_phase_anon_huge_pages_bytes", "bytes", "AnonHugePages at the phase's end", nullptr,
       [](const results::PhaseEndResult& e) { return std::optional<double>(static_cast<double>(e.anon_huge_pages)); }},
  };
  return f;
}

}  // namespace

std::string openmetrics_exposition(const Run& run) {
  std::vector<openmetrics::Gauge> gauges;
  for (const auto& f : families()) {
    openmetrics::Gauge& g = gauges.emplace_back(openmetrics::Gauge{f.name, f.unit, f.help, ""});
    for (const auto& c : run.cells) {
      if (!c.ok()) continue;
      const Labels base = cell_labels(c);
      if (f.cell) {
        if (const auto v = f.cell(c)) g.add(base, *v);
        continue;
      }
      for (const auto& p : c.phases) {
        if (!p.end) continue;
        const auto v = f.phase(*p.end);
        if (!v) continue;
        Labels l = base;
        l.emplace_back("phase", p.name);
        l.emplace_back("phase_index", std::to_string(p.index));  // a workload's phases may share a name
        g.add(l, *v);
      }
    }
  }
  return openmetrics::exposition(gauges);
}

namespace openmetrics {
namespace {

// A label value with \, " and newline escaped.
std::string escaped(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

std::string label_text(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=\"" + escaped(v) + "\"";
  return "{" + out + "}";
}

}  // namespace

void Gauge::add(const Labels& labels, double value, std::optional<double> timestamp_s) {
  samples += name + label_text(labels) + " " + number(value);
  if (timestamp_s) {
    char b[40];
    std::snprintf(b, sizeof b, " %.3f", *timestamp_s);
    samples += b;
  }
  samples += "\n";
}

std::string exposition(const std::vector<Gauge>& gauges) {
  std::string out;
  for (const auto& g : gauges) {
    if (g.samples.empty()) continue;
    out += "# TYPE " + g.name + " gauge\n";
    if (!g.unit.empty()) out += "# UNIT " + g.name + " " + g.unit + "\n";
    out += "# HELP " + g.name + " " + g.help + "\n" + g.samples;
  }
  return out + "# EOF\n";
}

}  // namespace openmetrics

}  // namespace heapmark::report
