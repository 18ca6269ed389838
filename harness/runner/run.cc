#include "harness/runner/run.h"

#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <cctype>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <unistd.h>

#include <boost/json.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>

#include "common/input_error.h"
#include "harness/runner/cell_record.h"
#include "harness/runner/context.h"
#include "harness/runner/program_cell.h"
#include "harness/runner/sites.h"
#include "harness/results/fingerprint.h"
#include "harness/results/results_dir.h"
#include "harness/runner/supervise.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace heapmark::runner {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void on_interrupt(int) { g_interrupted = 1; }

std::string fmt_duration(double s) {
  char b[32];
  if (s < 60) std::snprintf(b, sizeof b, "%.0fs", s);
  else std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return b;
}

std::vector<std::pair<std::string, std::string>> cell_env(const registry::Allocator& a) {
  auto env = a.env;
  if (!a.library.empty()) env.emplace_back("LD_PRELOAD", a.library);
  return env;
}

}  // namespace

uint32_t parse_timing(const std::string& text) {
  if (text == "latency") return 0;
  if (text == "batch") return kDefaultBatchCalls;
  if (text.rfind("batch:", 0) == 0) {
    const std::string k = text.substr(6);
    char* end = nullptr;
    const unsigned long v =
        k.empty() || !std::isdigit(static_cast<unsigned char>(k[0])) ? 0 : std::strtoul(k.c_str(), &end, 10);
    if (end && *end == '\0' && v >= 2 && v <= 65536) return static_cast<uint32_t>(v);
  }
  throw InputError("--timing '" + text + "': expected latency (each call timed on its own), batch (runs of " +
                   std::to_string(kDefaultBatchCalls) + " calls per timestamp pair) or batch:K with K from 2 to 65536");
}

std::string timing_text(uint32_t batch_calls) {
  return batch_calls ? "batch:" + std::to_string(batch_calls) : "latency";
}

namespace {

std::vector<std::string> cell_args(const RunOptions& o, const registry::Allocator& a, double tsc_hz) {
  std::vector<std::string> args{"--kind", a.kind()};
  if (!a.library.empty()) args.insert(args.end(), {"--library", a.library});
  if (o.cell_cpu >= 0) args.insert(args.end(), {"--cpu", std::to_string(o.cell_cpu)});
  char hz[64];
  std::snprintf(hz, sizeof hz, "%.0f", tsc_hz);
  args.insert(args.end(), {"--tsc-hz", hz, "--touch", o.touch});
  if (o.verify) args.push_back("--verify");
  if (o.attribute) args.push_back("--attribute");
  if (o.batch_calls) args.insert(args.end(), {"--batch-calls", std::to_string(o.batch_calls)});
  if (!o.counters) args.push_back("--no-counters");
  return args;
}

// Spawns a probe cell per allocator: version and identity proof for run.json,
// and an early, clear failure for a library that cannot even start.
std::vector<results::AllocatorProbe> probe_allocators(const Matrix& m, const RunOptions& o, double tsc_hz,
                                                      const cpu_set_t& deployed) {
  std::vector<results::AllocatorProbe> out;
  for (const auto& a : m.allocators) {
    SpawnSpec spec;
    spec.start_cpus = &deployed;
    spec.cell_binary = o.cell_binary;
    spec.args = cell_args(o, a, tsc_hz);
    spec.args.push_back("--probe");
    spec.env = cell_env(a);
    spec.timeout_s = std::min(30.0, o.timeout_s);  // a probe is quick; it never outwaits the run's own --timeout
    spec.sample_hz = 0;
    const CellOutcome r = supervise(spec);
    results::AllocatorProbe p;
    p.name = a.name;
    p.kind = a.kind();
    p.library = a.library;
    p.env = a.env;
    if (r.have_hello) {
      p.answered = true;
      p.version = r.hello.version;
      p.identity_ok = r.hello.identity_ok != 0;
      p.identity_proof = r.hello.proof;
      p.family = r.hello.family;
    } else {
      p.identity_proof = "probe cell failed: " + r.cause + " " + r.detail;
    }
    if (!p.identity_ok)
      std::fprintf(stderr, "heapmark: warning: allocator '%s' failed its identity probe (%s); its cells will fail\n",
                   a.name.c_str(), p.identity_proof.c_str());
    out.push_back(std::move(p));
  }
  return out;
}

results::RunOptionsInfo options_info(const RunOptions& o) {
  results::RunOptionsInfo i;
  i.timeout_s = o.timeout_s;
  i.mem_cap_bytes = o.mem_cap_bytes;
  i.sample_hz = o.sample_hz;
  i.max_points = o.max_points;
  i.touch = o.touch;
  i.verify = o.verify;
  i.attribute = o.attribute;
  i.timing = timing_text(o.batch_calls);
  i.counters = o.counters;
  i.cell_cpu = o.cell_cpu;
  i.jobs = o.jobs;
  i.suite_dir = o.suite_dir.empty() ? "" : fs::absolute(o.suite_dir).string();
  if (!o.shard.whole()) i.shard = o.shard.text();
  return i;
}

// A resumed run takes back the options it was started with.
void take_options(const results::RunOptionsInfo& i, RunOptions& o) {
  o.timeout_s = i.timeout_s;
  o.mem_cap_bytes = i.mem_cap_bytes;
  o.sample_hz = i.sample_hz;
  o.max_points = i.max_points;
  o.touch = i.touch;
  o.verify = i.verify;
  o.attribute = i.attribute;
  o.batch_calls = parse_timing(i.timing);
  o.counters = i.counters;
  o.cell_cpu = i.cell_cpu;
  o.jobs = i.jobs;
  o.suite_dir = i.suite_dir;
  if (i.shard) o.shard = parse_shard(*i.shard);
}

// With --timing batch the latency columns are ns per call over batches (b.).
void print_header(bool batch) {
  std::printf("%-5s %-14s %-10s %3s %11s %8s %8s %8s %9s %9s %9s %6s %7s  %s\n", "cell", "allocator", "workload", "rep",
              "ops/s", batch ? "b.p50ns" : "a.p50ns", batch ? "b.p99ns" : "a.p99ns", "f.p50ns", "peakR MiB", "live MiB",
              "afterfree", "ret%", "F4", "status");
}

// The parameters whose value differs between cells of one workload: the ones
// worth showing ("workload.param").
std::set<std::string> varying_params(const std::vector<CellPlan>& cells) {
  std::map<std::string, std::set<std::string>> values;
  for (const auto& c : cells)
    for (const auto& [k, v] : c.params) values[c.workload + "." + k].insert(v);
  std::set<std::string> out;
  for (const auto& [k, vs] : values)
    if (vs.size() > 1) out.insert(k);
  return out;
}

std::string shown_params(const CellPlan& c, const std::set<std::string>& varying) {
  std::string s;
  for (const auto& [k, v] : c.params)
    if (varying.count(c.workload + "." + k)) s += " " + k + "=" + v;
  return s;
}

void print_row(size_t i, size_t n, const CellPlan& c, const results::CellResult& rec,
               const std::set<std::string>& varying) {
  const Headline h = headline(rec);
  char idx[16];
  std::snprintf(idx, sizeof idx, "%zu/%zu", i + 1, n);
  if (!h.ok) {
    std::printf("%-5s %-14s %-10s %3d FAILED %s: %s%s\n", idx, c.allocator->name.c_str(), c.workload.c_str(), c.rep,
                h.cause.c_str(), rec.detail.c_str(), shown_params(c, varying).c_str());
  } else if (rec.run) {
    // A real program: wall time, peak RSS, exit status and its own figure.
    std::printf(
        "%-5s %-14s %-10s %3d  wall %8.3f s  user %7.3f s  sys %7.3f s  peak RSS %9.1f MiB  exit %lld%s%s  ok\n", idx,
        c.allocator->name.c_str(), c.workload.c_str(), c.rep, rec.wall_s, rec.cpu.user_s, rec.cpu.sys_s,
        static_cast<double>(rec.memory.vm_hwm) / 1048576.0, static_cast<long long>(rec.run->exit_code),
        rec.run->metric ? ("  " + rec.run->metric_name + " " + std::to_string(*rec.run->metric)).c_str() : "", "");
  } else {
    // Undefined figures (no freeing phase, a live set too small for ratios) print as "-".
    auto cell = [](double v, int width, int prec) {
      char b[32];
      if (std::isnan(v)) std::snprintf(b, sizeof b, "%*s", width, "-");
      else std::snprintf(b, sizeof b, "%*.*f", width, prec, std::fabs(v) < 0.5 * std::pow(10.0, -prec) ? 0.0 : v);
      return std::string(b);
    };
    std::printf("%-5s %-14s %-10s %3d %s %s %s %s %s %s %s %s %s  ok%s\n", idx, c.allocator->name.c_str(),
                c.workload.c_str(), c.rep, cell(h.ops_per_s, 11, 0).c_str(), cell(h.alloc_p50_ns, 8, 1).c_str(),
                cell(h.alloc_p99_ns, 8, 1).c_str(), cell(h.free_p50_ns, 8, 1).c_str(), cell(h.peak_r_mib, 9, 1).c_str(),
                cell(h.live_peak_mib, 9, 1).c_str(), cell(h.after_free_mib, 9, 1).c_str(),
                cell(h.returned * 100, 6, 1).c_str(), cell(h.f4, 7, 3).c_str(), shown_params(c, varying).c_str());
    if (rec.micro)
      for (const auto& b : *rec.micro)
        std::printf("        %-44s %12.1f ns/iter (cpu) %12.0f calls/s\n", b.name.c_str(), b.cpu_time_ns,
                    b.calls_per_second);
  }
  std::fflush(stdout);
}

// The runner pins itself away from the cells' CPU for a run and gives its
// mask back afterwards (repro runs one run per scenario from one process).
class RunnerMask {
 public:
  RunnerMask() {
    CPU_ZERO(&deployed_);
    sched_getaffinity(0, sizeof deployed_, &deployed_);
  }
  ~RunnerMask() { sched_setaffinity(0, sizeof deployed_, &deployed_); }
  // The masks of the CPU-count axis (--cpus N): N CPUs of the deployed mask, the cells' own CPU (--cpu, the
  // last by default) first, then the highest others, as a cpuset of N CPUs would show the allocator.
  void prepare(const std::vector<int>& counts, int cell_cpu) {
    std::vector<int> order;
    if (cell_cpu >= 0 && CPU_ISSET(cell_cpu, &deployed_)) order.push_back(cell_cpu);
    for (int c = CPU_SETSIZE - 1; c >= 0; --c)
      if (c != cell_cpu && CPU_ISSET(c, &deployed_)) order.push_back(c);
    for (int n : counts) {
      if (static_cast<size_t>(n) > order.size())
        throw InputError("--cpus " + std::to_string(n) + ": heapmark was started with " + std::to_string(order.size()) +
                         " CPUs in its mask (taskset, a cpuset): at most that many");
      cpu_set_t set;
      CPU_ZERO(&set);
      for (int i = 0; i < n; ++i) CPU_SET(order[static_cast<size_t>(i)], &set);
      counts_[n] = set;
    }
  }
  // What a cell of `cpus` CPUs starts with (0: the deployed mask).
  const cpu_set_t& start(int cpus) const {
    const auto it = counts_.find(cpus);
    return it == counts_.end() ? deployed_ : it->second;
  }
  RunnerMask(const RunnerMask&) = delete;
  RunnerMask& operator=(const RunnerMask&) = delete;
  // What the runner was started with: what any process started here would get.
  const cpu_set_t& deployed() const { return deployed_; }

 private:
  cpu_set_t deployed_;
  std::map<int, cpu_set_t> counts_;
};

}  // namespace

void check_run_id(const std::string& id) {
  if (id.empty() || id == "." || id.find('/') != std::string::npos || id.find("..") != std::string::npos)
    throw InputError("--run-id '" + id +
                     "': a run id names one directory under --out; it may not be empty or contain '/' or '..'");
}

std::string create_run_dir(const std::string& root, const std::string& id, bool resumable) {
  check_run_id(id);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec || !fs::is_directory(root))
    throw InputError("--out '" + root + "': cannot create the results root there: " +
                     (ec ? ec.message() : std::string("it exists and is not a directory")));
  const std::string dir = root + "/" + id;
  if (::mkdir(dir.c_str(), 0755) != 0) {
    if (errno == EEXIST)
      throw InputError("results directory '" + dir + "' exists already: choose another --run-id" +
                       (resumable ? ", or add the missing cells with --resume " + dir : std::string()));
    throw InputError("cannot create the results directory '" + dir + "': " + std::strerror(errno));
  }
  return dir;
}

namespace {

// One cell at a time gets a CPU of its own and the runner the others, so
// sampling never preempts a cell; concurrent cells (--jobs, RSS-only work)
// are left to the scheduler rather than stacked on one CPU.
void place_runner(RunOptions& o) {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (o.cell_cpu < 0 && cpus >= 2 && o.jobs == 1) o.cell_cpu = static_cast<int>(cpus - 1);
  if (o.cell_cpu >= cpus)
    throw InputError("--cpu " + std::to_string(o.cell_cpu) + ": this machine has CPUs 0-" + std::to_string(cpus - 1));
  if (o.cell_cpu < 0 || cpus < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (long c = 0; c < cpus; ++c)
    if (c != o.cell_cpu) CPU_SET(c, &set);
  sched_setaffinity(0, sizeof set, &set);
}

results::RunInfo run_info_of(const Matrix& matrix, const RunOptions& o, const TscInfo& tsc, const RunnerMask& mask,
                             size_t planned) {
  results::RunInfo r;
  r.schema_version = results::kSchemaVersion;
  r.run_id = o.run_id;
  r.created_at = results::utc_now();
  r.heapmark = build_info();
  r.command_line = o.command_line;
  r.cwd = fs::current_path().string();
  r.options = options_info(o);
  r.matrix = matrix.to_json().as_object();
  r.matrix_digest = matrix_digest(matrix);  // the shard: options.shard
  r.plan_seed = matrix.seed;
  r.machine = machine_context(tsc);
  r.allocators = probe_allocators(matrix, o, tsc.hz, mask.deployed());
  r.fingerprint = fingerprint(r.machine, r.allocators);
  r.cells_planned = planned;
  return r;
}

SpawnSpec cell_spec(const RunOptions& o, const CellPlan& c, double tsc_hz, const RunnerMask& mask) {
  SpawnSpec spec;
  spec.start_cpus = &mask.start(c.cpus);
  spec.cell_binary = o.cell_binary;
  spec.args = cell_args(o, *c.allocator, tsc_hz);
  spec.args.insert(spec.args.end(), {"--workload", c.workload, "--seed", std::to_string(c.seed)});
  for (const auto& [k, v] : c.params)
    if (std::find(c.deployment_keys.begin(), c.deployment_keys.end(), k) == c.deployment_keys.end())
      spec.args.insert(spec.args.end(), {"--param", k + "=" + v});
  if (c.release_every_ns) spec.args.insert(spec.args.end(), {"--release-every-ns", std::to_string(c.release_every_ns)});
  spec.thp_never = c.thp_never;
  spec.huge_every_ns = c.thp_axis ? kHugePageEveryNs : 0;
  spec.env = cell_env(*c.allocator);
  spec.timeout_s = o.timeout_s;
  spec.mem_cap_bytes = o.mem_cap_bytes;
  spec.sample_hz = o.sample_hz;
  spec.max_points = o.max_points;
  return spec;
}

}  // namespace

namespace {

// A run up to its first cell: the directory (new, or resumed and locked), the
// plan's cells of this shard, and what an earlier start already recorded.
struct RunStart {
  Matrix matrix;
  std::string dir;
  std::unique_ptr<results::DirLock> lock;  // held while this process writes the directory
  bool resuming = false;
  results::RunInfo resumed;  // what run.json recorded, when resuming
  std::vector<CellPlan> cells;
  TscInfo tsc;
  // Cells already recorded (on --resume), and the program checksum each block
  // ran: a resumed cell is compared with the cells recorded before the stop.
  std::set<std::string> done;
  std::map<size_t, std::string> block_checksum;
  size_t failed_before = 0;  // a resumed run's exit status counts the cells that failed before the stop too
};

// The directory and the matrix: a resumed run's from its run.json, a new one's as given.
void open_dir(RunStart& st, RunOptions& o, const std::vector<registry::Allocator>& known) {
  st.resuming = !o.resume.empty();
  if (st.resuming) {
    st.dir = fs::is_directory(o.resume) ? o.resume : o.results_root + "/" + o.resume;
    if (!fs::is_directory(st.dir))
      throw InputError("--resume '" + o.resume + "': no such results directory" +
                       (o.resume.find('/') == std::string::npos ? " (nor " + st.dir + ")" : std::string()));
    // Before reading what is done: a second writer is refused, not interleaved.
    st.lock = std::make_unique<results::DirLock>(st.dir);
    st.resumed = results::read_run_info(st.dir);  // throws InputError with the file name
    st.matrix = Matrix::from_json(st.resumed.matrix, known, st.dir + "/run.json");
    take_options(st.resumed.options, o);
  } else {
    if (o.run_id.empty()) o.run_id = results::new_run_id();
    check_run_id(o.run_id);
    st.dir = o.results_root + "/" + o.run_id;
  }
}

// A block's cells must come from one machine: a run is finished where it started.
void check_same_machine(const RunStart& st) {
  if (!st.resuming || st.resumed.fingerprint.facts.empty()) return;
  json::object here = fingerprint(machine_context(st.tsc), {}).facts;
  json::object there = st.resumed.fingerprint.facts;
  for (auto* f : {&here, &there}) {
    f->erase("allocators");
    f->erase("digest");
  }
  if (const std::string diff = results::fingerprint_difference(there, here); !diff.empty())
    throw InputError(st.dir + " was started on another machine (" + diff +
                     "): resume it there, or run its shard anew here");
}

// Everything is validated before anything is written; a shard keeps its blocks whole.
RunStart start_run(Matrix matrix, RunOptions& o, const std::vector<registry::Allocator>& known, RunnerMask& mask) {
  RunStart st;
  st.matrix = std::move(matrix);
  open_dir(st, o, known);
  st.cells = expand(st.matrix);
  if (!o.shard.whole())
    st.cells.erase(
        std::remove_if(st.cells.begin(), st.cells.end(), [&](const CellPlan& c) { return !o.shard.holds(c.block); }),
        st.cells.end());
  if (!st.matrix.programs.empty()) {
    if (o.probe_library.empty() || access(o.probe_library.c_str(), R_OK) != 0)
      throw InputError(
          "program cells need libheapmark_probe.so beside heapmark (cmake --build build --target heapmark_probe)");
    if (o.registry_library.empty() || access(o.registry_library.c_str(), R_OK) != 0)
      throw InputError(
          "program cells need libheapmark_attach.so beside heapmark (cmake --build build --target heapmark_attach)");
    check_programs(st.matrix, o);
  }
  place_runner(o);
  mask.prepare(st.matrix.cpus, o.cell_cpu);
  if (o.mem_cap_bytes == 0)
    o.mem_cap_bytes = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE) / 4 * 3;
  st.tsc = measure_tsc();
  check_same_machine(st);
  if (!st.tsc.invariant)
    std::fprintf(stderr, "heapmark: warning: this CPU does not report an invariant TSC; latencies in ns may drift\n");
  if (st.resuming) {
    for (const auto& line : results::read_cells(st.dir).lines) {
      st.done.insert(line.result.key);
      st.failed_before += !line.result.ok();
      if (line.result.program) st.block_checksum.emplace(line.result.block, line.result.program->checksum);
    }
  } else {
    create_run_dir(o.results_root, o.run_id, true);  // refuses an existing run: only --resume adds cells to it
    st.lock = std::make_unique<results::DirLock>(st.dir);
    results::write_run_info(st.dir, run_info_of(st.matrix, o, st.tsc, mask, st.cells.size()));
  }
  return st;
}

// The cells still to run, on `jobs` workers that take them in plan order;
// results are recorded and printed under one lock, in the order cells finish.
class CellLoop {
 public:
  CellLoop(const RunOptions& o, RunStart& st, const RunnerMask& mask, results::CellLog& log,
           const std::map<std::string, std::string>& reference_digest)
      : o_(o), st_(st), mask_(mask), log_(log), reference_digest_(reference_digest) {
    for (const auto& c : st.cells)
      if (!st.done.count(c.key)) pending_.push_back(&c);
    varying_ = varying_params(st.cells);
  }
  size_t to_run() const { return pending_.size(); }
  // Runs every pending cell (or until an interruption or an error); rethrows
  // the first error a worker met (a full disk) after saying how to finish.
  void run() {
    std::vector<std::thread> workers;
    for (int j = 1; j < o_.jobs; ++j) workers.emplace_back([this] { worker(); });
    worker();
    for (auto& w : workers) w.join();
    if (failure_) {
      std::fprintf(stderr,
                   "\nheapmark: the run stopped after %zu cells; once the cause below is fixed, finish it with: %s\n",
                   ran_, finish_command().c_str());
      std::rethrow_exception(failure_);
    }
  }
  size_t ran() const { return ran_; }
  size_t failed() const { return failed_; }
  std::string finish_command() const {
    return o_.finish_command.empty() ? "heapmark run --resume " + st_.dir : o_.finish_command;
  }

 private:
  void progress(const CellPlan& c) const {
    if (!tty_) return;
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start_).count();
    const size_t n = to_run();
    const std::string eta = ran_ ? fmt_duration(el / static_cast<double>(ran_) * static_cast<double>(n - ran_)) : "?";
    std::fprintf(stderr, "\r\033[K[%zu/%zu] %s %s rep %d  elapsed %s  eta %s", ran_ + 1, n, c.allocator->name.c_str(),
                 c.workload.c_str(), c.rep, fmt_duration(el).c_str(), eta.c_str());
  }
  // Same seed, same program: a differing checksum inside a block means two
  // allocators were not compared like with like.
  void check_block(const CellPlan& c, results::CellResult& rec) {
    auto& prog = rec.program;
    if (!prog) return;
    auto [it, first] = st_.block_checksum.emplace(c.block, prog->checksum);
    prog->matches_block = first || it->second == prog->checksum;
    if (!*prog->matches_block)
      std::fprintf(stderr, "\nheapmark: warning: cell %s ran a different program (checksum %s) than its block (%s)\n",
                   c.key.c_str(), prog->checksum.c_str(), it->second.c_str());
  }
  void work() {
    for (;;) {
      const CellPlan* c;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (g_interrupted || failure_ || next_ >= pending_.size()) return;
        c = pending_[next_++];
        progress(*c);
      }
      results::CellResult rec;
      if (c->program) {
        rec = run_program_cell(*c, o_, st_.dir, mask_.start(c->cpus), reference_digest_);
      } else {
        const std::string started = results::utc_now();
        rec = cell_result(*c, supervise(cell_spec(o_, *c, st_.tsc.hz, mask_)), started, o_.sample_hz);
      }
      if (g_interrupted) return;  // the cell saw the signal too: its result is not trustworthy, do not record it
      std::lock_guard<std::mutex> lock(mu_);
      if (failure_) return;
      check_block(*c, rec);
      if (tty_) std::fprintf(stderr, "\r\033[K");
      log_.append(rec);
      if (!rec.ok()) ++failed_;
      if (!o_.quiet) print_row(c->index, st_.cells.size(), *c, rec, varying_);
      ++ran_;
    }
  }
  void worker() {
    try {
      work();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failure_) failure_ = std::current_exception();
    }
  }

  const RunOptions& o_;
  RunStart& st_;
  const RunnerMask& mask_;
  results::CellLog& log_;
  const std::map<std::string, std::string>& reference_digest_;
  std::vector<const CellPlan*> pending_;
  std::set<std::string> varying_;
  const bool tty_ = isatty(STDERR_FILENO) && !o_.quiet;
  const std::chrono::steady_clock::time_point t_start_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  size_t next_ = 0, ran_ = 0, failed_ = 0;
  std::exception_ptr failure_;  // the first error a worker met: the run stops and says how to finish
};

}  // namespace

// A run from start to end: the results directory (new, or resumed), the
// cells in plan order on `jobs` workers, each recorded as it finishes.
int run(Matrix matrix, RunOptions o, const std::vector<registry::Allocator>& known, std::string* dir_out) {
  if (o.verify && o.batch_calls)
    throw InputError("--verify checks every block between allocator calls and --timing " + timing_text(o.batch_calls) +
                     " runs them back to back: use one of them (--timing latency with --verify)");
  RunnerMask mask;
  RunStart st = start_run(std::move(matrix), o, known, mask);
  results::CellLog log(st.dir);
  if (dir_out) *dir_out = st.dir;
  const std::map<std::string, std::string> reference_digest = st.matrix.programs.empty()
                                                                  ? std::map<std::string, std::string>{}
                                                                  : prepare_programs(st.matrix, o, st.dir + "/work");

  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  CellLoop loop(o, st, mask, log, reference_digest);
  if (!o.quiet) {
    std::printf("heapmark run%s: %zu cells (%zu to run), results in %s\n", st.resuming ? " (resumed)" : "",
                st.cells.size(), loop.to_run(), st.dir.c_str());
    print_header(o.batch_calls > 0);
  }
  const auto t_start = std::chrono::steady_clock::now();
  loop.run();
  if (g_interrupted) {
    std::fprintf(stderr, "\nheapmark: interrupted after %zu cells; finish with: %s\n", loop.ran(),
                 loop.finish_command().c_str());
    return kExitInterrupted;
  }
  const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  if (o.attribute) {
    const std::string warnings = write_sites(st.dir);  // symbols for the report, while the modules are where they were
    if (!o.quiet && !warnings.empty()) std::fprintf(stderr, "heapmark: sites: %s", warnings.c_str());
  }
  if (!o.quiet)
    std::printf("%zu cells ran in %s (%zu failed, recorded with their cause). Results: %s\n", loop.ran(),
                fmt_duration(el).c_str(), loop.failed(), st.dir.c_str());
  return loop.failed() + st.failed_before ? kExitCellsFailed : kExitOk;
}

}  // namespace heapmark::runner
