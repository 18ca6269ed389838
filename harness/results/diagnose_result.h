// diagnose.json as a struct: the trace's P and F, the self-check of the replay
// against the recording, the recommendation, the sites that pin memory at F
// and the scenario's summary. One writer (to_json) and one reader that names
// a bad field's path (results/SCHEMA.md, "heapmark diagnose runs").
#pragma once
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/results/repro_result.h"

namespace heapmark::results {

// The replay on the recording's allocator against the program's own RSS at a phase end.
struct SelfCheckEnd {
  std::string phase;                        // "P", "F", "end"
  double t_s = 0;                           // recorded time, from the trace's first event
  double recorded_lo = 0, recorded_hi = 0;  // bytes: the samples around t_s
  double replayed = 0;
  double diff = 0, diff_pct = 0;  // replayed less the nearest of the span (0 inside it); percent of recorded_hi
  double live_recorded = 0, live_replayed = 0;
};

struct SelfCheck {
  bool checked = false;
  double tolerance = 0;     // a phase end further off than this share is flagged
  std::string not_checked;  // why not, when !checked
  std::string allocator;
  int cells = 0;
  std::vector<SelfCheckEnd> phase_ends;
  double run_diff = 0, run_diff_t_s = 0, recorded_peak = 0, run_diff_pct = 0;
  bool flagged = false, run_over_tolerance = false;
  std::vector<std::string> causes;  // likely, most likely first
  std::string line;                 // the line diagnose printed first
};

struct PinningSite {
  uint32_t site = 0;
  std::string name;
  std::vector<std::string> frames;  // innermost first
  double pinned = 0, pinned_share = 0, live = 0, blocks = 0;
  std::optional<double> median_age_s;
};

// One base allocator's top sites at F (medians over its ok cells).
struct PinningSites {
  std::string allocator, phase;
  uint64_t cells = 0, site_count = 0;
  double r = 0, pinned = 0, live = 0;
  std::vector<PinningSite> sites;  // at most 10, most pinned first
  double unknown_pinned = 0, unknown_live = 0, other_pinned = 0, other_live = 0;
};

struct DiagnoseResult {
  std::string trace, program;
  uint64_t events = 0, threads = 0;
  double peak_s = 0;
  uint64_t peak_live = 0;
  double final_s = 0;
  uint64_t final_live = 0;
  std::string at;
  SelfCheck self_check;
  std::vector<std::string> recommendation;
  std::vector<PinningSites> holders;
  ScenarioSummary summary;
};

boost::json::object to_json(const DiagnoseResult& d);
boost::json::object to_json(const SelfCheck& c);  // also `heapmark replay`'s self_check.json
// Throws InputError naming `source` and the field's path.
DiagnoseResult diagnose_result_from_json(const boost::json::value& v, const std::string& source);
// dir/diagnose.json; InputError when missing or unreadable.
DiagnoseResult read_diagnose_result(const std::string& dir);

}  // namespace heapmark::results
