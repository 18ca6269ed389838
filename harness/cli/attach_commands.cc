// `heapmark attach PID`: a running process, looked at from outside (/proc),
// stopped nowhere and changed in nothing (harness/attach).
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "allocators/registry/registry.h"
#include "harness/attach/outside.h"
#include "harness/attach/target.h"
#include "harness/cli/commands.h"

namespace {

const heapmark::cli::CommandRegistrar reg{[](CLI::App& app) -> heapmark::cli::Action {
  struct State {
    std::string pid;
    bool json = false;
  };
  auto st = std::make_shared<State>();
  auto* cmd = app.add_subcommand(
      "attach",
      "Where a running process's RES is, without stopping or restarting it: heapmark attach PID (the outside view, from /proc)");
  cmd->add_option("pid", st->pid, "The process id")->required()->type_name("PID");
  cmd->add_flag("--json", st->json, "One JSON object instead of text (for scripts)");
  cmd->footer(
      "\nThe outside view: every resident byte of the process's mappings in one part (brk heap, glibc arena heaps,\n"
      "thread stacks, file pages, private copies of file pages, other anonymous memory), adding up to the total,\n"
      "with VmRSS and smaps_rollup beside it as cross-checks, and which allocator libraries it has mapped.\n"
      "Needs read access to /proc/PID/smaps: root, CAP_SYS_PTRACE, or its own user under kernel.yama.ptrace_scope 0 or 1.\n"
      "Example: heapmark attach $(pidof redis-server) --json");
  return [cmd, st]() -> std::optional<int> {
    if (!*cmd) return std::nullopt;
    const pid_t pid = heapmark::attach::check_target(st->pid);
    std::vector<std::string> libraries;
    for (const auto& a : heapmark::registry::builtin(heapmark::cli::parts_dir()))
      if (a.found && !a.library.empty()) libraries.push_back(a.library);
    const auto view = heapmark::attach::read_outside(pid, libraries);
    if (st->json) std::printf("%s\n", boost::json::serialize(heapmark::attach::to_json(view)).c_str());
    else std::fputs(heapmark::attach::render_text(view).c_str(), stdout);
    return 0;
  };
}};

}  // namespace
