// The executor's phases: the barrier every thread meets at each phase op
// (shrinking as threads finish), a phase's begin and end messages with their
// figures (counters, smaps_rollup, live bytes, the allocator's statistics),
// and the RSS breakdown at each phase end.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "harness/cell/attribution.h"
#include "harness/cell/executor.h"
#include "harness/cell/executor_internal.h"
#include "harness/metrics/procfs.h"
#include "harness/metrics/tsc.h"

namespace heapmark::cell {

namespace tsc = metrics::tsc;

void Executor::begin_phase(uint32_t index) noexcept {
  phase_ = index;
  phase_open_ = true;
  wait_done_.store(false, std::memory_order_relaxed);
  wait_kind_.store(0, std::memory_order_relaxed);
  wait_stop_.store(0, std::memory_order_relaxed);
  wait_planned_ms_.store(0, std::memory_order_relaxed);
  returned_t_ns_.store(0, std::memory_order_relaxed);
  activity_ops_.store(0, std::memory_order_relaxed);
  activity_peak_live_.store(0, std::memory_order_relaxed);
  PhaseBegin m;
  m.index = index;
  std::strncpy(m.name, threads_[0].program->phase_name(index), sizeof m.name - 1);
  if (config_.counters) config_.counters->read(counters_at_begin_);
  m.t_ns = tsc::monotonic_ns();
  if (result_.first_t_ns == 0) result_.first_t_ns = m.t_ns;
  if (config_.shared) config_.shared->phase.store(index + 1, std::memory_order_relaxed);
  if (!write_message(config_.event_fd, MsgType::kPhaseBegin, &m, sizeof m)) _exit(kExitRunnerGone);
}

void Executor::end_phase() noexcept {
  phase_open_ = false;
  PhaseEnd m;
  m.index = phase_;
  m.t_ns = tsc::monotonic_ns();
  result_.last_t_ns = m.t_ns;
  if (config_.counters) {  // first, so the phase's own reading stays out of its counts
    metrics::perf::Reading now;
    config_.counters->read(now);
    bool multiplexed = false;
    for (size_t i = 0; i < metrics::perf::kEvents; ++i)
      m.counters[i] = metrics::perf::delta(counters_at_begin_, now, i, &multiplexed);
    m.counters_multiplexed = multiplexed;
  }
  metrics::procfs::read_smaps_rollup("/proc/self/smaps_rollup", m.smaps);
  max_phase_r_ = std::max(max_phase_r_, static_cast<int64_t>(m.smaps.anonymous) - static_cast<int64_t>(r0_));
  m.wait = wait_kind_.load(std::memory_order_relaxed);
  m.wait_stop = wait_stop_.load(std::memory_order_relaxed);
  m.wait_planned_ms = wait_planned_ms_.load(std::memory_order_relaxed);
  m.returned_t_ns = returned_t_ns_.load(std::memory_order_relaxed);
  m.activity_ops = activity_ops_.load(std::memory_order_relaxed);
  m.activity_peak_live = activity_peak_live_.load(std::memory_order_relaxed);
  m.live_bytes = static_cast<uint64_t>(live_.load());
  m.live_usable = static_cast<uint64_t>(live_usable_.load());
  m.live_blocks = static_cast<uint64_t>(live_blocks_.load());
  for (uint32_t i = 0; i < thread_count_; ++i) {  // every thread is parked at the barrier
    m.ops += threads_[i].phase_ops;
    m.op_cycles += threads_[i].phase_cycles;
    threads_[i].phase_ops = threads_[i].phase_cycles = 0;
  }
  static StatsMsg stats;  // static: 3 KiB is too much for a worker's stack, and no heap
  registry::StatItem items[StatsMsg::kMax];
  const size_t n = hooks_.stats(items, StatsMsg::kMax);
  stats.phase_index = phase_;
  stats.count = static_cast<uint32_t>(n);
  for (size_t i = 0; i < n; ++i) {
    std::memset(stats.items[i].name, 0, sizeof stats.items[i].name);
    std::strncpy(stats.items[i].name, items[i].name, sizeof stats.items[i].name - 1);
    stats.items[i].value = items[i].value;
    if (std::strcmp(items[i].name, "stats.metadata") == 0 || std::strcmp(items[i].name, "metadata") == 0)
      m.metadata = items[i].value;
  }
  breakdown(m);
  if (!write_message(config_.event_fd, MsgType::kPhaseEnd, &m, sizeof m)) _exit(kExitRunnerGone);
  if (!write_message(config_.event_fd, MsgType::kStats, &stats, sizeof stats)) _exit(kExitRunnerGone);
  if (attribution_) {
    sites_msg_->phase_index = page_map_msg_->phase_index = phase_;
    if (!write_message(config_.event_fd, MsgType::kSites, sites_msg_, sizeof *sites_msg_) ||
        !write_message(config_.event_fd, MsgType::kPageMap, page_map_msg_, sizeof *page_map_msg_))
      _exit(kExitRunnerGone);
  }
}

// Which resident pages hold a live block: the union of the live blocks' page
// ranges, with mincore telling which of those pages are resident. With R and
// LazyFree this splits RSS into live, fragmentation and retained memory for
// any allocator, a user's own included.
void Executor::breakdown(PhaseEnd& m) noexcept {
  if (attribution_) {
    if (!stacks_excluded_) {  // every thread wrote its probe before the start barrier
      for (uint32_t i = 0; i < thread_count_; ++i) attribution_->exclude_mapping_of(threads_[i].stack_probe);
      stacks_excluded_ = true;
    }
    LiveBlock* blocks = attribution_->blocks();
    size_t n = 0;
    uint64_t clock = 0;
    for (uint32_t i = 0; i < thread_count_; ++i) clock = std::max(clock, threads_[i].program->clock_ms());
    for (uint32_t id = 0; id < slot_count_; ++id) {
      const Slot& s = slots_[id];
      if (s.p && s.size > 0)
        blocks[n++] = LiveBlock{reinterpret_cast<uintptr_t>(s.p), s.size, s.site, s.born_ms};  // as below
    }
    m.live_page_bytes = attribution_->run(n, clock, m.smaps.lazy_free, *sites_msg_, *page_map_msg_);
    return;
  }
  size_t n = 0;
  for (uint32_t id = 0; id < slot_count_; ++id) {
    const Slot& s = slots_[id];
    if (!s.p || s.size == 0) continue;
    const auto a = reinterpret_cast<uintptr_t>(s.p);
    ranges_[2 * n] = a / kPage;
    ranges_[2 * n + 1] = (a + s.size - 1) / kPage + 1;  // exclusive
    ++n;
  }
  auto* pairs = reinterpret_cast<std::pair<uint64_t, uint64_t>*>(ranges_);
  std::sort(pairs, pairs + n);
  static unsigned char vec[4096];  // mincore results, one byte per page, a chunk at a time
  uint64_t resident = 0;
  auto count = [&](uint64_t first, uint64_t last) {
    for (uint64_t page = first; page < last;) {
      const uint64_t chunk = std::min<uint64_t>(last - page, sizeof vec);
      if (mincore(reinterpret_cast<void*>(page * kPage), chunk * kPage, vec) == 0)
        for (uint64_t i = 0; i < chunk; ++i) resident += vec[i] & 1;
      page += chunk;
    }
  };
  uint64_t cur_first = 0, cur_last = 0;
  for (size_t i = 0; i < n; ++i) {
    if (pairs[i].first > cur_last || i == 0) {
      if (i > 0) count(cur_first, cur_last);
      cur_first = pairs[i].first;
      cur_last = pairs[i].second;
    } else {
      cur_last = std::max(cur_last, pairs[i].second);
    }
  }
  if (n > 0) count(cur_first, cur_last);
  m.live_page_bytes = resident * kPage;
}

// Every thread calls this at each phase op; once all have arrived (or the
// rest left), one closes the open phase and opens the next while the others
// wait: the first thread when it is there, else the last to arrive. Closing
// calls the allocator (its statistics), which binds a thread that never
// allocated to an arena: the first thread is bound already, so which thread
// came last does not change where a worker's later blocks go.
void Executor::phase_edge(const Thread& t, uint32_t next_index) noexcept {
  pthread_mutex_lock(&barrier_mu_);
  ++arrived_;
  if (arrived_ == participants_) pthread_cond_broadcast(&barrier_cv_);  // wakes the first thread, if it waits here
  for (const uint64_t gen = generation_; gen == generation_;) {
    // Everyone here: the first thread is among them unless it has left.
    if (arrived_ == participants_ && (t.index == 0 || threads_[0].left)) {
      join_leavers();
      if (phase_open_) end_phase();
      begin_phase(next_index);
      arrived_ = 0;
      ++generation_;
      pthread_cond_broadcast(&barrier_cv_);
      break;
    }
    pthread_cond_wait(&barrier_cv_, &barrier_mu_);
  }
  pthread_mutex_unlock(&barrier_mu_);
}

// Joins the worker threads whose programs have ended (under barrier_mu_; they
// no longer take it). The first thread is the cell's own and is not joined.
void Executor::join_leavers() noexcept {
  for (uint32_t i = 1; i < thread_count_; ++i) {
    Thread& t = threads_[i];
    if (!t.left || t.joined) continue;
    pthread_join(t.tid, nullptr);
    t.joined = true;
  }
}

// A thread's program has ended. If the others are all waiting at a phase edge,
// one of them completes it once this thread has exited; the last phase is
// closed by run() after every thread has.
void Executor::leave(Thread& t) noexcept {
  pthread_mutex_lock(&barrier_mu_);
  t.left = true;
  --participants_;
  if (participants_ == 0 || arrived_ == participants_) pthread_cond_broadcast(&barrier_cv_);
  pthread_mutex_unlock(&barrier_mu_);
}

}  // namespace heapmark::cell
