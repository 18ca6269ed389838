// A run's figures as an OpenMetrics text exposition (the Prometheus text
// format with units and "# EOF"), for a Grafana or Prometheus workflow: one
// gauge family per figure, one sample per ok cell, labelled with its
// allocator, workload, parameters and repetition; the phase figures (R, live,
// free resident, RSS, huge pages) carry the phase too. Values are the cells'
// own, in base units (bytes, seconds, ratios). The families are described in
// docs/openmetrics.md; `promtool check metrics` accepts the text.
#pragma once
#include <string>

#include "harness/report/results.h"

namespace heapmark::report {

std::string openmetrics_exposition(const Run& run);

}  // namespace heapmark::report
