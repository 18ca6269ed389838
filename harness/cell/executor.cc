#include "harness/cell/executor.h"

#include <malloc.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <cstring>

#include "harness/metrics/procfs.h"
#include "harness/metrics/tsc.h"

namespace heapmark::cell {

using workloads::Op;
using workloads::OpKind;
namespace tsc = metrics::tsc;

namespace {
constexpr size_t kChunkOps = 4096;  // 64 KiB of ops per refill
constexpr uint64_t kPage = 4096;

// The compiler may not delete an allocation whose pointer reaches this.
void* volatile g_sink;
}  // namespace

Executor::Executor(const ExecutorConfig& config, const registry::Hooks& hooks, workloads::Program& program,
                   workloads::Scratch& scratch)
    : config_(config), hooks_(hooks), program_(program) {
  slot_count_ = program.max_ids();
  slots_ = scratch.array<Slot>(slot_count_);
  hist_ = scratch.array<metrics::Histogram>(workloads::kOpKinds);
  for (int k = 0; k < workloads::kOpKinds; ++k) hist_[k].clear();
  buffer_ = scratch.array<Op>(kChunkOps);
  buffer_cap_ = kChunkOps;
  hist_wire_ = scratch.array<unsigned char>(sizeof(HistogramHead) + metrics::Histogram::kBuckets * sizeof(BucketCount));
  tsc_anchor_ = tsc::begin();
  ns_anchor_ = tsc::monotonic_ns();
}

uint64_t Executor::tsc_to_ns(uint64_t t) const noexcept {
  if (config_.tsc_hz <= 0) return ns_anchor_;
  return ns_anchor_ + static_cast<uint64_t>(static_cast<double>(t - tsc_anchor_) * 1e9 / config_.tsc_hz);
}

void Executor::touch(void* p, uint64_t from, uint64_t to) const noexcept {
  if (to <= from) return;
  auto* b = static_cast<volatile char*>(p);
  switch (config_.touch) {
    case Touch::kNone:
      return;
    case Touch::kFull:
      std::memset(static_cast<char*>(p) + from, 0xa5, to - from);
      return;
    case Touch::kPages:
      // One write per page the range covers, so RSS reflects the block's size.
      for (uint64_t off = from; off < to; off += kPage) b[off] = 1;
      b[to - 1] = 1;
      return;
  }
}

void Executor::note_live(uint64_t tsc_now) noexcept {
  if (live_ > result_.live_peak) {
    result_.live_peak = live_;
    result_.live_usable_at_peak = live_usable_;
    peak_tsc_ = tsc_now;
  }
  if (config_.shared) {
    config_.shared->live_bytes.store(live_, std::memory_order_relaxed);
    config_.shared->ops.store(result_.program_ops, std::memory_order_relaxed);
  }
}

void Executor::do_alloc(const Op& op) noexcept {
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
  hist_[static_cast<int>(OpKind::kAlloc)].record(t1 - t0);
  ++phase_ops_;
  phase_cycles_ += t1 - t0;
  g_sink = p;
  if (!p) {
    ++result_.failed_allocs;
    s = Slot{nullptr, 0, 0};
    return;
  }
  const uint64_t usable = hooks_.usable_size ? hooks_.usable_size(p) : 0;
  s = Slot{p, op.size, usable};
  touch(p, 0, op.size);
  live_ += op.size;
  live_usable_ += usable;
  ++live_blocks_;
  note_live(t1);
}

void Executor::do_free(const Op& op) noexcept {
  Slot& s = slots_[op.id];
  if (!s.p) return;  // its allocation failed
  const uint64_t t0 = tsc::begin();
  free(s.p);
  const uint64_t t1 = tsc::end();
  hist_[static_cast<int>(OpKind::kFree)].record(t1 - t0);
  ++phase_ops_;
  phase_cycles_ += t1 - t0;
  live_ -= s.size;
  live_usable_ -= s.usable;
  --live_blocks_;
  s = Slot{nullptr, 0, 0};
  note_live(t1);
}

void Executor::do_realloc(const Op& op) noexcept {
  Slot& s = slots_[op.id];
  const uint64_t t0 = tsc::begin();
  void* p = realloc(s.p, op.size);
  const uint64_t t1 = tsc::end();
  hist_[static_cast<int>(OpKind::kRealloc)].record(t1 - t0);
  ++phase_ops_;
  phase_cycles_ += t1 - t0;
  g_sink = p;
  if (!p) {
    ++result_.failed_allocs;  // the old block stays valid and live
    return;
  }
  if (s.p) {
    live_ -= s.size;
    live_usable_ -= s.usable;
    --live_blocks_;
  }
  const uint64_t usable = hooks_.usable_size ? hooks_.usable_size(p) : 0;
  touch(p, s.p ? s.size : 0, op.size);  // only the grown part is new
  s = Slot{p, op.size, usable};
  live_ += op.size;
  live_usable_ += usable;
  ++live_blocks_;
  note_live(t1);
}

void Executor::begin_phase(uint32_t index) noexcept {
  phase_ = index;
  phase_open_ = true;
  phase_ops_ = phase_cycles_ = 0;
  PhaseBegin m;
  m.index = index;
  std::strncpy(m.name, program_.phase_name(index), sizeof m.name - 1);
  m.t_ns = tsc::monotonic_ns();
  if (result_.first_t_ns == 0) result_.first_t_ns = m.t_ns;
  if (config_.shared) config_.shared->phase.store(index + 1, std::memory_order_relaxed);
  runner_alive_ = runner_alive_ && write_message(config_.event_fd, MsgType::kPhaseBegin, &m, sizeof m);
}

bool Executor::end_phase() noexcept {
  phase_open_ = false;
  PhaseEnd m;
  m.index = phase_;
  m.t_ns = tsc::monotonic_ns();
  result_.last_t_ns = m.t_ns;
  metrics::procfs::read_smaps_rollup("/proc/self/smaps_rollup", m.smaps);
  m.live_bytes = live_;
  m.live_usable = live_usable_;
  m.live_blocks = live_blocks_;
  m.ops = phase_ops_;
  m.op_cycles = phase_cycles_;
  runner_alive_ = runner_alive_ && write_message(config_.event_fd, MsgType::kPhaseEnd, &m, sizeof m);

  static StatsMsg stats;  // static: 3 KiB is too much for a deep stack, and no heap
  registry::StatItem items[StatsMsg::kMax];
  const size_t n = hooks_.stats(items, StatsMsg::kMax);
  stats.phase_index = phase_;
  stats.count = static_cast<uint32_t>(n);
  for (size_t i = 0; i < n; ++i) {
    std::memset(stats.items[i].name, 0, sizeof stats.items[i].name);
    std::strncpy(stats.items[i].name, items[i].name, sizeof stats.items[i].name - 1);
    stats.items[i].value = items[i].value;
  }
  runner_alive_ = runner_alive_ && write_message(config_.event_fd, MsgType::kStats, &stats, sizeof stats);
  return runner_alive_;
}

bool Executor::run() noexcept {
  for (;;) {
    const size_t n = program_.next(buffer_, buffer_cap_);
    if (n == 0) break;
    for (size_t i = 0; i < n; ++i) {
      const Op& op = buffer_[i];
      checksum_.add(op);
      ++result_.program_ops;
      switch (op.kind) {
        case OpKind::kAlloc:
          do_alloc(op);
          break;
        case OpKind::kFree:
          do_free(op);
          break;
        case OpKind::kRealloc:
          do_realloc(op);
          break;
        case OpKind::kPhase:
          if (phase_open_ && !end_phase()) return false;
          begin_phase(op.id);
          break;
        case OpKind::kIdle: {
          const timespec ts{static_cast<time_t>(op.size / 1000), static_cast<long>(op.size % 1000) * 1'000'000};
          nanosleep(&ts, nullptr);
          break;
        }
      }
      ++result_.ops[static_cast<int>(op.kind)];
    }
  }
  if (phase_open_ && !end_phase()) return false;
  return runner_alive_;
}

bool Executor::finish() noexcept {
  for (int k = 0; k < workloads::kOpKinds; ++k) {
    const metrics::Histogram& h = hist_[k];
    if (h.total == 0) continue;
    auto* head = reinterpret_cast<HistogramHead*>(hist_wire_);
    auto* buckets = reinterpret_cast<BucketCount*>(hist_wire_ + sizeof(HistogramHead));
    *head = HistogramHead{static_cast<uint32_t>(k), 0, h.total, h.min, h.max, h.sum};
    for (size_t b = 0; b < metrics::Histogram::kBuckets; ++b)
      if (h.counts[b]) buckets[head->buckets++] = BucketCount{static_cast<uint32_t>(b), 0, h.counts[b]};
    const size_t len = sizeof(HistogramHead) + head->buckets * sizeof(BucketCount);
    if (!write_message(config_.event_fd, MsgType::kHistogram, hist_wire_, len)) return false;
  }
  result_.checksum = checksum_.h;
  result_.live_end = live_;
  result_.live_peak_t_ns = peak_tsc_ ? tsc_to_ns(peak_tsc_) : 0;
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  result_.utime_us = static_cast<uint64_t>(ru.ru_utime.tv_sec) * 1'000'000 + static_cast<uint64_t>(ru.ru_utime.tv_usec);
  result_.stime_us = static_cast<uint64_t>(ru.ru_stime.tv_sec) * 1'000'000 + static_cast<uint64_t>(ru.ru_stime.tv_usec);
  result_.minflt = static_cast<uint64_t>(ru.ru_minflt);
  result_.majflt = static_cast<uint64_t>(ru.ru_majflt);
  result_.nvcsw = static_cast<uint64_t>(ru.ru_nvcsw);
  result_.nivcsw = static_cast<uint64_t>(ru.ru_nivcsw);
  metrics::procfs::Status st;
  if (metrics::procfs::read_status("/proc/self/status", st)) result_.vm_hwm = st.vm_hwm;
  return write_message(config_.event_fd, MsgType::kResult, &result_, sizeof result_);
}

}  // namespace heapmark::cell
