// `heapmark export openmetrics RUN_DIR`: a run's figures in a format the
// field's tools read (harness/report/openmetrics.h).
#include <cstdio>
#include <memory>
#include <string>

#include "harness/cli/commands.h"
#include "harness/report/openmetrics.h"
#include "harness/report/results.h"
#include "harness/results/output_file.h"

namespace {

const heapmark::cli::CommandRegistrar export_cmd{[](CLI::App& app) -> heapmark::cli::Action {
  auto* cmd = app.add_subcommand("export", "Write a run's findings in a format other tools read");
  cmd->require_subcommand(1);
  auto* om = cmd->add_subcommand(
      "openmetrics",
      "A run's figures as an OpenMetrics text exposition (Prometheus, Grafana): one gauge per figure, one sample per "
      "ok cell labelled allocator, workload, params and rep; phase figures carry phase and phase_index "
      "(docs/openmetrics.md)");
  struct Opts {
    std::string dir, out;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  om->add_option("run-dir", o->dir, "Results directory, e.g. results/20261122-031745-a3f9")->required();
  om->add_option("--out", o->out, "Write the exposition to this file (default: standard output)");
  om->add_flag("--force", o->force, "Replace --out if it exists");
  return [cmd, om, o]() -> std::optional<int> {
    if (!*cmd) return std::nullopt;
    if (!*om) return 2;
    if (!o->out.empty()) heapmark::results::claim_output(o->out, o->force, "--out");
    const std::string text = heapmark::report::openmetrics_exposition(heapmark::report::read_run(o->dir));
    if (o->out.empty()) std::fwrite(text.data(), 1, text.size(), stdout);
    else heapmark::results::write_atomically(o->out, text);
    return 0;
  };
}};

}  // namespace
