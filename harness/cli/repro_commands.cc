// `heapmark repro`: the "RES does not drop after free" catalogue (harness/repro).
//   heapmark repro                                 every scenario, every available allocator, every remedy
//   heapmark repro 2 4 --allocators glibc,jemalloc
//   heapmark repro --list
#include <unistd.h>

#include <climits>
#include <filesystem>

#include "harness/cli/commands.h"
#include "harness/cli/validators.h"
#include "common/input_error.h"
#include "harness/repro/repro.h"

namespace {

struct State {
  heapmark::repro::Options o;
  std::string allocators, remedies, format = "text";
};

const heapmark::cli::CommandRegistrar reg{[](CLI::App& app) -> heapmark::cli::Action {
  auto st = std::make_shared<State>();
  auto* cmd = app.add_subcommand(
      "repro", "Why RES stays high after free: run the scenario catalogue, with verdicts and remedies");
  cmd->add_option("scenarios", st->o.scenarios, "Scenario numbers or names (default: all; see --list)");
  cmd->add_flag("--list", st->o.list, "List the scenarios and their remedies");
  cmd->add_option("--allocators", st->allocators,
                  "Comma-separated base allocators (default: glibc,jemalloc,mimalloc,tcmalloc and the in-house ones)");
  cmd->add_option("--remedies", st->remedies,
                  "Comma-separated remedies to run (default: all that apply; 'none': no remedy). every:INTERVAL "
                  "(every:1s, every:100ms) is a release schedule: the allocator's own release hook at that interval, "
                  "judged against the allocator without it; run only when named");
  cmd->add_option("--mib", st->o.mib, "Size of each scenario's main allocation, MiB")
      ->check(heapmark::cli::within(4, 16384));
  cmd->add_option(
         "--format", st->format,
         "What to print: text (the tables) or json (the catalogue's repro.json, for scripts; results/SCHEMA.md)")
      ->check(CLI::IsMember({"text", "json"}));
  heapmark::cli::add_repro_options(cmd, st->o, "repro-<UTC time>");
  return [cmd, st]() -> std::optional<int> {
    if (!*cmd) return std::nullopt;
    st->o.json = st->format == "json";
    const std::string dir = heapmark::cli::parts_dir();
    st->o.cell_binary = dir + "/heapmark-cell";
    if (!st->o.resume.empty()) {
      heapmark::cli::refuse_beside_resume(*cmd, "repro");
      heapmark::repro::read_invocation(st->o.resume, "repro", st->o);
      if (const auto* sc = st->o.extra.if_contains("scenarios"); sc && sc->is_array())
        for (const auto& x : sc->as_array())
          if (x.is_string()) st->o.scenarios.emplace_back(x.as_string());
      return heapmark::repro::run_repro(st->o, heapmark::registry::builtin(dir));
    }
    st->o.allocators = heapmark::cli::split_list(st->allocators);
    st->o.remedies = heapmark::cli::split_list(st->remedies);
    boost::json::array scenarios;
    for (const auto& x : st->o.scenarios) scenarios.push_back(boost::json::string(x));
    st->o.extra["scenarios"] = std::move(scenarios);
    // The command as given (the runner records it in every scenario's run.json).
    auto& cl = st->o.command_line;
    cl = {"heapmark", "repro"};
    cl.insert(cl.end(), st->o.scenarios.begin(), st->o.scenarios.end());
    for (const auto* opt : cmd->get_options())
      if (!opt->get_lnames().empty() && opt->count() > 0 && opt->get_lnames()[0] != "help") {
        cl.push_back("--" + opt->get_lnames()[0]);
        if (opt->get_expected_min() != 0)
          for (const auto& r : opt->results()) cl.push_back(r);
      }
    return heapmark::repro::run_repro(st->o, heapmark::registry::builtin(dir));
  };
}};

}  // namespace

void heapmark::cli::add_repro_options(CLI::App* cmd, repro::Options& o, const std::string& run_id_default) {
  cmd->add_option("--idle-ms", o.idle_ms, "Idle phase length, ms (default: the scenario's; 500 for a trace)")
      ->check(heapmark::cli::within(0, 3600000));
  cmd->add_option("--activity-ms", o.activity_ms,
                  "Activity phase length, ms; 0 (default): until the memory is back or the allocator's return horizon "
                  "has passed")
      ->check(heapmark::cli::within(0, 3600000));
  cmd->add_option("--max-ms", o.max_ms, "Longest an idle or activity phase waits for the allocator (default 30000)")
      ->check(heapmark::cli::within(1, 3600000));
  cmd->add_option("--reps", o.reps,
                  "Repetitions of every allocator and remedy (default 3); verdicts come with their agreement")
      ->check(heapmark::cli::within(1, 100));
  cmd->add_option("--jobs", o.jobs, "Cells run at once (RSS does not depend on timing)")
      ->check(heapmark::cli::within(1, 64));
  cmd->add_option("--timeout", o.timeout_s, "Wall timeout per cell, seconds")
      ->check(heapmark::cli::within(1.0, 86400.0));
  cmd->add_option("--out", o.results_root, "Results root directory");
  cmd->add_option("--run-id", o.run_id, "Name of the results directory (default: " + run_id_default + ")");
  cmd->add_flag("-q,--quiet", o.quiet, "No tables");
  cmd->add_option("--resume", o.resume,
                  "Finish an interrupted " + cmd->get_name() +
                      " (its results directory): the options it started with, "
                      "finished cells kept, the rest run")
      ->type_name("DIR");
}

void heapmark::cli::refuse_beside_resume(const CLI::App& cmd, const std::string& name) {
  for (const CLI::Option* given : cmd.get_options())
    if (given->count() && !given->check_name("--resume") && !given->check_name("--quiet") &&
        !given->check_name("--format"))
      throw heapmark::InputError("--resume takes the options " + name + " started with (invocation.json); drop " +
                                 (given->get_name().empty() ? std::string("the arguments") : given->get_name()) +
                                 " (only --quiet and --format go with --resume)");
}
