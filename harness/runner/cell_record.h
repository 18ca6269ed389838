// Turns one cell's plan and outcome into its self-describing cells.jsonl
// object (every field documented in results/SCHEMA.md), and the short row
// `heapmark run` prints for it.
#pragma once
#include <boost/json/object.hpp>
#include <string>

#include "harness/runner/matrix.h"
#include "harness/runner/supervise.h"

namespace heapmark::runner {

struct RunOptions;

boost::json::object cell_record(const CellPlan& plan, const CellOutcome& out, const std::string& started_at,
                                double sample_hz);

// Headline figures pulled back out of a record, for the terminal table.
struct Headline {
  bool ok = false;
  std::string cause;
  double ops_per_s = 0, alloc_p50_ns = 0, alloc_p99_ns = 0, free_p50_ns = 0;
  double peak_r_mib = 0, live_peak_mib = 0, after_free_mib = 0, returned = 0, f4 = 0;
};
Headline headline(const boost::json::object& record);

}  // namespace heapmark::runner
