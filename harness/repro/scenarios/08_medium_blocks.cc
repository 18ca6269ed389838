// Scenario 8, medium-blocks: Medium blocks: 16 x 1 MiB, freed, repeated.
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;

// 16 x 1 MiB, freed, allocated again.
void recipe(const Knobs& k, Threads& threads) { sixteen_blocks_three_times(k, threads, kMiB); }

const ScenarioRegistrar kScenario{
    Scenario{8,
             "medium-blocks",
             "Medium blocks: 16 x 1 MiB, freed, repeated",
             "16 x 1 MiB allocated and freed three times.",
             {},
             {
                 use("glibc-mmap-threshold", "fixed threshold: 1 MiB blocks stay mmapped"),
             },
             {
                 {"glibc", "returned",
                  "The first round was mmapped; the raised threshold moved later rounds into the heap, where they "
                  "coalesce into the top and are trimmed."},
                 {"glibc", "retained-until-release",
                  "The raised mmap threshold moved the 1 MiB blocks into the heap; freed, they stay below the "
                  "raised trim threshold (2x the mmap threshold), so free() does not trim them."},
                 mechanism("jemalloc", "retained-until-release"),
                 mechanism("mimalloc", "retained-until-release"),
                 mechanism("tcmalloc", "retained-until-release"),
                 mechanism("ptmalloc-style", "retained-until-release"),
                 mechanism("jemalloc", "retained-until-activity"),
                 {"mimalloc", "retained-until-activity",
                  "1 MiB blocks are mimalloc large pages in their own segment space; a freed one is decommitted "
                  "after segment_decommit_delay (500 ms), but only when the allocator runs again: the activity's "
                  "first calls returned them, idle time did not."},
                 {"ptmalloc-style", "returned",
                  "Like glibc: later rounds came from the heap and coalesce into the top, which free() trims."},
                 mechanism("buddy", "retained-until-activity"),
                 mechanism("buddy", "returned"),
                 mechanism("slab", "retained-until-activity"),
                 {"slab", "returned",
                  "1 MiB blocks come from the page-level buddy heap directly; freed, they are decommitted at once "
                  "under HEAPMARK_SLAB_DECOMMIT=eager (under =threshold, once 8 MiB of them are free)."},
             },
             recipe}};

}  // namespace
}  // namespace heapmark::repro
