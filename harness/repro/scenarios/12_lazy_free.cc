// Scenario 12, lazy-free: Lazy free (MADV_FREE).
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;

// As 1: the allocators' configuration (MADV_FREE) is the point.
void recipe(const Knobs& k, Threads& threads) { fill_then_free(k, threads, 200); }

const ScenarioRegistrar kScenario{
    Scenario{12,
             "lazy-free",
             "Lazy free (MADV_FREE)",
             "As 1, with configurations that release with MADV_FREE: jemalloc "
             "dirty_decay_ms:1000,muzzy_decay_ms:60000 (dirty pages become muzzy via MADV_FREE after about 1 s "
             "of arena ticks), mimalloc page reset. RSS stays up while LazyFree grows.",
             {
                 {"jemalloc", {{"MALLOC_CONF", "dirty_decay_ms:1000,muzzy_decay_ms:60000"}}},
                 {"mimalloc", {{"MIMALLOC_PAGE_RESET", "1"}}},
             },
             {
                 use("jemalloc-muzzy-0"),
             },
             {
                 {"jemalloc", "lazy",
                  "Dirty pages decay (over dirty_decay_ms, as the arena ticks) into the muzzy state with MADV_FREE: "
                  "the kernel may take them back under memory pressure but keeps counting them in RSS (LazyFree in "
                  "smaps_rollup) until then; only muzzy_decay_ms later (or arena.<i>.purge) purges them for real. "
                  "Note that dirty_decay_ms:0 skips this: jemalloc 5.3.0 then purges with MADV_DONTNEED at once."},
                 {"mimalloc", "lazy",
                  "Page reset uses MADV_FREE where the kernel has it: the pages stay in RSS as LazyFree until "
                  "memory pressure."},
                 {"*", "returned", "This allocator releases with MADV_DONTNEED or munmap: RSS drops at once."},
                 {"glibc", "returned",
                  "glibc releases with munmap, sbrk trims and MADV_DONTNEED (malloc_trim): nothing is left as "
                  "LazyFree."},
                 mechanism("tcmalloc", "retained-until-release"),
             },
             recipe}};

}  // namespace
}  // namespace heapmark::repro
