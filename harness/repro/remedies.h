// The remedies `heapmark repro` tries, each defined once by the allocator
// family it configures (allocators/registry/families/): the allocator, its
// settings and what they do. A scenario names the remedies it tries
// (scenario.h) and may say what one does in that scenario.
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

// Every remedy, in the families' order (the order `repro` lists them).
const std::vector<Remedy>& remedy_catalogue();

// A scenario's reference to the remedy `name`, its `what` replaced by `here`
// when given. Scenarios name their remedies while static objects are
// constructed, before the families have registered: the catalogue resolves
// the reference when it is first read (catalogue(), resolve()).
Remedy use(std::string_view name, std::string here = {});
// The catalogue's remedy a reference names. An unknown name is a defect in a
// scenario file: it aborts when the catalogue is first read (repro, the
// tests), naming the remedy.
Remedy resolve(const Remedy& named);

// A release schedule as a remedy: "every:100ms" calls the allocator's own
// release hook at that interval (the run's release-schedule axis) and is
// judged against the same allocator without one. Named in --remedies only.
inline constexpr std::string_view kSchedulePrefix = "every:";
inline bool is_schedule(const std::string& remedy) { return remedy.rfind(kSchedulePrefix, 0) == 0; }
// The intervals of the schedules among `remedies` ("100ms" of "every:100ms"), in order.
std::vector<std::string> release_schedules(const std::vector<std::string>& remedies);

}  // namespace heapmark::repro
