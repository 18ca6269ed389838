// The executor's report at the end of a cell: histograms merged over threads,
// the program's checksum, where each thread ran, and the final Result with the
// cell's own rusage and VmHWM (read by the cell itself: a zombie's /proc is
// empty).
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>

#include "harness/cell/executor.h"
#include "harness/cell/placement.h"
#include "harness/metrics/procfs.h"

namespace heapmark::cell {

using workloads::Op;
using workloads::OpKind;

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
    result_.scheduled_releases += t.releases;
    result_.scheduled_release_cycles += t.release_cycles;
    result_.scheduled_release_max_cycles = std::max(result_.scheduled_release_max_cycles, t.release_max);
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
