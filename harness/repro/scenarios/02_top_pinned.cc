// Scenario 2, top-pinned: As 1, plus one small block allocated last and kept.
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;

void recipe(const Knobs& k, Threads& threads) {
  // ... plus one block allocated last and kept: it pins the top of glibc's heap.
  const uint32_t n = blocks(k.bytes(), 200);
  auto& t = threads.add();
  t.set_ids(n + 1);
  t.alloc_run(kPeak, 0, n, 200);
  t.alloc_run(kPeak, n, 1, 200);
  t.free_run(kFreeP, 0, n);
  t.tail(k);
}

const ScenarioRegistrar kScenario{Scenario{
    2,
    "top-pinned",
    "As 1, plus one small block allocated last and kept",
    "~256 MiB of 200 B blocks, one more 200 B block allocated last and kept live, all others freed.",
    {},
    {
        use("glibc-trim-threshold", "trim the top on every free that reaches it (does not help: the top is pinned)"),
        use("jemalloc-decay-0"),
        use("jemalloc-bg-1s"),
    },
    {
        {"glibc", "retained-until-release",
         "glibc trims only from the top of the heap, and the block allocated last sits at the top: the 256 "
         "MiB of free chunks below it stay resident however long the process waits. malloc_trim(0) also "
         "returns whole free pages inside the heap (MADV_DONTNEED), which is what releases it."},
        {"ptmalloc-style", "retained-until-release",
         "Like glibc: the heap is trimmed from the top only and the kept block pins it; the release hook "
         "returns whole free pages inside the heap."},
        {"jemalloc", "retained-until-release",
         "The kept block pins only its own slab; the rest are dirty pages purged over dirty_decay_ms (10 "
         "s) only as the arena ticks or a background thread runs; here nothing ticked it enough, so only "
         "the explicit purge returned them."},
        {"jemalloc", "retained-until-activity",
         "The kept block pins only its own slab; the rest are dirty pages of the arena, purged over "
         "dirty_decay_ms (10 s) as the arena ticks: the activity's calls tick it, idle time does not."},
        {"mimalloc", "retained-until-release",
         "The kept block pins only its own page; the other free pages stay in the thread's heap and "
         "segments until later calls visit them or the heap collects (the activity returned under 1% "
         "here); mi_collect(true) returns them."},
        mechanism("tcmalloc", "retained-until-release"),
        {"buddy", "returned",
         "A buddy heap has no top: the kept block pins only its own 256 B block, its buddies' free runs "
         "coalesce around it, and dirty free pages above the 8 MiB threshold are decommitted by the frees."},
        {"slab", "returned",
         "The kept block pins only its own slab; the emptied slabs go back to the buddy heap, which "
         "decommits free pages above its 8 MiB threshold."},
    },
    recipe}};

}  // namespace
}  // namespace heapmark::repro
