#include "harness/runner/huge_pages.h"

#include <algorithm>

#include "harness/metrics/procfs.h"
#include "harness/metrics/tsc.h"

namespace heapmark::runner {

void HugePageSampler::start(pid_t pid, uint64_t min_interval_ns, double max_duty, size_t max_points) {
  path_ = "/proc/" + std::to_string(pid) + "/smaps_rollup";
  min_interval_ns_ = min_interval_ns;
  max_points_ = std::max<size_t>(max_points, 4);
  series_ = HugePageSeries{};
  series_.min_interval_ms = static_cast<double>(min_interval_ns) * 1e-6;
  series_.max_duty = max_duty;
  next_ns_ = 0;
}

void HugePageSampler::poll(uint64_t now_ns) {
  if (path_.empty() || now_ns < next_ns_) return;
  metrics::procfs::SmapsRollup s;
  const uint64_t t0 = metrics::tsc::monotonic_ns();
  const bool read = metrics::procfs::read_smaps_rollup(path_.c_str(), s);
  const uint64_t took = metrics::tsc::monotonic_ns() - t0;
  if (!read || s.rss == 0) return;  // gone, or a zombie: nothing to add
  ++series_.reads;
  series_.read_ns_total += took;
  series_.read_ns_max = std::max(series_.read_ns_max, took);
  series_.t_ns.push_back(t0);
  series_.bytes.push_back(s.anon_huge_pages);
  if (series_.t_ns.size() > max_points_) {  // keep every other point and read half as often from here on
    size_t kept = 0;
    for (size_t i = 0; i < series_.t_ns.size(); i += 2, ++kept) {
      series_.t_ns[kept] = series_.t_ns[i];
      series_.bytes[kept] = series_.bytes[i];
    }
    series_.t_ns.resize(kept);
    series_.bytes.resize(kept);
    min_interval_ns_ *= 2;
    series_.min_interval_ms = static_cast<double>(min_interval_ns_) * 1e-6;
  }
  const auto duty_wait = static_cast<uint64_t>(static_cast<double>(took) / series_.max_duty);
  next_ns_ = t0 + std::max(min_interval_ns_, duty_wait);
}

results::HugePageTimeline huge_page_timeline(const HugePageSeries& s, uint64_t t0_ns) {
  results::HugePageTimeline h;
  h.min_interval_ms = s.min_interval_ms;
  h.max_duty = s.max_duty;
  h.reads = s.reads;
  h.read_us_mean = s.reads ? static_cast<double>(s.read_ns_total) * 1e-3 / static_cast<double>(s.reads) : 0;
  h.read_us_max = static_cast<double>(s.read_ns_max) * 1e-3;
  for (size_t i = 0; i < s.t_ns.size(); ++i) {
    h.t_s.push_back((static_cast<double>(s.t_ns[i]) - static_cast<double>(t0_ns)) * 1e-9);
    h.bytes.push_back(static_cast<double>(s.bytes[i]));
  }
  return h;
}

}  // namespace heapmark::runner
