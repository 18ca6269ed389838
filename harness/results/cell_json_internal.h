// What cell_json.cc and cell_json_phases.cc share: the writing helpers, the
// reader that names a bad field's path, and the phases' writer and reader.
// Internal to harness/results.
#pragma once
#include <boost/json.hpp>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "common/input_error.h"
#include "harness/results/cell_result.h"

namespace heapmark::results::cell_json {

namespace json = boost::json;

// ---- writing
inline json::value number_or_null(double v) {
  if (std::isnan(v) || std::isinf(v)) return nullptr;
  return v == 0.0 ? 0.0 : v;  // no "-0.0" in the files
}
inline json::value opt(const std::optional<double>& v) { return v ? number_or_null(*v) : json::value(nullptr); }
template <class T>
inline json::value opt_int(const std::optional<T>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}
inline json::object pairs(const Pairs& p) {
  json::object o;
  for (const auto& [k, v] : p) o[k] = v;
  return o;
}

// ---- reading
class Reader {
 public:
  explicit Reader(std::string where) : where_(std::move(where)) {}
  [[noreturn]] void fail(const std::string& path, const char* want) const {
    throw InputError(where_ + ": field '" + path + "': expected " + want);
  }
  const json::value* find(const json::object& o, const char* k) const {
    const auto* v = o.if_contains(k);
    return v && !v->is_null() ? v : nullptr;
  }
  std::string str(const json::object& o, const char* k, const std::string& path) const {
    const auto* v = find(o, k);
    if (!v) return "";
    if (!v->is_string()) fail(path + k, "a string");
    return std::string(v->get_string());
  }
  std::optional<double> num(const json::object& o, const char* k, const std::string& path) const {
    const auto* v = find(o, k);
    if (!v) return std::nullopt;
    if (!v->is_number()) fail(path + k, "a number");
    return v->to_number<double>();
  }
  template <class T>
  std::optional<T> integer(const json::object& o, const char* k, const std::string& path) const {
    const auto* v = find(o, k);
    if (!v) return std::nullopt;
    if (v->is_int64()) return static_cast<T>(v->get_int64());
    if (v->is_uint64()) return static_cast<T>(v->get_uint64());
    if (v->is_double() && v->get_double() == std::floor(v->get_double())) return static_cast<T>(v->get_double());
    fail(path + k, "an integer");
  }
  bool boolean(const json::object& o, const char* k, const std::string& path) const {
    const auto* v = find(o, k);
    if (!v) return false;
    if (!v->is_bool()) fail(path + k, "true or false");
    return v->get_bool();
  }
  const json::object* object(const json::object& o, const char* k, const std::string& path) const {
    const auto* v = find(o, k);
    if (!v) return nullptr;
    if (!v->is_object()) fail(path + k, "an object");
    return &v->get_object();
  }
  const json::array* array(const json::object& o, const char* k, const std::string& path) const {
    const auto* v = find(o, k);
    if (!v) return nullptr;
    if (!v->is_array()) fail(path + k, "an array");
    return &v->get_array();
  }
  Pairs text_pairs(const json::object& o, const std::string& path) const {
    Pairs out;
    for (const auto& [k, v] : o)
      out.emplace_back(std::string(k), v.is_string() ? std::string(v.get_string()) : json::serialize(v));
    return out;
  }
  std::vector<double> numbers(const json::array& a, const std::string& path) const {
    std::vector<double> out;
    out.reserve(a.size());
    for (const auto& e : a) {
      if (!e.is_number()) fail(path, "an array of numbers");
      out.push_back(e.to_number<double>());
    }
    return out;
  }

 private:
  std::string where_;
};

json::object phase_json(const PhaseResult& p);
PhaseResult read_phase(const Reader& rd, const json::object& po, const std::string& path);

}  // namespace heapmark::results::cell_json
