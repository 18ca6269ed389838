// heapmark-cell: runs ONE workload's op program under ONE allocator, in a
// fresh process the runner spawned with that allocator preloaded. It proves
// which allocator serves malloc, measures, and reports events on fd 3.
//
//   heapmark-cell --kind FAMILY [--library PATH] --workload W [--param k=v]... [--seed N]
//                 [--cpu N] [--touch none|pages|full] [--verify] [--attribute] [--tsc-hz HZ]
//                 [--batch-calls K] [--no-counters]
//   heapmark-cell --probe --kind FAMILY [--library PATH]     (identity + version only)
//
// Exit status: 0 ok, 2 bad arguments, 3 identity mismatch, 4 setup error,
// 5 runner gone, 6 verify failed (overlapping or corrupted blocks). A signal means the allocator (or the program)
// crashed.
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "allocators/registry/hooks.h"
#include "harness/cell/executor.h"
#include "harness/cell/placement.h"
#include "harness/cell/protocol.h"
#include "harness/cell/shared_page.h"
#include "harness/metrics/perf.h"
#include "harness/metrics/procfs.h"
#include "harness/metrics/tsc.h"
#include "workloads/catalog.h"

namespace hm = heapmark;
using hm::cell::MsgType;

namespace {

struct Args {
  bool probe = false;
  hm::registry::Family* family = nullptr;
  std::string library;
  std::string workload;
  std::map<std::string, std::string> params;
  uint64_t seed = 1;
  int cpu = -1;
  hm::cell::Touch touch = hm::cell::Touch::kPages;
  bool verify = false;
  bool attribute = false;  // pinned memory by site and the page map at every phase end
  double tsc_hz = 0;
  uint32_t batch_calls = 0;       // --timing batch:K (executor.h)
  bool counters = true;           // event counters at every phase edge (metrics/perf.h)
  uint64_t release_every_ns = 0;  // a release schedule (executor.h)
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "heapmark-cell: %s\n", why.c_str());
  std::exit(hm::cell::kExitBadArguments);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(k + " needs a value");
      return argv[++i];
    };
    if (k == "--probe") a.probe = true;
    else if (k == "--verify") a.verify = true;
    else if (k == "--attribute") a.attribute = true;
    else if (k == "--kind") {
      const std::string v = value();
      a.family = hm::registry::find_family(v);
      if (!a.family) usage("unknown --kind '" + v + "'");
    } else if (k == "--library") a.library = value();
    else if (k == "--workload") a.workload = value();
    else if (k == "--param") {
      const std::string v = value();
      const size_t eq = v.find('=');
      if (eq == std::string::npos) usage("--param '" + v + "' is not KEY=VALUE");
      a.params[v.substr(0, eq)] = v.substr(eq + 1);
    } else if (k == "--seed") a.seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (k == "--cpu") a.cpu = std::atoi(value().c_str());
    else if (k == "--tsc-hz") a.tsc_hz = std::strtod(value().c_str(), nullptr);
    else if (k == "--batch-calls") {
      const long v = std::strtol(value().c_str(), nullptr, 10);
      if (v < 2 || v > 65536) usage("--batch-calls must be 2-65536");
      a.batch_calls = static_cast<uint32_t>(v);
    } else if (k == "--no-counters") a.counters = false;
    else if (k == "--release-every-ns") {
      a.release_every_ns = std::strtoull(value().c_str(), nullptr, 10);
      if (a.release_every_ns < 1'000'000) usage("--release-every-ns must be at least 1000000 (1 ms)");
    } else if (k == "--touch") {
      const std::string v = value();
      if (v == "none") a.touch = hm::cell::Touch::kNone;
      else if (v == "pages") a.touch = hm::cell::Touch::kPages;
      else if (v == "full") a.touch = hm::cell::Touch::kFull;
      else usage("unknown --touch '" + v + "' (valid: none, pages, full)");
    } else usage("unknown argument '" + k + "'");
  }
  if (!a.family) usage("--kind is required");
  if (!a.probe && a.workload.empty()) usage("--workload is required");
  if (a.verify && a.batch_calls)
    usage("--verify checks every block between calls; --batch-calls runs them back to back");
  return a;
}

void send_error(hm::cell::ErrorCode code, const std::string& text) {
  hm::cell::ErrorMsg m;
  m.code = static_cast<uint32_t>(code);
  std::snprintf(m.text, sizeof m.text, "%s", text.c_str());
  hm::cell::write_message(hm::cell::kEventFd, MsgType::kError, &m, sizeof m);
}

void send_config(const hm::registry::Hooks& hooks) {
  static hm::cell::ConfigMsg msg;
  hm::registry::ConfigItem items[hm::cell::ConfigMsg::kMax];
  msg.count = static_cast<uint32_t>(hooks.config(items, hm::cell::ConfigMsg::kMax));
  for (uint32_t i = 0; i < msg.count; ++i) {
    std::snprintf(msg.items[i].name, sizeof msg.items[i].name, "%s", items[i].name);
    std::snprintf(msg.items[i].value, sizeof msg.items[i].value, "%s", items[i].value);
  }
  hm::cell::write_message(hm::cell::kEventFd, MsgType::kConfig, &msg, sizeof msg);
}

// A workload that measures itself: no op program, no executor. The cell still
// proves identity (done by the caller), reports its baseline and final figures,
// and passes the workload's own JSON report on.
int run_native(const hm::workloads::WorkloadDef& def, const hm::workloads::Params& params, hm::cell::Hello& hello,
               const hm::registry::Hooks& hooks) {
  hm::metrics::procfs::SmapsRollup r0;
  hm::metrics::procfs::read_smaps_rollup("/proc/self/smaps_rollup", r0);
  hello.r0_anon = r0.anonymous;
  hello.r0_rss = r0.rss;
  hello.r0_huge = r0.anon_huge_pages;
  hello.threads = 1;
  hello.t_ns = hm::metrics::tsc::monotonic_ns();
  if (!hm::cell::write_message(hm::cell::kEventFd, MsgType::kHello, &hello, sizeof hello))
    return hm::cell::kExitRunnerGone;
  send_config(hooks);
  hm::cell::Result res;
  res.first_t_ns = hm::metrics::tsc::monotonic_ns();
  const std::string json = def.run_native(params);
  res.last_t_ns = hm::metrics::tsc::monotonic_ns();
  if (!hm::cell::write_message(hm::cell::kEventFd, MsgType::kNativeJson, json.data(), json.size()))
    return hm::cell::kExitRunnerGone;
  hm::cell::read_final_figures(res);
  return hm::cell::write_message(hm::cell::kEventFd, MsgType::kResult, &res, sizeof res) ? 0
                                                                                         : hm::cell::kExitRunnerGone;
}

// The hello's first fields: the CPUs the cell started on, and what the hooks prove and say of the allocator.
void fill_identity(hm::cell::Hello& hello, const hm::registry::Hooks& hooks, const cpu_set_t& started_with) {
  for (auto& e : hello.counter_error) e = ENODATA;  // not opened (until the executor's cell opens them)
  hm::cell::format_cpus(started_with, hello.cpus_at_start, sizeof hello.cpus_at_start);
  hello.cpus_online = static_cast<uint32_t>(sysconf(_SC_NPROCESSORS_ONLN));
  hello.identity_ok = hooks.identity_ok();
  hello.tsc_invariant = hm::metrics::tsc::invariant();
  std::snprintf(hello.family, sizeof hello.family, "%s", hooks.family().name());
  std::snprintf(hello.version, sizeof hello.version, "%s", hooks.version());
  std::snprintf(hello.malloc_from, sizeof hello.malloc_from, "%s", hooks.malloc_from());
  std::snprintf(hello.proof, sizeof hello.proof, "%s", hooks.proof());
  std::snprintf(hello.release_call, sizeof hello.release_call, "%s", hooks.release_name());
  hello.release_per_thread = hooks.release_per_thread();
  if (hooks.identity_ok()) {
    const hm::registry::Horizon h = hooks.horizon();
    hello.horizon_ms = h.ms;
    hello.horizon_background = h.background;
    std::snprintf(hello.horizon_what, sizeof hello.horizon_what, "%s", h.what);
  }
}

hm::cell::ExecutorConfig executor_config(const Args& args, hm::cell::SharedPage* shared) {
  hm::cell::ExecutorConfig cfg;
  cfg.shared = shared;
  cfg.touch = args.touch;
  cfg.verify = args.verify;
  cfg.attribute = args.attribute;
  cfg.tsc_hz = args.tsc_hz > 0 ? args.tsc_hz : hm::metrics::tsc::calibrate_hz();
  cfg.batch_calls = args.batch_calls;
  cfg.release_every_ns = args.release_every_ns;
  return cfg;
}

// The baseline, once the threads exist: the hello's timer and memory figures (R0, which the executor
// measures from) and the allocator's settings, to the runner; false when the runner is gone.
bool send_baseline(hm::cell::Hello& hello, hm::cell::Executor& exec, const hm::cell::ExecutorConfig& cfg,
                   const std::vector<hm::workloads::Program*>& programs, const hm::workloads::Scratch& scratch,
                   const hm::registry::Hooks& hooks) {
  hello.threads = static_cast<uint16_t>(programs.size());
  hello.phase_count = programs[0]->phase_count();
  hello.tsc_hz = cfg.tsc_hz;
  const auto overhead = hm::metrics::tsc::overhead();
  hello.timer_overhead_cycles = overhead.median_cycles;
  hello.timer_overhead_mean_cycles = overhead.mean_cycles;
  hello.timer_resolution_cycles = hm::metrics::tsc::resolution_cycles();
  hello.scratch_bytes = scratch.used();
  hm::metrics::procfs::SmapsRollup r0;
  hm::metrics::procfs::read_smaps_rollup("/proc/self/smaps_rollup", r0);
  hello.r0_anon = r0.anonymous;
  hello.r0_rss = r0.rss;
  hello.r0_huge = r0.anon_huge_pages;
  exec.set_baseline(r0.anonymous);
  hello.t_ns = hm::metrics::tsc::monotonic_ns();
  if (!hm::cell::write_message(hm::cell::kEventFd, MsgType::kHello, &hello, sizeof hello)) return false;
  send_config(hooks);
  return true;
}

// An op program workload: placement, counters, the executor's threads, baseline, run and result.
int run_programs(const Args& args, const hm::registry::Hooks& hooks, hm::cell::Hello& hello,
                 const cpu_set_t& started_with, hm::cell::SharedPage* shared,
                 const std::vector<hm::workloads::Program*>& programs, hm::workloads::Scratch& scratch) {
  hello.pinned_cpu = hm::cell::place(args.cpu, programs.size(), started_with);
  hm::cell::ExecutorConfig cfg = executor_config(args, shared);
  hello.batch_calls = args.batch_calls;
  // Opened before the workload threads exist, so their events are counted too.
  hm::metrics::perf::Counters counters;
  if (args.counters) {
    counters.open();
    cfg.counters = &counters;
  }
  for (size_t i = 0; args.counters && i < hm::metrics::perf::kEvents; ++i) {
    hello.counter_error[i] = counters.availability(i).error;
    hello.counter_user_only[i] = counters.availability(i).user_only;
  }
  hm::cell::Executor exec(cfg, hooks, programs, scratch);
  exec.start_threads();
  if (!send_baseline(hello, exec, cfg, programs, scratch, hooks)) return hm::cell::kExitRunnerGone;

  exec.run();
  if (!exec.finish()) return hm::cell::kExitRunnerGone;
  if (exec.result().failed_allocs > 0) {
    send_error(hm::cell::ErrorCode::kOutOfMemory,
               std::to_string(exec.result().failed_allocs) + " allocations returned NULL");
    return hm::cell::kExitSetup;
  }
  return 0;
}

}  // namespace

// The cell's life in order (identity, setup, baseline, run, report): main and
// run_programs take the steps in turn, so the order that measurement depends on reads top to bottom.
int main(int argc, char** argv) {
  // A cell never outlives its runner: if the runner dies (kill -9, crash),
  // the kernel kills the cell too, instead of leaving it spinning orphaned.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return hm::cell::kExitRunnerGone;  // the runner died before the line above
  // The mask the process was started with: what the allocator saw when it
  // initialised (before main), and what multi-thread workloads keep.
  cpu_set_t started_with;
  CPU_ZERO(&started_with);
  sched_getaffinity(0, sizeof started_with, &started_with);
  const Args args = parse(argc, argv);

  const hm::registry::Hooks hooks = hm::registry::Hooks::probe(*args.family, args.library.c_str());
  hm::cell::Hello hello;
  fill_identity(hello, hooks, started_with);

  if (!hooks.identity_ok()) {
    hello.t_ns = hm::metrics::tsc::monotonic_ns();
    hm::cell::write_message(hm::cell::kEventFd, MsgType::kHello, &hello, sizeof hello);
    send_error(hm::cell::ErrorCode::kIdentity, std::string("identity check failed: ") + hooks.proof());
    return hm::cell::kExitIdentity;
  }
  if (args.probe) {
    hello.t_ns = hm::metrics::tsc::monotonic_ns();
    return hm::cell::write_message(hm::cell::kEventFd, MsgType::kHello, &hello, sizeof hello)
               ? 0
               : hm::cell::kExitRunnerGone;
  }

  // Setup: everything the measured phases touch is mapped and resident before R0.
  hm::cell::SharedPage* shared = nullptr;
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, hm::cell::kSharedFd, 0);
  if (page != MAP_FAILED) shared = static_cast<hm::cell::SharedPage*>(page);

  try {
    const auto& def = hm::workloads::find_workload(args.workload);
    const auto params = hm::workloads::Params::resolve(def.name, def.params, args.params);
    // Address space for the generator state plus the executor's tables (48 B
    // per id: slot and breakdown range; histograms; op buffers), with slack
    // for up to ~80M ids: only what is used becomes resident.
    const size_t scratch_cap = def.scratch_bytes(params) + (size_t{1} << 30) * 4;
    hm::workloads::Scratch scratch(scratch_cap);
    if (def.run_native) {
      hm::cell::place(-1, 2, started_with);  // micro runs threads of its own
      return run_native(def, params, hello, hooks);
    }
    auto programs = def.make(params, args.seed, scratch);
    return run_programs(args, hooks, hello, started_with, shared, programs, scratch);
  } catch (const hm::InputError& e) {
    send_error(hm::cell::ErrorCode::kSetup, e.what());
    return hm::cell::kExitBadArguments;
  } catch (const std::exception& e) {
    send_error(hm::cell::ErrorCode::kSetup, std::string("setup failed: ") + e.what());
    return hm::cell::kExitSetup;
  }
}
