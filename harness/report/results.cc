// Reading results directories for report and compare (see results.h).
#include "harness/report/results.h"

#include <boost/json.hpp>
#include <filesystem>

#include "common/input_error.h"
#include "harness/results/results_dir.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace heapmark::report {

const json::value* find_path(const json::object& obj, const std::string& dotted) {
  const json::object* cur = &obj;
  size_t start = 0;
  for (;;) {
    const size_t dot = dotted.find('.', start);
    const auto* v = cur->if_contains(dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (!v || dot == std::string::npos) return v;
    if (!v->is_object()) return nullptr;
    cur = &v->get_object();
    start = dot + 1;
  }
}

std::optional<double> Cell::number(const std::string& dotted) const {
  const json::value* v = find_path(raw, dotted);
  if (!v || !v->is_number()) return std::nullopt;
  return v->to_number<double>();
}

Run read_run(const std::string& dir) {
  Run run;
  run.dir = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError("results directory '" + dir + "' does not exist");
  run.info = results::read_run_info(dir);
  run.run_id = run.info.run_id;
  if (run.run_id.empty()) run.run_id = fs::path(dir).filename().string();
  run.baseline = run.info.matrix_facts.baseline;
  for (const auto& a : run.info.matrix_facts.allocators) run.allocators.push_back(a.name);
  // A run merged --by-machine: each cell names its machine by fingerprint digest; its figures group by machine too.
  for (const auto& from : run.info.merged_from)
    if (from.fingerprint) {
      const std::string digest = from.fingerprint->digest();
      run.machines[digest] = from.fingerprint->cpu_model() + " (" + digest.substr(0, 6) + ")";
    }
  results::Cells cells = results::read_cells(dir);
  run.ignored_partial_line = cells.ignored_partial_line;
  for (auto& line : cells.lines) {
    Cell c;
    static_cast<results::CellResult&>(c) = std::move(line.result);
    c.raw = std::move(line.raw);
    for (const auto& [k, v] : c.params) c.params_id += (c.params_id.empty() ? "" : ",") + k + "=" + v;
    if (!c.machine.empty()) {
      const auto m = run.machines.find(c.machine);
      c.params_id += (c.params_id.empty() ? "" : ",") + std::string("machine=") +
                     (m != run.machines.end() ? m->second : c.machine);
    }
    run.cells.push_back(std::move(c));
  }
  for (const auto& c : run.cells) {
    bool known = false;
    for (const auto& a : run.allocators) known |= a == c.allocator;
    if (!known) run.allocators.push_back(c.allocator);
  }
  if (run.baseline.empty() && !run.allocators.empty()) run.baseline = run.allocators.front();
  return run;
}

}  // namespace heapmark::report
