#include "harness/attach/inside.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/input_error.h"
#include "harness/attach/outside.h"
#include "harness/metrics/procfs.h"
#include "harness/metrics/tsc.h"
#include "harness/runner/program.h"

extern char** environ;

namespace heapmark::attach {
namespace json = boost::json;
namespace {

double now_ms() { return static_cast<double>(metrics::tsc::monotonic_ns()) / 1e6; }

// The state letter of /proc/PID/stat ('t': stopped by a tracer).
char state_of(const std::string& stat_path) {
  char buf[512];
  if (metrics::procfs::read_file(stat_path.c_str(), buf, sizeof buf) <= 0) return '?';
  const char* paren = std::strrchr(buf, ')');
  return paren && paren[1] == ' ' ? paren[2] : '?';
}

// How long the process was in gdb's hands: from the first to the last moment
// its main thread was seen stopped by a tracer, polled every half millisecond
// from another thread. The helper's call runs in between (gdb resumes the
// calling thread alone for it), so the span holds it: the program's own code
// ran nowhere in that time but in the threads stepped out of the allocator.
class StopWatch {
 public:
  explicit StopWatch(pid_t pid) : path_("/proc/" + std::to_string(pid) + "/stat"), thread_([this] { run(); }) {}
  double stop_and_get() {
    done_ = true;
    thread_.join();
    return span_;
  }

 private:
  void run() {
    double first = -1;
    while (!done_) {
      const double t = now_ms();
      if (state_of(path_) == 't') {
        if (first < 0) first = t;
        span_ = t - first;
      }
      struct timespec half = {0, 500000};
      nanosleep(&half, nullptr);
    }
  }
  std::string path_;
  std::atomic<bool> done_{false};
  double span_ = 0;
  std::thread thread_;
};

uint64_t u64(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_number())
    throw std::runtime_error(std::string("the helper's report lacks the number '") + key + "'");
  return v->to_number<uint64_t>();
}
std::optional<uint64_t> maybe_u64(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  return v->to_number<uint64_t>();
}
std::string text(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}
bool flag(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

std::string action_name(const InjectOptions& o) {
  switch (o.action) {
    case Action::kSnapshot: return "snapshot";
    case Action::kAccounting: return "accounting";
    case Action::kRelease: return "release";
    case Action::kDecay: return "decay:" + std::to_string(o.decay_ms);
  }
  return "snapshot";
}

// The ids of the target's owner, for the result file the helper writes.
bool owner_of(pid_t pid, uid_t& uid, gid_t& gid) {
  struct stat st;
  if (::stat(("/proc/" + std::to_string(pid)).c_str(), &st) != 0) return false;
  uid = st.st_uid;
  gid = st.st_gid;
  return true;
}

// What gdb said when it could not attach, as one line naming what to change.
std::string gdb_failure(const std::string& output, pid_t pid) {
  if (output.find("ptrace: Operation not permitted") != std::string::npos)
    return "gdb may not trace PID " + std::to_string(pid) +
           ": run as root or the process's user with CAP_SYS_PTRACE, or lower kernel.yama.ptrace_scope (now " +
           [] {
             std::ifstream f("/proc/sys/kernel/yama/ptrace_scope");
             std::string s;
             return std::getline(f, s) ? s : std::string("unknown");
           }() +
           ")";
  if (output.find("No such process") != std::string::npos)
    return "PID " + std::to_string(pid) + " exited while gdb attached";
  std::string last;
  std::stringstream lines(output);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) last = line;
  return "gdb stopped without a report" + (last.empty() ? std::string() : ": " + last);
}

// The result file: created here, owned by the target's user, written by the helper.
std::string create_result_file(pid_t pid) {
  char out_path[] = "/tmp/heapmark-attach-XXXXXX";
  const int out_fd = mkstemp(out_path);
  if (out_fd < 0) throw EnvironmentError("create", out_path, errno);
  uid_t uid;
  gid_t gid;
  if (geteuid() == 0 && owner_of(pid, uid, gid) && fchown(out_fd, uid, gid) != 0) {
    const int err = errno;
    ::close(out_fd);
    ::unlink(out_path);
    throw EnvironmentError("hand to the target's user", out_path, err);
  }
  ::close(out_fd);
  return out_path;
}

// gdb's environment: ours without HEAPMARK_ATTACH_*, plus what the script and the helper are to do.
std::vector<std::string> gdb_environment(const InjectOptions& opt, const std::string& out_path) {
  std::string libs;
  for (const auto& l : opt.allocator_libraries) libs += (libs.empty() ? "" : ":") + l;
  std::vector<std::string> env_items;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "HEAPMARK_ATTACH_", 16) != 0) env_items.emplace_back(*e);
  env_items.push_back("HEAPMARK_ATTACH_HELPER=" + opt.helper);
  env_items.push_back("HEAPMARK_ATTACH_OUT=" + out_path);
  env_items.push_back("HEAPMARK_ATTACH_ACTION=" + action_name(opt));
  env_items.push_back("HEAPMARK_ATTACH_LIBS=" + libs);
  env_items.push_back("HEAPMARK_ATTACH_DEADLINE_MS=" + std::to_string(opt.deadline_ms));
  return env_items;
}

std::vector<std::string> gdb_arguments(const std::string& gdb, pid_t pid, const InjectOptions& opt) {
  // No debug symbols, no auto-loaded scripts, no debuginfod: a production
  // host has none of them, and reading them is most of gdb's stop time.
  return {gdb,    "-nx",
          "-q",   "-batch",
          "-iex", "set debuginfod enabled off",
          "-iex", "set debug-file-directory /nonexistent",
          "-iex", "set auto-load off",
          "-p",   std::to_string(pid),
          "-x",   opt.script};
}

// What gdb writes to `fd` until it exits; past `give_up` (now_ms's clock) gdb is killed and `pid` continued.
std::string gdb_output(int fd, pid_t child, pid_t pid, double give_up) {
  std::string output;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int left = static_cast<int>(give_up - now_ms());
    if (left <= 0) {
      kill(child, SIGKILL);
      kill(pid, SIGCONT);
      output += "\n(gdb did not finish in time and was killed)";
      break;
    }
    if (poll(&p, 1, std::min(left, 1000)) <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
  }
  return output;
}

// Runs gdb on `pid` with the watcher timing the stop, its output into `output`; returns posix_spawn's
// result (0: gdb ran). Sets inj's stopped_ms and gdb_ms.
int run_gdb(const std::string& gdb, std::vector<std::string>& args, std::vector<std::string>& env_items, pid_t pid,
            const InjectOptions& opt, Injection& inj, std::string& output) {
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_items) envp.push_back(e.data());
  envp.push_back(nullptr);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw EnvironmentError("create a pipe for", gdb, errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipe_fds[1], 2);
  const double t0 = now_ms();
  StopWatch watch(pid);
  pid_t child = -1;
  const int rc = posix_spawn(&child, gdb.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipe_fds[1]);
  if (rc == 0) {
    // gdb's own deadline is the script's; past it and a minute more, gdb is
    // killed (the kernel detaches it) and the process continued.
    output = gdb_output(pipe_fds[0], child, pid, t0 + opt.deadline_ms + 60000);
    waitpid(child, nullptr, 0);
  }
  ::close(pipe_fds[0]);
  inj.stopped_ms = watch.stop_and_get();
  inj.gdb_ms = now_ms() - t0;
  return rc;
}

// The script's report (the JSON after "heapmark-attach: ") into `inj`.
void parse_gdb_report(const std::string& line, Injection& inj) {
  try {
    const json::object r = json::parse(line).as_object();
    inj.ok = flag(r, "ok");
    inj.error = text(r, "error");
    inj.passes = static_cast<int>(u64(r, "passes"));
    inj.stepped = static_cast<int>(u64(r, "stepped"));
    inj.sliced = static_cast<int>(u64(r, "sliced"));
    inj.interrupted = static_cast<int>(u64(r, "interrupted"));
    for (const auto& b : r.at("busy_first").as_array()) inj.busy_first.emplace_back(b.as_string());
    if (const auto* q = r.if_contains("quiesce_ms")) inj.quiesce_ms = q->to_number<double>();
    if (const auto* t = r.if_contains("threads_released"))
      inj.threads_released = static_cast<int>(t->to_number<int64_t>());
    if (const auto* c = r.if_contains("call_ms")) inj.call_ms = c->to_number<double>();
    if (const auto* s = r.if_contains("rss_in_stop")) {
      const json::array& a = s->as_array();
      inj.rss_in_stop = {a.at(0).to_number<uint64_t>(), a.at(1).to_number<uint64_t>()};
    }
    // The script ran with the process stopped from its first line to the detach: a floor for the
    // watcher's figure, should a busy machine keep the watcher from seeing the last stopped moment.
    if (const auto* s = r.if_contains("script_ms")) inj.stopped_ms = std::max(inj.stopped_ms, s->to_number<double>());
  } catch (const std::exception& e) {
    inj.ok = false;
    inj.error = std::string("gdb's report is not readable: ") + e.what();
  }
}

// The helper's result file into `view`.
void read_helper_result(const std::string& out_path, InsideView& view) {
  Injection& inj = view.injection;
  std::ifstream in(out_path);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    parse_helper(json::parse(ss.str()).as_object(), view);
  } catch (const std::exception& e) {
    inj.ok = false;
    inj.error = std::string("the helper's result is not readable: ") + e.what();
  }
}

}  // namespace

std::string InsideView::missing() const {
  if (!injection.ok) return injection.error;
  if (!identity_ok) return "no family of the registry claims this process's malloc (" + proof + ")";
  if (family == "user") return "malloc comes from " + malloc_from + ", which speaks none of the registry's families";
  if (!accounting) return family + " exposes no accounting heapmark reads";
  return "";
}

void parse_helper(const json::object& h, InsideView& v) {
  if (h.contains("error")) throw std::runtime_error("the helper: " + text(h, "error"));
  v.family = text(h, "family");
  v.malloc_from = text(h, "malloc_from");
  v.proof = text(h, "proof");
  v.version = text(h, "version");
  v.release_name = text(h, "release_name");
  v.decay_name = text(h, "decay_name");
  v.identity_ok = flag(h, "identity_ok");
  if (h.contains("released")) v.released = flag(h, "released");
  if (h.contains("release_ns")) v.release_ms = static_cast<double>(u64(h, "release_ns")) / 1e6;
  if (const auto* s = h.if_contains("stats"); s && s->is_object())
    for (const auto& [k, val] : s->get_object()) v.stats.emplace_back(std::string(k), val.to_number<uint64_t>());
  if (const auto* c = h.if_contains("config"); c && c->is_object())
    for (const auto& [k, val] : c->get_object()) v.config.emplace_back(std::string(k), std::string(val.get_string()));
  if (const auto* hz = h.if_contains("horizon"); hz && hz->is_object()) {
    v.horizon_ms = u64(hz->get_object(), "ms");
    v.horizon_background = flag(hz->get_object(), "background");
    v.horizon_what = text(hz->get_object(), "what");
  }
  if (const auto* a = h.if_contains("accounting"); a && a->is_object()) {
    const auto& o = a->get_object();
    AllocatorAccounting acc;
    acc.live = maybe_u64(o, "live");
    acc.metadata = maybe_u64(o, "metadata");
    acc.retained = maybe_u64(o, "retained");
    acc.note = text(o, "note");
    for (const auto& k : o.at("kept").as_array()) {
      const auto& ko = k.as_object();
      acc.kept.push_back({text(ko, "mechanism"), u64(ko, "bytes"), flag(ko, "resident"), flag(ko, "release_returns"),
                          flag(ko, "pinned")});
    }
    v.accounting = std::move(acc);
  }
  if (const auto* w = h.if_contains("walk"); w && w->is_object()) {
    const auto& o = w->get_object();
    PageWalk pw;
    pw.ok = flag(o, "ok");
    pw.why = text(o, "why");
    pw.ms = static_cast<double>(u64(o, "ns")) / 1e6;
    for (const auto& [name, member] : registry::kWalkCounts) pw.*member = u64(o, name);
    if (const auto* m = o.if_contains("page_map"); m && m->is_object()) {
      const auto& mo = m->get_object();
      pw.pages_per_bucket = u64(mo, "pages_per_bucket");
      for (size_t i = 0; i < 5; ++i) pw.pages[i] = mo.at("pages").as_array().at(i).to_number<uint64_t>();
      for (const auto& b : mo.at("buckets").as_array()) {
        std::array<uint32_t, 5> counts{};
        for (size_t i = 0; i < 5; ++i) counts[i] = b.as_array().at(i).to_number<uint32_t>();
        pw.buckets.push_back(counts);
      }
    }
    v.walk = pw;
  }
}

InsideView read_inside(pid_t pid, const InjectOptions& opt) {
  InsideView view;
  Injection& inj = view.injection;
  const std::string gdb = runner::find_executable(opt.gdb);
  if (gdb.empty())
    throw EnvironmentError("find gdb for the inside view (Debian package gdb; --outside-only skips the inside view) as",
                           opt.gdb, ENOENT);

  const std::string out_path = create_result_file(pid);
  std::vector<std::string> env_items = gdb_environment(opt, out_path);
  std::vector<std::string> args = gdb_arguments(gdb, pid, opt);
  std::string output;
  const int rc = run_gdb(gdb, args, env_items, pid, opt, inj, output);

  const auto unlink_out = [&] { ::unlink(out_path.c_str()); };
  if (rc != 0) {
    unlink_out();
    inj.error = std::string("cannot start gdb: ") + std::strerror(rc);
    return view;
  }
  const std::string marker = "heapmark-attach: ";
  const size_t at = output.rfind(marker);
  if (at == std::string::npos) {
    unlink_out();
    inj.error = gdb_failure(output, pid);
    return view;
  }
  parse_gdb_report(output.substr(at + marker.size(), output.find('\n', at) - at - marker.size()), inj);
  if (inj.ok) read_helper_result(out_path, view);
  unlink_out();
  return view;
}

json::object to_json(const InsideView& v) {
  json::object o;
  const Injection& i = v.injection;
  json::array busy;
  for (const auto& b : i.busy_first) busy.emplace_back(b);
  o["injection"] = {{"ok", i.ok},
                    {"error", i.error},
                    {"via", "gdb"},
                    {"stopped_ms", i.stopped_ms},
                    {"gdb_ms", i.gdb_ms},
                    {"quiesce_ms", i.quiesce_ms},
                    {"call_ms", i.call_ms},
                    {"passes", i.passes},
                    {"stepped_out", i.stepped},
                    {"sliced", i.sliced},
                    {"interrupted", i.interrupted},
                    {"threads_released", i.threads_released},
                    {"inside_allocator_at_stop", std::move(busy)}};
  if (!i.ok) return o;
  o["family"] = v.family;
  o["malloc_from"] = v.malloc_from;
  o["identity_ok"] = v.identity_ok;
  o["proof"] = v.proof;
  o["version"] = v.version;
  o["release_hook"] = v.release_name;
  o["decay_setting"] = v.decay_name;
  json::object stats, config;
  for (const auto& [k, val] : v.stats) stats[k] = val;
  for (const auto& [k, val] : v.config) config[k] = val;
  o["stats"] = std::move(stats);
  o["config"] = std::move(config);
  o["horizon"] = {{"ms", v.horizon_ms}, {"background", v.horizon_background}, {"what", v.horizon_what}};
  if (v.accounting) {
    json::array kept;
    for (const auto& k : v.accounting->kept)
      kept.push_back({{"mechanism", k.mechanism},
                      {"bytes", k.bytes},
                      {"resident", k.resident},
                      {"release_returns", k.release_returns},
                      {"pinned", k.pinned}});
    o["accounting"] = {{"live", or_null(v.accounting->live)},
                       {"metadata", or_null(v.accounting->metadata)},
                       {"retained", or_null(v.accounting->retained)},
                       {"note", v.accounting->note},
                       {"kept", std::move(kept)}};
  } else {
    o["accounting"] = nullptr;
  }
  if (v.walk) {
    const PageWalk& w = *v.walk;
    json::object walk{{"ok", w.ok}, {"why", w.why}, {"ms", w.ms}};
    for (const auto& [name, member] : registry::kWalkCounts) walk[name] = w.*member;
    json::array pages, buckets;
    for (uint64_t n : w.pages) pages.push_back(n);
    for (const auto& b : w.buckets) buckets.push_back(json::array(b.begin(), b.end()));
    walk["page_map"] = {
        {"pages_per_bucket", w.pages_per_bucket}, {"pages", std::move(pages)}, {"buckets", std::move(buckets)}};
    o["walk"] = std::move(walk);
  } else {
    o["walk"] = nullptr;
  }
  if (v.released) {
    o["released"] = *v.released;
    o["release_ms"] = v.release_ms;
  }
  return o;
}

}  // namespace heapmark::attach
