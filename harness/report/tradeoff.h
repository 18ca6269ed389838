// Release schedules side by side. In a run with the release-schedule axis
// (params.release_every), per workload (its other parameters the same), each
// allocator's intervals as points: time-averaged R (a program: anonymous RSS)
// against what they cost (user+sys CPU; also minor faults, the time inside the
// release calls, malloc's p99 or the program's own metric). A point is on the
// Pareto front when no other point of the workload, any allocator's, has both
// less average R and less CPU. Per allocator, the interval that bought the
// most average R per CPU second it added to the `off` cell, counting savings
// of 5 % or more and charging a CPU change below 5 % as 5 % (repetitions
// differ by that much). Nothing for a run without the axis.
#pragma once
#include <string>
#include <vector>

#include "harness/report/document.h"
#include "harness/report/results.h"

namespace heapmark::report {

struct TradeoffPoint {
  std::string allocator, every;  // every: params.release_every as given ("off", "10ms")
  double every_ms = 0;           // 0: off
  int reps = 0;                  // ok repetitions; the figures are their medians
  double avg_r = 0, cpu_s = 0, faults = 0, release_ms = 0;
  std::optional<double> cost;  // malloc p99 (ns) for a generator, the program's metric for a program
  bool pareto = false;
};

struct TradeoffGroup {
  std::string workload, label;  // label: workload plus its other parameters
  bool program = false;
  std::string cost_name;              // "alloc p99 (ns)" or the program's metric name
  std::vector<TradeoffPoint> points;  // by allocator in run order, then from off to the shortest interval
};

std::vector<TradeoffGroup> tradeoff_groups(const Run& run);
// Per allocator of a group: which interval bought the most average R per CPU second, in a sentence.
std::vector<std::string> best_buys(const TradeoffGroup& g);
// The section, for the groups tradeoff_groups(run) gave (nothing when there are none).
void add_tradeoff_section(Document& d, const Run& run, const std::vector<TradeoffGroup>& groups);

}  // namespace heapmark::report
