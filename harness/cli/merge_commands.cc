// `heapmark merge DIR... -o OUT`: the shards of one plan as one run, then its
// report (harness/runner/merge.h says what is checked and refused).
#include <cstdio>

#include "harness/cli/commands.h"
#include "harness/report/report.h"
#include "harness/runner/merge.h"

namespace {

const heapmark::cli::CommandRegistrar reg{[](CLI::App& app) -> heapmark::cli::Action {
  auto o = std::make_shared<heapmark::runner::MergeOptions>();
  auto* cmd = app.add_subcommand(
      "merge", "Merge the shards of one plan (run --shard K/N) into one run: heapmark merge DIR... -o OUT");
  cmd->add_option("dirs", o->dirs, "The shards' results directories")->required();
  cmd->add_option("-o,--out", o->out, "The merged run's directory (must not hold a run)")->required();
  cmd->add_flag("--partial", o->partial, "Write what there is when blocks are missing (they are listed)");
  cmd->add_flag("--by-machine", o->by_machine,
                "Allow shards from several machine types: each cell then records its machine's fingerprint");
  return [cmd, o]() -> std::optional<int> {
    if (!*cmd) return std::nullopt;
    const auto known = heapmark::registry::builtin(heapmark::cli::parts_dir());
    const auto sum = heapmark::runner::merge_runs(*o, known);
    std::fprintf(stderr,
                 "heapmark merge: %zu of %zu planned cells from %zu directories into %s (%zu exact duplicates dropped, "
                 "%zu machine types)\n",
                 sum.cells, sum.planned, o->dirs.size(), o->out.c_str(), sum.duplicates, sum.machines);
    if (!sum.missing_blocks.empty())
      std::fprintf(stderr, "heapmark merge: partial: %zu blocks missing\n", sum.missing_blocks.size());
    const auto paths = heapmark::report::write_report(o->out);
    std::printf("%s\n", paths.html.c_str());
    return 0;
  };
}};

}  // namespace
