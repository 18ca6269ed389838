// `heapmark report <run-dir>` and `heapmark compare <run-a> <run-b>`: thin
// command-line wrappers over harness/report (hm_report).
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "common/input_error.h"
#include "harness/cli/commands.h"
#include "harness/cli/validators.h"
#include "harness/report/compare.h"
#include "harness/report/report.h"
#include "harness/results/output_file.h"

namespace {

namespace rep = heapmark::report;

const heapmark::cli::CommandRegistrar report_cmd{[](CLI::App& app) -> heapmark::cli::Action {
  auto* cmd = app.add_subcommand(
      "report", "Write report.html, summary.md and cells.csv for a results directory (works on interrupted runs too)");
  auto dir = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false), force = std::make_shared<bool>(false);
  cmd->add_option("run-dir", *dir, "Results directory, e.g. results/20261122-031745-a3f9")->required();
  cmd->add_option(
      "--out", *out,
      "Write the three files here instead of into the results directory (never into another run's directory; "
      "files already there are replaced only with --force)");
  cmd->add_flag("--force", *force, "Replace report files that are already in --out");
  cmd->add_flag("-q,--quiet", *quiet, "Do not print the paths written");
  return [cmd, dir, out, quiet, force]() -> std::optional<int> {
    if (!*cmd) return std::nullopt;
    if (!out->empty()) rep::claim_report_dir(*dir, *out, *force);
    const auto paths = rep::write_report(*dir, *out);
    if (paths.ignored_partial_line)
      std::fprintf(stderr, "heapmark: note: %s/cells.jsonl ends with an incomplete line; it was ignored\n",
                   dir->c_str());
    if (!*quiet)
      std::printf("%s\n%s\n%s\n%s\n", paths.html.c_str(), paths.markdown.c_str(), paths.csv.c_str(),
                  paths.openmetrics.c_str());
    return 0;
  };
}};

const heapmark::cli::CommandRegistrar compare_cmd{[](CLI::App& app) -> heapmark::cli::Action {
  auto* cmd = app.add_subcommand(
      "compare", "Compare two runs cell by cell: b vs a per figure with a 95% bootstrap interval and a verdict");
  struct Opts {
    std::string a, b, markdown, html, format = "text";
    double fail_pct = -1;
    bool force = false;
    std::vector<std::string> figures;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("run-a", o->a, "Results directory of the reference run")->required();
  cmd->add_option("run-b", o->b, "Results directory of the run to judge")->required();
  cmd->add_option("--fail-on-regression", o->fail_pct,
                  "Exit with status 3 if any figure got worse (interval excluding 'same') by more than PCT percent "
                  "(percentage points for fractions such as F4)")
      ->check(heapmark::cli::within(0.0, 1e9));
  cmd->add_option("--markdown", o->markdown, "Also write the comparison as Markdown to this file");
  cmd->add_option("--html", o->html, "Also write the comparison as an HTML page to this file");
  cmd->add_flag("--force", o->force, "Replace the --markdown and --html files if they exist");
  cmd->add_option("--format", o->format,
                  "What to print: text (aligned table), md, or json (every row, the overall verdict and the exit "
                  "status, for scripts; results/SCHEMA.md)")
      ->check(CLI::IsMember({"text", "md", "json"}));
  std::string known;
  for (const auto& f : rep::compare_figures()) known += (known.empty() ? "" : ", ") + f.path;
  cmd->add_option("--figures", o->figures, "Figures to compare (default: all of " + known + ")")->delimiter(',');
  return [cmd, o]() -> std::optional<int> {
    if (!*cmd) return std::nullopt;
    std::vector<rep::Figure> figs;
    for (const auto& path : o->figures) {
      const auto* f = rep::find_figure(path);
      if (!f) throw heapmark::InputError("--figures: unknown figure '" + path + "'; see heapmark compare --help");
      figs.push_back(*f);
    }
    if (figs.empty()) figs = rep::compare_figures();
    if (!o->markdown.empty()) heapmark::results::claim_output(o->markdown, o->force, "--markdown");
    if (!o->html.empty()) heapmark::results::claim_output(o->html, o->force, "--html");
    if (!o->markdown.empty() && o->markdown == o->html)
      throw heapmark::InputError("--markdown and --html name one file: give two");
    const auto a = rep::read_run(o->a);
    const auto b = rep::read_run(o->b);
    const auto cmp = rep::compare_runs(a, b, figs);
    if (!o->markdown.empty()) heapmark::results::write_atomically(o->markdown, rep::compare_markdown(cmp));
    if (!o->html.empty()) heapmark::results::write_atomically(o->html, rep::compare_html(cmp));
    if (o->format == "json") {  // stdout is the JSON alone; it carries the regressions and the exit status
      std::fputs((boost::json::serialize(rep::compare_json(cmp, o->fail_pct)) + "\n").c_str(), stdout);
      return rep::compare_exit_status(cmp, o->fail_pct);
    }
    std::fputs((o->format == "md" ? rep::compare_markdown(cmp) : rep::compare_text(cmp)).c_str(), stdout);
    if (o->fail_pct < 0) return 0;
    const auto bad = rep::regressions(cmp, o->fail_pct);
    if (bad.empty()) {
      std::printf("no regression beyond %g%%\n", o->fail_pct);
      return 0;
    }
    std::printf("%zu regression(s) beyond %g%%:\n", bad.size(), o->fail_pct);
    for (const auto* r : bad)
      std::printf("  %s / %s / %s: %s (%s)\n", r->label.c_str(), r->allocator.c_str(), r->figure.title.c_str(),
                  rep::format_change(r->figure, r->change.point).c_str(), r->verdict_text().c_str());
    return rep::compare_exit_status(cmp, o->fail_pct);
  };
}};

}  // namespace
