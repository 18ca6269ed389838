// `heapmark attach PID`: a running process, looked at from outside (/proc)
// and from inside (the registry's family, through a helper gdb loads), with a
// verdict in the catalogue's words and the live remedy (harness/attach).
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "allocators/registry/registry.h"
#include "common/input_error.h"
#include "harness/attach/inside.h"
#include "harness/attach/outside.h"
#include "harness/attach/target.h"
#include "harness/attach/snapshot.h"
#include "harness/results/output_file.h"
#include "harness/cli/commands.h"

namespace {

namespace attach = heapmark::attach;
namespace json = boost::json;

// Why the inside view cannot come for this process, from outside, or "".
std::string not_injectable(const attach::OutsideView& v) {
  if (!v.dynamic_loader)
    return "PID " + std::to_string(v.pid) + " (" + v.exe +
           ") is a static binary: it has no dynamic loader to load heapmark's helper, so only the outside view is "
           "given";
  return "";
}

struct Options {
  std::string pid, apply, gdb = "gdb", out, openmetrics;
  bool json = false, outside_only = false, force = false, no_walk = false;
  double watch_s = 0, hz = 1000, accounting_every_s = 10, window_s = 0;
};

// --openmetrics DIR: created; its files are replaced only with --force.
void claim_openmetrics(const Options& o) {
  if (o.openmetrics.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(o.openmetrics, ec);
  if (ec || !std::filesystem::is_directory(o.openmetrics))
    throw heapmark::InputError("--openmetrics '" + o.openmetrics + "' is not a directory heapmark can create or use: " +
                               (ec ? ec.message() : std::string("a file of that name exists")));
  heapmark::results::claim_output(o.openmetrics + "/watch.om", o.force, "--openmetrics");
  heapmark::results::claim_output(o.openmetrics + "/latest.prom", o.force, "--openmetrics");
  // The windows apart, so a textfile collector pointed at DIR reads latest.prom alone.
  const std::string windows = o.openmetrics + "/windows";
  std::filesystem::create_directories(windows, ec);
  bool earlier = false;
  for (const auto& e : std::filesystem::directory_iterator(windows, ec)) earlier |= e.path().extension() == ".prom";
  if (earlier && !o.force)
    throw heapmark::InputError("--openmetrics '" + o.openmetrics +
                               "': windows/ holds an earlier watch's windows: give --force to replace them, or another "
                               "directory");
  // --force: the earlier watch's windows go, so the directory holds this watch's only.
  for (const auto& e : std::filesystem::directory_iterator(windows, ec))
    if (e.path().extension() == ".prom") std::filesystem::remove(e.path(), ec);
}

// The --openmetrics files after each window: windows/window-NNNNNN.prom (that
// window) and latest.prom (the same, for a textfile collector) without
// timestamps, and watch.om with every window so far, timestamped (a backfill).
void write_window(const std::string& dir, attach::WatchMetrics& metrics, const attach::WatchWindow& w, size_t n) {
  char name[40];
  std::snprintf(name, sizeof name, "/windows/window-%06zu.prom", n);
  const std::string one = metrics.add(w);
  heapmark::results::write_atomically(dir + name, one);
  heapmark::results::write_atomically(dir + "/latest.prom", one);
  heapmark::results::write_atomically(dir + "/watch.om", metrics.all());
}

// --out DIR: attach.json and report.html in it (created; files in it replaced only with --force).
std::pair<std::string, std::string> claim_out(const Options& o) {
  if (o.out.empty()) return {};
  std::error_code ec;
  std::filesystem::create_directories(o.out, ec);
  if (ec || !std::filesystem::is_directory(o.out))
    throw heapmark::InputError("--out '" + o.out + "' is not a directory heapmark can create or use: " +
                               (ec ? ec.message() : std::string("a file of that name exists")));
  const std::string json_path = o.out + "/attach.json", html_path = o.out + "/report.html";
  heapmark::results::claim_output(json_path, o.force, "--out");
  heapmark::results::claim_output(html_path, o.force, "--out");
  return {json_path, html_path};
}

int attach_main(const Options& o) {
  const pid_t pid = attach::check_target(o.pid);
  const auto [json_path, html_path] = claim_out(o);  // before the process is stopped or watched
  claim_openmetrics(o);
  std::vector<std::string> libraries;
  for (const auto& a : heapmark::registry::builtin(heapmark::cli::parts_dir()))
    if (a.found && !a.library.empty()) libraries.push_back(a.library);
  attach::Snapshot snap;
  snap.outside = attach::read_outside(pid, libraries);
  std::string refusal = o.outside_only ? "" : not_injectable(snap.outside);
  std::string failure;  // the inside view, or the remedy, could not be done: exit 1
  attach::InjectOptions opt;
  opt.gdb = o.gdb;
  opt.helper = heapmark::cli::parts_dir() + "/libheapmark_attach.so";
  opt.script = heapmark::cli::parts_dir() + "/heapmark_attach.py";
  opt.allocator_libraries = libraries;
  if (!o.outside_only && refusal.empty()) {
    attach::InjectOptions snapshot_opt = opt;
    if (o.no_walk) snapshot_opt.action = attach::Action::kAccounting;
    const attach::InsideView& inside = snap.inside.emplace(attach::read_inside(pid, snapshot_opt));
    const attach::Assessment& verdict = snap.assessment.emplace(attach::assess(snap.outside, inside, pid));
    if (inside.injection.ok && (!inside.identity_ok || inside.family == "user"))
      refusal = "PID " + std::to_string(pid) + "'s malloc (" + inside.malloc_from +
                ") is an allocator heapmark does not know: the outside view is given, the inside parts are missing";
    else if (!inside.injection.ok) failure = "the inside view is missing: " + inside.injection.error;
    if (o.apply.rfind("decay:", 0) == 0 && inside.injection.ok && inside.decay_name == "none" && refusal.empty())
      refusal = "--apply " + o.apply + ": " + inside.family +
                " has no decay setting heapmark can change in a running process (jemalloc's has): use --apply release";
    if (!o.apply.empty() && inside.injection.ok && inside.identity_ok && refusal.empty()) {
      const attach::Applied& applied =
          snap.applied.emplace(attach::apply(pid, o.apply, opt, inside, verdict, libraries));
      if (!applied.ok) failure = "--apply " + o.apply + " was not done: " + applied.error;
    }
  }
  if (o.watch_s > 0) {
    attach::WatchOptions w;
    w.seconds = o.watch_s;
    w.hz = o.hz;
    w.accounting_every_s = o.outside_only || !refusal.empty() ? 0 : o.accounting_every_s;
    w.inject = opt;
    if (!o.openmetrics.empty()) {
      w.window_s = o.window_s > 0 ? o.window_s : o.accounting_every_s > 0 ? o.accounting_every_s : 10;
      attach::Labels labels{{"pid", std::to_string(pid)}, {"program", snap.outside.comm}};
      if (snap.inside && snap.inside->identity_ok) labels.emplace_back("allocator", snap.inside->family);
      w.on_window = [dir = o.openmetrics, metrics = std::make_shared<attach::WatchMetrics>(std::move(labels))](
                        const std::vector<attach::WatchWindow>& windows) {
        write_window(dir, *metrics, windows.back(), windows.size());
      };
    }
    snap.watch = attach::watch(pid, w);
  }
  const std::string doc = json::serialize(attach::to_json(snap));
  if (!json_path.empty()) {
    heapmark::results::write_atomically(json_path, doc + "\n");
    heapmark::results::write_atomically(html_path, attach::render_html(snap));
  }
  if (o.json) std::printf("%s\n", doc.c_str());
  else std::fputs(attach::render_text(snap).c_str(), stdout);
  if (!json_path.empty() && !o.json) std::printf("\nwritten: %s, %s\n", json_path.c_str(), html_path.c_str());
  if (!o.openmetrics.empty() && !o.json && snap.watch)
    std::printf("OpenMetrics: %zu windows of %.3g s in %s (windows/, latest.prom; watch.om for a backfill)\n",
                snap.watch->windows.size(), snap.watch->window_s, o.openmetrics.c_str());
  std::fflush(stdout);
  if (!refusal.empty()) {
    std::fprintf(stderr, "heapmark: attach: %s\n", refusal.c_str());
    return heapmark::kExitBadInput;
  }
  if (!failure.empty()) {
    std::fprintf(stderr, "heapmark: attach: %s\n", failure.c_str());
    return heapmark::kExitInternal;
  }
  return 0;
}

const heapmark::cli::CommandRegistrar reg{[](CLI::App& app) -> heapmark::cli::Action {
  auto st = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "attach",
      "Why a running process's RES is high, without restarting it: where RES is (from /proc), what its "
      "allocator keeps and why, and what its release call would return");
  cmd->add_option("pid", st->pid, "The process id")->required()->type_name("PID");
  cmd->add_flag("--json", st->json, "One JSON object instead of text (for scripts)");
  cmd->add_flag("--outside-only", st->outside_only,
                "Only the outside view: read /proc, never stop or enter the process");
  cmd->add_option(
         "--apply", st->apply,
         "Apply a remedy in the process and measure RES before and after from outside; prints predicted against "
         "measured: "
         "release (the allocator's release call: malloc_trim(0), jemalloc's purge, ...) or decay:MS (jemalloc's dirty "
         "and muzzy decay time in every arena; 0 returns freed pages at once from now on)")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            if (v == "release") return "";
            char* end = nullptr;
            if (v.rfind("decay:", 0) == 0 && v.size() > 6 && std::strtoll(v.c_str() + 6, &end, 10) >= -1 && *end == 0)
              return "";
            return "--apply '" + v +
                   "': the remedies are release (the allocator's release call) and decay:MS (jemalloc's decay "
                   "time, -1 = never)";
          },
          "release|decay:MS"))
      ->type_name("REMEDY");
  cmd->add_flag("--no-walk", st->no_walk,
                "The allocator's accounting only, no heap walk (glibc): a shorter stop for a heap of many GiB");
  cmd->add_option("--gdb", st->gdb, "The gdb to inject with (default: gdb on PATH)")->type_name("PATH");
  cmd->add_option("--watch", st->watch_s,
                  "Then sample its RSS from outside for SECONDS, and the allocator's accounting inside every "
                  "--accounting-every seconds")
      ->check(CLI::Range(0.001, 86400.0))
      ->type_name("SECONDS");
  cmd->add_option("--hz", st->hz, "--watch: RSS samples per second (/proc/PID/statm), up to 1000 (default 1000)")
      ->check(CLI::Range(0.1, 1000.0));
  cmd->add_option("--accounting-every", st->accounting_every_s,
                  "--watch: seconds between the allocator's accounting (each a stop of the process, reported); 0: "
                  "never enter it (default 10)")
      ->check(CLI::Range(0.0, 86400.0))
      ->type_name("SECONDS");
  cmd->add_option(
         "--openmetrics", st->openmetrics,
         "--watch: write OpenMetrics text to DIR as each --window closes: windows/window-NNNNNN.prom and latest.prom "
         "(that window's RSS, live, free kept and stop time, labelled pid, program and allocator; for a "
         "textfile collector, promtool check metrics reads them) and watch.om (every window so far, "
         "timestamped: promtool tsdb create-blocks-from openmetrics backfills it)")
      ->type_name("DIR");
  cmd->add_option("--window", st->window_s,
                  "--openmetrics: seconds per window (default: --accounting-every, or 10 without accounting)")
      ->check(CLI::Range(0.01, 86400.0))
      ->type_name("SECONDS");
  cmd->add_option("--out", st->out,
                  "Also write DIR/attach.json (the whole document) and DIR/report.html (charts of RES, the verdict, "
                  "--apply, --watch)")
      ->type_name("DIR");
  cmd->add_flag("--force", st->force, "Let --out and --openmetrics replace the files they write in DIR");
  cmd->footer(
      "\nOutside (from /proc, the process never stops): every resident byte of its mappings in one part (brk heap,\n"
      "glibc arena heaps, thread stacks, file pages, private copies of file pages, other anonymous memory), adding up "
      "to\n"
      "the total, with VmRSS and smaps_rollup as cross-checks.\n"
      "Inside: gdb attaches (every thread stops), each thread inside malloc/free or the dynamic loader is run alone "
      "until it\n"
      "leaves them, then heapmark's helper library is loaded and asks the allocator (the registry's family: glibc,\n"
      "jemalloc, tcmalloc, mimalloc, the in-house ones) to prove it serves malloc and to give its accounting; for "
      "glibc\n"
      "it also walks the heap's chunks and pages. The process is stopped for the time printed (typically 0.1-0.4 s) "
      "and\n"
      "changed in nothing but the helper staying loaded, unless --apply is given. Needs gdb (Debian package gdb) and\n"
      "ptrace rights: root, CAP_SYS_PTRACE, or the process's user under kernel.yama.ptrace_scope 0.\n"
      "Verdicts (the catalogue's words): returned, retained until release, not returnable: fragmentation,\n"
      "retained even after release, no measurement.\n"
      "Example:\n"
      "  heapmark attach $(pidof myservice)                 # where RES is and why\n"
      "  heapmark attach $(pidof myservice) --apply release # call malloc_trim(0) (or the family's hook), measure it\n"
      "  heapmark attach $(pidof redis-server) --apply decay:0  # jemalloc: purge now and on every free from now on\n"
      "  heapmark attach $(pidof myservice) --watch 60 --out watched/   # RSS at 1 kHz, accounting every 10 s; "
      "report.html\n"
      "  heapmark attach $(pidof myservice) --watch 3600 --openmetrics om/  # a window every 10 s as OpenMetrics\n"
      "Exit status: 0; 1 when the inside view could not be taken (the reason is printed, the process runs on); 2 for "
      "a\n"
      "PID attach may not look at, a static binary or an allocator heapmark does not know (the outside view is "
      "printed).");
  return [cmd, st]() -> std::optional<int> {
    if (!*cmd) return std::nullopt;
    if (st->outside_only && !st->apply.empty())
      throw heapmark::InputError("--apply needs the inside view: drop --outside-only");
    if (st->watch_s == 0 && (cmd->count("--hz") || cmd->count("--accounting-every") || cmd->count("--openmetrics")))
      throw heapmark::InputError("--hz, --accounting-every and --openmetrics shape --watch: add --watch SECONDS");
    if (st->openmetrics.empty() && cmd->count("--window"))
      throw heapmark::InputError("--window cuts --openmetrics' files: add --openmetrics DIR");
    return attach_main(*st);
  };
}};

}  // namespace
