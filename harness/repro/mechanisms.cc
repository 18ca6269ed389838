#include "harness/repro/mechanisms.h"

#include <cstdio>
#include <cstdlib>

namespace heapmark::repro {

const std::vector<Explanation>& mechanism_catalogue() {
  // A function-local static, as for the remedies: scenarios read it while
  // static objects are constructed.
  static const std::vector<Explanation> catalogue{
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
      {"tcmalloc", "retained-until-release",
       "Freed memory goes back through the thread caches and central lists to the page heap, which gives "
       "pages to the OS only as it scavenges, paced by TCMALLOC_RELEASE_RATE and driven by spans freed "
       "later; a program's small allocations rarely free a span (20 s of activity returned nothing in "
       "scenario 1 here). ReleaseFreeMemory returns the page heap's free spans at once."},
      {"glibc", "retained-until-release",
       "The free pages between live blocks sit inside the heap, never at its top, so free() cannot trim "
       "them; malloc_trim(0) madvises every whole free page inside the heap away."},
      {"*", "retained-until-release",
       "Most resident pages hold no live block: the allocator keeps them as free memory; its release "
       "call returns them."},
      {"*", "fragmentation",
       "About one live block per page: every page still holds live data, so no allocator and no release "
       "call can return it. Only moving the live objects (compaction, an arena per lifetime) fixes this."},
      {"ptmalloc-style", "retained-until-release",
       "The in-house ptmalloc-style allocator follows glibc's policy: only the top of a heap is trimmed "
       "on free; its release hook returns whole free pages inside the heap."},
      {"buddy", "returned",
       "The buddy heap has no top to trim: free blocks coalesce with their buddies, and once dirty free "
       "pages exceed HEAPMARK_BUDDY_DECOMMIT_THRESHOLD (8 MiB) a free decommits them all."},
      {"slab", "returned",
       "Slabs emptied by the frees go back to the page-level buddy heap (one empty slab per class is "
       "kept), which decommits its free pages once they exceed the threshold (8 MiB)."},
  };
  return catalogue;
}

const Explanation* find_mechanism(std::string_view allocator, std::string_view verdict) {
  for (std::string_view who : {allocator, std::string_view("*")})
    for (const auto& e : mechanism_catalogue())
      if (e.allocator == who && e.verdict == verdict) return &e;
  return nullptr;
}

Explanation mechanism(std::string_view allocator, std::string_view verdict) {
  for (const auto& e : mechanism_catalogue())
    if (e.allocator == allocator && e.verdict == verdict) return e;
  std::fprintf(
      stderr,
      "heapmark: a scenario names the mechanism (%.*s, %.*s), which harness/repro/mechanisms.cc does not define\n",
      static_cast<int>(allocator.size()), allocator.data(), static_cast<int>(verdict.size()), verdict.data());
  std::abort();
}

}  // namespace heapmark::repro
