// The report's repro section: present when the results directory holds a
// repro.json (written by `heapmark repro`, one per scenario). It renders that
// file's verdicts as they were computed; the report itself judges nothing.
#pragma once
#include <string>

#include "harness/report/results.h"
#include "harness/results/repro_result.h"

namespace heapmark::report {

// One scenario summary (a repro.json) as a section: heading (anchor `id`), recipe,
// the verdict table, why, the remedies that worked; `details` links to its own
// report ("": none). The catalogue page and each scenario's report use it.
std::string scenario_section_html(const results::ScenarioSummary& summary, const std::string& id,
                                  const std::string& details);
std::string scenario_section_md(const results::ScenarioSummary& summary, const std::string& details);
// How the repro figures and verdicts are measured, in a paragraph.
const char* repro_method_text();

// HTML for report.html ("" when the run has no repro.json).
std::string repro_section_html(const Run& run);
// Markdown for summary.md ("" when the run has no repro.json).
std::string repro_section_md(const Run& run);

}  // namespace heapmark::report
