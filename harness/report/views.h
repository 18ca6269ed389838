// Layout: turns the report model (summary.h) into layout-neutral tables
// (table.h) that the HTML page and summary.md both render.
#pragma once
#include <string>

#include "harness/report/summary.h"
#include "harness/report/table.h"

namespace heapmark::report {

// Allocator rows × group columns for one figure: median, rank colour, ratio to baseline with its interval.
Table matrix_table(const Run& run, const Matrix& m, size_t figure);
// The failed cells; a detail's hover text (HTML) is the cell's stderr tail.
Table failed_table(const Run& run);
// A program group's RSS at each phase end beside the figures the program
// reported there (a server's `figures` command, the keys its `show` names):
// allocator x phase rows, medians over the ok repetitions. Empty rows when no
// cell reached a phase end.
Table server_figures_table(const Run& run, const Group& g, const std::vector<std::string>& allocators);
// Google Benchmark rows x allocator columns from the `micro` cells: median
// calls/s over the ok repetitions, CPU ns per iteration below. Empty when the
// run has no micro cells.
Table micro_table(const Run& run);
// Kernel event counters of a group's cells: event rows x allocator columns,
// the median count per 1k allocator calls over the ok repetitions, IPC where
// cycles and instructions were counted; an event the cells could not count
// says "unavailable" with the reason as its hover text. Empty without counters.
Table counters_table(const Run& run, const Group& g, const std::vector<std::string>& allocators);
// run_context's label/value pairs as a table.
Table context_table(const std::vector<std::pair<std::string, std::string>>& context);
Table allocator_table(const Run& run);

// "1.52× [1.40, 1.61]" or "+7.1 pp [+2.0, +9.3]"
std::string change_with_interval(const Figure& f, const stats::Estimate& e);

// Paragraphs explaining ratios, intervals, colours and noise (same words in HTML and Markdown).
std::string method_text(const std::string& baseline);

}  // namespace heapmark::report
