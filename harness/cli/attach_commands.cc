// `heapmark attach PID`: a running process, looked at from outside (/proc)
// and from inside (the registry's family, through a helper gdb loads), with a
// verdict in the catalogue's words and the live remedy (harness/attach).
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "allocators/registry/registry.h"
#include "common/input_error.h"
#include "harness/attach/inside.h"
#include "harness/attach/outside.h"
#include "harness/attach/target.h"
#include "harness/attach/verdict.h"
#include "harness/attach/watch.h"
#include "harness/results/output_file.h"
#include "harness/cli/commands.h"

namespace {

namespace attach = heapmark::attach;
namespace json = boost::json;

// Why the inside view cannot come for this process, from outside, or "".
std::string not_injectable(const attach::OutsideView& v) {
  if (!v.dynamic_loader)
    return "PID " + std::to_string(v.pid) + " (" + v.exe +
           ") is a static binary: it has no dynamic loader to load heapmark's helper, so only the outside view is given";
  return "";
}

struct Options {
  std::string pid, apply, gdb = "gdb", out;
  bool json = false, outside_only = false, force = false, no_walk = false;
  double watch_s = 0, hz = 1000, accounting_every_s = 10;
};

int attach_main(const Options& o) {
  const bool as_json = o.json, outside_only = o.outside_only;
  const std::string& apply = o.apply;
  if (!o.out.empty()) heapmark::results::claim_output(o.out, o.force, "--out");
  const pid_t pid = attach::check_target(o.pid);
  std::vector<std::string> libraries;
  for (const auto& a : heapmark::registry::builtin(heapmark::cli::parts_dir()))
    if (a.found && !a.library.empty()) libraries.push_back(a.library);
  const attach::OutsideView outside = attach::read_outside(pid, libraries);
  json::object doc = attach::to_json(outside);
  std::string text = attach::render_text(outside);
  std::string refusal = outside_only ? "" : not_injectable(outside);
  int status = 0;
  if (!outside_only && refusal.empty()) {
    attach::InjectOptions opt;
    opt.gdb = o.gdb;
    opt.helper = heapmark::cli::parts_dir() + "/libheapmark_attach.so";
    opt.script = heapmark::cli::parts_dir() + "/heapmark_attach.py";
    opt.allocator_libraries = libraries;
    if (o.no_walk) opt.action = attach::Action::kAccounting;
    const attach::InsideView inside = attach::read_inside(pid, opt);
    const attach::Assessment verdict = attach::assess(outside, inside, pid);
    doc["inside"] = attach::to_json(inside);
    doc["assessment"] = attach::to_json(verdict);
    text += attach::render_text(inside, verdict);
    if (inside.injection.ok && (!inside.identity_ok || inside.family == "user"))
      refusal = "PID " + std::to_string(pid) + "'s malloc (" + inside.malloc_from +
                ") is an allocator heapmark does not know: the outside view is given, the inside parts are missing";
    else if (!inside.injection.ok)
      status = 1;
    if (!apply.empty() && inside.injection.ok && inside.identity_ok) {
      // The remedy, then the change measured from outside (every mapping's Rss before and after).
      attach::InjectOptions rel = opt;
      rel.action = attach::Action::kRelease;
      const uint64_t before = attach::read_outside(pid, libraries).total;
      const attach::InsideView done = attach::read_inside(pid, rel);
      const uint64_t after = attach::read_outside(pid, libraries).total;
      const uint64_t returned = before > after ? before - after : 0;
      // The prediction made in the same stop as the call (a background
      // thread may have purged some of it since the snapshot).
      const attach::Assessment at_call = attach::assess(outside, done, pid);
      const std::optional<uint64_t> predicted = at_call.release_returns ? at_call.release_returns : verdict.release_returns;
      json::object a{{"remedy", apply},
                     {"hook", inside.release_name},
                     {"ok", done.injection.ok && done.released.value_or(false)},
                     {"error", done.injection.error},
                     {"rss_before", before},
                     {"rss_after", after},
                     {"returned", returned},
                     {"predicted", predicted ? json::value(*predicted) : json::value(nullptr)},
                     {"predicted_at_snapshot", verdict.release_returns ? json::value(*verdict.release_returns) : json::value(nullptr)},
                     {"release_ms", done.release_ms},
                     {"threads", done.injection.threads_released ? done.injection.threads_released : 1},
                     {"stopped_ms", done.injection.stopped_ms}};
      doc["apply"] = std::move(a);
      char line[512];
      if (!done.injection.ok) {
        std::snprintf(line, sizeof line, "\napplied %s: not done: %s\n", inside.release_name.c_str(), done.injection.error.c_str());
        status = 1;
      } else {
        const int threads = done.injection.threads_released ? done.injection.threads_released : 1;
        std::snprintf(line, sizeof line, "\napplied %s (in %d thread%s; %.1f ms inside the call, process stopped %.0f ms): RES %s -> %s, returned %s",
                      inside.release_name.c_str(), threads, threads == 1 ? "" : "s", done.release_ms, done.injection.stopped_ms, attach::human(before).c_str(),
                      attach::human(after).c_str(), attach::human(returned).c_str());
        text += line;
        if (predicted && *predicted > 0)
          std::snprintf(line, sizeof line, "; predicted %s (measured %.1f%% of it)\n", attach::human(*predicted).c_str(),
                        100.0 * double(returned) / double(*predicted));
        else
          std::snprintf(line, sizeof line, "; no prediction (%s)\n", verdict.predicted_from.empty() ? "no figure" : verdict.predicted_from.c_str());
      }
      text += line;
    }
  }
  if (o.watch_s > 0) {
    attach::WatchOptions w;
    w.seconds = o.watch_s;
    w.hz = o.hz;
    w.accounting_every_s = outside_only || !refusal.empty() ? 0 : o.accounting_every_s;
    w.inject.gdb = o.gdb;
    w.inject.helper = heapmark::cli::parts_dir() + "/libheapmark_attach.so";
    w.inject.script = heapmark::cli::parts_dir() + "/heapmark_attach.py";
    w.inject.allocator_libraries = libraries;
    const attach::Watch watched = attach::watch(pid, w);
    doc["watch"] = attach::to_json(watched);
    text += attach::render_text(watched);
  }
  if (!o.out.empty()) heapmark::results::write_atomically(o.out, json::serialize(doc) + "\n");
  if (as_json) std::printf("%s\n", json::serialize(doc).c_str());
  else std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
  if (!refusal.empty()) {
    std::fprintf(stderr, "heapmark: attach: %s\n", refusal.c_str());
    return heapmark::kExitBadInput;
  }
  if (status != 0) std::fprintf(stderr, "heapmark: attach: the inside view is missing: %s\n", doc.contains("inside") ? json::serialize(doc["inside"].at("injection").at("error")).c_str() : "");
  return status;
}

const heapmark::cli::CommandRegistrar reg{[](CLI::App& app) -> heapmark::cli::Action {
  auto st = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("attach",
                                 "Why a running process's RES is high, without restarting it: where RES is (from /proc), what its "
                                 "allocator keeps and why, and what its release call would return");
  cmd->add_option("pid", st->pid, "The process id")->required()->type_name("PID");
  cmd->add_flag("--json", st->json, "One JSON object instead of text (for scripts)");
  cmd->add_flag("--outside-only", st->outside_only, "Only the outside view: read /proc, never stop or enter the process");
  cmd->add_option("--apply", st->apply,
                  "Apply a remedy in the process and measure RES before and after from outside; prints predicted against measured")
      ->check(CLI::IsMember({"release"}))
      ->type_name("REMEDY");
  cmd->add_flag("--no-walk", st->no_walk,
                "The allocator's accounting only, no heap walk (glibc): a shorter stop for a heap of many GiB");
  cmd->add_option("--gdb", st->gdb, "The gdb to inject with (default: gdb on PATH)")->type_name("PATH");
  cmd->add_option("--watch", st->watch_s, "Then sample its RSS from outside for SECONDS, and the allocator's accounting inside every --accounting-every seconds")
      ->check(CLI::Range(0.001, 86400.0))
      ->type_name("SECONDS");
  cmd->add_option("--hz", st->hz, "--watch: RSS samples per second (/proc/PID/statm), up to 1000 (default 1000)")
      ->check(CLI::Range(0.1, 1000.0));
  cmd->add_option("--accounting-every", st->accounting_every_s,
                  "--watch: seconds between the allocator's accounting (each a stop of the process, reported); 0: never enter it (default 10)")
      ->check(CLI::Range(0.0, 86400.0))
      ->type_name("SECONDS");
  cmd->add_option("--out", st->out, "Also write the JSON document (snapshot, verdict, --apply, --watch timeline) to FILE")->type_name("FILE");
  cmd->add_flag("--force", st->force, "Let --out replace an existing file");
  cmd->footer(
      "\nOutside (from /proc, the process never stops): every resident byte of its mappings in one part (brk heap,\n"
      "glibc arena heaps, thread stacks, file pages, private copies of file pages, other anonymous memory), adding up to\n"
      "the total, with VmRSS and smaps_rollup as cross-checks.\n"
      "Inside: gdb attaches (every thread stops), each thread inside malloc/free or the dynamic loader is run alone until it\n"
      "leaves them, then heapmark's helper library is loaded and asks the allocator (the registry's family: glibc,\n"
      "jemalloc, tcmalloc, mimalloc, the in-house ones) to prove it serves malloc and to give its accounting; for glibc\n"
      "it also walks the heap's chunks and pages. The process is stopped for the time printed (typically 0.1-0.4 s) and\n"
      "changed in nothing but the helper staying loaded, unless --apply is given. Needs gdb (Debian package gdb) and\n"
      "ptrace rights: root, CAP_SYS_PTRACE, or the process's user under kernel.yama.ptrace_scope 0.\n"
      "Verdicts (the catalogue's words): returned, retained until release, not returnable: fragmentation,\n"
      "retained even after release, no measurement.\n"
      "Example:\n"
      "  heapmark attach $(pidof myservice)                 # where RES is and why\n"
      "  heapmark attach $(pidof myservice) --apply release # call malloc_trim(0) (or the family's hook), measure it\n"
      "  heapmark attach $(pidof myservice) --watch 60 --out watch.json  # RSS at 1 kHz, accounting every 10 s\n"
      "Exit status: 0; 1 when the inside view could not be taken (the reason is printed, the process runs on); 2 for a\n"
      "PID attach may not look at, a static binary or an allocator heapmark does not know (the outside view is printed).");
  return [cmd, st]() -> std::optional<int> {
    if (!*cmd) return std::nullopt;
    if (st->outside_only && !st->apply.empty()) throw heapmark::InputError("--apply needs the inside view: drop --outside-only");
    if (st->watch_s == 0 && (cmd->count("--hz") || cmd->count("--accounting-every")))
      throw heapmark::InputError("--hz and --accounting-every shape --watch: add --watch SECONDS");
    return attach_main(*st);
  };
}};

}  // namespace
