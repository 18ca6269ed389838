#include "harness/runner/supervise.h"

#include "harness/runner/deployed_spawn.h"
#include "harness/runner/process.h"

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
          out.phases.back().stats.emplace_back(
              std::string(s.items[i].name, strnlen(s.items[i].name, sizeof s.items[i].name)), s.items[i].value);
      break;
    }
    case MsgType::kSites:
      if (!out.phases.empty()) out.phases.back().sites = m.as<cell::SitesMsg>();
      break;
    case MsgType::kPageMap:
      if (!out.phases.empty()) out.phases.back().page_map = m.as<cell::PageMapMsg>();
      break;
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
        out.allocator_config.emplace_back(
            std::string(c.items[i].name, strnlen(c.items[i].name, sizeof c.items[i].name)),
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
                  : e.code == static_cast<uint32_t>(cell::ErrorCode::kVerify) ? "verify"
                                                                              : "error";
      out.detail = std::string(e.text, strnlen(e.text, sizeof e.text));
      break;
    }
  }
}

}  // namespace

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::vector<std::string> clean_environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    if (!registry::is_allocator_config_var(std::string_view(kv).substr(0, kv.find('=')))) env.push_back(kv);
  }
  return env;
}

namespace {

// One cell from spawn to reaped: the pipes and shared page it gets, the
// sampling and event loop while it runs, and the cause it ended with.
class Supervision {
 public:
  explicit Supervision(const SpawnSpec& spec) : spec_(spec) { out_.timeline = Timeline(spec.max_points); }
  ~Supervision() {
    if (page_) munmap(page_, 4096);
  }
  Supervision(const Supervision&) = delete;
  Supervision& operator=(const Supervision&) = delete;

  CellOutcome run() {
    spawn();
    watch();
    reap();
    classify();
    out_.huge_pages = huge_.series();
    return std::move(out_);
  }

 private:
  void spawn();
  void watch();
  void reap();
  void classify();
  void sample(uint64_t now);
  void kill_for(const char* cause, std::string detail) {
    if (!killed_for_.empty()) return;
    killed_for_ = cause;
    out_.detail = std::move(detail);
    kill(pid_, SIGKILL);
  }
  bool read_events();
  bool read_stderr();

  const SpawnSpec& spec_;
  CellOutcome out_;
  Fd ev_read_, ev_write_, err_read_, err_write_, shm_, statm_;
  HugePageSampler huge_;
  void* page_ = nullptr;
  cell::SharedPage* shared_ = nullptr;
  pid_t pid_ = -1;
  uint64_t deadline_ = 0, page_size_ = 4096;
  std::string killed_for_;
  cell::Reader reader_;
  char buf_[65536];
};

void Supervision::spawn() {
  int events[2], errs[2];
  if (pipe2(events, O_CLOEXEC) != 0 || pipe2(errs, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  ev_read_.reset(events[0]);
  ev_write_.reset(events[1]);
  err_read_.reset(errs[0]);
  err_write_.reset(errs[1]);
  shm_.reset(memfd_create("heapmark-cell-shared", MFD_CLOEXEC));
  if (shm_.fd < 0 || ftruncate(shm_.fd, 4096) != 0)
    throw std::runtime_error(std::string("memfd: ") + std::strerror(errno));
  page_ = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, shm_.fd, 0);
  if (page_ == MAP_FAILED) {
    page_ = nullptr;
    throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
  }
  shared_ = static_cast<cell::SharedPage*>(page_);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, err_write_.fd, 2);
  posix_spawn_file_actions_adddup2(&fa, ev_write_.fd, cell::kEventFd);
  posix_spawn_file_actions_adddup2(&fa, shm_.fd, cell::kSharedFd);

  std::vector<std::string> argv_s{spec_.cell_binary};
  argv_s.insert(argv_s.end(), spec_.args.begin(), spec_.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = clean_environment();
  for (const auto& [k, v] : spec_.env) env_s.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_ = spawn_deployed(spec_.cell_binary, &fa, argv.data(), envp.data(), spec_.start_cpus, spec_.thp_never,
                        &out_.spawn_ns);
  ev_write_.reset();
  err_write_.reset();
  const std::string statm_path = "/proc/" + std::to_string(pid_) + "/statm";
  statm_.reset(::open(statm_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (spec_.huge_every_ns) huge_.start(pid_, spec_.huge_every_ns, 0.02, spec_.max_points);
  page_size_ = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  deadline_ = out_.spawn_ns + static_cast<uint64_t>(spec_.timeout_s * 1e9);
}

void Supervision::sample(uint64_t now) {
  metrics::procfs::Statm st;
  if (statm_.fd < 0 || !metrics::procfs::read_statm(statm_.fd, page_size_, st)) return;
  if (st.resident == 0) return;  // a zombie: its /proc is empty
  if (spec_.sample_hz > 0)
    out_.timeline.add(Sample{now, st.resident, st.anon(), shared_->live_bytes.load(std::memory_order_relaxed),
                             shared_->phase.load(std::memory_order_relaxed),
                             shared_->clock_ms.load(std::memory_order_relaxed)});
  huge_.poll(now);
  if (spec_.mem_cap_bytes && st.resident > spec_.mem_cap_bytes) {
    char msg[128];
    std::snprintf(msg, sizeof msg, "RSS %.1f MiB exceeded the cap of %.1f MiB",
                  static_cast<double>(st.resident) / 1048576.0, static_cast<double>(spec_.mem_cap_bytes) / 1048576.0);
    kill_for("memory_cap", msg);
  }
}

// Returns false once the event pipe is closed (or the stream is malformed).
bool Supervision::read_events() {
  const ssize_t n = ::read(ev_read_.fd, buf_, sizeof buf_);
  if (n <= 0) return false;
  reader_.feed(buf_, static_cast<size_t>(n));
  try {
    cell::Message m;
    while (reader_.next(m)) {
      handle(out_, m);
      // A phase edge is where RSS changes meaning: sample it right away.
      if (m.type == cell::MsgType::kPhaseBegin || m.type == cell::MsgType::kPhaseEnd)
        sample(metrics::tsc::monotonic_ns());
    }
  } catch (const std::exception& e) {
    kill_for("protocol", e.what());
    return false;
  }
  return true;
}

bool Supervision::read_stderr() {
  const ssize_t n = ::read(err_read_.fd, buf_, sizeof buf_);
  if (n <= 0) return false;
  out_.stderr_tail.append(buf_, static_cast<size_t>(n));
  if (out_.stderr_tail.size() > 2 * kStderrKeep) out_.stderr_tail.erase(0, out_.stderr_tail.size() - kStderrKeep);
  return true;
}

// Until both pipes close: samples statm at the configured rate, reads events
// and stderr, enforces the deadline and the memory cap.
void Supervision::watch() {
  const uint64_t period_ns = spec_.sample_hz > 0 ? static_cast<uint64_t>(1e9 / spec_.sample_hz) : 100'000'000;
  uint64_t next_sample = out_.spawn_ns;
  bool ev_open = true, err_open = true;
  while (ev_open || err_open) {
    const uint64_t now = metrics::tsc::monotonic_ns();
    if (now >= next_sample) {
      sample(now);
      next_sample += period_ns;
      if (next_sample < now) next_sample = now + period_ns;  // fell behind: skip, don't burst
    }
    if (now >= deadline_)
      kill_for("timeout",
               "no exit within the " + std::to_string(static_cast<int>(spec_.timeout_s)) + " s wall timeout");
    pollfd fds[2] = {{ev_open ? ev_read_.fd : -1, POLLIN, 0}, {err_open ? err_read_.fd : -1, POLLIN, 0}};
    // Sleep until the next sample is due (ppoll: nanosecond timeout, so a
    // 1 kHz sampler sleeps between samples instead of spinning on the clock).
    const uint64_t wait_ns = next_sample > now ? next_sample - now : 0;
    const timespec wait{static_cast<time_t>(wait_ns / 1'000'000'000), static_cast<long>(wait_ns % 1'000'000'000)};
    if (ppoll(fds, 2, &wait, nullptr) < 0 && errno != EINTR) break;
    if (ev_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) ev_open = read_events();
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) err_open = read_stderr();
  }
}

// Both pipes closed: the cell has exited (or a child of it holds them; the
// deadline still applies).
void Supervision::reap() {
  int status = 0;
  for (;;) {
    const pid_t w = waitpid(pid_, &status, WNOHANG);
    if (w == pid_) break;
    if (w < 0 && errno != EINTR) break;
    if (metrics::tsc::monotonic_ns() >= deadline_) kill_for("timeout", "no exit within the wall timeout");
    usleep(1000);
  }
  out_.exit_ns = metrics::tsc::monotonic_ns();
  if (out_.stderr_tail.size() > kStderrKeep) out_.stderr_tail.erase(0, out_.stderr_tail.size() - kStderrKeep);
  if (WIFEXITED(status)) out_.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out_.signal = WTERMSIG(status);
}

void Supervision::classify() {
  CellOutcome& out = out_;
  if (!killed_for_.empty()) {
    out.cause = killed_for_;
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
}

}  // namespace

CellOutcome supervise(const SpawnSpec& spec) { return Supervision(spec).run(); }

}  // namespace heapmark::runner
