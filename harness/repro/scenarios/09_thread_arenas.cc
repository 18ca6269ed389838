// Scenario 9, thread-arenas: Per-thread arenas.
#include "harness/repro/scenario.h"

namespace heapmark::repro {
namespace {
using namespace workloads::repro;
using workloads::Op;
using workloads::OpKind;

void recipe(const Knobs& k, Threads& threads) {
  // Threads in turn allocate mib/4 of 512 B, then in turn free all but their
  // last block. Turns are handed on with send/recv tokens above the block ids:
  // token + phase * threads + thread.
  const uint32_t nt = k.threads, n = blocks(k.bytes() / 4, 512);
  const uint32_t token = nt * n;
  for (uint32_t i = 0; i < nt; ++i) {
    auto& t = threads.add();
    t.set_ids(token + 2 * nt);
    for (uint32_t ph = 0; ph < 2; ++ph) {
      if (i > 0) t.one(ph, Op{OpKind::kRecv, 0, 0, token + ph * nt + i - 1, 0});
      if (ph == kPeak) t.alloc_run(kPeak, i * n, n, 512);
      else t.free_run(kFreeP, i * n, n - 1);
      if (i + 1 < nt) t.one(ph, Op{OpKind::kSend, 0, 0, token + ph * nt + i, i + 1});
    }
    t.tail(k);
  }
}

const ScenarioRegistrar kScenario{
    Scenario{9,
             "thread-arenas",
             "Per-thread arenas",
             "8 threads in turn each allocate 64 MiB of 512 B; then in turn each frees all but its last block.",
             {},
             {
                 use("glibc-arena-max-1"),
                 use("glibc-tunable-arena-max-2"),
             },
             {
                 {"glibc", "retained-until-release",
                  "Each thread got its own arena (heaps of up to 64 MiB mmapped for non-main arenas). A heap is "
                  "trimmed only from its top, which the thread's kept block pins; malloc_trim(0) walks every arena "
                  "and returns whole free pages."},
                 {"*", "retained-until-release",
                  "Each thread's caches or heap keep their freed memory until released in that thread."},
                 {"*", "returned", "Freed memory went back to the OS while the threads stayed alive."},
                 {"jemalloc", "retained-until-release",
                  "Each thread's freed memory is dirty pages of its arena, purged over dirty_decay_ms only as that "
                  "arena ticks; here they were not ticked enough, so only the explicit purge of every arena "
                  "returned them."},
                 mechanism("mimalloc", "retained-until-release"),
                 mechanism("tcmalloc", "retained-until-release"),
                 mechanism("ptmalloc-style", "retained-until-release"),
                 {"jemalloc", "retained-until-activity",
                  "jemalloc gives each thread an arena (opt.narenas is 4 per CPU: 8 here); each thread's frees "
                  "leave dirty pages in its own arena, purged over dirty_decay_ms as that arena ticks. Every "
                  "thread's activity ticks its own arena, so the pages came back during the activity, not while "
                  "idle."},
             },
             recipe}};

}  // namespace
}  // namespace heapmark::repro
