// Reading results directories for report and compare (see results.h).
#include "harness/report/results.h"

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/input_error.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace heapmark::report {
namespace {

std::string str(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::optional<double> num(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return std::nullopt;
}

std::optional<double> num(const json::object& o, const char* k) { return num(o.if_contains(k)); }

std::vector<double> numbers(const json::object& o, const char* k) {
  std::vector<double> out;
  const auto* v = o.if_contains(k);
  if (!v || !v->is_array()) return out;
  out.reserve(v->get_array().size());
  for (const auto& e : v->get_array()) out.push_back(num(&e).value_or(0));
  return out;
}

void check_schema(const json::object& o, const std::string& where) {
  const auto version = num(o, "schema_version");
  if (!version) throw InputError(where + ": no schema_version");
  if (*version != kKnownSchemaVersion) {
    std::ostringstream msg;
    msg << where << ": schema_version " << *version << " is not supported (this heapmark reads version " << kKnownSchemaVersion
        << ")";
    throw InputError(msg.str());
  }
}

Cell to_cell(json::object obj) {
  Cell c;
  c.key = str(obj, "key");
  c.allocator = str(obj, "allocator");
  c.workload = str(obj, "workload");
  c.status = str(obj, "status");
  c.cause = str(obj, "cause");
  c.detail = str(obj, "detail");
  c.rep = static_cast<int>(num(obj, "rep").value_or(0));
  c.block = static_cast<int>(num(obj, "block").value_or(0));
  if (const auto* p = obj.if_contains("params"); p && p->is_object()) {
    for (const auto& [k, v] : p->get_object())
      c.params[std::string(k)] = v.is_string() ? std::string(v.get_string()) : json::serialize(v);
  }
  for (const auto& [k, v] : c.params) c.params_id += (c.params_id.empty() ? "" : ",") + k + "=" + v;
  if (const auto* m = obj.if_contains("memory"); m && m->is_object()) c.r0_anon = num(m->get_object(), "r0_anon").value_or(0);
  if (const auto* ph = obj.if_contains("phases"); ph && ph->is_array()) {
    for (const auto& e : ph->get_array()) {
      if (!e.is_object()) continue;
      const auto& po = e.get_object();
      Phase p;
      p.index = static_cast<int>(num(po, "index").value_or(0));
      p.name = str(po, "name");
      p.begin_s = num(po, "begin_s").value_or(0);
      p.end_s = num(po, "end_s").value_or(p.begin_s);
      p.r = num(po, "r");
      p.live_bytes = num(po, "live_bytes");
      p.lazy_free = num(po, "lazy_free");
      p.rho = num(po, "rho");
      if (const auto* b = po.if_contains("breakdown"); b && b->is_object()) {
        p.fragmentation = num(b->get_object(), "fragmentation");
        p.retained = num(b->get_object(), "retained");
        p.metadata = num(b->get_object(), "metadata");
      }
      c.phases.push_back(std::move(p));
    }
  }
  if (const auto* t = obj.if_contains("timeline"); t && t->is_object()) {
    const auto& to = t->get_object();
    c.timeline.t_s = numbers(to, "t_s");
    c.timeline.anon = numbers(to, "anon");
    c.timeline.live = numbers(to, "live");
    const size_t n = std::min({c.timeline.t_s.size(), c.timeline.anon.size(), c.timeline.live.size()});
    c.timeline.t_s.resize(n);
    c.timeline.anon.resize(n);
    c.timeline.live.resize(n);
  }
  c.raw = std::move(obj);
  return c;
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

std::optional<double> Cell::number(const std::string& dotted) const { return num(find_path(raw, dotted)); }

Run read_run(const std::string& dir) {
  Run run;
  run.dir = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError("results directory '" + dir + "' does not exist");
  const std::string run_path = (fs::path(dir) / "run.json").string();
  {
    std::ifstream in(run_path, std::ios::binary);
    if (!in) throw InputError("'" + run_path + "' is missing: not a heapmark results directory");
    std::stringstream ss;
    ss << in.rdbuf();
    json::error_code jec;
    auto v = json::parse(ss.str(), jec);
    if (jec || !v.is_object()) throw InputError(run_path + ": not valid JSON (" + (jec ? jec.message() : "not an object") + ")");
    run.run_json = std::move(v.get_object());
  }
  check_schema(run.run_json, run_path);
  run.run_id = str(run.run_json, "run_id");
  if (run.run_id.empty()) run.run_id = fs::path(dir).filename().string();
  if (const auto* m = run.run_json.if_contains("matrix"); m && m->is_object()) {
    run.baseline = str(m->get_object(), "baseline");
    if (const auto* as = m->get_object().if_contains("allocators"); as && as->is_array())
      for (const auto& a : as->get_array())
        if (a.is_object()) run.allocators.push_back(str(a.get_object(), "name"));
  }

  const std::string cells_path = (fs::path(dir) / "cells.jsonl").string();
  std::ifstream in(cells_path, std::ios::binary);
  if (!in) return run;  // no cell finished yet
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    ++line_no;
    if (nl == std::string::npos) {  // incomplete last line: documented as ignored
      run.ignored_partial_line = true;
      break;
    }
    const std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = cells_path + ":" + std::to_string(line_no);
    json::error_code jec;
    auto v = json::parse(line, jec);
    if (jec || !v.is_object()) throw InputError(where + ": not valid JSON (" + (jec ? jec.message() : "not an object") + ")");
    check_schema(v.get_object(), where);
    run.cells.push_back(to_cell(std::move(v.get_object())));
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
