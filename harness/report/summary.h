// The report's data model, computed from a Run and free of any layout: groups
// (a workload with one parameter set), per-figure medians, ranks and ratios to
// the baseline allocator, and per-group details the charts draw.
#pragma once
#include <array>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/report/figures.h"
#include "harness/report/results.h"
#include "harness/report/stats.h"

namespace heapmark::report {

// One workload with one complete parameter set.
struct Group {
  std::string workload, params_id;
  std::map<std::string, std::string> params;
  std::string label;  // workload plus only the parameters that vary within the run, e.g. "churn order=random"
  std::string id;     // safe for an HTML anchor
  // A real program's group (program cells): its figures are program_figures().
  bool program = false;
  std::string metric_name;  // the program's own figure, if its suite entry declares one
  bool metric_higher_is_better = true;
};

// One figure of one allocator in one group, over the ok repetitions.
struct FigureSummary {
  std::vector<double> values;  // one per ok repetition that reported the figure
  double median = 0;
  bool noisy = false;
  // Versus the baseline: the median of the within-block ratios (or
  // differences), with a 95% percentile-bootstrap interval over the blocks.
  std::optional<stats::Estimate> vs_baseline;
  int rank = 0;    // 1 = best among allocators with a value; 0 = no value
  int ranked = 0;  // how many allocators were ranked
  bool present() const { return !values.empty(); }
};

struct Matrix {
  std::vector<Group> groups;
  std::vector<std::string> allocators;
  std::string baseline;
  std::vector<Figure> figures;
  std::vector<std::vector<std::vector<FigureSummary>>> at;  // [figure][group][allocator]
};

// The groups of one kind: generator workloads (programs = false) or real programs.
Matrix summarize(const Run& run, const std::vector<Figure>& figures, bool programs = false);

// Groups in order of first appearance; cells of a group share workload and params_id.
std::vector<Group> groups_of(const Run& run);

// What the per-group charts draw for one allocator.
struct AllocatorDetail {
  std::string allocator;
  const Cell* representative = nullptr;  // the ok repetition with the median peak R (timeline and phase bars)
  int ok_reps = 0, failed_reps = 0;
  // per op type: medians over ok repetitions of p50, p90, p99, p99.9, max (ns)
  std::map<std::string, std::array<double, 5>> latency;
};
inline constexpr std::array<double results::Latency::*, 5> kPercentiles = {
    &results::Latency::p50, &results::Latency::p90, &results::Latency::p99, &results::Latency::p999,
    &results::Latency::max};
inline constexpr std::array<const char*, 5> kPercentileLabels = {"p50", "p90", "p99", "p99.9", "max"};
// AllocatorDetail::latency's entry for --timing batch: ns per call of each
// batch of consecutive calls, its percentiles over the batches.
inline constexpr const char* kBatchOp = "batch";

std::vector<AllocatorDetail> group_details(const Run& run, const Group& g, const std::vector<std::string>& allocators);

// The run's context as label/value pairs (machine, kernel, THP, TSC, build, command line).
std::vector<std::pair<std::string, std::string>> run_context(const Run& run);
// Per allocator: version, library, environment, identity proof.
struct AllocatorInfo {
  std::string name, kind, version, library, env, identity;
};
std::vector<AllocatorInfo> allocator_infos(const Run& run);

}  // namespace heapmark::report
