// Scenario 6, sparse-fragmentation: Sparse fragmentation: 1M x 256 B, keep every 1024th.
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;

// Keep every 1024th 256 B block: one per 256 KiB.
void recipe(const Knobs& k, Threads& threads) { fill_then_free(k, threads, 256, 1024); }

const ScenarioRegistrar kScenario{Scenario{
    6,
    "sparse-fragmentation",
    "Sparse fragmentation: 1M x 256 B, keep every 1024th",
    "1M blocks of 256 B, every 1024th kept: one live block per 256 KiB.",
    {},
    {
        use("jemalloc-decay-0"),
        use("tcmalloc-aggressive-decommit"),
    },
    {
        {"mimalloc", "not-returned",
         "mimalloc keeps 256 B blocks in 64 KiB pages of 32 MiB segments; one live block per 256 KiB "
         "leaves a live page in every few. The activity let it decommit some free pages (about a fifth in "
         "1.5 s, a third in 20 s here), but mi_collect(true) left this much resident: 2.0.9 decommits the "
         "free pages of a segment that still has live pages only through its delayed decommit."},
        mechanism("glibc", "retained-until-release"),
        mechanism("*", "retained-until-release"),
        {"*", "retained-until-activity",
         "Most resident pages hold no live block; the allocator's decay returned them once it was called "
         "again."},
        {"*", "returned", "Most pages held no live block, and the allocator returned them as they became free."},
        mechanism("jemalloc", "retained-until-release"),
        mechanism("mimalloc", "retained-until-release"),
        mechanism("tcmalloc", "retained-until-release"),
        mechanism("ptmalloc-style", "retained-until-release"),
        {"jemalloc", "retained-until-activity",
         "Most resident pages hold no live block: they are dirty pages of the arena, purged over "
         "dirty_decay_ms (10 s) as the arena ticks; the activity's calls tick it, idle time does not."},
    },
    recipe}};

}  // namespace
}  // namespace heapmark::repro
