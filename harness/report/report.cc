// Composes report.html and summary.md from the model, views and charts, and
// writes the three report files (see report.h).
#include "harness/results/output_file.h"
#include "harness/report/report.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/input_error.h"
#include "harness/report/charts.h"
#include "harness/report/page.h"
#include "harness/report/holders.h"
#include "harness/report/machines.h"
#include "harness/report/repro_section.h"
#include "harness/report/summary.h"
#include "harness/report/svg.h"
#include "harness/report/views.h"

namespace fs = std::filesystem;

namespace heapmark::report {
namespace {
constexpr const char* kProgramsNote =
    "Each real program ran as its own process under the allocator, measured from outside: wall time, CPU and faults "
    "from wait4, peak RSS from the process's own VmHWM. A cell whose output differed from the program's reference "
    "run (nothing preloaded), or whose malloc was not the allocator's, failed and is not in these tables.";
constexpr const char* kMicroNote =
    "Google Benchmark inside each cell, under the cell's allocator: allocator calls per CPU second (per real second "
    "for the two-thread cross-thread benchmark), median over the ok repetitions; CPU time per iteration below. "
    "Colours rank the allocators of each row from best (green) to worst (red); ~ marks fewer than 3 repetitions.";
}  // namespace
namespace {

std::string full_params(const Group& g) {
  std::string s;
  for (const auto& [k, v] : g.params) s += (s.empty() ? "" : ", ") + k + "=" + v;
  return s.empty() ? "no parameters" : s;
}

// The figure tables of one matrix (generators or programs), HTML.
std::string figure_tables_html(const Run& run, const Matrix& m) {
  std::string b = "<div class=\"grid\">\n";
  for (size_t f = 0; f < m.figures.size() && !m.groups.empty(); ++f) {
    const Table t = matrix_table(run, m, f);
    if (t.rows.empty()) continue;
    b += "<div class=\"fig\"><h3>" + html_escape(m.figures[f].title) + "</h3>\n<p class=\"note\">" +
         html_escape(m.figures[f].help) + "</p>\n" + to_html(t) + "</div>\n";
  }
  return b + "</div>\n";
}

std::string figure_tables_md(const Run& run, const Matrix& m) {
  std::string s;
  for (size_t f = 0; f < m.figures.size() && !m.groups.empty(); ++f) {
    const Table t = matrix_table(run, m, f);
    if (t.rows.empty()) continue;
    s += "\n## " + m.figures[f].title + "\n\n" + m.figures[f].help + "\n\n" + to_markdown(t);
  }
  return s;
}

std::string group_section_html(const Run& run, const Matrix& m, const Group& g) {
  const auto details = group_details(run, g, m.allocators);
  std::string b = "<h3 id=\"" + g.id + "\">" + html_escape(g.label) + "</h3>\n<p class=\"note\">";
  b += g.program ? std::string("A real program. ") : "Parameters: " + html_escape(full_params(g)) + ". ";
  b += "Charts of RSS show, per allocator, the repetition with the median peak " +
       std::string(g.program ? "anonymous RSS" : "R") + ":";
  for (const auto& d : details) {
    b += " " + html_escape(d.allocator) + " ";
    b += d.representative ? "rep " + std::to_string(d.representative->rep) : std::string("none");
    b += " (" + std::to_string(d.ok_reps) + " ok";
    if (d.failed_reps) b += ", " + std::to_string(d.failed_reps) + " failed";
    b += ");";
  }
  if (!g.program)
    b += " Latency charts (per-call timer: each call between fenced timestamps) show medians over the ok repetitions, "
         "net of timer overhead; a 0 ns percentile (at or below the timer's resolution) is drawn on the bottom of the "
         "log axis. With --timing batch the chart is ns per call of runs of consecutive calls timed together "
         "(a benchmark loop's timing), its percentiles over the batches, not net of anything.";
  b += "</p>\n" + rss_timeline_chart(g, details, m.allocators, m.baseline);
  std::vector<std::string> ops;
  for (const auto& d : details)
    for (const auto& [op, v] : d.latency)
      if (std::find(ops.begin(), ops.end(), op) == ops.end()) ops.push_back(op);
  if (!ops.empty()) {
    b += "<div class=\"charts\">\n";
    for (const auto& op : ops) b += latency_chart(g, details, m.allocators, op);
    b += "</div>\n";
  }
  b += phase_bars_chart(g, details, m.allocators);
  if (const Table t = counters_table(run, g, m.allocators); !t.rows.empty())
    b += "<p class=\"note\">Kernel event counters (perf_event_open, inherited by the workload threads), read by the "
         "cell at every phase edge outside the timed windows: counts per thousand allocator calls, medians over the ok "
         "repetitions. An event the machine or its perf_event_paranoid setting would not count is unavailable (hover "
         "for why), never 0.</p>\n" +
         to_html(t);
  if (g.program) {
    b += "<p class=\"note\">RSS at each phase end, read by the runner from /proc/PID/smaps_rollup (the last phase: "
         "the program's last sample before it exited). Phases are the program's own marks on HEAPMARK_PHASE_FD, a "
         "server's client steps, or one phase, run.</p>\n";
    if (const Table t = server_figures_table(run, g, m.allocators); !t.rows.empty() && t.head.size() > 4)
      b += "<p class=\"note\">The server's own figures at each phase end beside the RSS heapmark read, medians over "
           "the ok repetitions.</p>\n" +
           to_html(t);
  } else {
    b +=
        "<p class=\"note\">R = anonymous RSS minus the cell's baseline R0, read from smaps_rollup at each phase end "
        "and split by the cell: live requested bytes; fragmentation, the rest of the pages that hold at least one live "
        "block (mincore over the live blocks' page ranges), which no release call can return; retained, resident "
        "pages that hold no live block, which a release could return; LazyFree; metadata where the allocator "
        "reports it.</p>\n";
  }
  return b;
}

}  // namespace

std::string render_report_html(const Run& run) {
  const Matrix m = summarize(run, headline_figures());
  const Matrix pm = summarize(run, program_figures(), true);
  std::string b;
  b += "<h1>heapmark report: run " + html_escape(run.run_id) + "</h1>\n";
  b += "<p class=\"note\">One self-contained page, no network. Hover over table cells, chart lines and points for "
       "the values behind them. With scripts on, a chart's legend entries hide and show their series and an RSS chart "
       "offers a log y axis.</p>\n<nav>";
  if (!m.groups.empty() || pm.groups.empty()) b += "<a href=\"#matrix\">Matrix</a>";
  if (!pm.groups.empty()) b += "<a href=\"#programs\">Real programs</a>";
  for (const Matrix* x : {&m, &pm})
    for (const auto& g : x->groups) b += "<a href=\"#" + g.id + "\">" + html_escape(g.label) + "</a>";
  b += "<a href=\"#failed\">Failed cells</a><a href=\"#context\">Context</a></nav>\n";

  // The headline first; the full context closes the page.
  const auto ctx = run_context(run);
  b += "<p class=\"note\">";
  for (const auto& [k, v] : ctx)
    if (k == "cells" || k == "machine" || k == "kernel" || k == "heapmark")
      b += "<b>" + html_escape(k) + "</b>: " + html_escape(v) + ". ";
  b += "</p>\n";

  b += repro_section_html(run);     // only when heapmark repro wrote repro.json here
  b += holders_section_html(run);   // only when the cells ran with --attribute
  b += machines_section_html(run);  // only for a run merged --by-machine from several machine types

  if (!m.groups.empty() || pm.groups.empty()) {
    b += "<h2 id=\"matrix\">Matrix at a glance</h2>\n<p class=\"note\">" + html_escape(method_text(m.baseline)) +
         "</p>\n";
    if (m.groups.empty()) b += "<p>No cell has finished yet.</p>\n";
    b += figure_tables_html(run, m);
  }
  if (!pm.groups.empty()) {
    b += "<h2 id=\"programs\">Real programs</h2>\n<p class=\"note\">" + html_escape(kProgramsNote) + " " +
         html_escape(method_text(pm.baseline)) + "</p>\n";
    b += figure_tables_html(run, pm);
  }

  if (const Table micro = micro_table(run); !micro.rows.empty())
    b += "<h2 id=\"micro\">Fast paths (micro)</h2>\n<p class=\"note\">" + html_escape(kMicroNote) + "</p>\n" +
         to_html(micro);

  b += "<h2 id=\"workloads\">Per workload</h2>\n";
  for (const Matrix* x : {&m, &pm})
    for (const auto& g : x->groups) b += group_section_html(run, *x, g);

  b += "<h2 id=\"failed\">Failed cells</h2>\n";
  const Table failed = failed_table(run, true);
  if (failed.rows.empty()) b += "<p>None: every cell in cells.jsonl finished.</p>\n";
  else b += "<p class=\"note\">Hover over a detail for the cell's stderr.</p>\n" + to_html(failed);
  if (run.ignored_partial_line)
    b += "<p class=\"note\">cells.jsonl ended with an incomplete line (a run still being written or cut short); it "
         "was ignored.</p>\n";
  b += "<h2 id=\"context\">Run context</h2>\n" + to_html(context_table(run));
  b += "<h3>Allocators</h3>\n" + to_html(allocator_table(run));
  b += svg::script();
  return html_page("heapmark report " + run.run_id, b);
}

std::string render_summary_md(const Run& run) {
  const Matrix m = summarize(run, headline_figures());
  const Matrix pm = summarize(run, program_figures(), true);
  std::string s = "# heapmark summary: run " + run.run_id + "\n\n";
  for (const auto& [k, v] : run_context(run)) s += "- " + k + ": " + v + "\n";
  s += "\n" + method_text(m.baseline) + "\n";
  s += repro_section_md(run);
  s += holders_section_md(run);
  s += machines_section_md(run);
  if (m.groups.empty() && pm.groups.empty()) s += "\nNo cell has finished yet.\n";
  s += figure_tables_md(run, m);
  if (!pm.groups.empty()) {
    s += "\n# Real programs\n\n" + std::string(kProgramsNote) + "\n" + figure_tables_md(run, pm);
    for (const auto& g : pm.groups)
      if (const Table t = server_figures_table(run, g, pm.allocators); !t.rows.empty() && t.head.size() > 4)
        s += "\n## " + g.label + ": RSS and the server's own figures at phase ends\n\n" + to_markdown(t);
  }
  if (const Table micro = micro_table(run); !micro.rows.empty())
    s += "\n## Fast paths (micro)\n\n" + std::string(kMicroNote) + "\n\n" + to_markdown(micro);
  s += "\n## Failed cells\n\n";
  const Table failed = failed_table(run, false);
  s += failed.rows.empty() ? "None.\n" : to_markdown(failed);
  return s;
}

void claim_report_dir(const std::string& run_dir, const std::string& out_dir, bool force) {
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec))
    throw InputError("--out '" + out_dir +
                     "' is not a directory: give a directory for report.html, summary.md and cells.csv");
  if (fs::equivalent(run_dir, out_dir, ec)) return;  // the run's own report, made anew
  if (fs::exists(fs::path(out_dir) / "run.json", ec) || fs::exists(fs::path(out_dir) / "cells.jsonl", ec))
    throw InputError("--out '" + out_dir +
                     "' is another run's results directory: its report is its own; give an empty directory");
  if (force) return;
  for (const char* f : {"report.html", "summary.md", "cells.csv"})
    if (fs::exists(fs::path(out_dir) / f, ec))
      throw InputError("--out '" + out_dir + "' holds " + f +
                       " already: give --force to replace the report there, or another directory");
}

ReportPaths write_report(const std::string& run_dir, const std::string& out_dir) {
  const Run run = read_run(run_dir);
  const fs::path out = out_dir.empty() ? fs::path(run_dir) : fs::path(out_dir);
  std::error_code ec;
  fs::create_directories(out, ec);
  ReportPaths p{(out / "report.html").string(), (out / "summary.md").string(), (out / "cells.csv").string(),
                run.ignored_partial_line};
  results::write_atomically(p.html, render_report_html(run));
  results::write_atomically(p.markdown, render_summary_md(run));
  results::write_atomically(p.csv, render_cells_csv(run));
  write_holder_svgs(run, out.string());
  return p;
}

}  // namespace heapmark::report
