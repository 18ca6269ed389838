// The trace workload's programs for a recorded multi-thread trace (named by
// HEAPMARK_TRACE_PATH; trace_test.py records one and runs this). The programs
// wait for each other inside next() (a free of another thread's block waits
// until that thread's executor has run its allocation), so they are drained
// here on real threads, as the executor runs them. A chunk counts as executed
// the moment next() returns it (under one lock, in return order), which is a
// legal execution: the checks below are what the executor relies on.
#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "workloads/catalog.h"
#include "workloads/trace_format.h"

namespace {

namespace wl = heapmark::workloads;
namespace tr = heapmark::trace;

std::string trace_path() {
  const char* p = std::getenv("HEAPMARK_TRACE_PATH");
  return p ? p : "";
}

struct Counts {
  uint64_t allocs = 0, frees = 0, reallocs = 0, live = 0, peak_live = 0, marks = 0;
};

TEST(TraceWorkload, RecordedThreadsReplayEveryBlockOnceWithoutDeadlock) {
  const std::string path = trace_path();
  ASSERT_FALSE(path.empty())
      << "run through trace_test.py python_threads, which records a trace and sets HEAPMARK_TRACE_PATH";
  // What the trace holds (one complete recording: every free names a recorded block).
  tr::MappedFile f(path);
  tr::Reader reader(f.data(), f.size(), path);
  tr::Event e;
  Counts want;
  while (reader.next(e)) {
    want.allocs += e.op == tr::Op::kMalloc || e.op == tr::Op::kCalloc || e.op == tr::Op::kAligned;
    want.frees += e.op == tr::Op::kFree;
    want.reallocs += e.op == tr::Op::kRealloc;
    want.marks += e.op == tr::Op::kPhase;
  }
  ASSERT_GT(reader.threads(), 1u);

  for (const char* timing : {"compressed", "as-recorded"}) {
    SCOPED_TRACE(timing);
    const auto& def = wl::find_workload("trace");
    const wl::Params p = wl::Params::resolve(def.name, def.params, {{"path", path}, {"timing", timing}});
    wl::Scratch scratch(def.scratch_bytes(p) + (1 << 20));
    auto programs = def.make(p, 5, scratch);
    ASSERT_EQ(programs.size(), reader.threads());
    const uint32_t slots = programs[0]->max_ids();

    std::mutex mu;
    std::vector<char> live(slots, 0);
    Counts got;
    uint64_t bad_slot = 0, alloc_live = 0, free_dead = 0, not_first_phase = 0, phase_out_of_order = 0;
    std::vector<uint32_t> last_phase(programs.size(), 0);
    auto drain = [&](size_t t) {
      wl::Op buf[97];  // an odd chunk size exercises resumption
      bool first = true;
      for (size_t n; (n = programs[t]->next(buf, 97)) > 0;) {
        std::lock_guard<std::mutex> hold(mu);
        for (size_t i = 0; i < n; ++i) {
          const wl::Op& op = buf[i];
          if (first) not_first_phase += op.kind != wl::OpKind::kPhase || op.id != 0;
          else if (op.kind == wl::OpKind::kPhase) phase_out_of_order += op.id != last_phase[t] + 1;
          if (op.kind == wl::OpKind::kPhase) last_phase[t] = op.id;
          first = false;
          if (op.kind != wl::OpKind::kAlloc && op.kind != wl::OpKind::kFree && op.kind != wl::OpKind::kRealloc)
            continue;
          if (op.id >= slots) {
            ++bad_slot;
            continue;
          }
          if (op.kind == wl::OpKind::kAlloc) {
            alloc_live += live[op.id];
            live[op.id] = 1;
            ++got.allocs;
            got.peak_live = std::max(got.peak_live, ++got.live);
          } else {
            free_dead += !live[op.id];
            if (op.kind == wl::OpKind::kFree) {
              live[op.id] = 0;
              --got.live;
              ++got.frees;
            } else {
              ++got.reallocs;
            }
          }
        }
      }
    };
    std::vector<std::thread> threads;
    for (size_t t = 1; t < programs.size(); ++t) threads.emplace_back(drain, t);
    drain(0);
    for (auto& th : threads) th.join();

    EXPECT_EQ(bad_slot, 0u) << "a slot at or above max_ids " << slots;
    EXPECT_EQ(not_first_phase, 0u) << "every program opens with phase 0";
    EXPECT_EQ(phase_out_of_order, 0u)
        << "each program's phases go 0, 1, 2, ... (the executor starts each on all threads)";
    EXPECT_EQ(programs[0]->phase_count(), 1 + want.marks);
    for (size_t t = 0; t < programs.size(); ++t) EXPECT_LT(last_phase[t], programs[0]->phase_count());
    EXPECT_EQ(alloc_live, 0u) << "a slot allocated while its block was live";
    EXPECT_EQ(free_dead, 0u) << "a free or realloc ran before its block's allocation had run";
    EXPECT_EQ(got.allocs, want.allocs);
    EXPECT_EQ(got.frees, want.frees);
    EXPECT_EQ(got.reallocs, want.reallocs);
    EXPECT_LE(got.peak_live, slots);
  }
}

}  // namespace
