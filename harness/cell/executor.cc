// The executor's life (executor.h describes it): setting up its tables in
// scratch memory, the worker threads, and the loop that runs each thread's
// program op by op. The other files:
//   executor_calls.cc   the timed allocator calls and the bookkeeping after them
//   executor_batch.cc   --timing batch: runs of calls between one timestamp pair
//   executor_phases.cc  the phase barrier, phase begin and end, the RSS breakdown
//   executor_waits.cc   idle and activity waits, the watcher of returned memory
//   executor_report.cc  the final figures, histograms and where threads ran
//   executor_internal.h what they share
#include "harness/cell/executor.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "common/input_error.h"
#include "harness/cell/attribution.h"
#include "harness/cell/executor_internal.h"
#include "harness/cell/placement.h"
#include "harness/metrics/tsc.h"

namespace heapmark::cell {

using workloads::Op;
using workloads::OpKind;
namespace tsc = metrics::tsc;

namespace {
constexpr size_t kChunkOps = 4096;  // 64 KiB of ops per refill
}  // namespace

Executor::Executor(const ExecutorConfig& config, const registry::Hooks& hooks,
                   const std::vector<workloads::Program*>& programs, workloads::Scratch& scratch)
    : config_(config), hooks_(hooks) {
  thread_count_ = static_cast<uint32_t>(programs.size());
  slot_count_ = 0;
  for (auto* p : programs) {
    if (p->phase_count() != programs[0]->phase_count())
      throw InputError("workload programs disagree on their phases: every thread must run the same phases");
    if (p->max_ids() > slot_count_) slot_count_ = p->max_ids();
  }
  slots_ = scratch.array<Slot>(slot_count_);
  threads_ = scratch.array<Thread>(thread_count_);
  for (uint32_t i = 0; i < thread_count_; ++i) {
    Thread& t = threads_[i];
    t.exec = this;
    t.index = i;
    t.program = programs[i];
    t.buffer = scratch.array<Op>(kChunkOps);
    t.hist = scratch.array<metrics::Histogram>(workloads::kOpKinds + 1);  // + the batch histogram
    for (int k = 0; k <= workloads::kOpKinds; ++k) t.hist[k].clear();
    if (config_.batch_calls > 0) {
      t.batch_ptr = scratch.array<void*>(config_.batch_calls);
      t.batch_old = scratch.array<void*>(config_.batch_calls);
    }
    t.batch_calls = t.batch_cycles = 0;
    t.batch_seq = 0;
    t.checksum = workloads::Checksum{};
    const uint32_t slots = std::min(programs[i]->wait_spec().activity_slots, workloads::kMaxActivitySlots);
    t.act_ptr = scratch.array<void*>(slots);
    t.act_size = scratch.array<uint64_t>(slots);
    t.act_rng = programs[i]->wait_spec().seed ^ (0x9e3779b97f4a7c15ull * (i + 1));
    CPU_ZERO(&t.ran_on);
    t.affinity[0] = '\0';
    t.next_release_tsc = t.releases = t.release_cycles = t.release_max = 0;
  }
  release_every_cycles_ = static_cast<uint64_t>(static_cast<double>(config_.release_every_ns) * config_.tsc_hz / 1e9);
  threads_msg_ = scratch.array<ThreadsMsg>(1);
  horizon_ = hooks.horizon();
  merged_ = scratch.array<metrics::Histogram>(workloads::kOpKinds + 1);
  hist_wire_ = scratch.array<unsigned char>(sizeof(HistogramHead) + metrics::Histogram::kBuckets * sizeof(BucketCount));
  if (config_.attribute) {
    uint32_t sites = 0;
    for (auto* p : programs) sites = std::max(sites, p->site_count());
    attribution_ = scratch.make<Attribution>(sites, slot_count_, thread_count_, scratch);
    attribution_->exclude_range(scratch.begin(), scratch.end());
    sites_msg_ = scratch.array<SitesMsg>(1);
    page_map_msg_ = scratch.array<PageMapMsg>(1);
  } else {
    ranges_ = scratch.array<uint64_t>(2 * size_t{slot_count_});
  }
  participants_ = thread_count_;
  pthread_barrier_init(&start_, nullptr, thread_count_);
  tsc_anchor_ = tsc::begin();
  ns_anchor_ = tsc::monotonic_ns();
}

Executor::~Executor() { pthread_barrier_destroy(&start_); }

void Executor::start_threads() {
  for (uint32_t i = 1; i < thread_count_; ++i) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (pthread_create(&threads_[i].tid, &attr, &Executor::thread_main, &threads_[i]) != 0)
      throw std::runtime_error("cannot create workload thread " + std::to_string(i));
    pthread_attr_destroy(&attr);
  }
  started_ = true;
}

void* Executor::thread_main(void* arg) noexcept {
  auto& t = *static_cast<Thread*>(arg);
  t.stack_probe = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  pthread_barrier_wait(&t.exec->start_);  // released by run()
  t.exec->run_thread(t);
  return nullptr;
}

uint64_t Executor::tsc_to_ns(uint64_t t) const noexcept {
  if (config_.tsc_hz <= 0) return ns_anchor_;
  return ns_anchor_ + static_cast<uint64_t>(static_cast<double>(t - tsc_anchor_) * 1e9 / config_.tsc_hz);
}

void Executor::fail(ErrorCode code, int status, const char* text) noexcept {
  ErrorMsg m;
  m.code = static_cast<uint32_t>(code);
  std::snprintf(m.text, sizeof m.text, "%s", text);
  write_message(config_.event_fd, MsgType::kError, &m, sizeof m);
  _exit(status);  // other threads may be parked at a barrier: end the process here
}

void Executor::run_thread(Thread& t) noexcept {
  current_cpus(t.affinity, sizeof t.affinity);
  const bool exact = t.program->checksum_exact();
  for (;;) {
    const size_t n = t.program->next(t.buffer, kChunkOps);
    if (n == 0) break;
    for (size_t i = 0; i < n; ++i) {
      const Op& op = t.buffer[i];
      if (release_every_cycles_ && (i & 63) == 0) scheduled_release(t);
      if (config_.batch_calls > 0 && is_call(op.kind)) {
        i = run_batch(t, t.buffer, i, n) - 1;
        continue;
      }
      account(t, op, exact);
      switch (op.kind) {
        case OpKind::kAlloc: do_alloc(t, op); break;
        case OpKind::kFree: do_free(t, op); break;
        case OpKind::kRealloc: do_realloc(t, op); break;
        case OpKind::kPhase: {
          const int cpu = sched_getcpu();
          if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_SET(cpu, &t.ran_on);
          phase_edge(t, op.id);
          break;
        }
        case OpKind::kRelease: hooks_.release(); break;
        case OpKind::kActivity: wait(t, op); break;
        case OpKind::kIdle:
          if (op.flags & workloads::kUntilReturned) {
            wait(t, op);
          } else {  // a program's own gap (packets, a recorded trace): just the time, and a schedule's calls
            idle_gap(t, op.size);
          }
          break;
        case OpKind::kSend: slots_[op.id].sent.store(1, std::memory_order_release); break;
        case OpKind::kRecv: {
          // Spin briefly, then yield: producer and consumer may share a CPU.
          auto& flag = slots_[op.id].sent;
          for (int spins = 0; flag.load(std::memory_order_acquire) == 0; ++spins) {
            if (spins < 256) __builtin_ia32_pause();
            else sched_yield();
          }
          flag.store(0, std::memory_order_relaxed);
          break;
        }
      }
    }
    if (config_.shared && t.index == 0) config_.shared->ops.store(t.program_ops, std::memory_order_relaxed);
    // The time the whole program has reached on its own clock (a replay's recorded time), for the timeline:
    // each thread at most every 0.25 ms (the runner samples at 1 kHz; a replay's reached_ms reads every thread).
    if (config_.shared && __rdtsc() >= t.next_clock_tsc) {
      t.next_clock_tsc = __rdtsc() + static_cast<uint64_t>(std::max(config_.tsc_hz, 0.0) / 4000);
      const uint64_t clock = t.program->reached_ms();
      uint64_t seen = config_.shared->clock_ms.load(std::memory_order_relaxed);
      while (clock > seen && !config_.shared->clock_ms.compare_exchange_weak(seen, clock, std::memory_order_relaxed)) {
      }
    }
  }
  leave(t);
}

// A gap of `ms` in the program: it sleeps, and a release schedule goes on calling its hook as a service's timer
// would (the calls are in the gap, not in any timed op).
void Executor::idle_gap(Thread& t, uint64_t ms) noexcept {
  const uint64_t deadline = tsc::monotonic_ns() + ms * 1'000'000;
  for (uint64_t now = tsc::monotonic_ns(); now < deadline; now = tsc::monotonic_ns()) {
    uint64_t wake = deadline;
    if (calls_release(t)) {
      scheduled_release(t);
      wake = std::min(wake, now + config_.release_every_ns);
    }
    const timespec ts{static_cast<time_t>(wake / 1'000'000'000), static_cast<long>(wake % 1'000'000'000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
}

// The schedule's clock starts at the thread's first check; each call is timed on its own, and the next is an
// interval after it ends (a slow call does not bring the next one closer).
void Executor::scheduled_release(Thread& t) noexcept {
  if (!calls_release(t)) return;
  const uint64_t now = __rdtsc();
  if (t.next_release_tsc == 0) {
    t.next_release_tsc = now + release_every_cycles_;
    return;
  }
  if (now < t.next_release_tsc) return;
  hooks_.release();
  const uint64_t end = __rdtsc(), took = end - now;
  ++t.releases;
  t.release_cycles += took;
  t.release_max = std::max(t.release_max, took);
  t.next_release_tsc = end + release_every_cycles_;
}

void Executor::run() noexcept {
  threads_[0].stack_probe = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (!started_) start_threads();
  if (thread_count_ > 1) pthread_barrier_wait(&start_);  // release the parked workers
  run_thread(threads_[0]);
  pthread_mutex_lock(&barrier_mu_);
  while (participants_ > 0) pthread_cond_wait(&barrier_cv_, &barrier_mu_);
  join_leavers();  // every worker has left: no phase edge is open to race with
  if (phase_open_) end_phase();
  pthread_mutex_unlock(&barrier_mu_);
}

}  // namespace heapmark::cell
