// AnonHugePages along a cell's timeline, beside the 1 kHz statm samples. Only
// smaps_rollup has the figure, and reading it walks the process's page tables
// under its mmap lock: measured here (Linux 6.1), 0.9 ms for 64 MiB and 8.2 ms
// for 512 MiB of small pages, 38-79 us when they are huge; statm takes 9 us.
// So it is read at a rate of its own: at most every `min_interval_ns`, and no
// more often than keeps the reads under `max_duty` of the elapsed time (the
// next read waits read_time / max_duty). What the reads cost is recorded with
// them. Taken only in runs with the --thp axis.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "harness/results/cell_result.h"

namespace heapmark::runner {

// The shortest interval between reads in a cell of the --thp axis: 10 Hz.
inline constexpr uint64_t kHugePageEveryNs = 100'000'000;

struct HugePageSeries {
  double min_interval_ms = 0, max_duty = 0;  // min_interval_ms: the last one (it doubles when the points thin out)
  std::vector<uint64_t> t_ns, bytes;         // parallel: when, and AnonHugePages then
  uint64_t reads = 0, read_ns_total = 0, read_ns_max = 0;
};

class HugePageSampler {
 public:
  // Off until started.
  void start(pid_t pid, uint64_t min_interval_ns, double max_duty = 0.02, size_t max_points = 2000);
  // Reads smaps_rollup when the next read is due.
  void poll(uint64_t now_ns);
  bool on() const { return !path_.empty(); }
  const HugePageSeries& series() const { return series_; }

 private:
  std::string path_;
  uint64_t min_interval_ns_ = 0, next_ns_ = 0;
  size_t max_points_ = 2000;
  HugePageSeries series_;
};

// The series as a cell stores it, times relative to t0_ns.
results::HugePageTimeline huge_page_timeline(const HugePageSeries& s, uint64_t t0_ns);

}  // namespace heapmark::runner
