#include "harness/runner/supervise.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "allocators/registry/registry.h"
#include "harness/cell/shared_page.h"
#include "harness/metrics/procfs.h"
#include "harness/metrics/tsc.h"

extern char** environ;

namespace heapmark::runner {
namespace {

constexpr size_t kStderrKeep = 4096;

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void reset(int f = -1) {
    if (fd >= 0) ::close(fd);
    fd = f;
  }
};

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

void handle(CellOutcome& out, const cell::Message& m) {
  using cell::MsgType;
  switch (m.type) {
    case MsgType::kHello:
      out.hello = m.as<cell::Hello>();
      out.have_hello = true;
      out.timeline.set_baseline(out.hello.r0_anon);
      break;
    case MsgType::kPhaseBegin: {
      PhaseRecord r;
      r.begin = m.as<cell::PhaseBegin>();
      out.phases.push_back(std::move(r));
      break;
    }
    case MsgType::kPhaseEnd:
      if (!out.phases.empty()) {
        out.phases.back().end = m.as<cell::PhaseEnd>();
        out.phases.back().ended = true;
      }
      break;
    case MsgType::kStats: {
      const auto& s = m.as<cell::StatsMsg>();
      if (!out.phases.empty())
        for (uint32_t i = 0; i < s.count && i < cell::StatsMsg::kMax; ++i)
          out.phases.back().stats.emplace_back(std::string(s.items[i].name, strnlen(s.items[i].name, sizeof s.items[i].name)),
                                               s.items[i].value);
      break;
    }
    case MsgType::kHistogram: {
      HistogramRecord h;
      h.head = m.as<cell::HistogramHead>();
      const auto* b = reinterpret_cast<const cell::BucketCount*>(m.payload.data() + sizeof(cell::HistogramHead));
      h.buckets.assign(b, b + h.head.buckets);
      out.histograms.push_back(std::move(h));
      break;
    }
    case MsgType::kNativeJson:
      out.native_json.assign(reinterpret_cast<const char*>(m.payload.data()), m.payload.size());
      break;
    case MsgType::kConfig: {
      const auto& c = m.as<cell::ConfigMsg>();
      for (uint32_t i = 0; i < c.count && i < cell::ConfigMsg::kMax; ++i)
        out.allocator_config.emplace_back(std::string(c.items[i].name, strnlen(c.items[i].name, sizeof c.items[i].name)),
                                          std::string(c.items[i].value, strnlen(c.items[i].value, sizeof c.items[i].value)));
      break;
    }
    case MsgType::kThreads: {
      const auto& t = m.as<cell::ThreadsMsg>();
      out.threads.assign(t.threads, t.threads + std::min<uint32_t>(t.count, cell::ThreadsMsg::kMax));
      for (auto& item : out.threads) {  // terminate whatever came over the wire
        item.affinity[sizeof item.affinity - 1] = '\0';
        item.ran_on[sizeof item.ran_on - 1] = '\0';
      }
      break;
    }
    case MsgType::kResult:
      out.result = m.as<cell::Result>();
      out.have_result = true;
      break;
    case MsgType::kError: {
      const auto& e = m.as<cell::ErrorMsg>();
      out.cause = e.code == static_cast<uint32_t>(cell::ErrorCode::kIdentity) ? "identity"
                  : e.code == static_cast<uint32_t>(cell::ErrorCode::kVerify)  ? "verify"
                                                                               : "error";
      out.detail = std::string(e.text, strnlen(e.text, sizeof e.text));
      break;
    }
  }
}

}  // namespace

std::vector<std::string> clean_environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    if (!registry::is_allocator_config_var(std::string_view(kv).substr(0, kv.find('=')))) env.push_back(kv);
  }
  return env;
}

CellOutcome supervise(const SpawnSpec& spec) {
  CellOutcome out;
  out.timeline = Timeline(spec.max_points);

  int events[2], errs[2];
  if (pipe2(events, O_CLOEXEC) != 0 || pipe2(errs, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  Fd ev_read(events[0]), ev_write(events[1]), err_read(errs[0]), err_write(errs[1]);
  Fd shm(memfd_create("heapmark-cell-shared", MFD_CLOEXEC));
  if (shm.fd < 0 || ftruncate(shm.fd, 4096) != 0) throw std::runtime_error(std::string("memfd: ") + std::strerror(errno));
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, shm.fd, 0);
  if (page == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
  auto* shared = static_cast<cell::SharedPage*>(page);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, err_write.fd, 2);
  posix_spawn_file_actions_adddup2(&fa, ev_write.fd, cell::kEventFd);
  posix_spawn_file_actions_adddup2(&fa, shm.fd, cell::kSharedFd);

  std::vector<std::string> argv_s{spec.cell_binary};
  argv_s.insert(argv_s.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = clean_environment();
  for (const auto& [k, v] : spec.env) env_s.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  // posix_spawn's child inherits the calling thread's mask: give it the
  // deployed one for the moment of the spawn.
  cpu_set_t own;
  const bool remask = spec.start_cpus && sched_getaffinity(0, sizeof own, &own) == 0 &&
                      sched_setaffinity(0, sizeof *spec.start_cpus, spec.start_cpus) == 0;
  pid_t pid;
  out.spawn_ns = metrics::tsc::monotonic_ns();
  const int rc = posix_spawn(&pid, spec.cell_binary.c_str(), &fa, nullptr, argv.data(), envp.data());
  if (remask) sched_setaffinity(0, sizeof own, &own);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    munmap(page, 4096);
    throw std::runtime_error("cannot start " + spec.cell_binary + ": " + std::strerror(rc));
  }
  ev_write.reset();
  err_write.reset();

  const std::string statm_path = "/proc/" + std::to_string(pid) + "/statm";
  Fd statm(::open(statm_path.c_str(), O_RDONLY | O_CLOEXEC));
  const uint64_t page_size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t period_ns = spec.sample_hz > 0 ? static_cast<uint64_t>(1e9 / spec.sample_hz) : 100'000'000;
  const uint64_t deadline = out.spawn_ns + static_cast<uint64_t>(spec.timeout_s * 1e9);
  uint64_t next_sample = out.spawn_ns;
  std::string killed_for;

  cell::Reader reader;
  char buf[65536];
  bool ev_open = true, err_open = true;
  auto sample = [&](uint64_t now) {
    metrics::procfs::Statm st;
    if (statm.fd < 0 || !metrics::procfs::read_statm(statm.fd, page_size, st)) return;
    if (st.resident == 0) return;  // a zombie: its /proc is empty
    if (spec.sample_hz > 0)
      out.timeline.add(Sample{now, st.resident, st.anon(), shared->live_bytes.load(std::memory_order_relaxed),
                              shared->phase.load(std::memory_order_relaxed)});
    if (spec.mem_cap_bytes && st.resident > spec.mem_cap_bytes && killed_for.empty()) {
      killed_for = "memory_cap";
      char msg[128];
      std::snprintf(msg, sizeof msg, "RSS %.1f MiB exceeded the cap of %.1f MiB", static_cast<double>(st.resident) / 1048576.0,
                    static_cast<double>(spec.mem_cap_bytes) / 1048576.0);
      out.detail = msg;
      kill(pid, SIGKILL);
    }
  };

  while (ev_open || err_open) {
    uint64_t now = metrics::tsc::monotonic_ns();
    if (now >= next_sample) {
      sample(now);
      next_sample += period_ns;
      if (next_sample < now) next_sample = now + period_ns;  // fell behind: skip, don't burst
    }
    if (now >= deadline && killed_for.empty()) {
      killed_for = "timeout";
      out.detail = "no exit within the " + std::to_string(static_cast<int>(spec.timeout_s)) + " s wall timeout";
      kill(pid, SIGKILL);
    }
    pollfd fds[2] = {{ev_open ? ev_read.fd : -1, POLLIN, 0}, {err_open ? err_read.fd : -1, POLLIN, 0}};
    // Sleep until the next sample is due (ppoll: nanosecond timeout, so a
    // 1 kHz sampler sleeps between samples instead of spinning on the clock).
    const uint64_t wait_ns = next_sample > now ? next_sample - now : 0;
    const timespec wait{static_cast<time_t>(wait_ns / 1'000'000'000), static_cast<long>(wait_ns % 1'000'000'000)};
    const int r = ppoll(fds, 2, &wait, nullptr);
    if (r < 0 && errno != EINTR) break;
    if (ev_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      const ssize_t n = ::read(ev_read.fd, buf, sizeof buf);
      if (n <= 0) {
        ev_open = false;
      } else {
        reader.feed(buf, static_cast<size_t>(n));
        try {
          cell::Message m;
          while (reader.next(m)) {
            handle(out, m);
            // A phase edge is where RSS changes meaning: sample it right away.
            if (m.type == cell::MsgType::kPhaseBegin || m.type == cell::MsgType::kPhaseEnd) sample(metrics::tsc::monotonic_ns());
          }
        } catch (const std::exception& e) {
          killed_for = "protocol";
          out.detail = e.what();
          kill(pid, SIGKILL);
          ev_open = false;
        }
      }
    }
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      const ssize_t n = ::read(err_read.fd, buf, sizeof buf);
      if (n <= 0) {
        err_open = false;
      } else {
        out.stderr_tail.append(buf, static_cast<size_t>(n));
        if (out.stderr_tail.size() > 2 * kStderrKeep) out.stderr_tail.erase(0, out.stderr_tail.size() - kStderrKeep);
      }
    }
  }

  // Both pipes closed: the cell has exited (or a child of it holds them; the
  // deadline still applies).
  int status = 0;
  for (;;) {
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (metrics::tsc::monotonic_ns() >= deadline && killed_for.empty()) {
      killed_for = "timeout";
      out.detail = "no exit within the wall timeout";
      kill(pid, SIGKILL);
    }
    usleep(1000);
  }
  out.exit_ns = metrics::tsc::monotonic_ns();
  munmap(page, 4096);
  if (out.stderr_tail.size() > kStderrKeep) out.stderr_tail.erase(0, out.stderr_tail.size() - kStderrKeep);

  if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  if (!killed_for.empty()) {
    out.cause = killed_for;
  } else if (out.signal) {
    out.cause = "signal";
    out.detail = "killed by " + signal_name(out.signal);
  } else if (out.cause.empty() && out.exit_code != 0) {
    out.cause = "exit";
    out.detail = "exited with status " + std::to_string(out.exit_code);
  } else if (out.cause.empty() && !out.have_result) {
    out.cause = "protocol";
    out.detail = "exited 0 without sending a result";
  }
  out.ok = out.cause.empty();
  if (!out.ok && out.detail.find('\n') == std::string::npos && !out.stderr_tail.empty() && out.cause != "identity" &&
      out.cause != "error") {
    // A crashing allocator usually says why on stderr ("free(): invalid pointer").
    std::string last = out.stderr_tail;
    while (!last.empty() && (last.back() == '\n' || last.back() == ' ')) last.pop_back();
    const size_t nl = last.rfind('\n');
    if (!last.empty()) out.detail += "; stderr: " + last.substr(nl == std::string::npos ? 0 : nl + 1);
  }
  return out;
}

}  // namespace heapmark::runner
