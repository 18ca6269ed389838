#include "harness/runner/program_cell.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/input_error.h"
#include "harness/results/results_dir.h"
#include "harness/runner/cell_record.h"
#include "harness/runner/supervise.h"
#include "harness/runner/supervise_program.h"

namespace fs = std::filesystem;

namespace heapmark::runner {
namespace {

// A TCP port on 127.0.0.1 nothing listens on now (the kernel's pick).
std::string free_port() {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = s >= 0 && bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  if (s >= 0) close(s);
  return ok ? std::to_string(ntohs(a.sin_port)) : "16379";
}

std::map<std::string, std::string> placeholders(const RunOptions& o, const std::string& work, const std::string& port) {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  std::map<std::string, std::string> v{
      {"work", work}, {"port", port}, {"cpus", std::to_string(cpus)}, {"cpus_x2", std::to_string(2 * cpus)}};
  if (!o.suite_dir.empty()) v["dir"] = fs::absolute(o.suite_dir).string();
  return v;
}

ProgramSpec expanded(const ProgramSpec& p, const std::map<std::string, std::string>& v) {
  ProgramSpec e = p;
  e.command = expand(p.command, v);
  e.check_command = expand(p.check_command, v);
  e.figures = expand(p.figures, v);
  for (auto& a : e.prepare) a = expand(a, v);
  for (auto& s : e.steps) s.command = expand(s.command, v);
  if (!e.stdin_path.empty()) e.stdin_path = expand({e.stdin_path}, v)[0];
  e.ready_port = expand({e.ready_port}, v)[0];
  return e;
}

// Runs argv to its end, not under any allocator of the run: stdout to
// out_path, stderr to out_path + ".err"; returns the exit status (127: not
// found, 128 + N: killed by signal N).
int run_and_wait(const Argv& argv, const std::string& out_path, const std::string& in_path = "",
                 const std::map<std::string, std::string>& env = {}) {
  const std::string exe = find_executable(argv[0]);
  if (exe.empty()) return 127;
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    if (!std::freopen(in_path.empty() ? "/dev/null" : in_path.c_str(), "r", stdin) ||
        !std::freopen(out_path.c_str(), "w", stdout) || !std::freopen((out_path + ".err").c_str(), "w", stderr))
      _exit(126);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(exe.c_str(), args.data());
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void fail(results::CellResult& r, const std::string& cause, const std::string& detail) {
  if (r.status == "failed") return;
  r.status = "failed";
  r.cause = cause;
  r.detail = detail;
}

// The allocator's self-chosen settings, as the probe's registry library wrote
// them at the program's exit (its "config" object); none when the program
// ended without exit handlers. The file is removed.
results::Pairs allocator_config(const std::string& path) {
  results::Pairs out;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(read_file(path), ec);
  fs::remove(path);
  if (ec || !v.is_object()) return out;
  if (const auto* config = v.as_object().if_contains("config"); config && config->is_object())
    for (const auto& [k, x] : config->as_object())
      if (x.is_string()) out.emplace_back(std::string(k), std::string(x.as_string()));
  return out;
}

// What the probe's release thread did, or why the cell has no such figures.
void record_release(const ProgramOutcome& out, results::CellResult& r) {
  if (!out.release) {
    if (r.ok())
      fail(r, "release",
           "the probe's release line never came (it says one as soon as the schedule starts, before main): the "
           "schedule never started, so what it costs is unknown");
    return;
  }
  const ProgramRelease& p = *out.release;
  if (!p.error.empty()) {
    fail(r, "release", "the release schedule did not run: " + p.error);
    return;
  }
  r.release_schedule = results::ReleaseSchedule{p.every_ms,
                                                p.hook,
                                                "own thread",
                                                p.per_thread,
                                                p.calls,
                                                static_cast<double>(p.total_ns) * 1e-6,
                                                static_cast<double>(p.max_ns) * 1e-6};
}

}  // namespace

void check_programs(const Matrix& m, const RunOptions& o) {
  for (const auto& p : m.programs) {
    const ProgramSpec e = expanded(p, placeholders(o, "/tmp", "0"));
    check_executable(p, e.command, p.server ? "server command" : "command");
    for (const auto& a : e.prepare) check_executable(p, a, "prepare command");
    for (const auto& s : e.steps)
      if (!s.command.empty()) check_executable(p, s.command, "client command of step '" + s.phase + "'");
    if (!e.figures.empty()) check_executable(p, e.figures, "figures command");
    if (p.check == "command") check_executable(p, e.check_command, "check command");
    if (!e.stdin_path.empty() && e.stdin_path.find("{work}") == std::string::npos && !fs::exists(e.stdin_path))
      throw InputError(p.source + ": stdin '" + e.stdin_path + "' does not exist");
    if (!p.metric_regex.empty()) {
      try {
        std::regex re(p.metric_regex);
        if (re.mark_count() < 1)
          throw InputError(p.source + ": metric regex '" + p.metric_regex + "' has no (group) for the value");
      } catch (const std::regex_error& err) {
        throw InputError(p.source + ": metric regex '" + p.metric_regex + "': " + err.what());
      }
    }
  }
}

std::map<std::string, std::string> prepare_programs(const Matrix& m, const RunOptions& o, const std::string& work) {
  fs::create_directories(work);
  std::map<std::string, std::string> reference;
  const std::string out = work + "/prepare.out";
  auto last_line = [](std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    const size_t nl = text.rfind('\n');
    return text.empty() ? std::string() : "; stderr: " + text.substr(nl == std::string::npos ? 0 : nl + 1);
  };
  for (const auto& p : m.programs) {
    const ProgramSpec e = expanded(p, placeholders(o, work, "0"));
    for (const auto& a : e.prepare)
      if (const int rc = run_and_wait(a, out); rc != 0)
        throw InputError(p.source + ": prepare command '" + a[0] + "' exited with status " + std::to_string(rc) +
                         last_line(read_file(out + ".err")));
    if (p.server || p.check != "same") continue;
    // The reference output: the program as deployed, nothing preloaded.
    if (const int rc = run_and_wait(e.command, out, e.stdin_path, e.env); rc != 0)
      throw InputError(p.source + ": '" + e.command[0] + "' exited with status " + std::to_string(rc) +
                       " in its reference run (nothing preloaded)" + last_line(read_file(out + ".err")) +
                       "; a program that fails by design needs \"check\": \"none\" and exit 0");
    reference[p.name] = file_digest(out, nullptr);
  }
  fs::remove(out);
  fs::remove(out + ".err");
  return reference;
}

results::CellResult run_program_cell(const CellPlan& c, const RunOptions& o, const std::string& run_dir,
                                     const cpu_set_t& deployed, const std::map<std::string, std::string>& reference) {
  const registry::Allocator& a = *c.allocator;
  ProgramCellSpec spec;
  const std::string work = run_dir + "/work";
  spec.program = expanded(*c.program, placeholders(o, work, free_port()));
  spec.env = a.env;
  const std::string preload = registry::program_preload(a);
  spec.env.emplace_back("LD_PRELOAD", preload.empty() ? o.probe_library : preload + ":" + o.probe_library);
  spec.expect_malloc_from = a.library;
  fs::create_directories(run_dir + "/out");
  spec.stdout_path = run_dir + "/out/" + std::to_string(c.index) + ".stdout";
  fs::remove(spec.stdout_path);
  spec.timeout_s = c.program->timeout_s > 0 ? c.program->timeout_s : o.timeout_s;
  spec.mem_cap_bytes = o.mem_cap_bytes;
  spec.sample_hz = o.sample_hz;
  spec.max_points = o.max_points;
  spec.start_cpus = &deployed;
  spec.thp_never = c.thp_never;
  spec.huge_every_ns = c.thp_axis ? kHugePageEveryNs : 0;
  spec.release_every_ms = static_cast<double>(c.release_every_ns) * 1e-6;
  spec.registry_library = o.registry_library;
  spec.config_path = run_dir + "/out/" + std::to_string(c.index) + ".config.json";
  std::ofstream(spec.config_path, std::ios::trunc);  // the registry's library writes only to a file that exists
  spec.counters = o.counters;
  results::CellResult r = planned_result(c, results::utc_now());
  const ProgramOutcome out = supervise_program(spec);

  r.status = out.ok ? "ok" : "failed";
  r.cause = out.cause;
  r.detail = out.detail;
  r.exit_code = out.exit_code;
  if (out.signal) r.signal = out.signal;
  r.wall_s = static_cast<double>(out.exit_ns - out.spawn_ns) * 1e-9;
  r.stderr_tail = out.stderr_tail;
  r.identity = results::Identity{out.identity_reported && out.cause != "identity",
                                 a.kind(),
                                 "",
                                 out.malloc_from,
                                 out.identity_reported ? "in the program's process malloc resolves to " +
                                                             out.malloc_from + " and free to " + out.free_from
                                                       : "the probe library reported nothing",
                                 ""};
  // The phases, R measured against nothing: a program has no harness baseline.
  for (size_t i = 0; i < out.phases.size(); ++i) {
    const ProgramPhase& p = out.phases[i];
    results::PhaseResult pr;
    pr.index = static_cast<int>(i);
    pr.name = p.name;
    pr.begin_s = static_cast<double>(p.begin_ns - out.spawn_ns) * 1e-9;
    if (p.ended) {
      results::PhaseEndResult e;
      e.end_s = static_cast<double>(p.end_ns - out.spawn_ns) * 1e-9;
      e.rss = p.smaps.rss;
      e.anonymous = p.smaps.anonymous;
      e.lazy_free = p.smaps.lazy_free;
      e.anon_huge_pages = p.smaps.anon_huge_pages;
      e.r = static_cast<int64_t>(p.smaps.anonymous);
      e.reported = p.figures;
      for (size_t k = 0; out.counters_opened && k < metrics::perf::kEvents; ++k)
        if (out.counter_avail[k].error == 0) e.counters.emplace_back(metrics::perf::event_info(k).name, p.counters[k]);
      e.counters_multiplexed = p.counters_multiplexed;
      pr.end = std::move(e);
    }
    r.phases.push_back(std::move(pr));
  }
  if (out.counters_opened) {  // a program's allocator calls are not counted: no per-1k figures
    double total[metrics::perf::kEvents] = {};
    bool multiplexed = false;
    for (const auto& p : out.phases)
      if (p.ended) {
        for (size_t k = 0; k < metrics::perf::kEvents; ++k) total[k] += p.counters[k];
        multiplexed |= p.counters_multiplexed;
      }
    r.counters = counter_summary(out.counter_avail, total, multiplexed, 0);
    r.counters->threads_at_attach = out.threads_at_attach;
  }
  results::ProgramRun run;
  run.command = spec.program.command;
  run.exit_code = out.exit_code;
  run.stdout_bytes = out.stdout_bytes;
  run.stdout_digest = out.stdout_digest;
  run.check = c.program->check;
  run.metric_name = c.program->metric_name;
  run.metric_higher_is_better = c.program->metric_higher_is_better;
  const Timeline& tl = out.timeline;
  run.vm_hwm_from = out.vm_hwm ? "probe" : "sampled";
  r.measured_s = r.wall_s;
  r.cpu = results::CpuUse{static_cast<double>(out.usage.ru_utime.tv_sec) + out.usage.ru_utime.tv_usec * 1e-6,
                          static_cast<double>(out.usage.ru_stime.tv_sec) + out.usage.ru_stime.tv_usec * 1e-6,
                          static_cast<uint64_t>(out.usage.ru_minflt),
                          static_cast<uint64_t>(out.usage.ru_majflt),
                          static_cast<uint64_t>(out.usage.ru_nvcsw),
                          static_cast<uint64_t>(out.usage.ru_nivcsw)};
  uint64_t peak_anon = tl.peak_anon();
  for (const auto& p : out.phases) peak_anon = std::max(peak_anon, p.smaps.anonymous);
  // The probe reads VmHWM in its destructor; exit handlers after it can still
  // fault pages in (a few KiB, seen), which the last samples then caught.
  r.memory.vm_hwm = std::max(out.vm_hwm, tl.peak_rss());
  r.memory.peak_rss_sampled = tl.peak_rss();
  r.memory.peak_anon_sampled = tl.peak_anon();
  r.memory.peak_r = peak_anon;
  if (tl.span_s() > 0) r.memory.avg_r = std::llround(tl.integral_anon() / tl.span_s());
  r.timeline.sample_hz = o.sample_hz;
  r.timeline.samples = tl.samples();
  r.timeline.stride = tl.stride();
  for (const auto& s : tl.points()) {
    r.timeline.t_s.push_back(static_cast<double>(s.t_ns - out.spawn_ns) * 1e-9);
    r.timeline.rss.push_back(static_cast<double>(s.rss));
    r.timeline.anon.push_back(static_cast<double>(s.anon));
    r.timeline.live.push_back(0);
  }
  if (r.ok()) {
    if (c.program->check == "same" && out.stdout_digest != reference.at(c.program->name))
      fail(r, "output_mismatch",
           "stdout digest " + out.stdout_digest + " differs from " + reference.at(c.program->name) +
               ", the program's output with nothing preloaded (its reference run before the cells)");
    if (c.program->check == "digest" && out.stdout_digest != c.program->expect_digest)
      fail(r, "output_mismatch", "stdout digest " + out.stdout_digest + ", expected " + c.program->expect_digest);
    if (c.program->check == "command") {
      Argv cmd = spec.program.check_command;
      cmd.push_back(spec.stdout_path);
      if (const int rc = run_and_wait(cmd, spec.stdout_path + ".check"); rc != 0)
        fail(r, "output_mismatch", "the check command '" + cmd[0] + "' exited with status " + std::to_string(rc));
      fs::remove(spec.stdout_path + ".check");
    }
    if (!c.program->metric_regex.empty()) {
      const std::string text = c.program->server ? out.client_output : read_file(spec.stdout_path);
      std::smatch m;
      if (std::regex_search(text, m, std::regex(c.program->metric_regex)) && m.size() > 1) {
        try {
          run.metric = std::stod(m[1].str());
        } catch (const std::exception&) {
        }
      }
      if (!run.metric)
        fail(r, "no_metric",
             "the metric regex '" + c.program->metric_regex + "' matched no number in the " +
                 (c.program->server ? "clients' output" : "program's output"));
    }
  }
  r.allocator_config = allocator_config(spec.config_path);
  if (c.thp_axis) r.huge_pages = huge_page_timeline(out.huge_pages, out.spawn_ns);
  if (c.release_every_ns) record_release(out, r);
  r.run = std::move(run);
  return r;
}

}  // namespace heapmark::runner
