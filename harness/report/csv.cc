// cells.csv: one row per cell, one column per scalar figure. Nested objects are
// flattened with dotted names (latency_ns.alloc.p99); arrays (phases,
// timelines, histograms) are left out. Columns appear in order of first
// appearance; a cell without a figure leaves it empty, as does null.
#include <boost/json.hpp>
#include <charconv>
#include <map>

#include "harness/report/report.h"

namespace json = boost::json;

namespace heapmark::report {
namespace {

void flatten(const json::object& o, const std::string& prefix,
             std::vector<std::pair<std::string, const json::value*>>& out) {
  for (const auto& [k, v] : o) {
    const std::string name = prefix + std::string(k);
    if (v.is_object()) flatten(v.get_object(), name + ".", out);
    else if (!v.is_array()) out.emplace_back(name, &v);
  }
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string csv_value(const json::value& v) {
  if (v.is_string()) return csv_field(std::string(v.get_string()));
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  if (v.is_bool()) return v.get_bool() ? "true" : "false";
  if (v.is_double()) {  // shortest text that reads back as the same double
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v.get_double());
    return std::string(buf, r.ptr);
  }
  return "";
}

}  // namespace

std::string render_cells_csv(const Run& run) {
  std::vector<std::string> columns;
  std::map<std::string, size_t> index;
  std::vector<std::vector<std::pair<std::string, const json::value*>>> rows;
  for (const auto& c : run.cells) {
    rows.emplace_back();
    flatten(c.raw, "", rows.back());
    for (const auto& [name, v] : rows.back())
      if (index.emplace(name, columns.size()).second) columns.push_back(name);
  }
  std::string out;
  for (size_t i = 0; i < columns.size(); ++i) out += (i ? "," : "") + csv_field(columns[i]);
  out += "\n";
  for (const auto& row : rows) {
    std::vector<std::string> fields(columns.size());
    for (const auto& [name, v] : row) fields[index[name]] = csv_value(*v);
    for (size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + fields[i];
    out += "\n";
  }
  return out;
}

}  // namespace heapmark::report
