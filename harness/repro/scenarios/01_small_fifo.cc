// Scenario 1, small-fifo: Small objects, all freed in allocation order.
// One definition: the recipe the cell runs, and what `heapmark repro` says
// about it (remedies to try, explanations shown when their verdict is measured).
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;
using workloads::Op;
using workloads::OpKind;

void recipe(const Knobs& k, Threads& threads) {
  const uint32_t n = blocks(k.bytes(), 200);
  auto& t = threads.add();
  t.set_ids(n);
  t.alloc_run(kPeak, 0, n, 200);
  t.free_run(kFreeP, 0, n);
  t.tail(k);
}

const ScenarioRegistrar kScenario{Scenario{
    1,
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
        mechanism("buddy", "returned"),
        mechanism("slab", "returned"),
    },
    recipe}};

}  // namespace
}  // namespace heapmark::repro
