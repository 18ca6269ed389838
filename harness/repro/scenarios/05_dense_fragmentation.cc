// Scenario 5, dense-fragmentation: Dense fragmentation: 1M x 256 B, keep every 16th.
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;

// Keep every 16th 256 B block: about one per page.
void recipe(const Knobs& k, Threads& threads) { fill_then_free(k, threads, 256, 16); }

const ScenarioRegistrar kScenario{
    Scenario{5,
             "dense-fragmentation",
             "Dense fragmentation: 1M x 256 B, keep every 16th",
             "1M blocks of 256 B (~256 MiB), every 16th kept: about one live block per 4 KiB page.",
             {},
             {},
             {
                 mechanism("*", "fragmentation"),
             },
             recipe}};

}  // namespace
}  // namespace heapmark::repro
