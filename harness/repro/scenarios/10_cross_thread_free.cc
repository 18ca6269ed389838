// Scenario 10, cross-thread-free: Cross-thread free.
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;

void recipe(const Knobs& k, Threads& threads) {
  // Thread 1 allocates and hands every block to thread 0, which frees them;
  // thread 1 stays alive and makes no calls.
  const uint32_t n = blocks(k.bytes(), 256);
  auto& main = threads.add();
  auto& producer = threads.add();
  main.set_ids(n);
  producer.set_ids(n);
  producer.alloc_run(kPeak, 0, n, 256, 1, 0, /*send_to=*/0);
  main.recv_run(kPeak, 0, n);
  main.free_run(kFreeP, 0, n);
  main.tail(k);
  producer.tail(k, /*waits=*/false);
}

const ScenarioRegistrar kScenario{
    Scenario{10,
             "cross-thread-free",
             "Cross-thread free",
             "A producer thread allocates ~256 MiB of 256 B and hands every block to the main thread, which "
             "frees them; the producer stays alive and idle.",
             {},
             {
                 use("glibc-tcache-0", "no per-thread cache: each free goes straight to the producer's arena"),
                 use("glibc-arena-max-1", "one arena: the producer allocates from the main heap, trimmed from its top"),
                 use("jemalloc-decay-0"),
                 use("mimalloc-page-reset"),
             },
             {
                 {"glibc", "retained-until-release",
                  "free() from the main thread returns each chunk to the producer's arena, a non-main arena made of "
                  "64 MiB mmapped heaps. Each time that arena moved to a new heap, glibc freed the old heap's "
                  "leftover top (smaller than one block here, just before the fencepost) with _int_free, whose "
                  "first step is the producer's tcache: that chunk stays 'in use' while the producer lives, so "
                  "heap_trim can delete no heap below the last one and only the last heap's top shrinks at F. With "
                  "tcache_count=0 or one arena the same frees return everything (remedies below); malloc_trim(0) "
                  "walks every arena and returns their whole free pages."},
                 {"mimalloc", "retained-until-release",
                  "Frees from another thread go to the owning page's thread-free list; only the owner (the idle "
                  "producer) collects them, so its pages never become free until it runs mi_collect or allocates "
                  "again."},
                 {"*", "retained-until-release",
                  "The freed memory sits in caches of the thread that freed it or of the arena that owns it until "
                  "released."},
                 {"jemalloc", "retained-until-release",
                  "The freed regions belong to the producer's arena (each thread is given its own; opt.narenas is 8 "
                  "here): their pages are dirty in that arena, whose decay advances only when a thread using it "
                  "calls the allocator. The main thread's activity ticks its own arena; the idle producer never "
                  "calls, so 12 s of activity returned nothing. arena.<i>.purge returns them."},
                 mechanism("tcmalloc", "retained-until-release"),
                 {"ptmalloc-style", "retained-until-release",
                  "As glibc: each heap's leftover top went to the producer's tcache when its arena grew into a new "
                  "heap, and pins the heaps below the last one while the producer lives; only the last heap's top "
                  "is trimmed. Its release hook returns whole free pages inside every heap."},
                 {"buddy", "returned",
                  "Cross-thread frees go straight to the shared buddy heap, which coalesces and decommits free runs "
                  "above its 8 MiB threshold."},
                 {"slab", "returned",
                  "The main thread's magazines flush cross-thread frees to the owning slabs; emptied slabs go back "
                  "to the buddy heap, which decommits them above its threshold."},
             },
             recipe}};

}  // namespace
}  // namespace heapmark::repro
