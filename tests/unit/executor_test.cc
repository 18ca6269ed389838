// The executor, driven with scripted programs under this process's glibc
// malloc, its events read back through the real protocol.
#include "harness/cell/executor.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "allocators/registry/hooks.h"
#include "harness/cell/protocol.h"
#include "harness/metrics/procfs.h"

using namespace heapmark;
using workloads::Op;
using workloads::OpKind;

namespace {

class Script final : public workloads::Program {
 public:
  Script(std::vector<Op> ops, uint32_t ids, uint32_t phases) : ops_(std::move(ops)), ids_(ids), phases_(phases) {}
  size_t next(Op* out, size_t cap) noexcept override {
    size_t n = 0;
    while (n < cap && pos_ < ops_.size()) out[n++] = ops_[pos_++];
    return n;
  }
  uint32_t max_ids() const noexcept override { return ids_; }
  const char* phase_name(uint32_t i) const noexcept override { return i == 0 ? "a" : i == 1 ? "b" : "c"; }
  uint32_t phase_count() const noexcept override { return phases_; }

 private:
  std::vector<Op> ops_;
  size_t pos_ = 0;
  uint32_t ids_, phases_;
};

Op phase(uint32_t i) { return Op{OpKind::kPhase, 0, 0, i, 0}; }
Op alloc(uint32_t id, uint64_t size) { return Op{OpKind::kAlloc, 0, 0, id, size}; }
Op release(uint32_t id) { return Op{OpKind::kFree, 0, 0, id, 0}; }

// Runs the programs and returns every message the executor sent (with
// verify on, unless `batch_calls` asks for batch timing, which excludes it).
std::vector<cell::Message> execute(std::vector<workloads::Program*> programs, uint32_t batch_calls = 0,
                                   const metrics::perf::Counters* counters = nullptr) {
  int p[2];
  EXPECT_EQ(pipe(p), 0);
  std::vector<cell::Message> got;
  std::thread reader([&] {
    cell::Reader r;
    char buf[65536];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) {
      r.feed(buf, static_cast<size_t>(n));
      cell::Message m;
      while (r.next(m)) got.push_back(m);
    }
  });
  {
    const auto hooks = registry::Hooks::probe(*registry::find_family("glibc"), "");
    workloads::Scratch scratch(64 << 20);
    cell::ExecutorConfig cfg;
    cfg.event_fd = p[1];
    cfg.tsc_hz = 1e9;
    cfg.verify = batch_calls == 0;
    cfg.batch_calls = batch_calls;
    cfg.counters = counters;
    cell::Executor exec(cfg, hooks, programs, scratch);
    exec.start_threads();
    metrics::procfs::SmapsRollup r0;
    metrics::procfs::read_smaps_rollup("/proc/self/smaps_rollup", r0);
    exec.set_baseline(r0.anonymous);
    exec.run();
    EXPECT_TRUE(exec.finish());
  }
  close(p[1]);
  reader.join();
  close(p[0]);
  return got;
}

std::vector<const cell::PhaseEnd*> phase_ends(const std::vector<cell::Message>& ms) {
  std::vector<const cell::PhaseEnd*> out;
  for (const auto& m : ms)
    if (m.type == cell::MsgType::kPhaseEnd) out.push_back(&m.as<cell::PhaseEnd>());
  return out;
}

}  // namespace

TEST(Executor, AThreadThatEndsEarlyLeavesThePhasesToTheOthers) {
  // Thread 1 allocates and frees its own blocks, then its program ends (the
  // thread exits) while thread 0 goes on through phases b and c.
  std::vector<Op> t0{phase(0)}, t1{phase(0)};
  for (uint32_t i = 0; i < 100; ++i) t0.push_back(alloc(i, 10000));
  for (uint32_t i = 100; i < 200; ++i) t1.push_back(alloc(i, 5000));
  for (uint32_t i = 100; i < 200; ++i) t1.push_back(release(i));
  t0.push_back(phase(1));
  t0.push_back(Op{OpKind::kActivity, 0, 0, 0, 30});  // 30 ms of activity (a fixed length)
  t0.push_back(phase(2));
  t0.push_back(Op{OpKind::kRelease, 0, 0, 0, 0});
  for (uint32_t i = 0; i < 100; ++i) t0.push_back(release(i));
  Script a(t0, 200, 3), b(t1, 200, 3);
  const auto ms = execute({&a, &b});

  std::vector<uint32_t> begins;
  for (const auto& m : ms)
    if (m.type == cell::MsgType::kPhaseBegin) begins.push_back(m.as<cell::PhaseBegin>().index);
  EXPECT_EQ(begins, (std::vector<uint32_t>{0, 1, 2}));
  const auto ends = phase_ends(ms);
  ASSERT_EQ(ends.size(), 3u);
  EXPECT_EQ(ends[0]->live_bytes, 100u * 10000) << "thread 1 freed all of its blocks";
  EXPECT_EQ(ends[0]->ops, 300u);
  EXPECT_GE(ends[1]->t_ns - ends[0]->t_ns, 30'000'000u) << "the activity phase lasted its 30 ms";
  EXPECT_EQ(ends[1]->ops, 0u) << "activity calls are not measured ops";
  EXPECT_EQ(ends[2]->live_bytes, 0u);
  const auto& res = ms.back();
  ASSERT_EQ(res.type, cell::MsgType::kResult);
  // The peak depends on how the threads interleave: at least thread 0's blocks,
  // at most both threads' blocks at once.
  EXPECT_GE(res.as<cell::Result>().live_peak, 100u * 10000);
  EXPECT_LE(res.as<cell::Result>().live_peak, 100u * 10000 + 100u * 5000);
  EXPECT_EQ(res.as<cell::Result>().ops[static_cast<int>(OpKind::kAlloc)], 200u);
}

TEST(Executor, BreakdownCountsThePagesLiveBlocksPin) {
  // 512 blocks of 4000 bytes, every 16th kept: each kept block pins one or two
  // pages that are otherwise empty.
  std::vector<Op> ops{phase(0)};
  for (uint32_t i = 0; i < 512; ++i) ops.push_back(alloc(i, 4000));
  ops.push_back(phase(1));
  for (uint32_t i = 0; i < 512; ++i)
    if (i % 16 != 15) ops.push_back(release(i));
  Script s(ops, 512, 2);
  const auto ends = phase_ends(execute({&s}));
  ASSERT_EQ(ends.size(), 2u);
  EXPECT_GE(ends[0]->live_page_bytes, 512u * 4000);
  EXPECT_LE(ends[0]->live_page_bytes, 512u * 4000 + 512u * 4096);
  const uint64_t live = 32u * 4000;
  EXPECT_EQ(ends[1]->live_bytes, live);
  EXPECT_GE(ends[1]->live_page_bytes, 32u * 4096) << "each kept block's page is resident";
  EXPECT_LE(ends[1]->live_page_bytes, 64u * 4096) << "a 4000-byte block spans at most two pages";
}

// Waits for the allocator: 8 MiB of 4 KiB blocks freed in order come straight
// back under glibc (the top of the heap is trimmed), so an open-ended activity
// ends at its first check; blocks that stay live make it run its length.
TEST(Executor, AWaitEndsOnceTheMemoryIsBackAndActivityLeavesNothingLive) {
  std::vector<Op> ops{phase(0)};
  for (uint32_t i = 0; i < 2048; ++i) ops.push_back(alloc(i, 4096));
  ops.push_back(phase(1));
  for (uint32_t i = 0; i < 2048; ++i) ops.push_back(release(i));
  ops.push_back(phase(2));
  ops.push_back(Op{OpKind::kActivity, 0, workloads::kUntilReturned, 0, 0});
  ops.push_back(phase(3));
  ops.push_back(Op{OpKind::kActivity, 0, 0, 0, 40});  // fixed: runs its 40 ms
  Script s(ops, 2048, 4);
  const auto ends = phase_ends(execute({&s}));
  ASSERT_EQ(ends.size(), 4u);
  EXPECT_EQ(ends[2]->wait, static_cast<uint8_t>(cell::WaitKind::kActivity));
  EXPECT_EQ(ends[2]->wait_stop, static_cast<uint8_t>(cell::WaitStop::kReturned));
  EXPECT_GE(ends[2]->wait_planned_ms, 1000u) << "glibc has no timer: the horizon is the 1 s margin";
  EXPECT_NE(ends[2]->returned_t_ns, 0u);
  EXPECT_EQ(ends[3]->wait_stop, static_cast<uint8_t>(cell::WaitStop::kFixed));
  EXPECT_EQ(ends[3]->wait_planned_ms, 40u);
  EXPECT_GT(ends[3]->activity_ops, 0u);
  EXPECT_EQ(ends[3]->activity_ops % workloads::WaitSpec{}.activity_rate, 0u) << "whole milliseconds of calls";
  EXPECT_GT(ends[3]->activity_peak_live, 0u) << "the activity keeps a working set";
  EXPECT_EQ(ends[3]->live_bytes, 0u) << "the working set is freed before the phase ends";
  EXPECT_EQ(ends[3]->ops, 0u) << "activity calls are not measured ops";
}

TEST(Executor, AnIdleWaitWithoutABackgroundPurgerLastsItsOwnLength) {
  // Every other 4 KiB block stays live: the freed half cannot all come back.
  std::vector<Op> ops{phase(0)};
  for (uint32_t i = 0; i < 2048; ++i) ops.push_back(alloc(i, 4096));
  ops.push_back(phase(1));
  for (uint32_t i = 0; i < 2048; i += 2) ops.push_back(release(i));
  ops.push_back(Op{OpKind::kIdle, 0, workloads::kUntilReturned, 0, 30});
  Script s(ops, 2048, 2);
  const auto ends = phase_ends(execute({&s}));
  ASSERT_EQ(ends.size(), 2u);
  EXPECT_EQ(ends[1]->wait, static_cast<uint8_t>(cell::WaitKind::kIdle));
  EXPECT_EQ(ends[1]->wait_stop, static_cast<uint8_t>(cell::WaitStop::kFixed));
  EXPECT_EQ(ends[1]->wait_planned_ms, 30u);
}

// Figures of one execution in a child forked from this process: two
// executions forked from the same state start from the same heap, so glibc
// lays their blocks out alike (run one after the other in one process, the
// first one's freed chunks would change the second's usable sizes).
struct Figures {
  uint64_t live[2], blocks[2], usable[2], ops[2], checksum, live_end, batch_calls, batches, latency_histograms;
};
Figures figures_in_child(const std::vector<Op>& ops, uint32_t batch_calls) {
  int p[2];
  EXPECT_EQ(pipe(p), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(p[0]);
    Script s(ops, 300, 2);
    const auto ms = execute({&s}, batch_calls);
    const auto ends = phase_ends(ms);
    Figures f{};
    for (size_t i = 0; i < 2 && i < ends.size(); ++i) {
      f.live[i] = ends[i]->live_bytes;
      f.blocks[i] = ends[i]->live_blocks;
      f.usable[i] = ends[i]->live_usable;
      f.ops[i] = ends[i]->ops;
    }
    const auto& r = ms.back().as<cell::Result>();
    f.checksum = r.checksum;
    f.live_end = r.live_end;
    f.batch_calls = r.batch_calls;
    for (const auto& m : ms)
      if (m.type == cell::MsgType::kHistogram) {
        const auto& h = *reinterpret_cast<const cell::HistogramHead*>(m.payload.data());
        if (h.op_kind == cell::kBatchHistogram) f.batches = h.total;
        else ++f.latency_histograms;
      }
    _exit(write(p[1], &f, sizeof f) == sizeof f ? 0 : 1);
  }
  close(p[1]);
  Figures f{};
  EXPECT_EQ(read(p[0], &f, sizeof f), static_cast<ssize_t>(sizeof f));
  close(p[0]);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return f;
}

// --timing batch changes how calls are timed, not what the program does: the
// same script gives the same live bytes, blocks and usable bytes at every
// phase end, every call is counted in a batch, and a run of calls is cut at
// K calls and at every op that is not a call.
TEST(Executor, BatchTimingKeepsTheBookkeepingOfPerCallTiming) {
  std::vector<Op> ops{phase(0)};
  for (uint32_t i = 0; i < 300; ++i) ops.push_back(alloc(i, 16 + (i * 37) % 3000));
  for (uint32_t i = 0; i < 300; i += 3) ops.push_back(release(i));
  for (uint32_t i = 0; i < 300; i += 3)
    ops.push_back(alloc(i, 24));                       // freed ids again; with K = 1000 in the batch of their frees
  ops.push_back(Op{OpKind::kRealloc, 0, 0, 1, 9000});  // a block of an earlier batch (K = 7) or of its own (K = 1000)
  ops.push_back(phase(1));
  for (uint32_t i = 0; i < 300; i += 2) ops.push_back(release(i));
  const Figures a = figures_in_child(ops, 0);
  for (uint32_t k : {7u, 1000u}) {
    const Figures b = figures_in_child(ops, k);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(b.live[i], a.live[i]) << "K " << k << " phase " << i;
      EXPECT_EQ(b.blocks[i], a.blocks[i]) << "K " << k << " phase " << i;
      EXPECT_EQ(b.usable[i], a.usable[i])
          << "K " << k << " phase " << i << ": the survivors' usable sizes, settled after each batch";
      EXPECT_EQ(b.ops[i], a.ops[i]) << "K " << k << " phase " << i;
    }
    EXPECT_EQ(b.checksum, a.checksum) << "the same program";
    EXPECT_EQ(b.live_end, a.live_end);
    EXPECT_EQ(b.batch_calls, 300u + 100 + 100 + 1 + 150);
    EXPECT_EQ(b.latency_histograms, 0u) << "batch timing has no per-call latencies";
    // Phase a's 501 calls in runs of K, then phase b's 150.
    EXPECT_EQ(b.batches, (501 + k - 1) / k + (150 + k - 1) / k) << "K " << k;
  }
  EXPECT_EQ(a.batch_calls, 0u);
  EXPECT_GT(a.latency_histograms, 0u);
}

// A phase that touches N new pages counts about N minor faults. 64 blocks of
// 1 MiB above a fixed mmap threshold are 64 fresh mappings, 257 pages each
// (the chunk header spills into one more page), every page touched once.
TEST(Executor, APhaseThatTouchesNNewPagesCountsAboutNMinorFaults) {
  metrics::perf::Counters counters;
  counters.open();
  if (counters.availability(2).error != 0) GTEST_SKIP() << "minor-faults cannot be counted here";
  ASSERT_EQ(mallopt(M_MMAP_THRESHOLD, 256 * 1024), 1);  // fixed: glibc's threshold no longer rises after frees
  std::vector<Op> ops{phase(0)};
  for (uint32_t i = 0; i < 64; ++i) ops.push_back(alloc(i, 1 << 20));
  ops.push_back(phase(1));
  for (uint32_t i = 0; i < 64; ++i) ops.push_back(release(i));
  Script s(ops, 64, 2);
  const auto ends = phase_ends(execute({&s}, 0, &counters));
  ASSERT_EQ(ends.size(), 2u);
  const double pages = 64.0 * ((1 << 20) / 4096 + 1);
  EXPECT_EQ(std::string(metrics::perf::event_info(2).name), "minor-faults");
  EXPECT_GE(ends[0]->counters[2], 0.98 * pages);
  EXPECT_LE(ends[0]->counters[2], 1.05 * pages) << "the executor's own work in the phase faults in next to nothing";
  EXPECT_EQ(ends[0]->counters[1], ends[0]->counters[2] + ends[0]->counters[3]) << "page-faults = minor + major";
  EXPECT_LT(ends[1]->counters[2], 0.02 * pages) << "freeing (munmap) faults nothing in";
  EXPECT_GT(ends[0]->counters[0], 0) << "task-clock ran";
}
