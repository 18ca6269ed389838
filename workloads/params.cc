#include "workloads/params.h"

#include "workloads/sizes.h"

namespace heapmark::workloads {

bool parse_quantity(const std::string& text, int64_t& out) {
  if (text.empty()) return false;
  size_t i = 0;
  unsigned __int128 v = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    v = v * 10 + static_cast<unsigned>(text[i] - '0');
    if (v > INT64_MAX) return false;
    ++i;
  }
  if (i == 0) return false;
  int shift = 0;
  if (i < text.size()) {
    switch (text[i]) {
      case 'K':
      case 'k': shift = 10; break;
      case 'M':
      case 'm': shift = 20; break;
      case 'G':
      case 'g': shift = 30; break;
      default: return false;
    }
    ++i;
    if (i < text.size() && (text[i] == 'i' || text[i] == 'B')) ++i;  // KiB, KB
    if (i < text.size() && text[i] == 'B') ++i;
    if (i != text.size()) return false;
  }
  v <<= shift;
  if (v > INT64_MAX) return false;
  out = static_cast<int64_t>(v);
  return true;
}

static std::string joined(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& item : items) s += (s.empty() ? "" : ", ") + item;
  return s;
}

static void check(const std::string& workload, const ParamSpec& spec, const std::string& value) {
  const std::string where = "workload '" + workload + "' parameter '" + spec.name + "'";
  switch (spec.type) {
    case ParamType::kInt: {
      int64_t v;
      if (!parse_quantity(value, v))
        throw InputError(where + ": '" + value + "' is not a whole number (suffixes K, M, G allowed)");
      if (v < spec.min || v > spec.max)
        throw InputError(where + ": " + value + " is out of range [" + std::to_string(spec.min) + ", " +
                         std::to_string(spec.max) + "]");
      break;
    }
    case ParamType::kChoice: {
      for (const auto& c : spec.choices)
        if (c == value) return;
      throw InputError(where + ": '" + value + "' is not one of: " + joined(spec.choices));
    }
    case ParamType::kText: {
      if (value.empty()) throw InputError(where + ": needs a value");
      if (spec.validate)
        if (const std::string why = spec.validate(value); !why.empty()) throw InputError(where + ": " + why);
      break;
    }
    case ParamType::kSizes: {
      std::string why;
      if (!SizeDist::parse(value, nullptr, &why)) throw InputError(where + ": " + why);
      break;
    }
  }
}

Params Params::resolve(const std::string& workload, const std::vector<ParamSpec>& specs,
                       const std::map<std::string, std::string>& given) {
  Params p;
  for (const auto& [key, value] : given) {
    const ParamSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == key) spec = &s;
    if (!spec) {
      std::vector<std::string> names;
      for (const auto& s : specs) names.push_back(s.name);
      throw InputError("workload '" + workload + "' has no parameter '" + key + "' (valid: " + joined(names) + ")");
    }
    check(workload, *spec, value);
    p.values_[key] = value;
  }
  for (const auto& s : specs) p.values_.try_emplace(s.name, s.default_value);
  return p;
}

int64_t Params::integer(const std::string& name) const {
  int64_t v = 0;
  parse_quantity(values_.at(name), v);
  return v;
}

const std::string& Params::text(const std::string& name) const { return values_.at(name); }

}  // namespace heapmark::workloads
