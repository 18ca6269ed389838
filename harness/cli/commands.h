// Every subcommand registers itself from its own file in harness/cli/ (every
// *.cc there is part of the heapmark executable):
//
//   static const heapmark::cli::CommandRegistrar reg{[](CLI::App& app) -> heapmark::cli::Action {
//     auto* cmd = app.add_subcommand("report", "...");
//     ... options bound to state captured by the returned action ...
//     return [cmd, ...]() -> std::optional<int> { if (!*cmd) return std::nullopt; return do_it(); };
//   }};
//
// An action returns nullopt when its subcommand was not the one chosen, else
// the exit status. Throw heapmark::InputError for bad input (exit status 2).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/text.h"
#include "harness/runner/run.h"

namespace heapmark::repro {
struct Options;
}

namespace heapmark::cli {

using Action = std::function<std::optional<int>()>;
using CommandAdder = std::function<Action(CLI::App&)>;

// `place` orders the subcommands in --help (lower first; equal places in the
// order their registrars ran): list 0, run 1, plan 2, the rest after them.
struct CommandRegistrar {
  explicit CommandRegistrar(CommandAdder add, int place = 100);
};
std::vector<CommandAdder>& command_adders();

// Where heapmark's parts are: heapmark-cell, the in-house allocator, probe and
// recorder libraries (beside heapmark in the build tree, lib/heapmark/ when
// installed).
std::string parts_dir();
// Where the shipped matrices and suites are (workloads/ in the source tree,
// share/heapmark/ when installed).
std::string data_dir();
// A --matrix or --suite argument: a path as given, or the name of a shipped
// file ("default" -> <data_dir>/matrices/default.json).
std::string shipped_file(const std::string& given, const std::string& folder);
// The shipped files' names in data_dir()/folder, sorted: "default, inhouse, ...".
std::string shipped_names(const std::string& folder);

using heapmark::split_list;  // common/text.h

// argv of this heapmark invocation, recorded in every run.json (main sets it).
const std::vector<std::string>& command_line();
void set_command_line(int argc, char** argv);

// The options `repro` and `diagnose` share (their phases' waits, repetitions,
// jobs, timeout, where results go), bound to `o`; `run_id_default` names the
// results directory when --run-id is not given ("repro-<UTC time>").
void add_repro_options(CLI::App* cmd, repro::Options& o, const std::string& run_id_default);
// Throws InputError when `cmd` (repro, diagnose) was given --resume with an
// option that would be ignored: the options come from invocation.json.
void refuse_beside_resume(const CLI::App& cmd, const std::string& name);

// Runs a matrix and writes its report (also after an interruption: the report
// reads only the results files, so a partial run reports what it has).
// `run_dir`, when given, gets the results directory ("" when none was made).
int run_and_report(const runner::Matrix& m, const runner::RunOptions& opts,
                   const std::vector<registry::Allocator>& known, std::string* run_dir = nullptr);

}  // namespace heapmark::cli
