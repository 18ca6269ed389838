// The one interpreter of op programs. It times each allocator call with the TSC,
// keeps the pointer table and live-byte bookkeeping, touches (or, with verify,
// pattern-fills and checks) memory outside the timed window, and reports phase
// boundaries to the runner. Everything it touches during measurement was mapped
// and faulted in by setup (Scratch).
//
// Several programs run on as many threads, sharing one id space: kSend marks a
// live block as handed over, kRecv waits for it (a lock-free handoff per slot),
// so cross-thread frees happen exactly where the program puts them. Phases are
// global: at each phase op every thread meets at a barrier and the last to
// arrive closes the previous phase and opens the next. A thread whose program
// ends early leaves the barrier and exits for real (thread-exit behaviour of
// the allocator is part of what is measured).
#pragma once
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "allocators/registry/hooks.h"
#include "harness/cell/protocol.h"
#include "harness/cell/shared_page.h"
#include "harness/metrics/histogram.h"
#include "harness/metrics/perf.h"
#include "workloads/op.h"
#include "workloads/scratch.h"

namespace heapmark::cell {

enum class Touch { kNone, kPages, kFull };

struct ExecutorConfig {
  int event_fd = kEventFd;
  SharedPage* shared = nullptr;  // may be null (tests)
  Touch touch = Touch::kPages;
  bool verify = false;     // fill every block with a pattern from its id; check it before free/realloc
  bool attribute = false;  // at every phase end: pinned memory by site and the heap's page map (attribution.h)
  double tsc_hz = 0;
  // 0: every allocator call timed on its own with fenced timestamps (latency).
  // K: throughput timing. Runs of up to K consecutive calls go back to back
  // between one unfenced timestamp pair, as a benchmark loop runs them; the
  // bookkeeping (usable size, touching the memory, live bytes) follows the
  // batch, so a block freed within its own batch is never touched. Needs verify off.
  uint32_t batch_calls = 0;
  const metrics::perf::Counters* counters = nullptr;  // read at every phase edge; may be null
  // A release schedule: the family's release hook every so often (ns), between ops (checked every 64), outside
  // the timed calls; in thread 0, or in every thread for a hook that acts on the calling thread. 0: none.
  uint64_t release_every_ns = 0;
};

// Exit statuses of heapmark-cell (the runner takes the cause from the events;
// these make a cell's exit readable on its own).
inline constexpr int kExitBadArguments = 2;
inline constexpr int kExitIdentity = 3;
inline constexpr int kExitSetup = 4;
inline constexpr int kExitRunnerGone = 5;
inline constexpr int kExitVerifyFailed = 6;

// The cell's own final figures, read by the cell itself before it exits (a
// zombie's /proc is empty): rusage and VmHWM into `res`.
void read_final_figures(Result& res) noexcept;

class Executor {
 public:
  // Maps the pointer table, per-thread histograms and op buffers in `scratch`.
  // All programs must have the same phase count (checked: throws InputError).
  Executor(const ExecutorConfig& config, const registry::Hooks& hooks, const std::vector<workloads::Program*>& programs,
           workloads::Scratch& scratch);
  ~Executor();

  // Creates the worker threads (programs 1..n-1), parked until run(), so their
  // stacks are resident before the baseline R0 is read.
  void start_threads();
  // The cell's anonymous RSS before the first phase (R0): waits judge R = anon - R0.
  void set_baseline(uint64_t r0_anon) noexcept { r0_ = r0_anon; }
  // Runs every program to its end (the calling thread runs program 0). A verify
  // failure or a vanished runner ends the process from inside (see kExit*).
  void run() noexcept;
  // Sends histograms (merged over threads), where each thread ran, and the final Result.
  bool finish() noexcept;
  uint32_t threads() const noexcept { return thread_count_; }

  const metrics::Histogram& histogram(workloads::OpKind k) const noexcept { return merged_[static_cast<int>(k)]; }
  // --timing batch: picoseconds per call of each timed batch, over every thread.
  const metrics::Histogram& batch_histogram() const noexcept { return merged_[workloads::kOpKinds]; }
  const Result& result() const noexcept { return result_; }

 private:
  struct Slot {
    void* p;
    uint64_t size;
    uint64_t usable;
    std::atomic<uint32_t> sent;  // kSend stores 1 (release); kRecv waits for it (acquire)
    uint32_t site;               // Op::site and Op::born_ms of the op that made it
    uint32_t born_ms;
    uint32_t batch_stamp;  // --timing batch: the last batch whose bookkeeping settled this slot
  };
  struct Thread {
    Executor* exec;
    uint32_t index;
    workloads::Program* program;
    workloads::Op* buffer;
    metrics::Histogram* hist;  // one per OpKind
    workloads::Checksum checksum;
    uint64_t ops[workloads::kOpKinds];
    uint64_t program_ops;
    uint64_t phase_ops, phase_cycles;
    uint64_t failed_allocs;
    // --timing batch: the current batch's calls (id and where its new bytes
    // start) for the bookkeeping after it, and the totals of every batch.
    void** batch_ptr;
    void** batch_old;
    uint64_t batch_calls, batch_cycles;
    uint32_t batch_seq;
    pthread_t tid;
    bool left;                // its program has ended (it is exiting); under barrier_mu_
    bool joined;              // pthread_join has returned for it; under barrier_mu_
    uint64_t next_clock_tsc;  // when it next publishes the program's clock to the shared page
    // A release schedule: when this thread next calls the hook, its calls, their cycles and the longest.
    uint64_t next_release_tsc, releases, release_cycles, release_max;
    // Activity working set (WaitSpec::activity_slots of them) and its generator.
    void** act_ptr;
    uint64_t* act_size;
    uint64_t act_rng;
    cpu_set_t ran_on;       // sched_getcpu() seen at every phase edge
    char affinity[48];      // the thread's mask when it started
    uintptr_t stack_probe;  // an address on the thread's stack (its mapping is not the heap)
  };

  static void* thread_main(void* arg) noexcept;
  void run_thread(Thread& t) noexcept;
  void scheduled_release(Thread& t) noexcept;
  // A release schedule runs in thread 0, or in every thread for a hook that acts on the calling thread's caches.
  bool calls_release(const Thread& t) const noexcept {
    return release_every_cycles_ && (t.index == 0 || hooks_.release_per_thread());
  }
  void idle_gap(Thread& t, uint64_t ms) noexcept;
  void phase_edge(const Thread& t, uint32_t next_index) noexcept;
  void leave(Thread& t) noexcept;
  void join_leavers() noexcept;
  void breakdown(PhaseEnd& m) noexcept;
  void wait(Thread& t, const workloads::Op& op) noexcept;
  uint64_t wait_plan_ms(const workloads::Op& op, const workloads::WaitSpec& w) const noexcept;
  void activity_step(Thread& t, const workloads::WaitSpec& w) noexcept;
  void activity_drain(Thread& t) noexcept;
  bool watch(uint64_t now) noexcept;
  void begin_phase(uint32_t index) noexcept;
  void end_phase() noexcept;
  size_t run_batch(Thread& t, const workloads::Op* ops, size_t first, size_t n) noexcept;
  uint64_t batch_window(Thread& t, const workloads::Op* begin, const workloads::Op* end, uint64_t& t1) noexcept;
  void batch_sizes(Thread& t, const workloads::Op* ops, size_t first, size_t end, int64_t& live_delta,
                   int64_t& usable_delta, int64_t& blocks_delta) noexcept;
  void batch_settle(Thread& t, const workloads::Op* ops, size_t first, size_t end, int64_t& usable_delta) noexcept;
  void account(Thread& t, const workloads::Op& op, bool exact) noexcept;
  void do_alloc(Thread& t, const workloads::Op& op) noexcept;
  void do_free(Thread& t, const workloads::Op& op) noexcept;
  void do_realloc(Thread& t, const workloads::Op& op) noexcept;
  void prepare(void* p, uint32_t id, uint64_t from, uint64_t to) const noexcept;
  void check(const Slot& s, uint32_t id, uint64_t upto, const char* before) noexcept;
  void add_live(int64_t bytes, int64_t usable, int64_t blocks, uint64_t tsc_now) noexcept;
  uint64_t tsc_to_ns(uint64_t tsc) const noexcept;
  [[noreturn]] void fail(ErrorCode code, int status, const char* text) noexcept;

  ExecutorConfig config_;
  const registry::Hooks& hooks_;
  Slot* slots_;
  uint32_t slot_count_;
  Thread* threads_;
  uint32_t thread_count_;
  metrics::Histogram* merged_;
  unsigned char* hist_wire_;
  uint64_t* ranges_;                          // page ranges of live blocks, two words per slot, for the breakdown
  class Attribution* attribution_ = nullptr;  // --attribute
  SitesMsg* sites_msg_ = nullptr;
  PageMapMsg* page_map_msg_ = nullptr;
  bool stacks_excluded_ = false;

  // Phase barrier whose party shrinks as threads finish. A phase closes only
  // after every thread that left it has exited (joined), so its figures include
  // what the allocator did on their way out (tcache flush, arena detach).
  pthread_mutex_t barrier_mu_ = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t barrier_cv_ = PTHREAD_COND_INITIALIZER;
  uint32_t participants_ = 0, arrived_ = 0;
  uint64_t generation_ = 0;
  pthread_barrier_t start_;

  Result result_{};
  std::atomic<int64_t> live_{0}, live_usable_{0}, live_blocks_{0};
  std::atomic<uint64_t> peak_{0};
  uint64_t peak_usable_ = 0, peak_tsc_ = 0;  // written by whoever raised the peak, under peak_lock_
  std::atomic_flag peak_lock_ = ATOMIC_FLAG_INIT;
  bool phase_open_ = false;
  uint32_t phase_ = 0;
  uint64_t tsc_anchor_ = 0, ns_anchor_ = 0;
  bool started_ = false;

  // Waiting phases. One thread per phase (the first to wait) watches RSS and
  // tells the others when to stop; the figures go into that phase's PhaseEnd.
  uint64_t r0_ = 0;
  uint64_t release_every_cycles_ = 0;       // config_.release_every_ns on the TSC
  int64_t max_phase_r_ = 0;                 // largest R at a phase end so far: what "returned" is measured against
  std::atomic<uint32_t> watcher_phase_{0};  // phase index + 1 of the phase whose watcher is claimed
  std::atomic<bool> wait_done_{false};
  std::atomic<uint8_t> wait_kind_{0}, wait_stop_{0};
  std::atomic<uint64_t> wait_planned_ms_{0}, returned_t_ns_{0}, activity_ops_{0}, activity_live_{0},
      activity_peak_live_{0};
  ThreadsMsg* threads_msg_ = nullptr;
  registry::Horizon horizon_;
  metrics::perf::Reading counters_at_begin_;  // the counters at the open phase's begin edge
};

}  // namespace heapmark::cell
