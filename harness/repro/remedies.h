// The remedies `heapmark repro` tries, each defined once: the allocator it
// configures, its settings and what they do. A scenario names the remedies
// it tries (scenario.h) and may say what one does in that scenario.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "allocators/registry/registry.h"

namespace heapmark::repro {

struct Remedy {
  std::string name;       // unique in the catalogue: "glibc-mmap-threshold"
  std::string allocator;  // the base allocator it configures
  registry::Env env;
  std::string what;  // what the settings do (in a scenario: what they do there)
};

// Every remedy, in the order `repro` lists them.
const std::vector<Remedy>& remedy_catalogue();

// The catalogue's remedy `name`, its `what` replaced by `here` when given.
// An unknown name is a defect in a scenario file: it aborts at start-up,
// naming the remedy.
Remedy use(std::string_view name, std::string here = {});

}  // namespace heapmark::repro
