// The report's repro section: present when the results directory holds a
// repro.json (written by `heapmark repro`, one per scenario). It renders that
// file's verdicts as they were computed; the report itself judges nothing.
#pragma once
#include <string>

#include "harness/report/results.h"

namespace heapmark::report {

// HTML for report.html ("" when the run has no repro.json).
std::string repro_section_html(const Run& run);
// Markdown for summary.md ("" when the run has no repro.json).
std::string repro_section_md(const Run& run);

}  // namespace heapmark::report
