// Turns one cell's plan and what the cell and the runner measured into its
// CellResult (every derived figure computed here, once), and the short row
// `heapmark run` prints for it.
#pragma once
#include <string>

#include "harness/metrics/perf.h"
#include "harness/results/cell_result.h"
#include "harness/runner/matrix.h"
#include "harness/runner/supervise.h"

namespace heapmark::runner {

// The plan's part of a result (who, what, which repetition, when).
results::CellResult planned_result(const CellPlan& plan, const std::string& started_at);
results::CellResult cell_result(const CellPlan& plan, const CellOutcome& out, const std::string& started_at,
                                double sample_hz);

// The event counters of a cell, summed over its phases: per event its total
// and count per 1k allocator calls (calls 0: unknown, a real program's), or
// why it is unavailable; IPC where cycles and instructions both counted.
results::Counters counter_summary(const metrics::perf::Availability* avail, const double* totals, bool multiplexed,
                                  uint64_t calls);

// The headline figures of a result, for the terminal table (NaN: undefined).
struct Headline {
  bool ok = false;
  std::string cause;
  double ops_per_s = 0, alloc_p50_ns = 0, alloc_p99_ns = 0,
         free_p50_ns = 0;  // --timing batch: alloc_p50/p99 hold ns per call over batches
  double peak_r_mib = 0, live_peak_mib = 0, after_free_mib = 0, returned = 0, f4 = 0;
};
Headline headline(const results::CellResult& r);

}  // namespace heapmark::runner
