// repro: the "RES does not drop after free" scenarios of `heapmark repro` as a
// workload. `scenario` picks the recipe (registered by harness/repro/scenarios/,
// see engine.h); the other parameters set its size and waits.
#include <string>

#include "workloads/catalog.h"
#include "workloads/repro/engine.h"

namespace heapmark::workloads::repro {
namespace {

std::string check_scenario(const std::string& text) {
  std::string valid;
  for (int id : recipe_ids()) {
    if (text == std::to_string(id)) return "";
    valid += (valid.empty() ? "" : ", ") + std::to_string(id);
  }
  return "no scenario '" + text + "' (valid: " + valid + ")";
}

// "LO-HI" of activity_sizes.
std::string check_size_range(const std::string& text) {
  const size_t dash = text.find('-');
  int64_t a, b;
  if (dash == std::string::npos || !parse_quantity(text.substr(0, dash), a) ||
      !parse_quantity(text.substr(dash + 1), b))
    return "expected LO-HI, e.g. 16-8K";
  if (a < 1 || b < a || b > (int64_t{1} << 30)) return "need 1 <= LO <= HI <= 1G";
  return "";
}

std::vector<Program*> make(const Params& p, uint64_t seed, Scratch& s) {
  Knobs k;
  k.mib = static_cast<uint64_t>(p.integer("mib"));
  k.idle_ms = static_cast<uint64_t>(p.integer("idle_ms"));
  k.activity_ms = static_cast<uint64_t>(p.integer("activity_ms"));
  k.threads = static_cast<uint32_t>(p.integer("threads"));
  k.wait.max_ms = static_cast<uint64_t>(p.integer("max_ms"));
  k.wait.activity_rate = static_cast<uint32_t>(p.integer("activity_rate"));
  k.wait.activity_slots = static_cast<uint32_t>(p.integer("activity_slots"));
  k.wait.seed = seed;
  const std::string& sizes = p.text("activity_sizes");
  int64_t lo = 0, hi = 0;
  parse_quantity(sizes.substr(0, sizes.find('-')), lo);
  parse_quantity(sizes.substr(sizes.find('-') + 1), hi);
  k.wait.activity_min = static_cast<uint64_t>(lo);
  k.wait.activity_max = static_cast<uint64_t>(hi);
  Threads threads(s);
  find_recipe(std::stoi(p.text("scenario")))(k, threads);
  return threads.take();
}

const WorkloadDef kRepro{
    "repro",
    "RES after free: the scenarios of `heapmark repro`, phases peak/free/idle/activity/release",
    {
        {"scenario", "1", "recipe (heapmark repro --list)", ParamType::kText, 0, 0, {}, check_scenario},
        {"mib",
         "256",
         "size of the main allocation, MiB (scenario 9: a quarter per thread)",
         ParamType::kInt,
         4,
         16384,
         {}},
        {"idle_ms",
         "500",
         "idle phase, no allocator calls (longer, up to the return horizon, for a background purger)",
         ParamType::kInt,
         0,
         3'600'000,
         {}},
        {"activity_ms",
         "0",
         "activity phase: 0 until the memory is back or the allocator's return horizon has passed; N: N ms",
         ParamType::kInt,
         0,
         3'600'000,
         {}},
        {"max_ms",
         "30000",
         "longest an idle or activity phase waits for the allocator",
         ParamType::kInt,
         1,
         3'600'000,
         {}},
        {"activity_rate", "64", "activity: allocator calls per millisecond per thread", ParamType::kInt, 1, 10'000, {}},
        {"activity_sizes",
         "16-8K",
         "activity: block sizes, log-uniform LO-HI",
         ParamType::kText,
         0,
         0,
         {},
         check_size_range},
        {"activity_slots",
         "256",
         "activity: working set (a call frees a live slot's block, else fills the slot)",
         ParamType::kInt,
         1,
         kMaxActivitySlots,
         {}},
        {"threads", "8", "scenario 9: threads allocating in turn", ParamType::kInt, 2, 64, {}},
    },
    make,
    [](const Params& p) -> size_t {
      const size_t threads =
          static_cast<size_t>(p.integer("threads")) + 2;  // scenario 9 has `threads`, others at most 2
      return threads * (sizeof(ReproThread) + 64) + 4096;
    },
};
const Registrar kRegister{kRepro};

}  // namespace
}  // namespace heapmark::workloads::repro
