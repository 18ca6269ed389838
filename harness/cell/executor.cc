#include "harness/cell/executor.h"

#include <malloc.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/input_error.h"
#include "harness/cell/attribution.h"
#include "harness/cell/placement.h"
#include "harness/metrics/fragmentation.h"
#include "harness/metrics/procfs.h"
#include "harness/metrics/tsc.h"
#include "workloads/rng.h"

namespace heapmark::cell {

using workloads::Op;
using workloads::OpKind;
namespace tsc = metrics::tsc;

namespace {
constexpr size_t kChunkOps = 4096;  // 64 KiB of ops per refill
constexpr uint64_t kPage = 4096;

// The compiler may not delete an allocation whose pointer reaches this.
void* volatile g_sink;

// The verify pattern: word k of block `id` holds mix(id) ^ k * golden, so a
// block that overlaps another, or is overwritten, shows the wrong id.
inline uint64_t pattern_word(uint32_t id, uint64_t k) noexcept {
  uint64_t z = (uint64_t{id} + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
  return z ^ (k * 0x94d049bb133111ebull);
}
}  // namespace

void read_final_figures(Result& res) noexcept {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * 1'000'000 + static_cast<uint64_t>(tv.tv_usec);
  };
  res.utime_us = us(ru.ru_utime);
  res.stime_us = us(ru.ru_stime);
  res.minflt = static_cast<uint64_t>(ru.ru_minflt);
  res.majflt = static_cast<uint64_t>(ru.ru_majflt);
  res.nvcsw = static_cast<uint64_t>(ru.ru_nvcsw);
  res.nivcsw = static_cast<uint64_t>(ru.ru_nivcsw);
  metrics::procfs::Status st;
  if (metrics::procfs::read_status("/proc/self/status", st)) res.vm_hwm = st.vm_hwm;
}

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
  }
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

void Executor::prepare(void* p, uint32_t id, uint64_t from, uint64_t to) const noexcept {
  if (to <= from) return;
  auto* b = static_cast<unsigned char*>(p);
  if (config_.verify) {
    // Byte-wise up to a word boundary and for the tail, word-wise between.
    uint64_t off = from;
    for (; off < to && off % 8; ++off)
      b[off] = static_cast<unsigned char>(pattern_word(id, off / 8) >> (8 * (off % 8)));
    for (; off + 8 <= to; off += 8) {
      const uint64_t w = pattern_word(id, off / 8);
      std::memcpy(b + off, &w, 8);
    }
    for (; off < to; ++off) b[off] = static_cast<unsigned char>(pattern_word(id, off / 8) >> (8 * (off % 8)));
    return;
  }
  switch (config_.touch) {
    case Touch::kNone: return;
    case Touch::kFull: std::memset(b + from, 0xa5, to - from); return;
    case Touch::kPages: {
      // One write per page the range covers, so RSS reflects the block's size.
      auto* v = static_cast<volatile unsigned char*>(p);
      for (uint64_t off = from; off < to; off += kPage) v[off] = 1;
      v[to - 1] = 1;
      return;
    }
  }
}

void Executor::check(const Slot& s, uint32_t id, uint64_t upto, const char* before) noexcept {
  const auto* b = static_cast<const unsigned char*>(s.p);
  for (uint64_t off = 0; off < upto;) {
    if (off % 8 == 0 && off + 8 <= upto) {  // whole words while they match
      uint64_t w;
      std::memcpy(&w, b + off, 8);
      if (w == pattern_word(id, off / 8)) {
        off += 8;
        continue;
      }
    }
    const auto want = static_cast<unsigned char>(pattern_word(id, off / 8) >> (8 * (off % 8)));
    if (b[off] == want) {  // a word differed: find the first byte that does
      ++off;
      continue;
    }
    char text[256];
    std::snprintf(text, sizeof text,
                  "verify: block id %u (%llu bytes at %p) was overwritten at offset %llu before %s: "
                  "the allocator handed out overlapping blocks or corrupted a live one",
                  id, static_cast<unsigned long long>(s.size), s.p, static_cast<unsigned long long>(off), before);
    fail(ErrorCode::kVerify, kExitVerifyFailed, text);
  }
}

void Executor::add_live(int64_t bytes, int64_t usable, int64_t blocks, uint64_t tsc_now) noexcept {
  // One thread: plain loads and stores (the watcher and the runner only read), no locked adds.
  auto add = [this](std::atomic<int64_t>& a, int64_t d) {
    if (thread_count_ > 1) return a.fetch_add(d, std::memory_order_relaxed) + d;
    const int64_t v = a.load(std::memory_order_relaxed) + d;
    a.store(v, std::memory_order_relaxed);
    return v;
  };
  const int64_t now = add(live_, bytes);
  const int64_t now_usable = add(live_usable_, usable);
  add(live_blocks_, blocks);
  if (now > 0 && static_cast<uint64_t>(now) > peak_.load(std::memory_order_relaxed)) {
    const bool locked = thread_count_ > 1;
    if (locked)
      while (peak_lock_.test_and_set(std::memory_order_acquire)) {
      }
    if (static_cast<uint64_t>(now) > peak_.load(std::memory_order_relaxed)) {
      peak_.store(static_cast<uint64_t>(now), std::memory_order_relaxed);
      peak_usable_ = static_cast<uint64_t>(now_usable);
      peak_tsc_ = tsc_now;
    }
    if (locked) peak_lock_.clear(std::memory_order_release);
  }
  if (config_.shared)
    config_.shared->live_bytes.store(static_cast<uint64_t>(now > 0 ? now : 0), std::memory_order_relaxed);
}

void Executor::do_alloc(Thread& t, const Op& op) noexcept {
  Slot& s = slots_[op.id];
  void* p;
  uint64_t t0, t1;
  if (op.align_log2 == 0) {
    t0 = tsc::begin();
    p = malloc(op.size);
    t1 = tsc::end();
  } else {
    t0 = tsc::begin();
    if (posix_memalign(&p, size_t{1} << op.align_log2, op.size) != 0) p = nullptr;
    t1 = tsc::end();
  }
  t.hist[static_cast<int>(OpKind::kAlloc)].record(t1 - t0);
  ++t.phase_ops;
  t.phase_cycles += t1 - t0;
  g_sink = p;
  if (!p) {
    ++t.failed_allocs;
    s.p = nullptr;
    s.size = s.usable = 0;
    return;
  }
  const uint64_t usable = hooks_.usable_size ? hooks_.usable_size(p) : 0;
  s.p = p;
  s.size = op.size;
  s.usable = usable;
  s.site = op.site;
  s.born_ms = op.born_ms;
  prepare(p, op.id, 0, op.size);
  add_live(static_cast<int64_t>(op.size), static_cast<int64_t>(usable), 1, t1);
}

void Executor::do_free(Thread& t, const Op& op) noexcept {
  Slot& s = slots_[op.id];
  if (!s.p) return;  // its allocation failed
  if (config_.verify) check(s, op.id, s.size, "free");
  const uint64_t t0 = tsc::begin();
  free(s.p);
  const uint64_t t1 = tsc::end();
  t.hist[static_cast<int>(OpKind::kFree)].record(t1 - t0);
  ++t.phase_ops;
  t.phase_cycles += t1 - t0;
  add_live(-static_cast<int64_t>(s.size), -static_cast<int64_t>(s.usable), -1, t1);
  s.p = nullptr;
  s.size = s.usable = 0;
}

void Executor::do_realloc(Thread& t, const Op& op) noexcept {
  Slot& s = slots_[op.id];
  if (config_.verify && s.p) check(s, op.id, s.size, "realloc");
  const uint64_t t0 = tsc::begin();
  void* p = realloc(s.p, op.size);
  const uint64_t t1 = tsc::end();
  t.hist[static_cast<int>(OpKind::kRealloc)].record(t1 - t0);
  ++t.phase_ops;
  t.phase_cycles += t1 - t0;
  g_sink = p;
  if (!p) {
    ++t.failed_allocs;  // the old block stays valid and live
    return;
  }
  const uint64_t old_size = s.p ? s.size : 0;
  const uint64_t usable = hooks_.usable_size ? hooks_.usable_size(p) : 0;
  const int64_t d_usable = static_cast<int64_t>(usable) - static_cast<int64_t>(s.p ? s.usable : 0);
  const int64_t d_blocks = s.p ? 0 : 1;
  s.p = p;
  s.size = op.size;
  s.usable = usable;
  s.site = op.site;
  s.born_ms = op.born_ms;
  if (config_.verify && old_size)
    check(s, op.id, old_size < op.size ? old_size : op.size, "use after realloc (contents not preserved)");
  prepare(p, op.id, old_size, op.size);  // only the grown part is new
  add_live(static_cast<int64_t>(op.size) - static_cast<int64_t>(old_size), d_usable, d_blocks, t1);
}

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

// How long a wait op may last. A fixed one: its own length. One that waits
// for the memory to come back: for activity, the allocator's return horizon
// plus a margin (its decay curve must have run out, so a slow start is not
// judged "retained"); for idle, the same where a background thread returns
// memory, else its own length (an idle process gets nothing back otherwise).
uint64_t Executor::wait_plan_ms(const Op& op, const workloads::WaitSpec& w) const noexcept {
  if (!(op.flags & workloads::kUntilReturned)) return op.size;
  if (op.kind == OpKind::kIdle && !horizon_.background) return std::min(op.size, w.max_ms);
  if (horizon_.ms == UINT64_MAX) return w.max_ms;
  const uint64_t margin = std::max<uint64_t>(1000, horizon_.ms / 5);
  return std::min(w.max_ms, horizon_.ms + margin);
}

// One millisecond of activity: `activity_rate` calls, each on a random slot of
// the working set, freeing its block if it is live, else allocating one of a
// log-uniform size (every small size class gets traffic, as in a program).
void Executor::activity_step(Thread& t, const workloads::WaitSpec& w) noexcept {
  const uint32_t slots = std::min(w.activity_slots, workloads::kMaxActivitySlots);
  const double span = std::log(static_cast<double>(w.activity_max) / static_cast<double>(w.activity_min));
  for (uint32_t i = 0; i < w.activity_rate; ++i) {
    const uint64_t r = workloads::splitmix64(t.act_rng);
    const uint32_t k = static_cast<uint32_t>(r % slots);
    if (t.act_ptr[k]) {
      free(t.act_ptr[k]);
      add_live(-static_cast<int64_t>(t.act_size[k]), 0, -1, 0);
      activity_live_.fetch_sub(t.act_size[k], std::memory_order_relaxed);
      t.act_ptr[k] = nullptr;
      continue;
    }
    const double u = static_cast<double>(r >> 11) * 0x1.0p-53;
    const uint64_t size = static_cast<uint64_t>(static_cast<double>(w.activity_min) * std::exp(u * span));
    void* p = malloc(size);
    g_sink = p;
    if (!p) continue;
    static_cast<volatile unsigned char*>(p)[0] = 1;  // a program writes what it allocates
    t.act_ptr[k] = p;
    t.act_size[k] = size;
    const uint64_t live = activity_live_.fetch_add(size, std::memory_order_relaxed) + size;
    add_live(static_cast<int64_t>(size), 0, 1, 0);
    uint64_t peak = activity_peak_live_.load(std::memory_order_relaxed);
    while (live > peak && !activity_peak_live_.compare_exchange_weak(peak, live)) {
    }
  }
  activity_ops_.fetch_add(w.activity_rate, std::memory_order_relaxed);
}

void Executor::activity_drain(Thread& t) noexcept {
  const uint32_t slots = std::min(t.program->wait_spec().activity_slots, workloads::kMaxActivitySlots);
  for (uint32_t k = 0; k < slots; ++k)
    if (t.act_ptr[k]) {
      free(t.act_ptr[k]);
      add_live(-static_cast<int64_t>(t.act_size[k]), 0, -1, 0);
      activity_live_.fetch_sub(t.act_size[k], std::memory_order_relaxed);
      t.act_ptr[k] = nullptr;
    }
}

// The watcher's RSS check: notes when 3/4 of the returnable memory is back and
// says whether the wait may end (RSS back at the live level, MADV_FREE'd pages
// counted as back). smaps_rollup, not statm, for LazyFree; nothing is timed here.
bool Executor::watch(uint64_t now) noexcept {
  metrics::procfs::SmapsRollup s;
  if (!metrics::procfs::read_smaps_rollup("/proc/self/smaps_rollup", s)) return false;
  const double r = static_cast<double>(static_cast<int64_t>(s.anonymous) - static_cast<int64_t>(r0_));
  const double live = static_cast<double>(live_.load(std::memory_order_relaxed));
  const double peak = static_cast<double>(max_phase_r_);
  const auto real = metrics::returned_share(peak, r, live);
  if (!real) return true;  // nothing worth waiting for
  if (*real >= metrics::kReturnedShare && returned_t_ns_.load(std::memory_order_relaxed) == 0)
    returned_t_ns_.store(now, std::memory_order_relaxed);
  const auto back = metrics::returned_share(peak, r - static_cast<double>(s.lazy_free), live);
  return back && *back >= metrics::kBackShare;
}

void Executor::wait(Thread& t, const Op& op) noexcept {
  const workloads::WaitSpec& w = t.program->wait_spec();
  const bool active = op.kind == OpKind::kActivity;
  const bool until_returned = op.flags & workloads::kUntilReturned;
  const uint64_t plan = wait_plan_ms(op, w);
  const uint64_t start = tsc::monotonic_ns(), deadline = start + plan * 1'000'000;
  const auto kind = static_cast<uint8_t>(active ? WaitKind::kActivity : WaitKind::kIdle);
  for (uint8_t k = wait_kind_.load(); k < kind && !wait_kind_.compare_exchange_weak(k, kind);) {
  }
  // The first thread to wait in this phase watches RSS for every waiting thread.
  uint32_t expected = watcher_phase_.load();
  const bool watcher =
      until_returned && expected != phase_ + 1 && watcher_phase_.compare_exchange_strong(expected, phase_ + 1);
  if (watcher || !until_returned) wait_planned_ms_.store(plan, std::memory_order_relaxed);
  // Why it ends if it runs its course: its own length, the horizon, or the maximum.
  const bool fixed = !until_returned || (!active && !horizon_.background);
  WaitStop stop = fixed ? WaitStop::kFixed : plan == w.max_ms ? WaitStop::kMax : WaitStop::kHorizon;
  constexpr uint64_t kCheckNs = 50'000'000;
  uint64_t next_check = start, tick = start;
  for (uint64_t now = start; now < deadline; now = tsc::monotonic_ns()) {
    if (until_returned && now >= next_check) {
      next_check = now + kCheckNs;
      if (watcher && watch(now)) wait_done_.store(true, std::memory_order_relaxed);
      if (wait_done_.load(std::memory_order_relaxed)) {
        stop = WaitStop::kReturned;
        break;
      }
    }
    uint64_t wake;
    if (active) {
      activity_step(t, w);
      tick = std::max(tick + 1'000'000, now);  // a millisecond grid; no burst after falling behind
      wake = tick;
    } else {
      wake = until_returned ? next_check : deadline;
    }
    wake = std::min(wake, deadline);
    const timespec ts{static_cast<time_t>(wake / 1'000'000'000), static_cast<long>(wake % 1'000'000'000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
  if (active) activity_drain(t);
  if (watcher) wait_stop_.store(static_cast<uint8_t>(stop), std::memory_order_relaxed);
  else if (!until_returned && wait_stop_.load(std::memory_order_relaxed) == 0)
    wait_stop_.store(static_cast<uint8_t>(WaitStop::kFixed), std::memory_order_relaxed);
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

// Every op, timed or not: the checksum and the counts.
void Executor::account(Thread& t, const Op& op, bool exact) noexcept {
  if (exact) t.checksum.add(op);
  else if (op.kind != OpKind::kPhase) t.checksum.add(Op{op.kind, op.align_log2, op.flags, 0, op.size});
  ++t.program_ops;
  ++t.ops[static_cast<int>(op.kind)];
}

namespace {
bool is_call(OpKind k) noexcept { return k == OpKind::kAlloc || k == OpKind::kFree || k == OpKind::kRealloc; }
}  // namespace

// --timing batch: the allocator calls among ops[first..n), up to batch_calls
// of them in a row, run back to back between one unfenced timestamp pair (a
// benchmark loop's timing: the calls overlap in the pipeline as they would in
// a program). The window holds the calls and the pointers they return or
// take, nothing else; live bytes, usable sizes and touching the memory are
// worked out after it from those pointers. Returns the index of the first op
// after the batch.
size_t Executor::run_batch(Thread& t, const Op* ops, size_t first, size_t n) noexcept {
  const bool exact = t.program->checksum_exact();
  size_t end = first;
  while (end < n && end - first < config_.batch_calls && is_call(ops[end].kind)) account(t, ops[end++], exact);
  const uint32_t calls = static_cast<uint32_t>(end - first);
  void** got = t.batch_ptr;  // alloc, realloc: the new block (null: failed); free: the block freed (null: none)
  void** old = t.batch_old;  // realloc: the block it was given
  // The block the previous call made stays in a register: a free of it (the
  // malloc+free pair) does not wait for its pointer to come back from the
  // slot through memory, as a loop's own `free(p)` would not.
  uint32_t last_id = UINT32_MAX;
  void* last_p = nullptr;
  // Locals, not members, in the window: the allocator is an opaque call that
  // could change any member, so each would be loaded again after every call.
  Slot* const slots = slots_;
  const Op* const op_end = ops + end;
  void** g = got;
  void** o = old;
  const uint64_t t0 = __rdtsc();
  for (const Op* op = ops + first; op != op_end; ++op, ++g, ++o) {
    switch (op->kind) {
      case OpKind::kAlloc: {
        void* p;
        if (op->align_log2 == 0) p = malloc(op->size);
        else if (posix_memalign(&p, size_t{1} << op->align_log2, op->size) != 0) p = nullptr;
        slots[op->id].p = *g = last_p = p;
        last_id = op->id;
        break;
      }
      case OpKind::kFree: {
        Slot& s = slots[op->id];
        void* p = op->id == last_id ? last_p : s.p;
        *g = p;
        s.p = nullptr;  // before the call: the slot's address need not survive it
        free(p);        // free(NULL) when its allocation failed: nothing
        last_id = UINT32_MAX;
        break;
      }
      default: {
        Slot& s = slots[op->id];
        void* q = realloc(*o = s.p, op->size);
        *g = q;
        if (q) s.p = q;  // else the old block stays valid and live
        last_id = UINT32_MAX;
        break;
      }
    }
  }
  const uint64_t t1 = __rdtsc();
  const uint64_t cycles = t1 - t0;
  t.batch_calls += calls;
  t.batch_cycles += cycles;
  t.phase_ops += calls;
  t.phase_cycles += cycles;
  if (config_.tsc_hz > 0)
    t.hist[workloads::kOpKinds].record(
        static_cast<uint64_t>(static_cast<double>(cycles) * 1e12 / config_.tsc_hz / calls));
  // The sizes, in call order: a slot's size and usable size stay as they were
  // before the batch until a call of the batch changes them.
  int64_t live_delta = 0, usable_delta = 0, blocks_delta = 0;
  for (size_t i = first; i < end; ++i) {
    const Op& op = ops[i];
    Slot& s = slots_[op.id];
    void* p = got[i - first];
    if (op.kind == OpKind::kAlloc) {
      if (!p) {
        ++t.failed_allocs;
        continue;
      }
      live_delta += static_cast<int64_t>(op.size);
      ++blocks_delta;
      s.size = op.size;
      s.usable = 0;  // until settled below
    } else if (op.kind == OpKind::kFree) {
      if (!p) continue;
      live_delta -= static_cast<int64_t>(s.size);
      usable_delta -= static_cast<int64_t>(s.usable);
      --blocks_delta;
      s.size = s.usable = 0;
    } else if (!p) {
      ++t.failed_allocs;
    } else {
      const bool had = old[i - first] != nullptr;
      live_delta += static_cast<int64_t>(op.size) - static_cast<int64_t>(had ? s.size : 0);
      usable_delta -= static_cast<int64_t>(had ? s.usable : 0);
      blocks_delta += had ? 0 : 1;
      old[i - first] = reinterpret_cast<void*>(had ? s.size : 0);  // now: where the new bytes start
      s.size = op.size;
      s.usable = 0;
    }
  }
  // The blocks still live, from the last call back: a slot is settled by the
  // last call of this batch that names it (the stamp); a live block is sized
  // and touched there. A block freed within its own batch is never touched.
  const uint32_t stamp = ++t.batch_seq * thread_count_ + t.index;  // unique among the threads' batches
  for (size_t i = end; i-- > first;) {
    const Op& op = ops[i];
    Slot& s = slots_[op.id];
    if (s.batch_stamp == stamp) continue;
    s.batch_stamp = stamp;
    if (op.kind == OpKind::kFree || !s.p || got[i - first] != s.p) continue;
    s.usable = hooks_.usable_size ? hooks_.usable_size(s.p) : 0;
    usable_delta += static_cast<int64_t>(s.usable);
    s.site = op.site;
    s.born_ms = op.born_ms;
    prepare(s.p, op.id, op.kind == OpKind::kRealloc ? reinterpret_cast<uintptr_t>(old[i - first]) : 0, s.size);
  }
  add_live(live_delta, usable_delta, blocks_delta, t1);
  return end;
}

void Executor::run_thread(Thread& t) noexcept {
  current_cpus(t.affinity, sizeof t.affinity);
  const bool exact = t.program->checksum_exact();
  for (;;) {
    const size_t n = t.program->next(t.buffer, kChunkOps);
    if (n == 0) break;
    for (size_t i = 0; i < n; ++i) {
      const Op& op = t.buffer[i];
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
          } else {  // a program's own gap (packets, a recorded trace): just the time
            const timespec ts{static_cast<time_t>(op.size / 1000), static_cast<long>(op.size % 1000) * 1'000'000};
            nanosleep(&ts, nullptr);
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

bool Executor::finish() noexcept {
  workloads::Checksum all;
  for (int k = 0; k <= workloads::kOpKinds; ++k) merged_[k].clear();
  for (uint32_t i = 0; i < thread_count_; ++i) {
    const Thread& t = threads_[i];
    for (int k = 0; k < workloads::kOpKinds; ++k) {
      merged_[k].merge(t.hist[k]);
      result_.ops[k] += t.ops[k];
    }
    merged_[workloads::kOpKinds].merge(t.hist[workloads::kOpKinds]);
    result_.batch_calls += t.batch_calls;
    result_.batch_cycles += t.batch_cycles;
    result_.program_ops += t.program_ops;
    result_.failed_allocs += t.failed_allocs;
    // A program of several threads is identified by its per-thread checksums, in order.
    all.add(Op{OpKind::kPhase, 0, 0, i, t.checksum.h});
  }
  result_.checksum = thread_count_ == 1 ? threads_[0].checksum.h : all.h;
  ThreadsMsg& tm = *threads_msg_;
  tm.count = std::min<uint32_t>(thread_count_, ThreadsMsg::kMax);
  for (uint32_t i = 0; i < tm.count; ++i) {
    std::snprintf(tm.threads[i].affinity, sizeof tm.threads[i].affinity, "%s", threads_[i].affinity);
    format_cpus(threads_[i].ran_on, tm.threads[i].ran_on, sizeof tm.threads[i].ran_on);
  }
  if (!write_message(config_.event_fd, MsgType::kThreads, &tm, sizeof tm)) return false;
  for (int k = 0; k <= workloads::kOpKinds; ++k) {  // the op kinds', then the batch histogram
    const metrics::Histogram& h = merged_[k];
    if (h.total == 0) continue;
    auto* head = reinterpret_cast<HistogramHead*>(hist_wire_);
    auto* buckets = reinterpret_cast<BucketCount*>(hist_wire_ + sizeof(HistogramHead));
    *head = HistogramHead{static_cast<uint32_t>(k), 0, h.total, h.min, h.max, h.sum};
    for (size_t b = 0; b < metrics::Histogram::kBuckets; ++b)
      if (h.counts[b]) buckets[head->buckets++] = BucketCount{static_cast<uint32_t>(b), 0, h.counts[b]};
    const size_t len = sizeof(HistogramHead) + head->buckets * sizeof(BucketCount);
    if (!write_message(config_.event_fd, MsgType::kHistogram, hist_wire_, len)) return false;
  }
  result_.live_end = static_cast<uint64_t>(live_.load());
  result_.live_peak = peak_.load();
  result_.live_usable_at_peak = peak_usable_;
  result_.live_peak_t_ns = peak_tsc_ ? tsc_to_ns(peak_tsc_) : 0;
  read_final_figures(result_);
  return write_message(config_.event_fd, MsgType::kResult, &result_, sizeof result_);
}

}  // namespace heapmark::cell
