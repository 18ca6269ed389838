// Scenario 5, dense-fragmentation: Dense fragmentation: 1M x 256 B, keep every 16th.
// One definition: the recipe the cell runs, and what `heapmark repro` says
// about it (remedies to try, explanations shown when their verdict is measured).
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;
using workloads::Op;
using workloads::OpKind;

void recipe(const Knobs& k, Threads& threads) {
  // Keep every 16th 256 B block: about one per page.
  const uint32_t n = blocks(k.bytes(), 256);
  auto& t = threads.add();
  t.set_ids(n);
  t.alloc_run(kPeak, 0, n, 256);
  t.free_run(kFreeP, 0, n, 16);
  t.tail(k);
}

const ScenarioRegistrar kScenario{Scenario{
    5,
    "dense-fragmentation",
    "Dense fragmentation: 1M x 256 B, keep every 16th",
    "1M blocks of 256 B (~256 MiB), every 16th kept: about one live block per 4 KiB page.",
    {},
    {
    },
    {
        {"*", "fragmentation",
         "About one live block per page: every page still holds live data, so no allocator and no release "
         "call can return it. Only moving the live objects (compaction, an arena per lifetime) fixes this."},
    },
    recipe}};

}  // namespace
}  // namespace heapmark::repro
