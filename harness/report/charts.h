// Which charts the report draws for one group (workload + parameters) and from
// which data: builds svg:: chart models from the report model, then renders.
#pragma once
#include <string>
#include <vector>

#include "harness/report/summary.h"

namespace heapmark::report {

// Points kept per drawn timeline series: keeps a report of hundreds of cells
// under a few MiB while min/max decimation keeps every peak visible.
inline constexpr size_t kMaxPointsPerSeries = 300;

// R(t) and live bytes over time for every allocator's representative repetition, phase bands shaded.
std::string rss_timeline_chart(const Group& g, const std::vector<AllocatorDetail>& details,
                               const std::vector<std::string>& allocators, const std::string& baseline);
// Latency percentiles for one op type, one line per allocator, log axis.
std::string latency_chart(const Group& g, const std::vector<AllocatorDetail>& details,
                          const std::vector<std::string>& allocators, const std::string& op);
// R at each phase end split into live / rest of R / LazyFree, one bar per allocator, grouped by phase.
std::string phase_bars_chart(const Group& g, const std::vector<AllocatorDetail>& details,
                             const std::vector<std::string>& allocators);

}  // namespace heapmark::report
