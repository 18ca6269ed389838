// `heapmark repro`: the "RES does not drop after free" catalogue. Each scenario
// (recipe, remedies as named allocator environments, the mechanism
// explanations) is one file in harness/repro/scenarios/ (scenario.h). This
// library runs them
// through the ordinary runner, computes a verdict per (scenario, allocator)
// from the measured phases, and shows an explanation only when the verdict it
// was written for is the one measured.
#pragma once
#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "allocators/registry/registry.h"
#include "harness/report/results.h"
#include "harness/results/cell_result.h"
#include "harness/repro/scenario.h"
#include "harness/results/repro_result.h"
#include "harness/results/verdicts.h"

namespace heapmark::repro {

// The verdict table is the results layer's (the report renders it too).
using results::info;
using results::lateness;
using results::Verdict;
using results::verdict_from_id;
using results::verdict_id;
using results::verdict_label;

const std::vector<Scenario>& catalogue();
// "2", "02" or "top-pinned"; throws InputError naming the valid ones.
const Scenario& find_scenario(const std::string& text);

// The five phase ends of one cell, by the repro workload's phase names and letters.
inline constexpr int kPhaseCount = static_cast<int>(workloads::repro::kPhases);
using workloads::repro::kPhaseLetters;
using workloads::repro::kPhaseNames;
// A remedy helps when, at a phase after the frees, it keeps at least this share
// less of what its base keeps above the live bytes (and at least 1 MiB);
// diagnose holds the release hook to the same share before naming it first.
inline constexpr double kHelpedShare = 0.25;
struct PhasePoint {
  bool present = false;
  double r = 0, live = 0, lazy_free = 0;
  bool has_breakdown = false;
  double fragmentation = 0, retained = 0, metadata = 0;
};

// Share of the returnable memory given back at a phase end (metrics::returned_share
// against the peak): nullopt when less than 1 MiB was returnable.
std::optional<double> returned_share(const PhasePoint& peak, const PhasePoint& at, bool count_lazy_as_returned = false);

struct Assessment {
  Verdict verdict = Verdict::kUnknown;
  std::string when;  // phase letter the verdict was reached at ("F", "I", "A", "R"), or ""
};
// P, F, I, A, R in that order.
Assessment assess(const PhasePoint (&phases)[kPhaseCount]);

// The explanation written for this (allocator, kind, verdict), or null: shown only when they agree.
const Explanation* explanation_for(const Scenario& s, const std::string& allocator, const std::string& kind, Verdict v);

// Phase ends of one cell result (by phase name: peak, free, idle, activity, release).
void phases_from_cell(const results::CellResult& cell, PhasePoint (&out)[kPhaseCount]);

struct Options {
  std::vector<std::string> scenarios;   // empty: all
  std::vector<std::string> allocators;  // empty: every available base allocator
  std::vector<std::string> remedies;    // empty: every remedy of the chosen scenarios and allocators; "none": no remedy
  bool list = false;
  int mib = 256, idle_ms = -1, activity_ms = -1;  // -1: the scenario's own durations (activity 0: until returned)
  int max_ms = -1;                                // -1: the workload's maximum wait
  int reps = 3;  // every (scenario, allocator) this many times: verdicts with agreement
  int jobs = 2;
  double timeout_s = 300;
  std::string results_root = "results", run_id;
  bool quiet = false;
  // `repro --format json`: stdout is the catalogue's repro.json (the same object, written once), no tables.
  bool json = false;
  std::string cell_binary;
  std::vector<std::string> command_line;
  // --resume DIR: finish this catalogue (or diagnose) where it stopped; the
  // options come from DIR/invocation.json, `extra` with them.
  std::string resume;
  // What the command needs beyond these options to start again (repro: the
  // scenarios; diagnose: the trace and --at), kept in invocation.json.
  boost::json::object extra;
  // "repro" or "diagnose": the command an interruption message names.
  std::string command = "repro";
};

// Reads DIR/invocation.json (written when the catalogue started) into `o`:
// every option as first given, o.resume = DIR. Throws InputError naming the
// file when DIR is not a catalogue of `command`.
void read_invocation(const std::string& dir, const std::string& command, Options& o);

// Runs the catalogue and prints the tables; returns the exit status. Throws
// InputError (exit 2) for an unknown scenario, allocator or remedy before any cell runs.
int run_repro(const Options& o, const std::vector<registry::Allocator>& known);
// The same for scenarios given here (heapmark diagnose: the user's trace);
// o.scenarios is not read. `summaries` receives each scenario's summary.
int run_scenarios(const std::vector<const Scenario*>& scenarios, const Options& o,
                  const std::vector<registry::Allocator>& known,
                  std::vector<results::ScenarioSummary>* summaries = nullptr);

// The summary of one scenario's results directory, written there as
// repro.json (results/repro_result.h; what the report's repro section and the
// catalogue page read): per allocator the median phase figures over the repetitions, each
// repetition's verdict, the verdict they agree on (or "split") with its
// agreement, how the memory came back, the explanation when it matches, and
// the remedies that worked in every repetition.
results::ScenarioSummary scenario_summary(const Scenario& s, const std::string& run_dir);
// The summary row a cell belongs to: its allocator, and its release schedule
// when it ran one ("glibc every:100ms", a remedy judged against "glibc").
std::string row_name(const report::Cell& c);
// The terminal text of one summary.
std::string render_summary_text(const results::ScenarioSummary& summary);

}  // namespace heapmark::repro
