#include "harness/report/machines.h"

#include <algorithm>
#include <map>
#include <vector>

namespace heapmark::report {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// "jemalloc > glibc > mimalloc", best first.
std::string ranking(const std::map<std::string, std::vector<double>>& by_allocator, bool higher_is_better) {
  std::vector<std::pair<double, std::string>> v;
  for (const auto& [a, xs] : by_allocator)
    if (!xs.empty()) v.emplace_back(median(xs), a);
  std::sort(v.begin(), v.end(),
            [&](const auto& x, const auto& y) { return higher_is_better ? x.first > y.first : x.first < y.first; });
  std::string out;
  for (const auto& [m, a] : v) out += (out.empty() ? "" : " > ") + a;
  return out;
}

const char* kNote =
    "Each machine type's allocators in order, best first, by median throughput and by median peak RSS above R0 over "
    "their ok cells; a ranking that differs from the first machine type's is marked.";

}  // namespace

Table machine_rankings(const Run& run) {
  Table t;
  t.head = {"workload", "machine", "by throughput", "by peak R"};
  t.label_columns = 2;
  t.numeric = false;
  if (run.machines.size() < 2) return t;
  // (workload, params without the machine) -> machine -> allocator -> figures
  struct Figures {
    std::map<std::string, std::vector<double>> speed, memory;
  };
  std::map<std::pair<std::string, std::string>, std::map<std::string, Figures>> groups;
  for (const auto& c : run.cells) {
    if (!c.ok() || c.machine.empty()) continue;
    std::string base = c.params_id;
    if (const size_t at = base.find("machine="); at != std::string::npos) base.erase(at > 0 ? at - 1 : at);
    const auto m = run.machines.find(c.machine);
    Figures& f = groups[{c.workload, base}][m != run.machines.end() ? m->second : c.machine];
    f.speed[c.allocator].push_back(c.throughput_ops_s);
    if (c.memory.peak_r) f.memory[c.allocator].push_back(static_cast<double>(*c.memory.peak_r));
  }
  for (const auto& [g, machines] : groups) {
    if (machines.size() < 2) continue;
    std::string first_speed, first_memory;
    bool first = true;
    for (const auto& [machine, f] : machines) {
      const std::string speed = ranking(f.speed, true), memory = ranking(f.memory, false);
      TableCell s(speed), mem(memory);
      if (first) {
        first_speed = speed;
        first_memory = memory;
      } else {
        if (speed != first_speed) s.note = "changes";
        if (memory != first_memory) mem.note = "changes";
      }
      t.rows.push_back(
          {TableCell(first ? g.first + (g.second.empty() ? "" : " " + g.second) : ""), TableCell(machine), s, mem});
      first = false;
    }
  }
  return t;
}

void add_machines_section(Document& d, const Run& run) {
  if (Table t = machine_rankings(run); !t.rows.empty())
    d.heading(2, "Rankings by machine type", "machines").note(kNote).table(std::move(t));
}

}  // namespace heapmark::report
