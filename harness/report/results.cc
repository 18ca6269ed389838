// Reading results directories for report and compare (see results.h).
#include "harness/report/results.h"

#include <boost/json.hpp>
#include <filesystem>

#include "common/input_error.h"
#include "harness/results/results_dir.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace heapmark::report {
namespace {

std::string str(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

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
  run.run_json = results::read_run_json(dir);
  run.run_id = str(run.run_json, "run_id");
  if (run.run_id.empty()) run.run_id = fs::path(dir).filename().string();
  if (const auto* m = run.run_json.if_contains("matrix"); m && m->is_object()) {
    run.baseline = str(m->get_object(), "baseline");
    if (const auto* as = m->get_object().if_contains("allocators"); as && as->is_array())
      for (const auto& a : as->get_array())
        if (a.is_object()) run.allocators.push_back(str(a.get_object(), "name"));
  }
  // A run merged --by-machine: each cell names its machine by fingerprint digest; its figures group by machine too.
  if (const auto* from = run.run_json.if_contains("merged_from"); from && from->is_array())
    for (const auto& f : from->get_array()) {
      const auto* fp = f.is_object() ? f.get_object().if_contains("fingerprint") : nullptr;
      if (!fp || !fp->is_object()) continue;
      const std::string digest = str(fp->get_object(), "digest");
      run.machines[digest] = str(fp->get_object(), "cpu_model") + " (" + digest.substr(0, 6) + ")";
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
