// Scenario 4, mmap-threshold: Dynamic mmap threshold.
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;

void recipe(const Knobs& k, Threads& threads) {
  // A freed 4 MiB mapping raises glibc's mmap threshold above 2 MiB.
  const uint32_t pairs = blocks(k.bytes() / 2, 2 * kMiB);  // 256 MiB -> 64 x (2 MiB + 64 B kept)
  auto& t = threads.add();
  t.set_ids(1 + 2 * pairs);
  t.alloc_run(kPeak, 0, 1, 4 * kMiB);
  t.free_run(kPeak, 0, 1);
  t.alloc_run(kPeak, 1, 2 * pairs, 2 * kMiB, 1, 64);  // ids 1+2i: 2 MiB, 2+2i: 64 B
  t.free_run(kFreeP, 1, pairs, 0, 2);
  t.tail(k);
}

const ScenarioRegistrar kScenario{
    Scenario{4,
             "mmap-threshold",
             "Dynamic mmap threshold",
             "malloc+free one 4 MiB block, then 64 x (2 MiB block + a 64 B block kept), the 2 MiB blocks "
             "freed.",
             {},
             {
                 use("glibc-mmap-threshold",
                     "a fixed mmap threshold (setting it turns the dynamic threshold off): 2 MiB blocks are mmapped "
                     "and munmapped on free"),
                 use("glibc-fixed-trim-threshold",
                     "a fixed trim threshold: setting it also turns glibc's dynamic mmap threshold off, so the 2 MiB "
                     "blocks stay mmapped"),
             },
             {
                 {"glibc", "retained-until-release",
                  "Freeing the 4 MiB mmapped block raised glibc's mmap threshold to 4 MiB (and the trim threshold "
                  "to 8 MiB): the 2 MiB blocks then came from the heap, each followed by a kept 64 B block, so "
                  "every freed 2 MiB hole is inside the heap and never reaches the top. malloc_trim(0) returns the "
                  "free pages inside the holes."},
                 {"glibc", "returned",
                  "With a fixed mmap_threshold the 2 MiB blocks are separate mappings, unmapped by free()."},
                 mechanism("jemalloc", "retained-until-release"),
                 {"mimalloc", "retained-until-release",
                  "Freed 2 MiB blocks stay in mimalloc's segments until later calls visit them or the heap collects "
                  "(the activity returned about a fifth here); mi_collect(true) returns them."},
                 mechanism("tcmalloc", "retained-until-release"),
                 mechanism("ptmalloc-style", "retained-until-release"),
                 mechanism("jemalloc", "retained-until-activity"),
                 mechanism("buddy", "retained-until-activity"),
                 mechanism("buddy", "returned"),
                 mechanism("slab", "retained-until-activity"),
                 {"slab", "returned",
                  "Blocks of 2 MiB come from the page-level buddy heap directly; freed, they are decommitted at "
                  "once under HEAPMARK_SLAB_DECOMMIT=eager (under =threshold, once they exceed 8 MiB)."},
             },
             recipe}};

}  // namespace
}  // namespace heapmark::repro
