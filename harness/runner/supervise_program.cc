#include "harness/runner/supervise_program.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "harness/metrics/tsc.h"
#include "harness/runner/deployed_spawn.h"
#include "harness/runner/process.h"
#include "harness/runner/supervise.h"

extern char** environ;

namespace heapmark::runner {
namespace {

constexpr size_t kStderrKeep = 4096;
constexpr int kProbeFd = 3, kPhaseFd = 4, kProbeAckFd = 5, kPhaseAckFd = 6;

uint64_t now_ns() { return metrics::tsc::monotonic_ns(); }

std::string real(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) ? std::string(buf) : path;
}

bool port_open(int port) {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(s);
  return ok;
}

bool file_contains(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str().find(needle) != std::string::npos;
}

// posix_spawn of `argv` (argv[0] resolved on PATH) with stdin from `in_path`
// ("" : /dev/null), stdout appended to `out_path`, stderr to `err_fd` (-1:
// /dev/null) and `extra` fds placed at their numbers.
pid_t spawn(const Argv& argv, const std::vector<std::string>& env, const std::string& in_path,
            const std::string& out_path, int err_fd, const std::vector<std::pair<int, int>>& extra,
            const cpu_set_t* cpus, bool thp_never) {
  const std::string exe = find_executable(argv[0]);
  if (exe.empty()) throw std::runtime_error("'" + argv[0] + "' is not an executable file");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in_path.empty() ? "/dev/null" : in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  else posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  for (const auto& [from, to] : extra) posix_spawn_file_actions_adddup2(&fa, from, to);
  CArgs args(argv), envp(env);
  return spawn_deployed(exe, &fa, args.get(), envp.get(), cpus, thp_never);
}

// The key:value lines of a figures command's output (Redis INFO and the like).
std::vector<std::pair<std::string, std::string>> key_values(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0 || line[0] == '#') continue;
    out.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  return out;
}

class ProgramSupervision {
 public:
  explicit ProgramSupervision(const ProgramCellSpec& spec) : spec_(spec) { out_.timeline = Timeline(spec.max_points); }
  ProgramOutcome run();

 private:
  void start();
  void loop();
  void finish();
  void sample(uint64_t now);
  void kill_for(const char* cause, const std::string& detail);
  void on_probe_line(const std::string& line);
  void mark_phase(const std::string& name);
  void begin_phase(const std::string& name, uint64_t t);
  void end_phase(uint64_t t);
  void hold_exit();
  void server_step(uint64_t now);
  bool drain(Fd& fd, std::string& pending, bool probe);
  std::string run_quiet(const Argv& argv, const std::string& what);

  const ProgramCellSpec& spec_;
  ProgramOutcome out_;
  pid_t pid_ = -1;
  Fd err_, probe_, phase_, statm_;
  HugePageSampler huge_;
  Fd ack_;        // the probe waits at exit for a byte here (see hold_exit)
  Fd phase_ack_;  // one byte per phase mark, once its figures are read (HEAPMARK_PHASE_ACK_FD)
  Fd exit_;       // a pidfd: readable the moment the program exits, so its wall time ends then, not at the next wake-up
  std::string probe_pending_, phase_pending_;
  uint64_t deadline_ = 0, page_size_ = 4096;
  std::string killed_for_;
  bool exited_ = false;
  bool marked_ = false;         // the program wrote a phase mark
  bool exit_reported_ = false;  // the probe's exit line came; the program waits for the ack
  bool exit_released_ = false;  // the ack went: the program is on its way out (no more samples)
  bool exit_smaps_read_ = false;
  metrics::procfs::SmapsRollup exit_smaps_;  // read from outside while the program waited at exit
  metrics::perf::Counters counters_;
  metrics::perf::Reading counters_at_begin_;
  int status_ = 0;
  metrics::procfs::Statm last_{};
  // A server's progress through its client steps.
  bool ready_ = false;
  size_t step_ = 0;
  pid_t client_ = -1;
  uint64_t step_until_ = 0, ready_deadline_ = 0, stop_deadline_ = 0;
  std::string client_out_;
  bool stopping_ = false;
};

void ProgramSupervision::kill_for(const char* cause, const std::string& detail) {
  if (!killed_for_.empty()) return;
  killed_for_ = cause;
  out_.detail = detail;
  if (pid_ > 0 && !exited_) kill(pid_, SIGKILL);
  if (client_ > 0) kill(client_, SIGKILL);
}

void ProgramSupervision::start() {
  int ep[2], pp[2], hp[2], ap[2], mp[2];
  // The acks go over sockets so that sending to a program already gone is
  // EPIPE (MSG_NOSIGNAL), not a SIGPIPE.
  if (pipe2(ep, O_CLOEXEC) != 0 || pipe2(pp, O_CLOEXEC) != 0 || pipe2(hp, O_CLOEXEC) != 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ap) != 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, mp) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  err_.reset(ep[0]);
  probe_.reset(pp[0]);
  phase_.reset(hp[0]);
  ack_.reset(ap[1]);
  phase_ack_.reset(mp[1]);
  Fd err_w(ep[1]), probe_w(pp[1]), phase_w(hp[1]), ack_r(ap[0]), phase_ack_r(mp[0]);
  std::vector<std::string> env = clean_environment();
  for (const auto& [k, v] : spec_.env) env.push_back(k + "=" + v);
  for (const auto& [k, v] : spec_.program.env) env.push_back(k + "=" + v);
  env.push_back("HEAPMARK_PROBE_FD=" + std::to_string(kProbeFd));
  env.push_back("HEAPMARK_PHASE_FD=" + std::to_string(kPhaseFd));
  env.push_back("HEAPMARK_PROBE_ACK_FD=" + std::to_string(kProbeAckFd));
  env.push_back("HEAPMARK_PHASE_ACK_FD=" + std::to_string(kPhaseAckFd));
  env.push_back("HEAPMARK_PROBE_PARENT=" + std::to_string(getpid()));
  if (!spec_.registry_library.empty()) env.push_back("HEAPMARK_PROBE_REGISTRY=" + spec_.registry_library);
  if (!spec_.config_path.empty()) env.push_back("HEAPMARK_PROBE_CONFIG=" + spec_.config_path);
  if (spec_.release_every_ms > 0) env.push_back("HEAPMARK_PROBE_RELEASE_MS=" + std::to_string(spec_.release_every_ms));
  out_.spawn_ns = now_ns();
  pid_ = spawn(spec_.program.command, env, spec_.program.stdin_path, spec_.stdout_path, err_w.fd,
               {{probe_w.fd, kProbeFd}, {phase_w.fd, kPhaseFd}, {ack_r.fd, kProbeAckFd}, {phase_ack_r.fd, kPhaseAckFd}},
               spec_.start_cpus, spec_.thp_never);
#ifdef SYS_pidfd_open
  exit_.reset(static_cast<int>(
      syscall(SYS_pidfd_open, pid_, 0)));  // -1 before Linux 5.3: exit is then seen at the next wake-up
#endif
  if (spec_.counters) {
    counters_.open(pid_);
    out_.counters_opened = true;
    for (size_t i = 0; i < metrics::perf::kEvents; ++i) out_.counter_avail[i] = counters_.availability(i);
    std::error_code ec;
    for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/task", ec)) {
      (void)t;
      ++out_.threads_at_attach;
    }
  }
  // The probe waits before main for this byte: from there on the program's events are counted.
  const char attached = 1;
  if (::send(ack_.fd, &attached, 1, MSG_NOSIGNAL) != 1) {
    // The program is gone already: its exit is seen in the loop.
  }
  const std::string statm = "/proc/" + std::to_string(pid_) + "/statm";
  statm_.reset(::open(statm.c_str(), O_RDONLY | O_CLOEXEC));
  if (spec_.huge_every_ns) huge_.start(pid_, spec_.huge_every_ns, 0.02, spec_.max_points);
  page_size_ = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  deadline_ = out_.spawn_ns + static_cast<uint64_t>(spec_.timeout_s * 1e9);
  ready_deadline_ = out_.spawn_ns + static_cast<uint64_t>(spec_.program.ready_timeout_s * 1e9);
  for (Fd* f : {&err_, &probe_, &phase_}) fcntl(f->fd, F_SETFL, O_NONBLOCK);
  // A plain program is one phase until it marks its own.
  if (!spec_.program.server) begin_phase("run", out_.spawn_ns);
}

void ProgramSupervision::sample(uint64_t now) {
  metrics::procfs::Statm st;
  if (statm_.fd < 0 || !metrics::procfs::read_statm(statm_.fd, page_size_, st) || st.resident == 0) return;
  // Past the exit line the probe loads the registry's library for the allocator's configuration: that is not the
  // program's memory, so the timeline (and the peaks it gives) ends at the last figures.
  if (exit_released_) return;
  last_ = st;
  if (spec_.sample_hz > 0)
    out_.timeline.add(Sample{now, st.resident, st.anon(), 0, static_cast<uint32_t>(out_.phases.size())});
  huge_.poll(now);
  if (spec_.mem_cap_bytes && st.resident > spec_.mem_cap_bytes) {
    char msg[128];
    std::snprintf(msg, sizeof msg, "RSS %.1f MiB exceeded the cap of %.1f MiB",
                  static_cast<double>(st.resident) / 1048576.0, static_cast<double>(spec_.mem_cap_bytes) / 1048576.0);
    kill_for("memory_cap", msg);
  }
}

// A `phase NAME` line: the implicit first phase becomes "start" (the
// program's time before its first mark), and NAME begins.
// A program may wait for one byte on HEAPMARK_PHASE_ACK_FD after each mark:
// it comes once the previous phase's figures are read, so what the program
// does next cannot leak into them. One that never reads loses nothing (the
// send does not block; a full socket drops the byte).
void ProgramSupervision::mark_phase(const std::string& name) {
  if (!marked_ && !out_.phases.empty()) out_.phases.back().name = "start";
  marked_ = true;
  begin_phase(name, now_ns());
  const char read_it = 1;
  if (::send(phase_ack_.fd, &read_it, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
    // Gone, or not reading: nothing waits for this byte.
  }
}

void ProgramSupervision::begin_phase(const std::string& name, uint64_t t) {
  end_phase(t);
  ProgramPhase p;
  p.name = name.empty() ? "phase" + std::to_string(out_.phases.size() + 1) : name;
  p.begin_ns = t;
  counters_.read(counters_at_begin_);
  out_.phases.push_back(std::move(p));
}

// At a phase end RSS is read from outside: smaps_rollup while the process
// lives; for its last phase, ended by the exit, the reading taken while the
// probe held it at exit, else (killed, _exit, no probe) the last statm sample.
void ProgramSupervision::end_phase(uint64_t t) {
  if (out_.phases.empty() || out_.phases.back().ended) return;
  ProgramPhase& p = out_.phases.back();
  p.end_ns = t;
  p.ended = true;
  metrics::perf::Reading now;  // after the program exited: its final counts
  counters_.read(now);
  for (size_t i = 0; i < metrics::perf::kEvents; ++i)
    p.counters[i] = metrics::perf::delta(counters_at_begin_, now, i, &p.counters_multiplexed);
  const std::string path = "/proc/" + std::to_string(pid_) + "/smaps_rollup";
  if (exited_ && exit_smaps_read_) {
    p.smaps = exit_smaps_;
  } else if (exited_ || !metrics::procfs::read_smaps_rollup(path.c_str(), p.smaps) || p.smaps.rss == 0) {
    p.smaps = {};
    p.smaps.rss = last_.resident;
    p.smaps.anonymous = last_.anon();
  }
  sample(t);
}

// The probe wrote its exit line and waits: the phase marks the program wrote
// before exit() are all in the pipe now, so they are read (each phase end's
// smaps_rollup from the living process) before the program may go on and
// exit. Without the hold, a program that marks its last phase and exits at
// once is gone before the runner reads, and that phase would get a stale
// statm sample (the runner loses that race on a loaded machine).
void ProgramSupervision::hold_exit() {
  drain(phase_, phase_pending_, false);
  const std::string path = "/proc/" + std::to_string(pid_) + "/smaps_rollup";
  exit_smaps_read_ = metrics::procfs::read_smaps_rollup(path.c_str(), exit_smaps_) && exit_smaps_.rss > 0;
  const char go = 1;
  if (::send(ack_.fd, &go, 1, MSG_NOSIGNAL) != 1) {
    // The program gave up waiting (2 s) or is gone: nothing to release.
  }
  ack_.reset();
  exit_released_ = true;
}

void ProgramSupervision::on_probe_line(const std::string& line) {
  if (line.rfind("identity ", 0) == 0) {
    const size_t m = line.find("malloc="), f = line.find(" free=");
    if (m == std::string::npos || f == std::string::npos) return;
    // An image exec'd by the first (a wrapper script) reports again and waits
    // for its own byte: the counters are attached already.
    const char attached = 1;
    if (out_.identity_reported && ::send(ack_.fd, &attached, 1, MSG_NOSIGNAL) != 1) {
      // The program is gone: its exit is seen in the loop.
    }
    out_.identity_reported = true;
    out_.malloc_from = line.substr(m + 7, f - m - 7);
    out_.free_from = line.substr(f + 6);
    const bool libc = spec_.expect_malloc_from.empty();
    auto serves = [&](const std::string& from) {
      return libc ? from.find("/libc.so") != std::string::npos : real(from) == real(spec_.expect_malloc_from);
    };
    if (!serves(out_.malloc_from) || !serves(out_.free_from))
      kill_for("identity", "in the program's process malloc resolves to " + out_.malloc_from + " and free to " +
                               out_.free_from + ", not " +
                               (libc ? std::string("the C library") : spec_.expect_malloc_from) +
                               ": the program brings or links its own allocator");
  } else if (line.rfind("release ", 0) == 0) {
    ProgramRelease r;
    auto number = [&](const char* key) {
      const size_t at = line.find(key);
      return at == std::string::npos ? 0.0 : std::strtod(line.c_str() + at + std::strlen(key), nullptr);
    };
    auto rest = [&](const char* key) {
      const size_t at = line.find(key);
      return at == std::string::npos ? std::string() : line.substr(at + std::strlen(key));
    };
    r.every_ms = number(" every_ms=");
    r.hook = rest(" hook=");
    r.error = rest(" error=");
    r.per_thread = number(" per_thread=") != 0;
    r.calls = static_cast<uint64_t>(number(" calls="));
    r.total_ns = static_cast<uint64_t>(number(" total_ns="));
    r.max_ns = static_cast<uint64_t>(number(" max_ns="));
    out_.release = std::move(r);
  } else if (line.rfind("exit ", 0) == 0) {
    exit_reported_ = true;
    const size_t h = line.find("vm_hwm=");
    if (h != std::string::npos) out_.vm_hwm = std::strtoull(line.c_str() + h + 7, nullptr, 10);
  }
}

// Reads what is there; returns false once the pipe is closed.
bool ProgramSupervision::drain(Fd& fd, std::string& pending, bool probe) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.fd, buf, sizeof buf);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    pending.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      const std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (probe) on_probe_line(line);
      else if (line.rfind("phase ", 0) == 0 && !spec_.program.server) mark_phase(line.substr(6));
    }
  }
}

// A short helper command (a server's figures): not under the allocator, its stdout returned.
std::string ProgramSupervision::run_quiet(const Argv& argv, const std::string& what) {
  const std::string out = spec_.stdout_path + ".aux";
  ::unlink(out.c_str());
  const pid_t p = spawn(argv, clean_environment(), "", out, -1, {}, nullptr, false);
  int st = 0;
  while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
  }
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  ::unlink(out.c_str());
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) kill_for("client", what + " '" + argv[0] + "' failed");
  return ss.str();
}

// A server's state machine, advanced every loop turn: wait until ready, then
// each client step in turn (a phase each), then stop the server.
void ProgramSupervision::server_step(uint64_t now) {
  const ProgramSpec& p = spec_.program;
  if (!ready_) {
    ready_ = !p.ready_port.empty() ? port_open(std::atoi(p.ready_port.c_str()))
                                   : file_contains(spec_.stdout_path, p.ready_line);
    if (!ready_ && now > ready_deadline_)
      kill_for(
          "not_ready",
          "the server was not ready within " + std::to_string(static_cast<int>(p.ready_timeout_s)) + " s (" +
              (p.ready_port.empty() ? "no stdout line '" + p.ready_line + "'" : "port " + p.ready_port + " closed") +
              ")");
    if (!ready_) return;
    step_ = 0;
    step_until_ = 0;
  }
  if (stopping_ || !killed_for_.empty()) return;
  if (client_ > 0) {  // a step's command is running
    int st = 0;
    if (waitpid(client_, &st, WNOHANG) != client_) return;
    client_ = -1;
    std::ifstream in(client_out_);
    std::stringstream ss;
    ss << in.rdbuf();
    out_.client_output += ss.str();
    ::unlink(client_out_.c_str());
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      kill_for("client", "client step '" + p.steps[step_].phase + "' (" + p.steps[step_].command[0] +
                             ") exited with status " +
                             std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)));
      return;
    }
    step_until_ = now + p.steps[step_].idle_ms * 1'000'000;
  }
  if (step_until_ == 0 && step_ < p.steps.size()) {  // start the step
    begin_phase(p.steps[step_].phase, now);
    step_until_ = now + p.steps[step_].idle_ms * 1'000'000;
    if (!p.steps[step_].command.empty()) {
      client_out_ = spec_.stdout_path + ".client";
      ::unlink(client_out_.c_str());
      client_ = spawn(p.steps[step_].command, clean_environment(), "", client_out_, -1, {}, nullptr, false);
    }
    return;
  }
  if (client_ > 0 || now < step_until_) return;
  end_phase(now);
  if (!p.figures.empty()) out_.phases.back().figures = key_values(run_quiet(p.figures, "the figures command"));
  ++step_;
  step_until_ = 0;
  if (step_ == p.steps.size()) {
    stopping_ = true;
    stop_deadline_ = now + 10'000'000'000ull;
    kill(pid_, SIGTERM);
  }
}

void ProgramSupervision::loop() {
  const uint64_t period = spec_.sample_hz > 0 ? static_cast<uint64_t>(1e9 / spec_.sample_hz) : 10'000'000;
  uint64_t next_sample = out_.spawn_ns;
  bool err_open = true, probe_open = true, phase_open = true;
  while (!exited_) {
    const uint64_t now = now_ns();
    if (now >= next_sample) {
      sample(now);
      next_sample = std::max(next_sample + period, now);
    }
    if (now >= deadline_)
      kill_for("timeout",
               "no exit within the " + std::to_string(static_cast<int>(spec_.timeout_s)) + " s wall timeout");
    if (stopping_ && now >= stop_deadline_) kill(pid_, SIGKILL);
    if (spec_.program.server) server_step(now);
    pollfd fds[4] = {{err_open ? err_.fd : -1, POLLIN, 0},
                     {probe_open ? probe_.fd : -1, POLLIN, 0},
                     {phase_open ? phase_.fd : -1, POLLIN, 0},
                     {exit_.fd, POLLIN, 0}};
    // Sleep to the next sample, or 1 ms while a server's clients are driven.
    uint64_t wait = next_sample > now ? next_sample - now : 0;
    if (spec_.program.server) wait = std::min<uint64_t>(wait, 1'000'000);
    const timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    ppoll(fds, 4, &ts, nullptr);
    if (err_open && fds[0].revents) {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(err_.fd, buf, sizeof buf)) > 0) {
        out_.stderr_tail.append(buf, static_cast<size_t>(n));
        if (out_.stderr_tail.size() > 2 * kStderrKeep) out_.stderr_tail.erase(0, out_.stderr_tail.size() - kStderrKeep);
      }
      if (n == 0) err_open = false;
    }
    if (probe_open && fds[1].revents) probe_open = drain(probe_, probe_pending_, true);
    if (phase_open && fds[2].revents) phase_open = drain(phase_, phase_pending_, false);
    if (exit_reported_ && ack_.fd >= 0) hold_exit();
    if (wait4(pid_, &status_, WNOHANG, &out_.usage) == pid_) exited_ = true;
  }
  out_.exit_ns = now_ns();
  drain(probe_, probe_pending_, true);  // the exit line written just before the process ended
}

void ProgramSupervision::finish() {
  end_phase(out_.exit_ns);
  if (client_ > 0) {
    kill(client_, SIGKILL);
    waitpid(client_, nullptr, 0);
  }
  if (out_.stderr_tail.size() > kStderrKeep) out_.stderr_tail.erase(0, out_.stderr_tail.size() - kStderrKeep);
  if (WIFEXITED(status_)) out_.exit_code = WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) out_.signal = WTERMSIG(status_);
  out_.stdout_digest = file_digest(spec_.stdout_path, &out_.stdout_bytes);
  const bool stopped = spec_.program.server && stopping_ && out_.signal == SIGTERM;  // we asked it to stop
  if (!killed_for_.empty()) {
    out_.cause = killed_for_;
  } else if (!out_.identity_reported) {
    out_.cause = "identity";
    out_.detail =
        "the program never loaded libheapmark_probe.so: it is statically linked (LD_PRELOAD has no effect), or it "
        "cleared LD_PRELOAD, so no allocator can be proven to serve it";
  } else if (out_.signal && !stopped) {
    out_.cause = "signal";
    out_.detail = "killed by " + signal_name(out_.signal);
  } else if (out_.exit_code > 0) {
    out_.cause = "exit";
    out_.detail = "exited with status " + std::to_string(out_.exit_code);
  }
  out_.ok = out_.cause.empty();
  if (!out_.ok && out_.cause != "identity" && !out_.stderr_tail.empty()) {
    std::string last = out_.stderr_tail;
    while (!last.empty() && (last.back() == '\n' || last.back() == ' ')) last.pop_back();
    const size_t nl = last.rfind('\n');
    if (!last.empty()) out_.detail += "; stderr: " + last.substr(nl == std::string::npos ? 0 : nl + 1);
  }
}

ProgramOutcome ProgramSupervision::run() {
  start();
  loop();
  finish();
  out_.huge_pages = huge_.series();
  return std::move(out_);
}

}  // namespace

std::string file_digest(const std::string& path, uint64_t* bytes) {
  std::ifstream in(path, std::ios::binary);
  uint64_t h = 0xcbf29ce484222325ull, n = 0;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * 0x100000001b3ull;
    n += static_cast<uint64_t>(in.gcount());
  }
  if (bytes) *bytes = n;
  char hex[24];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

ProgramOutcome supervise_program(const ProgramCellSpec& spec) { return ProgramSupervision(spec).run(); }

}  // namespace heapmark::runner
