// How far a replay can be trusted: the replay on the allocator the trace was
// recorded under, against the program's own RSS that the trace carries.
//
// The recorded curve is the program's anonymous RSS (statm resident - shared)
// less the recorder's own pages (format 2 counts them in every sample), from
// its first sample (taken before the first allocation); the samples are 10 ms
// apart by default, so at a time between two the recording is known only to
// lie between them, and a replayed figure inside that span differs by 0. The
// replayed curve is the cell's R (anonymous - R0) at the
// recorded time its threads had reached (the timeline's clock_s). Compared at
// the ends of the phases the caller names (diagnose: P and F, the figures the
// verdicts read; replay: its last phase, at the trace's end) and over the run
// up to the last of them. A replay that differs by more than kReplayTolerance at a
// phase end is flagged with its likely causes; between phase ends a compressed
// replay's threads need not keep their recorded pace, so a larger difference
// there is reported (with its causes) but not flagged.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "allocators/registry/registry.h"
#include "harness/cli/trace_summary.h"
#include "harness/report/results.h"
#include "harness/results/diagnose_result.h"

namespace heapmark::cli {

inline constexpr double kReplayTolerance = 0.05;

struct ReplayCheck {
  bool checked = false;
  std::string not_checked;  // why not, when !checked ("the trace does not name its allocator (format 1)")
  std::string allocator;    // the registry's name for the recording's allocator
  int cells = 0;            // replays compared (the one with the median F is shown)
  struct End {
    std::string phase;                        // "P", "F", "end"
    double t_s = 0;                           // recorded time, from the trace's first event
    double recorded_lo = 0, recorded_hi = 0;  // bytes: the samples around t_s
    double replayed = 0;
    double live_recorded = 0, live_replayed = 0;  // the live bytes there: the trace's and the replay's
    double diff() const;                          // replayed less the nearest of the span (0 inside it)
    double diff_pct() const;                      // diff() / recorded_hi
  };
  std::vector<End> ends;
  double run_diff = 0;  // the largest |replayed - recorded| up to F, bytes (signed: replayed - recorded)
  double run_diff_t_s = 0;
  double recorded_peak = 0;  // the run's difference is a share of this
  double run_diff_pct() const;
  bool flagged = false;             // a phase end differs by more than kReplayTolerance
  bool run_over = false;            // the run does, somewhere between phase ends
  std::vector<std::string> causes;  // likely, most likely first
  // The two curves on the recorded clock (seconds, bytes), for the chart.
  std::vector<double> rec_t, rec_y, rep_t, rep_y;

  std::string line() const;           // the one line diagnose prints first
  results::SelfCheck result() const;  // as diagnose.json and self_check.json hold it
  std::string chart_svg() const;      // "" when not checked
};

// A replayed phase to compare at its end: its index in the cells, its label, and
// the recorded time (ms, on the trace's clock) it ended at.
struct PhaseAt {
  int index;
  std::string label;
  uint64_t t_ms;
  uint64_t live;  // the trace's live bytes there (a replay whose threads kept the recorded order holds as many)
};
ReplayCheck check_replay(const Summary& s, const report::Run& run, const std::vector<registry::Allocator>& known,
                         const std::vector<PhaseAt>& phases);

}  // namespace heapmark::cli
