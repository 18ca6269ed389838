// Workload parameters: declared once per workload (name, default, help, type),
// validated before anything runs, and listed by `heapmark list workloads`.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/input_error.h"

namespace heapmark::workloads {

enum class ParamType { kInt, kChoice, kSizes, kText };

struct ParamSpec {
  std::string name;
  std::string default_value;
  std::string help;
  ParamType type = ParamType::kInt;
  int64_t min = 0;  // kInt: inclusive range
  int64_t max = INT64_MAX;
  std::vector<std::string> choices;  // kChoice
  // kText: returns why `value` is not acceptable, or "" (e.g. a file that must exist).
  std::function<std::string(const std::string& value)> validate = nullptr;
};

// Parsed "1000", "64K", "16M", "2G" (binary suffixes); false if malformed or negative.
bool parse_quantity(const std::string& text, int64_t& out);

// Values keyed by parameter name, always complete (defaults filled in) and
// valid once made by `resolve`.
class Params {
 public:
  // Checks every given key against `specs` and every value against its type,
  // then fills in defaults. Throws InputError naming workload, key, value and
  // the valid choices.
  static Params resolve(const std::string& workload, const std::vector<ParamSpec>& specs,
                        const std::map<std::string, std::string>& given);

  int64_t integer(const std::string& name) const;
  const std::string& text(const std::string& name) const;
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace heapmark::workloads
