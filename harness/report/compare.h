// heapmark compare: matches the cells of two runs by workload, parameters and
// allocator and, for each figure, estimates b relative to a from the
// repetitions with a bootstrap interval, then says better, worse or same.
#pragma once
#include <boost/json/object.hpp>
#include <map>
#include <string>
#include <vector>

#include "common/exit_status.h"
#include "harness/report/figures.h"
#include "harness/report/results.h"
#include "harness/report/stats.h"

namespace heapmark::report {

enum class Verdict { kSame, kBetter, kWorse, kUnknown };

struct CompareRow {
  std::string workload, params_id, label, allocator;
  std::map<std::string, std::string> params;  // every parameter of the matched cells
  Figure figure{};
  std::vector<double> a, b;  // values of the ok repetitions
  double a_median = 0, b_median = 0;
  stats::Estimate change;  // median(b)/median(a), or median(b) - median(a) for difference-scale figures
  Verdict verdict = Verdict::kUnknown;
  bool higher_is_better = true;  // the direction judged by (a program's own metric declares it)
  double worse_by =
      0;  // how much worse b is: percent (ratio scale) or percentage points (difference scale); < 0 = better
  std::string verdict_text() const;
};

struct Comparison {
  std::string a_dir, b_dir, a_id, b_id;
  std::vector<CompareRow> rows;
  std::vector<std::string> only_in_a, only_in_b;  // "label / allocator" present in one run only
  std::vector<std::string> warnings;              // e.g. different programs for the same parameters
};

Comparison compare_runs(const Run& a, const Run& b, const std::vector<Figure>& figures);

// Rows that got worse (interval excludes "same") by more than pct percent, or
// pct percentage points for difference-scale figures.
std::vector<const CompareRow*> regressions(const Comparison& c, double pct);

// What compare exits with: kExitRegression when fail_pct >= 0 and regressions(c, fail_pct)
// is not empty, else 0 (fail_pct < 0: no --fail-on-regression).
int compare_exit_status(const Comparison& c, double fail_pct);

// How the interval is computed, one sentence for every output.
std::string compare_method_text();

std::string compare_text(const Comparison& c);  // terminal table
std::string compare_markdown(const Comparison& c);
std::string compare_html(const Comparison& c);
// `compare --format json` (results/SCHEMA.md, "heapmark compare --format json"):
// every row's identity, both sides' values and medians, the change with its
// interval and verdict, the overall verdict and the exit status for fail_pct.
boost::json::object compare_json(const Comparison& c, double fail_pct);

}  // namespace heapmark::report
