// The report's repro section: present when the results directory holds a
// repro.json (written by `heapmark repro`, one per scenario). It renders that
// file's verdicts as they were computed; the report itself judges nothing.
#pragma once
#include <string>

#include "harness/report/document.h"
#include "harness/report/results.h"
#include "harness/results/repro_result.h"

namespace heapmark::report {

// One scenario summary (a repro.json) as a section: heading (anchor `id`), recipe,
// the verdict table, why, the remedies that worked; `details_html` and
// `details_md` link to its own report and summary ("": none). The catalogue
// page and each scenario's report use it.
void add_scenario_section(Document& d, const results::ScenarioSummary& summary, const std::string& id,
                          const std::string& details_html, const std::string& details_md);
// How the repro figures and verdicts are measured, in a paragraph.
const char* repro_method_text();

// The run's repro.json, when heapmark repro wrote one there (nothing otherwise).
void add_repro_section(Document& d, const Run& run);

}  // namespace heapmark::report
