// Scenario 8, medium-blocks: Medium blocks: 16 x 1 MiB, freed, repeated.
// One definition: the recipe the cell runs, and what `heapmark repro` says
// about it (remedies to try, explanations shown when their verdict is measured).
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;
using workloads::Op;
using workloads::OpKind;

void recipe(const Knobs& k, Threads& threads) {
  // 16 x 1 MiB, freed, allocated again.
  auto& t = threads.add();
  t.set_ids(16);
  for (int round = 0; round < 2; ++round) {
    t.alloc_run(kPeak, 0, 16, kMiB);
    t.free_run(kPeak, 0, 16);
  }
  t.alloc_run(kPeak, 0, 16, kMiB);
  t.free_run(kFreeP, 0, 16);
  t.tail(k);
}

const ScenarioRegistrar kScenario{Scenario{
    8,
    "medium-blocks",
    "Medium blocks: 16 x 1 MiB, freed, repeated",
    "16 x 1 MiB allocated and freed three times.",
    {},
    {
        use("glibc-mmap-threshold",
         "fixed threshold: 1 MiB blocks stay mmapped"),
    },
    {
        {"glibc", "returned",
         "The first round was mmapped; the raised threshold moved later rounds into the heap, where they "
         "coalesce into the top and are trimmed."},
        {"glibc", "retained-until-release",
         "The raised mmap threshold moved the 1 MiB blocks into the heap; freed, they stay below the "
         "raised trim threshold (2x the mmap threshold), so free() does not trim them."},
        {"jemalloc", "retained-until-release",
         "Freed memory becomes dirty pages of the arena, purged over dirty_decay_ms (10 s) only as the "
         "arena ticks (allocator calls in the threads using it) or a background thread runs; here nothing "
         "ticked it enough, so only the explicit purge (arena.<i>.purge) returned the pages."},
        {"mimalloc", "retained-until-release",
         "Free pages stay in the owning thread's heap and segments until the heap collects; "
         "mi_collect(true) in that thread returns them."},
        {"tcmalloc", "retained-until-release",
         "Freed memory goes back through the thread caches and central lists to the page heap, which "
         "releases to the OS only at TCMALLOC_RELEASE_RATE's slow pace; ReleaseFreeMemory returns the page "
         "heap's free spans at once."},
        {"ptmalloc-style", "retained-until-release",
         "The in-house ptmalloc-style allocator follows glibc's policy: only the top of a heap is trimmed "
         "on free; its release hook returns whole free pages inside the heap."},
        {"jemalloc", "retained-until-activity",
         "Freed memory becomes dirty pages of the arena, purged on a smoothstep curve over dirty_decay_ms "
         "(10 s) as the arena ticks: the activity's calls (thread-cache fills and flushes) tick it, idle "
         "time does not, so RSS fell only once the program allocated again."},
        {"mimalloc", "retained-until-activity",
         "1 MiB blocks are mimalloc large pages in their own segment space; a freed one is decommitted "
         "after segment_decommit_delay (500 ms), but only when the allocator runs again: the activity's "
         "first calls returned them, idle time did not."},
        {"ptmalloc-style", "returned",
         "Like glibc: later rounds came from the heap and coalesce into the top, which free() trims."},
        {"buddy", "returned",
         "The buddy heap has no top to trim: free blocks coalesce with their buddies, and once dirty free "
         "pages exceed HEAPMARK_BUDDY_DECOMMIT_THRESHOLD (8 MiB) a free decommits them all."},
        {"slab", "returned",
         "1 MiB blocks come from the page-level buddy heap directly; freed, 16 MiB of them exceed its 8 "
         "MiB decommit threshold and are decommitted."},
    },
    recipe}};

}  // namespace
}  // namespace heapmark::repro
