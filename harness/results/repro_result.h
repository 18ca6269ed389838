// repro.json typed: one scenario's judged results (ScenarioSummary, written in
// each scenario's results directory) and the catalogue over them (Catalogue,
// at the top of a `heapmark repro` or `diagnose` run). The judge
// (harness/repro) fills these; the terminal, the report's sections, the
// catalogue page and diagnose read them. This is the one writer and the one
// reader of the JSON (results/SCHEMA.md, "repro.json").
#pragma once
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/results/verdicts.h"

namespace heapmark::results {

// The five phase ends of a repro cell, in order: peak, after the frees, after
// idling, after activity, after the release hook.
inline constexpr int kReproPhases = 5;
inline constexpr const char* kReproPhaseLetters[kReproPhases] = {"P", "F", "I", "A", "R"};

// Where R stands at a phase end (bytes, medians over the ok repetitions).
struct MedianBreakdown {
  double live = 0, fragmentation = 0, retained = 0, lazy_free = 0, metadata = 0;
};

struct PhaseMedians {
  double r = 0, live = 0, lazy_free = 0;     // bytes
  std::optional<double> returned;            // share of the returnable memory given back; none under 1 MiB returnable
  std::optional<MedianBreakdown> breakdown;  // when every repetition's cell split R
};

// One repetition as judged.
struct RepVerdict {
  int rep = 0;
  std::string status;              // the cell's status: "ok", "timeout", ...
  std::optional<Verdict> verdict;  // ok repetitions only
  std::string when;                // the phase letter of the verdict
  std::optional<double> after_s;   // I or A: when 75% was back
};

// An allocator environment: name/value pairs in the order the allocator was given them.
using EnvMap = std::vector<std::pair<std::string, std::string>>;

// One allocator (a base allocator, or a remedy: a base with an environment).
struct ReproRow {
  std::string allocator, kind;
  std::string base;                   // the allocator a remedy is judged against; the row's own name for a base
  std::optional<std::string> remedy;  // the remedy's name; none for a base allocator
  int reps = 0, ok_reps = 0;
  EnvMap env;
  std::string status = "failed";  // "ok" when any repetition was
  std::string detail;             // the first failed repetition's cause
  std::vector<RepVerdict> rep_verdicts;
  Verdict verdict = Verdict::kUnknown;
  std::string verdict_label, when, agreement, how;
  std::vector<std::optional<PhaseMedians>> phases;  // kReproPhases entries; none where no repetition had the phase
  std::optional<std::string> explanation;           // the mechanism, when written for the verdict measured
  std::string remedy_what;                          // remedies: what the remedy changes
  std::optional<bool> worked;                       // remedies with an ok base
  struct Helped {
    std::string phase;
    double less = 0;
  };
  std::optional<Helped> helped;  // remedies that kept a quarter less without changing the verdict

  bool ok() const { return status == "ok"; }
  bool is_remedy() const { return remedy.has_value(); }
  // The median at phase i, or null.
  const PhaseMedians* phase(int i) const;
};

struct RemedyWorked {
  std::string remedy, allocator;
  EnvMap env;
  std::string what, verdict_label, when, agreement, base_verdict;
};

struct RemedyHelped {
  std::string remedy, allocator;
  EnvMap env;
  std::string phase;
  double less = 0, kept = 0, base_kept = 0;  // bytes at that phase
  std::string text;                          // the sentence the renderers show
};

struct ScenarioSummary {
  int scenario = 0;
  std::string slug, title, recipe;
  double threshold = 0;  // the returned share a verdict counts as "back"
  std::vector<ReproRow> rows;
  std::vector<RemedyWorked> remedies_worked;
  std::vector<RemedyHelped> remedies_helped;
  std::string dir;  // in a catalogue: the scenario's directory under the catalogue's

  // The row of `allocator`, or null.
  const ReproRow* row(const std::string& allocator) const;
};

struct Catalogue {
  std::vector<std::string> command_line;
  std::string dir;
  int reps = 0, jobs = 0, mib = 0;
  double wall_s = 0;
  std::vector<std::string> allocators;  // the base allocators, in the grid's column order
  bool complete = false;
  int exit_status = 0;
  std::vector<ScenarioSummary> scenarios;
  // A section its writer puts above the grid (diagnose's self-check), already rendered.
  std::string preface_html, preface_md;
};

// " K=V K=V" (each pair with a leading space), as the summaries show an environment.
std::string env_text(const EnvMap& env);

boost::json::object to_json(const ScenarioSummary& s);
boost::json::object to_json(const Catalogue& c);
// Throw InputError naming `source` and the field when the JSON is not what
// the writers above produce.
ScenarioSummary scenario_summary_from_json(const boost::json::value& v, const std::string& source);
Catalogue catalogue_from_json(const boost::json::value& v, const std::string& source);

// dir/repro.json of one scenario's run, or none when the directory has none.
std::optional<ScenarioSummary> read_scenario_summary(const std::string& dir);
// dir/repro.json of a catalogue; throws InputError when it is missing or malformed.
Catalogue read_catalogue(const std::string& dir);

}  // namespace heapmark::results
