// Scenario 1, small-fifo: Small objects, all freed in allocation order.
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;

void recipe(const Knobs& k, Threads& threads) { fill_then_free(k, threads, 200); }

const ScenarioRegistrar kScenario{
    Scenario{1,
             "small-fifo",
             "Small objects, all freed in allocation order",
             "~256 MiB of 200 B blocks, then every block freed in allocation order.",
             {},
             {
                 use("glibc-trim-threshold"),
                 use("jemalloc-decay-0"),
                 use("jemalloc-background"),
                 use("tcmalloc-release-rate"),
                 use("tcmalloc-aggressive-decommit"),
                 use("mimalloc-page-reset"),
                 use("mimalloc-decommit-0"),
             },
             {
                 {"glibc", "returned",
                  "The blocks were carved from the top of the main heap; freeing them in order coalesces everything "
                  "into the top chunk, and free() trims the top once it exceeds trim_threshold (128 KiB, or twice "
                  "the raised mmap threshold)."},
                 mechanism("jemalloc", "retained-until-activity"),
                 mechanism("jemalloc", "retained-until-release"),
                 mechanism("mimalloc", "retained-until-release"),
                 {"mimalloc", "not-returned",
                  "Free pages stay in the thread's heap and segment; even mi_collect(true) left this much resident."},
                 mechanism("tcmalloc", "retained-until-release"),
                 mechanism("ptmalloc-style", "retained-until-release"),
                 {"ptmalloc-style", "returned",
                  "Like glibc: the frees coalesce into the top of the heap, which free() trims above "
                  "trim_threshold."},
                 mechanism("buddy", "retained-until-activity"),
                 mechanism("buddy", "returned"),
                 mechanism("slab", "retained-until-activity"),
                 mechanism("slab", "returned"),
             },
             recipe}};

}  // namespace
}  // namespace heapmark::repro
