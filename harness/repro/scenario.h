// One `heapmark repro` scenario, defined once in its own file in
// harness/repro/scenarios/: the recipe the cell runs (built from the repro
// workload's machinery, workloads/repro/engine.h), its title and recipe text,
// allocator setups, the remedies to try and the explanations shown when the
// verdict they were written for is measured. Registering one registers its
// recipe with the workload too, so a binary that links the scenario files
// both runs and describes them.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "allocators/registry/registry.h"
#include "harness/repro/mechanisms.h"
#include "harness/repro/remedies.h"
#include "workloads/repro/engine.h"

namespace heapmark::repro {

struct Scenario {
  int id = 0;
  std::string slug, title, recipe_text;
  std::map<std::string, registry::Env> setups;  // env every cell of this allocator (or kind) gets here
  std::vector<Remedy> remedies;  // from the catalogue (remedies.h): use("name") or use("name", "what it does here")
  std::vector<Explanation> explanations;  // its own, and mechanism("allocator", "verdict") from the catalogue
  workloads::repro::Recipe recipe = nullptr;
  std::map<std::string, std::string> params = {};  // the workload's parameters that select it (filled in)
  // The workload that runs it: `repro` for the catalogue; `trace` (diagnose=yes)
  // for `heapmark diagnose`, whose scenario is the user's trace, built at run time.
  std::string workload = "repro";

  std::string dir_name() const;  // "02-top-pinned"
};

struct ScenarioRegistrar {
  explicit ScenarioRegistrar(Scenario s);
};
// Every registered scenario, by id.
const std::vector<Scenario>& registered_scenarios();

}  // namespace heapmark::repro
