// heapmark report: report.html, summary.md and cells.csv from a results
// directory. Called by `heapmark report` and, at the end of a run, by the runner.
#pragma once
#include <string>

#include "harness/report/results.h"

namespace heapmark::report {

struct ReportPaths {
  std::string html, markdown, csv, openmetrics;
  bool ignored_partial_line = false;  // cells.jsonl ended with an incomplete line, which was skipped
};

// Reads run_dir (run.json, cells.jsonl) and writes report.html, summary.md,
// cells.csv and metrics.om (openmetrics.h) into out_dir (run_dir when empty). Throws InputError for unreadable
// results (exit status 2 in the CLI).
ReportPaths write_report(const std::string& run_dir, const std::string& out_dir = "");

// Throws InputError unless `out_dir` may receive run_dir's report: it is not
// another run's results directory, and holds no report files unless `force`.
void claim_report_dir(const std::string& run_dir, const std::string& out_dir, bool force);

// The three documents, for tests and other callers (report.html and summary.md
// are one Document, document.h, written twice).
std::string render_report_html(const Run& run);
std::string render_summary_md(const Run& run);
std::string render_cells_csv(const Run& run);

}  // namespace heapmark::report
