// Reading the results files' JSON with errors that say where: the one helper
// the typed readers (run_info.cc, repro_result.cc) share. Internal to
// harness/results.
#pragma once
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/input_error.h"

namespace heapmark::results {

// Reads one JSON object's fields, naming the file and the field's path in every complaint.
class Fields {
 public:
  Fields(const boost::json::value& v, std::string source, std::string path)
      : source_(std::move(source)), path_(std::move(path)) {
    if (!v.is_object()) fail("expected an object");
    o_ = &v.as_object();
  }
  [[noreturn]] void fail(const std::string& what, const std::string& key = "") const {
    throw InputError(source_ + ": " + path_ + (key.empty() ? "" : "." + key) + ": " + what);
  }
  const boost::json::value* find(const char* k) const {
    const auto* v = o_->if_contains(k);
    return v && !v->is_null() ? v : nullptr;
  }
  const boost::json::value& need(const char* k) const {
    if (const auto* v = find(k)) return *v;
    fail("missing", k);
  }
  std::string text(const char* k, bool required = true) const {
    const auto* v = required ? &need(k) : find(k);
    if (!v) return "";
    if (!v->is_string()) fail("expected a string", k);
    return std::string(v->as_string());
  }
  std::optional<std::string> maybe_text(const char* k) const {
    if (!find(k)) return std::nullopt;
    return text(k);
  }
  double number(const char* k) const {
    const auto& v = need(k);
    if (!v.is_number()) fail("expected a number", k);
    return v.to_number<double>();
  }
  std::optional<double> maybe_number(const char* k) const {
    if (!find(k)) return std::nullopt;
    return number(k);
  }
  int integer(const char* k) const { return static_cast<int>(number(k)); }
  // A non-negative integer, exact to 2^64 - 1 (a seed, a byte count).
  uint64_t count(const char* k) const {
    const auto& v = need(k);
    if (v.is_uint64()) return v.get_uint64();
    if (v.is_int64() && v.get_int64() >= 0) return static_cast<uint64_t>(v.get_int64());
    if (v.is_double() && v.get_double() >= 0) return static_cast<uint64_t>(v.get_double());
    fail("expected a count", k);
  }
  // An object field (null when absent).
  const boost::json::object* object(const char* k) const {
    const auto* v = find(k);
    if (v && !v->is_object()) fail("expected an object", k);
    return v ? &v->as_object() : nullptr;
  }
  bool boolean(const char* k, bool dflt) const {
    const auto* v = find(k);
    if (!v) return dflt;
    if (!v->is_bool()) fail("expected true or false", k);
    return v->as_bool();
  }
  // An array's items (none when absent), each with its own path.
  template <typename F>
  void each(const char* k, F&& f) const {
    const auto* v = find(k);
    if (!v) return;
    if (!v->is_array()) fail("expected an array", k);
    const auto& a = v->as_array();
    for (size_t i = 0; i < a.size(); ++i) f(a[i], path_ + "." + k + "[" + std::to_string(i) + "]");
  }
  // An object of text values as name/value pairs, in the file's order.
  std::vector<std::pair<std::string, std::string>> env(const char* k) const {
    std::vector<std::pair<std::string, std::string>> out;
    const auto* v = find(k);
    if (!v) return out;
    if (!v->is_object()) fail("expected an object of environment variables", k);
    for (const auto& [name, value] : v->as_object())
      if (value.is_string()) out.emplace_back(std::string(name), std::string(value.as_string()));
    return out;
  }
  const std::string& source() const { return source_; }

 private:
  const boost::json::object* o_ = nullptr;
  std::string source_, path_;
};

// The parsed JSON of a file; throws InputError naming it when it cannot be read or is not JSON.
boost::json::value read_json_file(const std::string& path);

}  // namespace heapmark::results
