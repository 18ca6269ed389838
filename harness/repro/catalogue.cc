// The scenario catalogue: the scenarios registered by harness/repro/scenarios/.
#include "common/input_error.h"
#include "harness/repro/repro.h"

namespace heapmark::repro {

const std::vector<Scenario>& catalogue() {
  // The scenarios with the remedies and mechanism texts they name, resolved
  // now that the families have registered.
  static const std::vector<Scenario> resolved = [] {
    std::vector<Scenario> all = registered_scenarios();
    for (auto& s : all) {
      for (auto& r : s.remedies) r = resolve(r);
      for (auto& e : s.explanations) e = resolve(e);
    }
    return all;
  }();
  return resolved;
}

const Scenario& find_scenario(const std::string& t) {
  std::string valid;
  for (const auto& s : catalogue()) {
    if (t == std::to_string(s.id) || t == s.dir_name().substr(0, 2) || t == s.slug || t == s.dir_name()) return s;
    valid += (valid.empty() ? "" : ", ") + std::to_string(s.id) + " " + s.slug;
  }
  throw InputError("unknown scenario '" + t + "' (valid: " + valid + ")");
}

const Explanation* explanation_for(const Scenario& s, const std::string& allocator, const std::string& kind,
                                   Verdict v) {
  // Most specific first: the allocator's own name, then its kind, then any allocator.
  for (const std::string& who : {allocator, kind, std::string("*")})
    for (const auto& e : s.explanations)
      if (e.allocator == who && e.verdict == verdict_id(v)) return &e;
  return nullptr;
}

}  // namespace heapmark::repro
