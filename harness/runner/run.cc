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
json::array probe_allocators(const Matrix& m, const RunOptions& o, double tsc_hz, const cpu_set_t& deployed) {
  json::array out;
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
    json::object env;
    for (const auto& [k, v] : a.env) env[k] = v;
    json::object entry{{"name", a.name}, {"kind", a.kind()}, {"library", a.library}, {"env", env}};
    if (r.have_hello) {
      entry["version"] = std::string(r.hello.version);
      entry["identity_ok"] = r.hello.identity_ok != 0;
      entry["identity_proof"] = std::string(r.hello.proof);
      entry["family"] = std::string(r.hello.family);
    } else {
      entry["identity_ok"] = false;
      entry["identity_proof"] = "probe cell failed: " + r.cause + " " + r.detail;
    }
    if (!entry["identity_ok"].as_bool())
      std::fprintf(stderr, "heapmark: warning: allocator '%s' failed its identity probe (%s); its cells will fail\n",
                   a.name.c_str(), entry["identity_proof"].as_string().c_str());
    out.push_back(entry);
  }
  return out;
}

json::object options_json(const RunOptions& o) {
  return json::object{{"timeout_s", o.timeout_s},
                      {"mem_cap_bytes", o.mem_cap_bytes},
                      {"sample_hz", o.sample_hz},
                      {"max_points", o.max_points},
                      {"touch", o.touch},
                      {"verify", o.verify},
                      {"attribute", o.attribute},
                      {"timing", timing_text(o.batch_calls)},
                      {"counters", o.counters},
                      {"cell_cpu", o.cell_cpu},
                      {"jobs", o.jobs},
                      {"suite_dir", o.suite_dir.empty() ? "" : fs::absolute(o.suite_dir).string()},
                      {"shard", o.shard.whole() ? json::value(nullptr) : json::value(o.shard.text())}};
}

void options_from_json(const json::object& j, RunOptions& o) {
  auto num = [&](const char* k, double dflt) {
    const auto* v = j.if_contains(k);
    return v && v->is_number() ? v->to_number<double>() : dflt;
  };
  o.timeout_s = num("timeout_s", o.timeout_s);
  o.mem_cap_bytes = static_cast<uint64_t>(num("mem_cap_bytes", static_cast<double>(o.mem_cap_bytes)));
  o.sample_hz = num("sample_hz", o.sample_hz);
  o.max_points = static_cast<size_t>(num("max_points", static_cast<double>(o.max_points)));
  o.cell_cpu = static_cast<int>(num("cell_cpu", o.cell_cpu));
  o.jobs = static_cast<int>(num("jobs", o.jobs));
  if (const auto* t = j.if_contains("touch"); t && t->is_string()) o.touch = std::string(t->as_string());
  if (const auto* v = j.if_contains("verify"); v && v->is_bool()) o.verify = v->as_bool();
  if (const auto* v = j.if_contains("attribute"); v && v->is_bool()) o.attribute = v->as_bool();
  if (const auto* v = j.if_contains("timing"); v && v->is_string())
    o.batch_calls = parse_timing(std::string(v->as_string()));
  if (const auto* v = j.if_contains("counters"); v && v->is_bool()) o.counters = v->as_bool();
  if (const auto* d = j.if_contains("suite_dir"); d && d->is_string()) o.suite_dir = std::string(d->as_string());
  if (const auto* s = j.if_contains("shard"); s && s->is_string()) o.shard = parse_shard(std::string(s->as_string()));
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
  RunnerMask(const RunnerMask&) = delete;
  RunnerMask& operator=(const RunnerMask&) = delete;
  // What the runner was started with: what any process started here would get.
  const cpu_set_t& deployed() const { return deployed_; }

 private:
  cpu_set_t deployed_;
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

json::object run_json_of(const Matrix& matrix, const RunOptions& o, const TscInfo& tsc, const RunnerMask& mask,
                         size_t planned) {
  const json::object machine = machine_context(tsc);
  const json::array allocators = probe_allocators(matrix, o, tsc.hz, mask.deployed());
  json::array command;
  for (const auto& s : o.command_line) command.push_back(json::string(s));
  return json::object{{"schema_version", results::kSchemaVersion},
                      {"run_id", o.run_id},
                      {"created_at", results::utc_now()},
                      {"heapmark", build_info()},
                      {"command_line", std::move(command)},
                      {"cwd", fs::current_path().string()},
                      {"options", options_json(o)},
                      {"matrix", matrix.to_json()},
                      {"plan", json::object{{"matrix_digest", matrix_digest(matrix)},
                                            {"seed", matrix.seed}}},  // the shard: options.shard
                      {"machine", machine},
                      {"allocators", allocators},
                      {"fingerprint", fingerprint(machine, allocators)},
                      {"cells_planned", planned}};
}

SpawnSpec cell_spec(const RunOptions& o, const CellPlan& c, double tsc_hz, const RunnerMask& mask) {
  SpawnSpec spec;
  spec.start_cpus = &mask.deployed();
  spec.cell_binary = o.cell_binary;
  spec.args = cell_args(o, *c.allocator, tsc_hz);
  spec.args.insert(spec.args.end(), {"--workload", c.workload, "--seed", std::to_string(c.seed)});
  for (const auto& [k, v] : c.params) spec.args.insert(spec.args.end(), {"--param", k + "=" + v});
  spec.env = cell_env(*c.allocator);
  spec.timeout_s = o.timeout_s;
  spec.mem_cap_bytes = o.mem_cap_bytes;
  spec.sample_hz = o.sample_hz;
  spec.max_points = o.max_points;
  return spec;
}

}  // namespace

// A run from start to end: the results directory (new, or resumed), the
// cells in plan order on `jobs` workers, each recorded as it finishes. The
// workers' loop shares the run's state by reference, so it stays here.
int run(Matrix matrix, RunOptions o, const std::vector<registry::Allocator>& known, std::string* dir_out) {
  if (o.verify && o.batch_calls)
    throw InputError("--verify checks every block between allocator calls and --timing " + timing_text(o.batch_calls) +
                     " runs them back to back: use one of them (--timing latency with --verify)");
  const RunnerMask mask;
  std::string dir;
  std::optional<results::DirLock> dir_lock;  // held while this process writes the directory
  json::value run_json;
  bool resuming = !o.resume.empty();
  if (resuming) {
    dir = fs::is_directory(o.resume) ? o.resume : o.results_root + "/" + o.resume;
    if (!fs::is_directory(dir))
      throw InputError("--resume '" + o.resume + "': no such results directory" +
                       (o.resume.find('/') == std::string::npos ? " (nor " + dir + ")" : std::string()));
    dir_lock.emplace(dir);                   // before reading what is done: a second writer is refused, not interleaved
    run_json = results::read_run_json(dir);  // throws InputError with the file name
    const auto& rj = run_json.as_object();
    matrix = Matrix::from_json(rj.at("matrix"), known, dir + "/run.json");
    options_from_json(rj.at("options").as_object(), o);
  } else {
    if (o.run_id.empty()) o.run_id = results::new_run_id();
    check_run_id(o.run_id);
    dir = o.results_root + "/" + o.run_id;
  }
  // Everything is validated before anything is written; a shard keeps its blocks whole.
  std::vector<CellPlan> cells = expand(matrix);
  if (!o.shard.whole())
    cells.erase(std::remove_if(cells.begin(), cells.end(), [&](const CellPlan& c) { return !o.shard.holds(c.block); }),
                cells.end());
  if (!matrix.programs.empty()) {
    if (o.probe_library.empty() || access(o.probe_library.c_str(), R_OK) != 0)
      throw InputError(
          "program cells need libheapmark_probe.so beside heapmark (cmake --build build --target heapmark_probe)");
    check_programs(matrix, o);
  }

  place_runner(o);
  if (o.mem_cap_bytes == 0)
    o.mem_cap_bytes = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE) / 4 * 3;

  const TscInfo tsc = measure_tsc();
  if (resuming)
    if (const auto* f = run_json.as_object().if_contains("fingerprint"); f && f->is_object()) {
      // A block's cells must come from one machine: a run is finished where it started.
      json::object here = fingerprint(machine_context(tsc), json::array{});
      json::object there = f->as_object();
      there.erase("allocators");
      there.erase("digest");
      here.erase("allocators");
      here.erase("digest");
      if (const std::string diff = results::fingerprint_difference(there, here); !diff.empty())
        throw InputError(dir + " was started on another machine (" + diff +
                         "): resume it there, or run its shard anew here");
    }
  if (!tsc.invariant)
    std::fprintf(stderr, "heapmark: warning: this CPU does not report an invariant TSC; latencies in ns may drift\n");

  // Cells already recorded (on --resume), and the program checksum each block
  // ran: a resumed cell is compared with the cells recorded before the stop.
  std::set<std::string> done;
  std::map<size_t, std::string> block_checksum;
  size_t failed_before = 0;  // a resumed run's exit status counts the cells that failed before the stop too
  if (resuming) {
    for (const auto& line : results::read_cells(dir).lines) {
      done.insert(line.result.key);
      failed_before += !line.result.ok();
      if (line.result.program) block_checksum.emplace(line.result.block, line.result.program->checksum);
    }
  } else {
    create_run_dir(o.results_root, o.run_id, true);  // refuses an existing run: only --resume adds cells to it
    dir_lock.emplace(dir);
    results::write_atomically(dir + "/run.json",
                              json::serialize(run_json_of(matrix, o, tsc, mask, cells.size())) + "\n");
  }
  results::CellLog log(dir);
  if (dir_out) *dir_out = dir;
  const std::map<std::string, std::string> reference_digest =
      matrix.programs.empty() ? std::map<std::string, std::string>{} : prepare_programs(matrix, o, dir + "/work");

  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const bool tty = isatty(STDERR_FILENO) && !o.quiet;
  const std::set<std::string> varying = varying_params(cells);
  const size_t to_run = cells.size() - std::min(cells.size(), done.size());
  if (!o.quiet) {
    std::printf("heapmark run%s: %zu cells (%zu to run), results in %s\n", resuming ? " (resumed)" : "", cells.size(),
                to_run, dir.c_str());
    print_header(o.batch_calls > 0);
  }
  const auto t_start = std::chrono::steady_clock::now();
  std::vector<const CellPlan*> pending;
  for (const auto& c : cells)
    if (!done.count(c.key)) pending.push_back(&c);

  // `jobs` workers take cells in plan order; results are recorded and printed
  // under one lock, in the order cells finish.
  std::mutex mu;
  size_t next = 0, ran = 0, failed = 0;
  auto progress = [&](const CellPlan& c) {
    if (!tty) return;
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    const std::string eta = ran ? fmt_duration(el / static_cast<double>(ran) * static_cast<double>(to_run - ran)) : "?";
    std::fprintf(stderr, "\r\033[K[%zu/%zu] %s %s rep %d  elapsed %s  eta %s", ran + 1, to_run,
                 c.allocator->name.c_str(), c.workload.c_str(), c.rep, fmt_duration(el).c_str(), eta.c_str());
  };
  std::exception_ptr failure;  // the first error a worker met (a full disk): the run stops and says how to finish
  auto work = [&] {
    for (;;) {
      const CellPlan* c;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (g_interrupted || failure || next >= pending.size()) return;
        c = pending[next++];
        progress(*c);
      }
      results::CellResult rec;
      if (c->program) {
        rec = run_program_cell(*c, o, dir, mask.deployed(), reference_digest);
      } else {
        const std::string started = results::utc_now();
        rec = cell_result(*c, supervise(cell_spec(o, *c, tsc.hz, mask)), started, o.sample_hz);
      }
      if (g_interrupted) return;  // the cell saw the signal too: its result is not trustworthy, do not record it

      std::lock_guard<std::mutex> lock(mu);
      if (failure) return;
      // Same seed, same program: a differing checksum inside a block means two
      // allocators were not compared like with like.
      if (auto& prog = rec.program) {
        auto [it, first] = block_checksum.emplace(c->block, prog->checksum);
        prog->matches_block = first || it->second == prog->checksum;
        if (!*prog->matches_block)
          std::fprintf(stderr,
                       "\nheapmark: warning: cell %s ran a different program (checksum %s) than its block (%s)\n",
                       c->key.c_str(), prog->checksum.c_str(), it->second.c_str());
      }
      if (tty) std::fprintf(stderr, "\r\033[K");
      log.append(rec);
      if (!rec.ok()) ++failed;
      if (!o.quiet) print_row(c->index, cells.size(), *c, rec, varying);
      ++ran;
    }
  };
  auto worker = [&] {
    try {
      work();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!failure) failure = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  for (int j = 1; j < o.jobs; ++j) workers.emplace_back(worker);
  worker();
  for (auto& w : workers) w.join();
  if (failure) {
    std::fprintf(stderr,
                 "\nheapmark: the run stopped after %zu cells; once the cause below is fixed, finish it with: %s\n",
                 ran, o.finish_command.empty() ? ("heapmark run --resume " + dir).c_str() : o.finish_command.c_str());
    std::rethrow_exception(failure);
  }
  if (g_interrupted) {
    std::fprintf(stderr, "\nheapmark: interrupted after %zu cells; finish with: %s\n", ran,
                 o.finish_command.empty() ? ("heapmark run --resume " + dir).c_str() : o.finish_command.c_str());
    return kExitInterrupted;
  }
  const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  if (o.attribute) {
    const std::string warnings = write_sites(dir);  // symbols for the report, while the modules are where they were
    if (!o.quiet && !warnings.empty()) std::fprintf(stderr, "heapmark: sites: %s", warnings.c_str());
  }
  if (!o.quiet)
    std::printf("%zu cells ran in %s (%zu failed, recorded with their cause). Results: %s\n", ran,
                fmt_duration(el).c_str(), failed, dir.c_str());
  return failed + failed_before ? kExitCellsFailed : kExitOk;
}

}  // namespace heapmark::runner
