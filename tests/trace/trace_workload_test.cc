// The trace workload's programs for a recorded multi-thread trace (named by
// HEAPMARK_TRACE_PATH; trace_test.py records one and runs this): simulate()
// checks ownership, handoffs and liveness op by op, and every id is sent at
// most once in the whole program (the executor's handoff flag is per id, so a
// second send of a reused id could be taken by the wrong receiver).
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "tests/unit/workload_sim.h"
#include "workloads/trace_format.h"

namespace {

std::string trace_path() {
  const char* p = std::getenv("HEAPMARK_TRACE_PATH");
  return p ? p : "";
}

TEST(TraceWorkload, RecordedThreadsReplayWithoutDeadlockAndSendEachIdOnce) {
  const std::string path = trace_path();
  ASSERT_FALSE(path.empty()) << "run through trace_test.py python_threads, which records a trace and sets HEAPMARK_TRACE_PATH";
  for (const char* timing : {"compressed", "as-recorded"}) {
    SimResult r = simulate("trace", {{"path", path}, {"timing", timing}});
    ASSERT_FALSE(r.deadlock);
    std::map<uint32_t, int> sends;
    uint64_t recvs = 0, sends_total = 0;
    for (const auto& ops : r.ops)
      for (const auto& op : ops) {
        if (op.kind == heapmark::workloads::OpKind::kSend) {
          EXPECT_EQ(++sends[op.id], 1) << "id " << op.id << " sent twice";
          ++sends_total;
        }
        recvs += op.kind == heapmark::workloads::OpKind::kRecv;
      }
    EXPECT_EQ(sends_total, recvs);
    EXPECT_GT(sends_total, 0u) << "the recorded program frees across threads";
    // Every recorded free of a recorded block is replayed.
    heapmark::trace::MappedFile f(path);
    heapmark::trace::Reader reader(f.data(), f.size(), path);
    heapmark::trace::Event e;
    uint64_t allocs = 0;
    while (reader.next(e))
      allocs += e.op == heapmark::trace::Op::kMalloc || e.op == heapmark::trace::Op::kCalloc ||
                e.op == heapmark::trace::Op::kAligned;
    EXPECT_GE(r.allocs, allocs);
    EXPECT_GT(r.frees, allocs / 2);
  }
}

}  // namespace
