// A run's figures as an OpenMetrics text exposition (the Prometheus text
// format with units and "# EOF"), for a Grafana or Prometheus workflow: one
// gauge family per figure, one sample per ok cell, labelled with its
// allocator, workload, parameters and repetition; the phase figures (R, live,
// free resident, RSS, huge pages) carry the phase too. Values are the cells'
// own, in base units (bytes, seconds, ratios). The families are described in
// docs/openmetrics.md; `promtool check metrics` accepts the text.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/report/results.h"

namespace heapmark::report {

std::string openmetrics_exposition(const Run& run);

// The text format's parts, for every exposition heapmark writes (a run's, and
// attach --watch's per window).
namespace openmetrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

// One gauge family: its samples as they are added, its metadata once.
struct Gauge {
  std::string name, unit, help;  // unit "" for a count
  std::string samples;
  // `timestamp_s`: seconds since the epoch (OpenMetrics' unit; the Prometheus
  // text format that promtool check metrics reads takes none or milliseconds).
  void add(const Labels& labels, double value, std::optional<double> timestamp_s = std::nullopt);
};

// The families that have samples, in order, then "# EOF".
std::string exposition(const std::vector<Gauge>& gauges);

}  // namespace openmetrics

}  // namespace heapmark::report
