// Scenario 3, fastbins: Many 64 B blocks (fastbin/tcache sized), all freed.
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;

void recipe(const Knobs& k, Threads& threads) {
  const uint32_t n = blocks(k.bytes(), 64);
  auto& t = threads.add();
  t.set_ids(n);
  t.alloc_run(kPeak, 0, n, 64);
  t.free_run(kFreeP, 0, n);
  t.tail(k);
}

const ScenarioRegistrar kScenario{
    Scenario{3,
             "fastbins",
             "Many 64 B blocks (fastbin/tcache sized), all freed",
             "~256 MiB of 64 B blocks, all freed in allocation order. Whether glibc gives them back depends on "
             "what the program allocates next (see the explanation).",
             {},
             {
                 use("glibc-mxfast-0"),
                 use("glibc-tcache-0",
                     "no per-thread cache: every free reaches _int_free (fastbins still hold the 64 B chunks until a "
                     "large request consolidates them)"),
             },
             {
                 {"glibc", "returned",
                  "With fastbins off (mxfast=0) freed chunks coalesce immediately into the top, which free() trims."},
                 mechanism("jemalloc", "retained-until-release"),
                 mechanism("mimalloc", "retained-until-release"),
                 mechanism("tcmalloc", "retained-until-release"),
                 {"ptmalloc-style", "retained-until-release",
                  "As glibc: a small request carved from the top before the fastbins were consolidated keeps the "
                  "merged chunk from the top; only the release hook returns its pages."},
                 {"glibc", "split",
                  "Chunks up to 128 B go to fastbins, which never coalesce on free, so free() trims nothing. What "
                  "comes back then depends on the first requests after the frees: a large-bin request (1 KiB or "
                  "more, above the tcache's 1032 B) runs malloc_consolidate, which merges the fastbins into the "
                  "top, and the next free() that reaches the top trims it; but a small request carved from the top "
                  "before that sits above the merged free chunk, keeps it from the top, and nothing is returned "
                  "until malloc_trim(0). Each repetition's activity draws its own sequence, so the repetitions "
                  "disagree: a program's own order decides."},
                 {"glibc", "retained-until-activity",
                  "Chunks up to 128 B go to fastbins, which never coalesce on free. The activity's first large-bin "
                  "request (1 KiB or more, above the tcache range) ran malloc_consolidate before any small request "
                  "was carved from the top: the fastbins merged into the top, and the next free() reaching the top "
                  "trimmed it."},
                 {"glibc", "retained-until-release",
                  "Chunks up to 128 B go to fastbins, which never coalesce on free. A small request of the activity "
                  "was carved from the top before the first large-bin request consolidated the fastbins: the merged "
                  "free chunk sits below it, never reaches the top, and only malloc_trim(0) returns its pages."},
                 {"ptmalloc-style", "split",
                  "As glibc (the model keeps glibc's fastbins, consolidation and top trimming): whether the "
                  "activity's first large-bin request comes before a small request carved from the top decides, "
                  "repetition by repetition."},
                 {"ptmalloc-style", "retained-until-activity",
                  "As glibc: the activity's first large-bin request consolidated the fastbins into the top before a "
                  "small request was carved from it, and the next free() reaching the top trimmed it."},
                 mechanism("jemalloc", "retained-until-activity"),
                 mechanism("buddy", "retained-until-activity"),
                 mechanism("buddy", "returned"),
                 mechanism("slab", "retained-until-activity"),
                 mechanism("slab", "returned"),
             },
             recipe}};

}  // namespace
}  // namespace heapmark::repro
