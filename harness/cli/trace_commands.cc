// Trace subcommands:
//   heapmark record -o app.hmt -- ./app args    run ./app under libheapmark_record.so
//   heapmark trace-info app.hmt                  events, threads, sizes, lifetimes, peak live, RSS vs live
//   heapmark replay app.hmt [--allocators ...]   the `trace` workload on each allocator (runner::run)
#include <fcntl.h>
#include <poll.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

#include <boost/json.hpp>

#include "allocators/registry/registry.h"
#include "common/input_error.h"
#include "harness/cli/commands.h"
#include "harness/cli/replay_check.h"
#include "harness/cli/validators.h"
#include "harness/runner/matrix_builder.h"
#include "harness/runner/run.h"
#include "harness/report/results.h"
#include "harness/results/output_file.h"
#include "harness/cli/trace_summary.h"
#include "harness/symbols/symbolize.h"
#include "workloads/trace_format.h"

namespace {

namespace tr = heapmark::trace;
using heapmark::InputError;
using heapmark::cli::human;
using heapmark::cli::summarize;
using heapmark::cli::Summary;

// trace-info --json: the same figures, for scripts and tests.
// The traces of a recording's forked children ("<trace>.<pid>", --follow-forks), by name.
std::vector<std::string> trace_family(const std::string& trace) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  const fs::path p = fs::absolute(trace);
  const std::string prefix = p.filename().string() + ".";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(p.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (name.find_first_not_of("0123456789", prefix.size()) != std::string::npos) continue;
    out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

boost::json::array family_json(const std::string& trace) {
  boost::json::array out;
  for (const auto& f : trace_family(trace)) out.emplace_back(f);
  return out;
}

// The sites with the most of `key`, largest first (ties by id), at most `n`, none with 0.
std::vector<uint32_t> top_sites(const Summary& s, uint64_t Summary::SiteStat::*key, size_t n) {
  std::vector<uint32_t> ids;
  for (uint32_t i = 1; i < s.site_stats.size(); ++i)
    if (s.site_stats[i].*key > 0) ids.push_back(i);
  std::sort(ids.begin(), ids.end(), [&](uint32_t a, uint32_t b) {
    return s.site_stats[a].*key != s.site_stats[b].*key ? s.site_stats[a].*key > s.site_stats[b].*key : a < b;
  });
  if (ids.size() > n) ids.resize(n);
  return ids;
}

// trace-info's allocation sites: null without --stacks.
boost::json::value sites_json(const Summary& s, heapmark::symbols::Symbolizer& sym) {
  namespace json = boost::json;
  if (s.sites.empty()) return nullptr;
  auto list = [&](uint64_t Summary::SiteStat::*key) {
    json::array out;
    for (uint32_t id : top_sites(s, key, 10)) {
      const auto& st = s.site_stats[id];
      json::array frames;
      for (const auto& f : sym.stack(id)) frames.push_back(f.to_json());
      out.push_back(json::object{{"site", id},
                                 {"allocs", st.allocs},
                                 {"bytes", st.bytes},
                                 {"live_end", st.live_end},
                                 {"blocks_end", st.blocks_end},
                                 {"frames", std::move(frames)}});
    }
    return out;
  };
  json::array warnings;
  json::object o{{"walker", s.sites.walker()},
                 {"depth", s.sites.depth()},
                 {"stacks", s.sites.count()},
                 {"modules", s.sites.modules().size()},
                 {"allocs_without_stack", s.site_stats[0].allocs},
                 {"dropped", s.sites.dropped()},
                 {"top_allocated", list(&Summary::SiteStat::bytes)},
                 {"top_live_at_end", list(&Summary::SiteStat::live_end)}};
  for (const auto& w : sym.warnings()) warnings.push_back(json::string(w));
  o["warnings"] = std::move(warnings);
  return o;
}

void print_sites(const Summary& s, heapmark::symbols::Symbolizer& sym) {
  if (s.sites.empty()) {
    std::printf("allocation sites: not recorded (record with --stacks)\n");
    return;
  }
  std::printf("allocation sites: %u stacks (%s, depth %u), %zu modules; %" PRIu64 " allocations without a stack%s\n",
              s.sites.count(), s.sites.walker().c_str(), s.sites.depth(), s.sites.modules().size(),
              s.site_stats[0].allocs, s.sites.dropped() ? " (the recorder's stack table was full)" : "");
  auto show = [&](const char* title, uint64_t Summary::SiteStat::*key) {
    const auto ids = top_sites(s, key, 5);
    if (ids.empty()) return;
    std::printf("%s\n", title);
    for (uint32_t id : ids) {
      const auto& st = s.site_stats[id];
      std::printf("  %10s  %8" PRIu64 " blocks  site %u\n", human(st.*key).c_str(),
                  key == &Summary::SiteStat::bytes ? st.allocs : st.blocks_end, id);
      const auto frames = sym.stack(id);
      for (size_t i = 0; i < frames.size() && i < 4; ++i) std::printf("      %s\n", frames[i].text().c_str());
      if (frames.size() > 4) std::printf("      ... %zu more frames\n", frames.size() - 4);
    }
  };
  show("top sites by bytes allocated:", &Summary::SiteStat::bytes);
  show("top sites by bytes live at the end:", &Summary::SiteStat::live_end);
  for (const auto& w : sym.warnings()) std::fprintf(stderr, "heapmark trace-info: warning: %s\n", w.c_str());
}

boost::json::object summary_json(const std::string& path, const Summary& s) {
  namespace json = boost::json;
  json::array argv, sizes, rss;
  for (const auto& a : s.header.argv) argv.push_back(json::string(a));
  json::object counts, recorder;
  bool counts_match = s.complete;
  for (int k = 0; k < tr::kEventKinds; ++k) {
    counts[tr::event_kind_name(tr::EventKind(k))] = s.counts[k];
    recorder[tr::event_kind_name(tr::EventKind(k))] = s.recorder[k];
    counts_match &= s.last_image[k] == s.recorder[k];
  }
  for (int b = 0; b < 65; ++b)
    if (s.size_hist[b])
      sizes.push_back(json::object{{"min", b == 0 ? 0 : uint64_t{1} << (b - 1)},
                                   {"max", b == 0    ? 0
                                           : b == 64 ? UINT64_MAX
                                                     : (uint64_t{1} << b) - 1},
                                   {"count", s.size_hist[b]}});
  static const char* const kLife[] = {"same_tick", "under_10ms",  "under_100ms", "under_1s",
                                      "under_10s", "10s_or_more", "live_at_end", "freed_made_before_recording"};
  json::object life;
  for (int b = 0; b < 8; ++b) life[kLife[b]] = s.life_hist[b];
  for (const auto& p : s.rss)
    rss.push_back(json::object{
        {"t_s", double(p.t_ms) / 1000}, {"rss", p.rss}, {"anon", p.anon}, {"live", p.live}, {"recorder", p.own}});
  json::array phases;
  for (const auto& m : s.phases)
    phases.push_back(
        json::object{{"name", m.name}, {"t_s", double(m.t_ms) / 1000}, {"thread", m.thread}, {"live", m.live}});
  return json::object{
      {"trace", path},
      {"program", s.header.program},
      {"argv", std::move(argv)},
      {"machine", s.header.machine},
      {"format_version", s.header.version},
      {"recorded_allocator", s.header.allocator.empty() ? json::value(nullptr) : json::value(s.header.allocator)},
      {"thread_lifetimes", s.header.version >= 2},
      {"thread_begins", s.thread_begins},
      {"thread_ends", s.thread_ends},
      {"pid", s.header.pid},
      {"start_unix_ns", s.header.start_unix_ns},
      {"complete", s.complete},
      {"lost_events", s.lost},
      {"lost_reason", s.lost ? json::value(s.lost_reason) : json::value(nullptr)},
      {"events", s.events},
      {"counts", std::move(counts)},
      {"recorder_counts", s.complete ? json::value(std::move(recorder)) : json::value(nullptr)},
      {"recorder_counts_match", counts_match},
      {"forks", s.forks},
      {"family", family_json(path)},
      {"threads", s.threads},
      {"images", s.images},
      {"duration_s", double(s.duration_ms) / 1000},
      {"file_bytes", s.file_bytes},
      {"bytes_per_event", s.events ? double(s.file_bytes) / double(s.events) : 0.0},
      {"peak_live", s.peak_live},
      {"peak_live_s", double(s.peak_ms) / 1000},
      {"peak_blocks", s.peak_blocks},
      {"live_end", s.live_end},
      {"blocks_end", s.blocks_end},
      {"sizes", std::move(sizes)},
      {"lifetimes", std::move(life)},
      {"phases", std::move(phases)},
      {"rss", std::move(rss)}};
}

int trace_info(const std::string& path, bool as_json) {
  const Summary s = summarize(path);
  heapmark::symbols::Symbolizer sym(s.sites);
  if (as_json) {
    boost::json::object o = summary_json(path, s);
    o["sites"] = sites_json(s, sym);
    std::printf("%s\n", boost::json::serialize(o).c_str());
    return 0;
  }
  std::string cmd;
  for (const auto& a : s.header.argv) cmd += (cmd.empty() ? "" : " ") + a;
  const time_t when = static_cast<time_t>(s.header.start_unix_ns / 1000000000);
  char date[64] = "";
  struct tm tm;
  if (gmtime_r(&when, &tm)) std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::printf("trace: %s\n", path.c_str());
  std::printf("program: %s\ncommand: %s\nmachine: %s\nrecorded: %s (pid %" PRIu64 ")\n", s.header.program.c_str(),
              cmd.c_str(), s.header.machine.c_str(), date, s.header.pid);
  std::printf("complete: %s\n",
              s.complete ? "yes" : "no (no end chunk: _exit, a crash or a signal ended the recording)");
  if (s.lost)
    std::printf("INCOMPLETE: %" PRIu64 " events were not recorded (%s); replay refuses this trace\n", s.lost,
                s.lost_reason.c_str());
  std::printf("events: %" PRIu64 "\n", s.events);
  for (int k = 0; k < tr::kEventKinds; ++k)
    std::printf("  %-8s %12" PRIu64 "%s\n", tr::event_kind_name(tr::EventKind(k)), s.counts[k],
                !s.complete                        ? ""
                : s.last_image[k] == s.recorder[k] ? "  (= recorder)"
                                                   : "  (RECORDER COUNTED DIFFERENTLY)");
  bool counts_match = s.complete;
  for (int k = 0; k < tr::kEventKinds; ++k) counts_match &= s.last_image[k] == s.recorder[k];
  std::printf("recorder counts match: %s%s\n", counts_match ? "yes" : "no",
              s.images > 1 ? " (the recorder's counts cover the last exec'd image)" : "");
  const auto family = trace_family(path);
  std::printf("forks: %" PRIu64 " (%s)\n", s.forks,
              family.empty() ? "children not recorded" : "children recorded with --follow-forks: the family below");
  for (const auto& f : family) std::printf("  family: %s\n", f.c_str());
  std::printf("format: version %u\n", s.header.version);
  std::printf("recorded under: %s\n", !s.header.allocator.empty() ? s.header.allocator.c_str()
                                      : s.header.version >= 2
                                          ? "unknown (the recorder could not name the object serving malloc)"
                                          : "not recorded (format version 1)");
  std::printf("threads: %u\n", s.threads);
  if (s.header.version >= 2)
    std::printf("thread lifetimes: %" PRIu64 " began, %" PRIu64
                " ended before the program did (replays start and end each thread "
                "where it did)\n",
                s.thread_begins, s.thread_ends);
  else
    std::printf(
        "thread lifetimes: not in this trace (format version 1): replays start every thread at once and end it after "
        "its last event\n");
  std::printf("images: %u\nduration: %.3f s\n", s.images, double(s.duration_ms) / 1000);
  std::printf("file: %" PRIu64 " bytes, %.2f bytes/event\n", s.file_bytes,
              s.events ? double(s.file_bytes) / double(s.events) : 0.0);
  std::printf("peak live bytes: %" PRIu64 " at %.3f s (%" PRIu64 " blocks)\n", s.peak_live, double(s.peak_ms) / 1000,
              s.peak_blocks);
  std::printf("live at end: %" PRIu64 " bytes in %" PRIu64 " blocks\n", s.live_end, s.blocks_end);
  std::printf("phase marks: %zu%s\n", s.phases.size(),
              s.phases.empty() ? " (the program wrote no `phase NAME` line to HEAPMARK_PHASE_FD)" : "");
  for (const auto& m : s.phases)
    std::printf("  %10.3f s  thread %-4u %-32s live %s\n", double(m.t_ms) / 1000, m.thread, m.name.c_str(),
                human(m.live).c_str());
  std::printf("size histogram (requested bytes):\n");
  for (int b = 0; b < 65; ++b)
    if (s.size_hist[b])
      std::printf("  %10s - %-10s %12" PRIu64 "\n", b == 0 ? "0" : human(uint64_t{1} << (b - 1)).c_str(),
                  b == 0 ? "0" : human((b == 64 ? UINT64_MAX : (uint64_t{1} << b) - 1)).c_str(), s.size_hist[b]);
  static const char* const kLife[] = {"same tick", "< 10 ms", "< 100 ms",    "< 1 s",
                                      "< 10 s",    ">= 10 s", "live at end", "freed, made before recording"};
  std::printf("lifetime histogram (coarse clock, 1-4 ms ticks):\n");
  for (int b = 0; b < 8; ++b) std::printf("  %-28s %12" PRIu64 "\n", kLife[b], s.life_hist[b]);
  print_sites(s, sym);
  if (!s.rss.empty()) {
    std::printf(
        "program RSS under its own allocator vs its live bytes (recorder: the recorder's own pages among them%s):\n"
        "  %10s %12s %12s %12s %12s\n",
        s.header.version >= 2 ? "" : ", not in format version 1", "t_s", "rss", "anon", "live", "recorder");
    const size_t step = std::max<size_t>(1, s.rss.size() / 20);
    for (size_t i = 0; i < s.rss.size(); i += step) {
      const auto& p = s.rss[i];
      std::printf("  %10.3f %12s %12s %12s %12s\n", double(p.t_ms) / 1000, human(p.rss).c_str(), human(p.anon).c_str(),
                  human(p.live).c_str(), s.header.version >= 2 ? human(p.own).c_str() : "-");
    }
  }
  return 0;
}

constexpr int kPhaseFd = 4;  // the descriptor number heapmark run's program cells use too

// Reads `phase NAME` lines from the program's phase pipe until the program has
// exited (its own children may keep the pipe open: not waited for), counting them.
uint64_t count_marks_until_exit(int fd, pid_t pid) {
  fcntl(fd, F_SETFL, O_NONBLOCK);
  uint64_t marks = 0;
  std::string partial;
  char buf[4096];
  auto drain = [&]() {
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) {
      partial.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = partial.find('\n')) != std::string::npos; partial.erase(0, nl + 1))
        marks += partial.compare(0, 6, "phase ") == 0;
    }
  };
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    poll(&p, 1, 100);
    drain();
    if (p.revents & POLLHUP) break;
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) break;
  }
  drain();
  return marks;
}

// Whether execvp would find `program` (checked before the output file is
// touched, so a mistyped command leaves an earlier recording in place).
bool runnable(const std::string& program) {
  if (program.find('/') != std::string::npos)
    return access(program.c_str(), X_OK) == 0 && !std::filesystem::is_directory(program);
  const char* path = getenv("PATH");
  for (const auto& dir : heapmark::split_list(path ? path : "/usr/bin:/bin", ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate)) return true;
  }
  return false;
}

// Puts a finished recording in place: `tmp` becomes `out`, and its forked
// children's traces (tmp.<pid>) become out.<pid>; an earlier recording's
// children (replaced only under --force) go first.
void install_recording(const std::string& tmp, const std::string& out) {
  for (const auto& old : trace_family(out)) std::filesystem::remove(old);
  for (const auto& child : trace_family(tmp))
    if (std::rename(child.c_str(), (out + child.substr(tmp.size())).c_str()) != 0)
      throw heapmark::EnvironmentError("rename a child's trace to", out + child.substr(tmp.size()), errno);
  if (std::rename(tmp.c_str(), out.c_str()) != 0) throw heapmark::EnvironmentError("rename the trace to", out, errno);
}

void discard_recording(const std::string& tmp) {
  for (const auto& child : trace_family(tmp)) std::filesystem::remove(child);
  std::filesystem::remove(tmp);
}

// The recording is written under a temporary name beside `out` and renamed
// over it only when it is a trace: a program that cannot be recorded, a full
// disk or an interrupted recorder leave an earlier `out` as it was.
int record(const std::string& out, bool force, const std::vector<std::string>& command, unsigned rss_ms,
           bool follow_forks, unsigned stacks, const std::string& walker) {
  if (command.empty()) throw InputError("record: give the program after --, e.g. heapmark record -o app.hmt -- ./app");
  heapmark::results::claim_output(out, force, "record -o");
  const std::string lib = heapmark::cli::parts_dir() + "/libheapmark_record.so";
  if (access(lib.c_str(), R_OK) != 0)
    throw InputError("record: " + lib + " is missing (build the heapmark_record target)");
  if (!runnable(command[0]))
    throw InputError("record: cannot run '" + command[0] + "': " +
                     (command[0].find('/') == std::string::npos ? "not found in PATH" : "no such executable file"));
  const std::string abs_out = std::filesystem::absolute(out).string();
  const std::string tmp = abs_out + ".recording-" + std::to_string(getpid());
  {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);  // the recorder appends to it
    if (fd < 0) throw heapmark::EnvironmentError("write", tmp, errno);
    ::close(fd);
  }
  // The program marks phases on HEAPMARK_PHASE_FD as under `heapmark run`; the
  // recorder puts each mark in the trace, and this end counts what arrived.
  int marks_pipe[2], exec_pipe[2];
  if (pipe2(marks_pipe, O_CLOEXEC) != 0 || pipe2(exec_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    close(exec_pipe[0]);
    std::signal(SIGINT, SIG_DFL);  // an ignored signal would stay ignored across exec
    std::signal(SIGQUIT, SIG_DFL);
    // dup2 clears close-on-exec on the copy (and does nothing when it is already that descriptor)
    if (marks_pipe[1] == kPhaseFd ? fcntl(kPhaseFd, F_SETFD, 0) != 0 : dup2(marks_pipe[1], kPhaseFd) < 0) _exit(127);
    setenv("HEAPMARK_PHASE_FD", std::to_string(kPhaseFd).c_str(), 1);
    const char* old = getenv("LD_PRELOAD");
    const std::string preload = old && *old ? lib + ":" + old : lib;
    setenv("LD_PRELOAD", preload.c_str(), 1);
    setenv("HEAPMARK_RECORD_FILE", tmp.c_str(), 1);
    setenv("HEAPMARK_RECORD_PID", std::to_string(getpid()).c_str(), 1);
    if (follow_forks) setenv("HEAPMARK_RECORD_FAMILY", tmp.c_str(), 1);
    else unsetenv("HEAPMARK_RECORD_FAMILY");
    setenv("HEAPMARK_RECORD_RSS_MS", std::to_string(rss_ms).c_str(), 1);
    setenv("HEAPMARK_RECORD_STACKS", std::to_string(stacks).c_str(), 1);
    setenv("HEAPMARK_RECORD_WALKER", walker.c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    const int err = errno;  // the exec pipe closes on a successful exec; a failed one sends its errno
    if (write(exec_pipe[1], &err, sizeof err) != sizeof err) _exit(126);
    _exit(127);
  }
  // Ctrl-C reaches the program (same process group) and ends it; this side
  // stays to keep what was recorded, as time(1) does.
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGQUIT, SIG_IGN);
  close(marks_pipe[1]);
  close(exec_pipe[1]);
  int exec_errno = 0;
  ssize_t got;
  while ((got = read(exec_pipe[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  close(exec_pipe[0]);
  if (got == sizeof exec_errno) {  // nothing ran: no trace, and the file made for it goes
    close(marks_pipe[0]);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    discard_recording(tmp);
    throw InputError("record: cannot run '" + command[0] + "': " + std::strerror(exec_errno));
  }
  const uint64_t sent_marks = count_marks_until_exit(marks_pipe[0], pid);
  close(marks_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  const std::string dir = std::filesystem::path(abs_out).parent_path().string();
  auto disk_full = [&] {
    struct statvfs vfs;
    return statvfs(dir.c_str(), &vfs) == 0 && vfs.f_bavail * vfs.f_frsize < (1u << 20);
  };
  std::error_code ec;
  if (std::filesystem::file_size(tmp, ec) == 0) {
    const bool full = disk_full();
    discard_recording(tmp);
    if (full) throw heapmark::EnvironmentError("record a trace in", dir, ENOSPC);
    throw InputError("record: '" + command[0] + "' (exit status " + std::to_string(code) +
                     ") made no allocator call the recorder saw: it is statically linked, clears LD_PRELOAD, or never "
                     "calls malloc; nothing was written");
  }
  try {
    tr::MappedFile file(tmp);
    tr::Reader r(file.data(), file.size(), abs_out);
    tr::Event e;
    uint64_t n = 0, marks = 0;
    while (r.next(e)) {
      ++n;
      marks += e.op == tr::Op::kPhase;
    }
    if (!r.complete() && disk_full()) {  // the recorder's writes were refused: not a trace to keep
      discard_recording(tmp);
      throw heapmark::EnvironmentError("record a trace in", dir, ENOSPC);
    }
    if (sent_marks != marks)
      std::fprintf(
          stderr,
          "heapmark record: warning: the program wrote %" PRIu64 " phase marks to HEAPMARK_PHASE_FD and %" PRIu64
          " are in the trace: the recorder sees a mark when the program calls write() or fflush() on that descriptor "
          "(flush after each mark; stdio's implicit flushes and raw syscalls are not seen)\n",
          sent_marks, marks);
    std::fprintf(stderr,
                 "heapmark record: %s: %" PRIu64
                 " events, %u threads, %zu bytes (%.2f bytes/event)%s; program exit status %d\n",
                 abs_out.c_str(), n, r.threads(), file.size(), n ? double(file.size()) / double(n) : 0.0,
                 r.complete() ? "" : ", incomplete (the program did not exit normally)", code);
    if (r.lost())
      std::fprintf(stderr, "heapmark record: INCOMPLETE: %" PRIu64 " events were not recorded (%s)\n", r.lost(),
                   tr::lost_reason_text(r.lost_reasons()).c_str());
  } catch (const InputError& err) {
    discard_recording(tmp);
    if (disk_full()) throw heapmark::EnvironmentError("record a trace in", dir, ENOSPC);
    throw InputError(std::string("record: the recording is not a readable trace (") + err.what() +
                     "; program exit status " + std::to_string(code) + "); nothing was written");
  }
  install_recording(tmp, abs_out);
  return code;
}

struct ReplayState {
  std::string trace, allocators = "glibc", timing = "compressed";
  int reps = 1;
  heapmark::runner::RunOptions opts;
};

int replay(ReplayState& st) {
  const std::string path = std::filesystem::absolute(st.trace).string();
  // Bad input is reported here, once, rather than by every cell.
  const Summary rec = summarize(path);
  if (rec.lost)
    throw InputError(path + ": incomplete trace: " + std::to_string(rec.lost) + " events were not recorded (" +
                     rec.lost_reason +
                     "); a replay would free blocks it never made or keep blocks the program freed: record it again");
  const std::string dir = heapmark::cli::parts_dir();
  auto known = heapmark::registry::builtin(dir);
  heapmark::runner::MatrixRequest req;
  req.allocators = heapmark::split_list(st.allocators);
  if (req.allocators.empty()) throw InputError("replay: --allocators is empty");
  req.workloads = {"trace"};
  req.params = {"path=" + path, "timing=" + st.timing};
  req.reps = st.reps;
  req.baseline = req.allocators.front();
  const heapmark::runner::Matrix m = heapmark::runner::build_matrix(req, known);
  st.opts.cell_binary = dir + "/heapmark-cell";
  std::string run_dir;
  const int status = heapmark::cli::run_and_report(m, st.opts, known, &run_dir);
  // The replays' RSS next to what the program itself had under its own allocator.
  uint64_t peak_rss = 0, peak_anon = 0;
  for (const auto& p : rec.rss) {
    peak_rss = std::max(peak_rss, p.rss);
    peak_anon = std::max(peak_anon, p.anon);
  }
  if (!st.opts.quiet)
    std::printf("recorded program: peak live %s; under its own allocator peak RSS %s, anonymous %s (sampled%s)\n",
                human(rec.peak_live).c_str(), human(peak_rss).c_str(), human(peak_anon).c_str(),
                rec.rss.empty() ? ": no samples" : "");
  // The replay on the recording's own allocator against the program's RSS, at the trace's end and over the run.
  if (!run_dir.empty()) {
    const heapmark::report::Run run = heapmark::report::read_run(run_dir);
    int last = -1;
    for (const auto& c : run.cells) last = std::max(last, static_cast<int>(c.phases.size()) - 1);
    const heapmark::cli::ReplayCheck check =
        heapmark::cli::check_replay(rec, run, known, {{last, "end", rec.t0_ms + rec.duration_ms, rec.live_end}});
    heapmark::results::write_atomically(run_dir + "/self_check.json",
                                        boost::json::serialize(heapmark::results::to_json(check.result())) + "\n");
    if (!st.opts.quiet) std::printf("%s\n", check.line().c_str());
  }
  return status;
}

const heapmark::cli::CommandRegistrar reg{[](CLI::App& app) -> heapmark::cli::Action {
  struct State {
    std::string out = "app.hmt";
    bool force = false;
    std::vector<std::string> command;
    unsigned rss_ms = 10;
    bool follow_forks = false;
    unsigned stacks = 0;
    std::string walker = "libunwind";
    std::string info_path;
    bool info_json = false;
    ReplayState replay;
  };
  auto st = std::make_shared<State>();
  auto* rec =
      app.add_subcommand("record", "Record a program's allocation trace: heapmark record -o app.hmt -- ./app args");
  rec->add_option("-o,--out", st->out,
                  "Trace file to write (an existing file is replaced only with --force, and only by a good recording)");
  rec->add_flag("--force", st->force, "Replace the -o file (and its --follow-forks children) if it exists");
  rec->add_option("--rss-ms", st->rss_ms, "RSS sampling period, ms (0: off)")
      ->check(heapmark::cli::within(0u, 3600000u));
  rec->add_flag(
      "--follow-forks", st->follow_forks,
      "Record each forked child to its own trace, <out>.<pid> (pre-forking servers, shell pipelines; children "
      "started with vfork or posix_spawn are not followed)");
  rec->add_flag("--stacks{16}", st->stacks,
                "Record each allocation's call stack, DEPTH frames deep (--stacks=DEPTH, default 16), for allocation "
                "sites in trace-info and diagnose")
      ->check(heapmark::cli::within(1u, heapmark::trace::kMaxStackDepth));
  rec->add_option(
         "--stack-walker", st->walker,
         "libunwind: DWARF unwind info, works on Debian's binaries (default); frame-pointers: faster, but only "
         "through code built with -fno-omit-frame-pointer")
      ->check(CLI::IsMember({"libunwind", "frame-pointers"}));
  rec->add_option("command", st->command, "The program and its arguments (after --)");
  auto* info = app.add_subcommand("trace-info",
                                  "Summarize a trace: events, threads, sizes, lifetimes, peak live bytes, RSS vs live");
  info->add_option("trace", st->info_path, "Trace file (.hmt)")->required();
  info->add_flag("--json", st->info_json, "One JSON object instead of text (for scripts)");
  auto* rep = app.add_subcommand("replay", "Replay a trace on each allocator (the trace workload in a run)");
  rep->add_option("trace", st->replay.trace, "Trace file (.hmt)")->required();
  rep->add_option("--allocators", st->replay.allocators, "Comma-separated allocator names (default glibc)");
  rep->add_option("--timing", st->replay.timing,
                  "compressed: calls back to back; as-recorded: recorded gaps as idle time")
      ->check(CLI::IsMember({"compressed", "as-recorded"}));
  rep->add_option("--cpu", st->replay.opts.cell_cpu, "CPU single-thread cells are pinned to (default: the last)")
      ->check(heapmark::cli::within(0, CPU_SETSIZE - 1))
      ->default_str("last");
  rep->add_option("--reps", st->replay.reps, "Repetitions")->check(heapmark::cli::within(1, 1000));
  rep->add_option("--timeout", st->replay.opts.timeout_s,
                  "Wall timeout per cell, seconds (a long trace replays at about 1-3 M events/s)")
      ->check(heapmark::cli::within(1.0, 86400.0));
  rep->add_option("--out", st->replay.opts.results_root, "Results root directory");
  rep->add_option("--run-id", st->replay.opts.run_id, "Name of the results directory");
  rep->add_flag("-q,--quiet", st->replay.opts.quiet, "No table, no progress");
  return [rec, info, rep, st]() -> std::optional<int> {
    if (*rec) return record(st->out, st->force, st->command, st->rss_ms, st->follow_forks, st->stacks, st->walker);
    if (*info) return trace_info(st->info_path, st->info_json);
    if (*rep) {
      st->replay.opts.command_line = heapmark::cli::command_line();
      return replay(st->replay);
    }
    return std::nullopt;
  };
}};

}  // namespace
