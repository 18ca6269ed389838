// Scenario 11, thread-exit: Thread exit.
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;

void recipe(const Knobs& k, Threads& threads) {
  // A worker allocates and frees small blocks, then its thread ends.
  const uint32_t n = blocks(k.bytes(), 200);
  auto& main = threads.add();
  auto& worker = threads.add();
  main.set_ids(n);
  worker.set_ids(n);
  worker.alloc_run(kPeak, 0, n, 200);
  worker.free_run(kFreeP, 0, n);
  worker.set_phases(2);
  main.tail(k);
}

const ScenarioRegistrar kScenario{Scenario{
    11,
    "thread-exit",
    "Thread exit",
    "A worker thread allocates ~256 MiB of 200 B blocks, frees them, then exits.",
    {},
    {
        use("glibc-arena-max-1", "the worker uses the main arena, whose top free() trims"),
    },
    {
        {"glibc", "retained-until-release",
         "The worker's arena outlives the thread (it goes on the free list for reuse); its heap is trimmed "
         "only from the top, and nothing calls into it again until malloc_trim(0) walks every arena."},
        {"glibc", "returned",
         "At F the worker's frees still sat in its own arena (retained); when the worker exited, glibc's "
         "thread shutdown freed its tcache, whose chunks coalesced with the free space around them, and "
         "the arena's heaps were trimmed: RSS dropped by I with no call from the main thread. With "
         "MALLOC_ARENA_MAX=1 the worker uses the main heap, whose top free() trims at once."},
        {"mimalloc", "retained-until-release",
         "The exiting thread's segments are abandoned, not freed: another thread reclaims them only when "
         "it runs out of pages or collects."},
        {"*", "retained-until-release", "The exited thread's cache or arena kept the memory until a release call."},
        {"jemalloc", "retained-until-release",
         "The worker shared its arena with the main thread (as with opt.narenas 1, what a process started "
         "on one CPU gets): its exit leaves a thread on the arena, so nothing forces a purge, and the "
         "dirty pages wait for decay ticks or arena.<i>.purge."},
        mechanism("tcmalloc", "retained-until-release"),
        mechanism("ptmalloc-style", "retained-until-release"),
        {"jemalloc", "returned",
         "The worker had an arena of its own (opt.narenas 8 here). When a thread exits, jemalloc destroys "
         "its tcache and, if no thread is left on that arena and there is no background thread, purges the "
         "arena's dirty pages at once (tcache_destroy in 5.3): RSS dropped by I with no call from the main "
         "thread."},
        {"ptmalloc-style", "returned",
         "As glibc: the exiting worker's tcache chunks are freed into its arena, where they coalesce with "
         "the free space around them, and the arena's heaps are trimmed."},
        mechanism("buddy", "retained-until-activity"),
        mechanism("buddy", "returned"),
        mechanism("slab", "retained-until-activity"),
        mechanism("slab", "returned"),
    },
    recipe}};

}  // namespace
}  // namespace heapmark::repro
