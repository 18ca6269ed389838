// Builds the report's document from the model, views and charts, once, and
// writes it as report.html and summary.md beside cells.csv (see report.h).
#include "harness/results/output_file.h"
#include "harness/report/report.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/input_error.h"
#include "harness/report/charts.h"
#include "harness/report/document.h"
#include "harness/report/page.h"
#include "harness/report/holders.h"
#include "harness/report/machines.h"
#include "harness/report/openmetrics.h"
#include "harness/report/repro_section.h"
#include "harness/report/summary.h"
#include "harness/report/svg.h"
#include "harness/report/tradeoff.h"
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

std::string full_params(const Group& g) {
  std::string s;
  for (const auto& [k, v] : g.params) s += (s.empty() ? "" : ", ") + k + "=" + v;
  return s.empty() ? "no parameters" : s;
}

// The figure tables of one matrix (generators or programs), with each figure's title and help.
struct FigureTable {
  std::string title, help;
  Table table;
};

std::vector<FigureTable> figure_tables(const Run& run, const Matrix& m) {
  std::vector<FigureTable> out;
  for (size_t f = 0; f < m.figures.size() && !m.groups.empty(); ++f)
    if (Table t = matrix_table(run, m, f); !t.rows.empty())
      out.push_back({m.figures[f].title, m.figures[f].help, std::move(t)});
  return out;
}

// The tables in a grid on the page.
void add_figure_tables(Document& d, std::vector<FigureTable> tables) {
  d.html("<div class=\"grid\">\n");
  for (auto& t : tables)
    d.html("<div class=\"fig\">").heading(3, t.title).note(t.help).table(std::move(t.table)).html("</div>\n");
  d.html("</div>\n");
}

// What the group's charts show, and which repetition each allocator's RSS chart is.
std::string charts_note(const Group& g, const std::vector<AllocatorDetail>& details) {
  std::string b = g.program ? std::string("A real program. ") : "Parameters: " + full_params(g) + ". ";
  b += "Charts of RSS show, per allocator, the repetition with the median peak " +
       std::string(g.program ? "anonymous RSS" : "R") + ":";
  for (const auto& d : details) {
    b += " " + d.allocator + " ";
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
  return b;
}

// One group: its charts (the page only), counters and, for a server, its own figures at phase ends. The charts
// and tables first, then the section in reading order.
void add_group_section(Document& d, const Run& run, const Matrix& m, const Group& g) {
  const auto details = group_details(run, g, m.allocators);
  std::vector<std::string> ops;
  for (const auto& x : details)
    for (const auto& [op, v] : x.latency)
      if (std::find(ops.begin(), ops.end(), op) == ops.end()) ops.push_back(op);
  std::string charts = rss_timeline_chart(g, details, m.allocators, m.baseline);
  if (!ops.empty()) {
    charts += "<div class=\"charts\">\n";
    for (const auto& op : ops) charts += latency_chart(g, details, m.allocators, op);
    charts += "</div>\n";
  }
  charts += phase_bars_chart(g, details, m.allocators);
  std::string note = charts_note(g, details);
  Table counters = counters_table(run, g, m.allocators);
  Table server = g.program ? server_figures_table(run, g, m.allocators) : Table{};
  const bool served = !server.rows.empty() && server.head.size() > 4;

  d.heading(3, g.label, g.id).note(std::move(note)).only(Block::In::kHtml).html(std::move(charts));
  if (!counters.rows.empty())
    d.note(
         "Kernel event counters (perf_event_open, inherited by the workload threads), read by the cell at every "
         "phase edge outside the timed windows: counts per thousand allocator calls, medians over the ok "
         "repetitions. An event the machine or its perf_event_paranoid setting would not count is unavailable (hover "
         "for why), never 0.")
        .table(std::move(counters));
  if (g.program) {
    d.note(
         "RSS at each phase end, read by the runner from /proc/PID/smaps_rollup (the last phase: the program's last "
         "sample before it exited). Phases are the program's own marks on HEAPMARK_PHASE_FD, a server's client "
         "steps, or one phase, run.")
        .only(served ? Block::In::kBoth : Block::In::kHtml);
    if (served)
      d.note(
           "The server's own figures at each phase end beside the RSS heapmark read, medians over the ok "
           "repetitions.")
          .table(std::move(server));
  } else {
    d.note(
         "R = anonymous RSS minus the cell's baseline R0, read from smaps_rollup at each phase end and split by the "
         "cell: live requested bytes; fragmentation, the rest of the pages that hold at least one live block "
         "(mincore over the live blocks' page ranges), which no release call can return; retained, resident pages "
         "that hold no live block, which a release could return; LazyFree; metadata where the allocator reports "
         "it.")
        .only(Block::In::kHtml);
  }
}

// The page once, and the holders' pictures it drew (written beside it as standalone files).
struct Built {
  Document doc;
  std::vector<Picture> pictures;
};

Built build(const Run& run) {
  // The model and the run-wide tables first, then the page in reading order.
  const Matrix m = summarize(run, headline_figures());
  const Matrix pm = summarize(run, program_figures(), true);
  const auto context = run_context(run);
  const std::string method = method_text(m.baseline), program_method = method_text(pm.baseline);
  std::vector<FigureTable> generators = figure_tables(run, m), programs = figure_tables(run, pm);
  Table micro = micro_table(run), failed = failed_table(run), context_rows = context_table(context),
        allocators = allocator_table(run);
  Built built;
  Document& d = built.doc;
  d.heading(1, "heapmark report: run " + run.run_id);
  d.note(
       "One self-contained page, no network. Hover over table cells, chart lines and points for the values behind "
       "them. With scripts on, a chart's legend entries hide and show their series and an RSS chart offers a log y "
       "axis.")
      .only(Block::In::kHtml);
  std::vector<std::pair<std::string, std::string>> nav;
  if (!m.groups.empty() || pm.groups.empty()) nav.emplace_back("Matrix", "#matrix");
  if (!pm.groups.empty()) nav.emplace_back("Real programs", "#programs");
  const std::vector<TradeoffGroup> tradeoffs = tradeoff_groups(run);  // a run with --release-every
  if (!tradeoffs.empty()) nav.emplace_back("Release schedules", "#release-schedules");
  for (const Matrix* x : {&m, &pm})
    for (const auto& g : x->groups) nav.emplace_back(g.label, "#" + g.id);
  nav.emplace_back("Failed cells", "#failed");
  nav.emplace_back("Context", "#context");
  d.links(std::move(nav));

  // The headline first; the full context closes the page.
  std::vector<std::pair<std::string, std::string>> headline;
  for (const auto& [k, v] : context)
    if (k == "cells" || k == "machine" || k == "kernel" || k == "heapmark") headline.emplace_back(k, v);
  d.facts(std::move(headline));

  add_repro_section(d, run);                     // only when heapmark repro wrote repro.json here
  built.pictures = add_holders_section(d, run);  // only when the cells ran with --attribute
  add_machines_section(d, run);                  // only for a run merged --by-machine from several machine types

  if (!m.groups.empty() || pm.groups.empty()) {
    d.heading(2, "Matrix at a glance", "matrix").note(method);
    if (m.groups.empty()) d.paragraph("No cell has finished yet.");
    add_figure_tables(d, std::move(generators));
  }
  if (!pm.groups.empty()) {
    d.heading(2, "Real programs", "programs").note(std::string(kProgramsNote) + " " + program_method);
    add_figure_tables(d, std::move(programs));
  }
  if (!micro.rows.empty()) d.heading(2, "Fast paths (micro)", "micro").note(kMicroNote).table(std::move(micro));
  add_tradeoff_section(d, run, tradeoffs);

  d.heading(2, "Per workload", "workloads");
  for (const Matrix* x : {&m, &pm})
    for (const auto& g : x->groups) add_group_section(d, run, *x, g);

  d.heading(2, "Failed cells", "failed");
  if (failed.rows.empty()) d.paragraph("None: every cell in cells.jsonl finished.");
  else d.note("Hover over a detail for the cell's stderr.").only(Block::In::kHtml).table(std::move(failed));
  if (run.ignored_partial_line)
    d.note("cells.jsonl ended with an incomplete line (a run still being written or cut short); it was ignored.");
  d.heading(2, "Run context", "context").table(std::move(context_rows));
  d.heading(3, "Allocators").table(std::move(allocators));
  d.html(svg::script());
  return built;
}

}  // namespace

std::string render_report_html(const Run& run) {
  return html_page("heapmark report " + run.run_id, to_html(build(run).doc));
}

std::string render_summary_md(const Run& run) { return to_markdown(build(run).doc); }

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
                (out / "metrics.om").string(), run.ignored_partial_line};
  const Built built = build(run);
  const std::string html = html_page("heapmark report " + run.run_id, to_html(built.doc)),
                    markdown = to_markdown(built.doc), csv = render_cells_csv(run);
  results::write_atomically(p.html, html);
  results::write_atomically(p.markdown, markdown);
  results::write_atomically(p.csv, csv);
  results::write_atomically(p.openmetrics, openmetrics_exposition(run));
  write_pictures(built.pictures, out.string());
  return p;
}

}  // namespace heapmark::report
