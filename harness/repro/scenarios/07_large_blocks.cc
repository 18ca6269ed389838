// Scenario 7, large-blocks: Large blocks: 16 x 16 MiB, freed, repeated.
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;

// 16 x (mib/16) MiB, freed, allocated again.
void recipe(const Knobs& k, Threads& threads) {
  sixteen_blocks_three_times(k, threads, std::max<uint64_t>(kMiB, k.bytes() / 16));
}

const ScenarioRegistrar kScenario{Scenario{
    7,
    "large-blocks",
    "Large blocks: 16 x 16 MiB, freed, repeated",
    "16 x 16 MiB allocated and freed three times.",
    {},
    {
        use("glibc-mmap-threshold", "fixed threshold: every 16 MiB block is its own mapping"),
        use("tcmalloc-aggressive-decommit"),
        use("mimalloc-decommit-0"),
    },
    {
        {"glibc", "returned",
         "The first round's 16 MiB blocks were mmapped; freeing them raised the mmap threshold, so later "
         "rounds came from the heap, but they coalesce into the top, which free() trims above the (raised) "
         "trim threshold."},
        {"*", "returned", "Blocks this large get their own mappings (or spans) that go back to the OS on free."},
        {"jemalloc", "returned",
         "Requests above opt.oversize_threshold (8 MiB) are served from a dedicated arena whose freed "
         "extents are purged at once."},
        {"mimalloc", "retained-until-release",
         "Blocks this size get their own (huge) segments; freed segments stay in mimalloc's segment cache "
         "for reuse (the activity returned about 6% here) until collected."},
        {"tcmalloc", "retained-until-release",
         "Large spans go back to the page heap, which returns free pages to the OS only at "
         "TCMALLOC_RELEASE_RATE's pace as more memory is freed; ReleaseFreeMemory returns them at once."},
        mechanism("ptmalloc-style", "retained-until-release"),
    },
    recipe}};

}  // namespace
}  // namespace heapmark::repro
