#include "harness/repro/scenario.h"

#include <algorithm>
#include <cstdio>

namespace heapmark::repro {
namespace {
std::vector<Scenario>& all() {
  static std::vector<Scenario> scenarios;
  return scenarios;
}
}  // namespace

std::string Scenario::dir_name() const {
  char b[8];
  std::snprintf(b, sizeof b, "%02d-", id);
  return b + slug;
}

ScenarioRegistrar::ScenarioRegistrar(Scenario s) {
  static_cast<void>(workloads::repro::RecipeRegistrar(s.id, s.recipe));
  s.params["scenario"] = std::to_string(s.id);
  auto& v = all();
  v.insert(std::upper_bound(v.begin(), v.end(), s.id, [](int id, const Scenario& x) { return id < x.id; }),
           std::move(s));
}

const std::vector<Scenario>& registered_scenarios() { return all(); }

}  // namespace heapmark::repro
