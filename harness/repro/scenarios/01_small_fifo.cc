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
        {"jemalloc", "retained-until-activity",
         "Freed memory becomes dirty pages of the arena, purged on a smoothstep curve over dirty_decay_ms "
         "(10 s) as the arena ticks: the activity's calls (thread-cache fills and flushes) tick it, idle "
         "time does not, so RSS fell only once the program allocated again."},
        {"jemalloc", "retained-until-release",
         "Freed memory becomes dirty pages of the arena, purged over dirty_decay_ms (10 s) only as the "
         "arena ticks (allocator calls in the threads using it) or a background thread runs; here nothing "
         "ticked it enough, so only the explicit purge (arena.<i>.purge) returned the pages."},
        {"mimalloc", "retained-until-release",
         "Free pages stay in the thread's heap (page queues, retired pages, segment cache); mimalloc 2.0.9 "
         "decommits them only as later calls in that heap visit them, after decommit_delay: a program's "
         "activity returns little (1.5 s returned under 1% here, 20 s about 1% in scenario 1). "
         "mi_collect(true) frees them to the OS."},
        {"mimalloc", "not-returned",
         "Free pages stay in the thread's heap and segment; even mi_collect(true) left this much resident."},
        {"tcmalloc", "retained-until-release",
         "Freed memory goes back through the thread caches and central lists to the page heap, which gives "
         "pages to the OS only as it scavenges, paced by TCMALLOC_RELEASE_RATE and driven by spans freed "
         "later; a program's small allocations rarely free a span (20 s of activity returned nothing in "
         "scenario 1 here). ReleaseFreeMemory returns the page heap's free spans at once."},
        {"ptmalloc-style", "retained-until-release",
         "The in-house ptmalloc-style allocator follows glibc's policy: only the top of a heap is trimmed "
         "on free; its release hook returns whole free pages inside the heap."},
        {"ptmalloc-style", "returned",
         "Like glibc: the frees coalesce into the top of the heap, which free() trims above "
         "trim_threshold."},
        {"buddy", "returned",
         "The buddy heap has no top to trim: free blocks coalesce with their buddies, and once dirty free "
         "pages exceed HEAPMARK_BUDDY_DECOMMIT_THRESHOLD (8 MiB) a free decommits them all."},
        {"slab", "returned",
         "Slabs emptied by the frees go back to the page-level buddy heap (one empty slab per class is "
         "kept), which decommits its free pages once they exceed the threshold (8 MiB)."},
    },
    recipe}};

}  // namespace
}  // namespace heapmark::repro
