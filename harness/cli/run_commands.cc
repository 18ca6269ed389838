// `heapmark run` (a benchmark matrix, then its report) and `heapmark plan`
// (the same matrix's cells in blocks, as JSON): the flags that make a matrix
// are theirs alike.
#include <sched.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <memory>

#include "allocators/registry/registry.h"
#include "common/input_error.h"
#include "common/text.h"
#include "harness/cli/commands.h"
#include "harness/cli/validators.h"
#include "harness/runner/matrix.h"
#include "harness/runner/matrix_builder.h"
#include "harness/runner/plan.h"
#include "harness/runner/program_cell.h"
#include "harness/runner/run.h"
#include "workloads/params.h"

namespace {

namespace hm = heapmark;

// The flags that make a matrix, shared by `run` and `plan`.
struct MatrixFlags {
  std::string matrix_file, allocators_csv, workloads_csv, cpus_csv, release_csv, thp_csv;
  std::vector<std::string> user_allocs, envs, params, program_flags, suites;
  int reps = 3;
  uint64_t seed = 1;
  bool any() const {
    return !matrix_file.empty() || !allocators_csv.empty() || !workloads_csv.empty() || !params.empty() ||
           !envs.empty() || !program_flags.empty() || !suites.empty();
  }
};

void add_matrix_flags(CLI::App* app, MatrixFlags& f) {
  app->add_option("--matrix", f.matrix_file,
                  "Matrix JSON file, or the name of a shipped one (" + hm::cli::shipped_names("matrices") +
                      "); flags below add to or override it")
      ->type_name("FILE|NAME");
  app->add_option("--allocators", f.allocators_csv, "Comma-separated allocator names (see `heapmark list allocators`)");
  app->add_option("--allocator", f.user_allocs, "Your own allocator: NAME=/path/to/lib.so (repeatable)");
  app->add_option(
      "--workloads", f.workloads_csv,
      "Comma-separated workload names (see `heapmark list workloads`); trace:app.hmt replays a recorded trace");
  app->add_option(
         "--program", f.program_flags,
         "A real program as a workload: NAME='CMD ARGS' (split into words as a shell would; no shell runs it). "
         "Repeatable; mixes with --workloads")
      ->type_name("NAME=CMD");
  app->add_option(
         "--suite", f.suites,
         "A suite file of programs, or a shipped one's name (debian; mimalloc-bench needs --suite-dir, the suite "
         "itself is not shipped)")
      ->type_name("FILE|NAME");
  app->add_option("-p,--param", f.params,
                  "Workload parameter KEY=VALUE or WORKLOAD.KEY=VALUE; VALUE may be a|b|c to sweep (repeatable)");
  app->add_option("--env", f.envs,
                  "Allocator configuration ALLOCATOR:VAR=VALUE, recorded with the results (repeatable)");
  app->add_option("--reps", f.reps, "Repetitions of every (workload, params, allocator)")
      ->check(heapmark::cli::within(1, 1000));
  app->add_option("--seed", f.seed, "Seed for every generated program");
  app->add_option("--cpus", f.cpus_csv,
                  "CPU counts to run every cell at, e.g. 1,2: each cell starts with that many CPUs in its mask, what a "
                  "container limited to a cpuset of that size shows an allocator (jemalloc sizes its arenas from it). "
                  "Cells are grouped by it in the report. A container that shows more CPUs than it may use (a "
                  "cpu.max quota) needs a cgroup, which heapmark does not change: not offered")
      ->type_name("N,...");
  app->add_option("--release-every", f.release_csv,
                  "Release schedules to run every cell at, e.g. off,10s,1s,100ms,10ms: the cell calls the allocator's "
                  "release hook (malloc_trim(0), jemalloc's purge, tcmalloc's ReleaseFreeMemory, mi_collect, the "
                  "in-house release) at that interval: a generator cell between its ops, outside the timed calls; "
                  "a program from a thread of the preloaded probe's own. memory.avg_r, cpu and release_schedule.* "
                  "say what it bought and cost. At least 1ms (docs/running.md)")
      ->type_name("off|INTERVAL,...");
  app->add_option("--thp", f.thp_csv,
                  "Transparent huge pages as an axis, e.g. never,system: never (the cell disables them for itself, "
                  "prctl PR_SET_THP_DISABLE) or system (the machine's setting, recorded in run.json). The huge-page "
                  "share is phases[].anon_huge_pages. An allocator's own huge-page options are variants (--env). "
                  "Generator cells and programs alike")
      ->type_name("never|system,...");
}

hm::runner::MatrixRequest request(CLI::App* app, const MatrixFlags& f) {
  hm::runner::MatrixRequest req;
  req.matrix_file = f.matrix_file.empty() ? "" : hm::cli::shipped_file(f.matrix_file, "matrices");
  req.allocators = hm::split_list(f.allocators_csv);
  req.user_allocators = f.user_allocs;
  req.workloads = hm::split_list(f.workloads_csv);
  req.program_flags = f.program_flags;
  for (const auto& s : f.suites) req.suites.push_back(hm::cli::shipped_file(s, "programs"));
  req.params = f.params;
  req.envs = f.envs;
  if (app->count("--reps")) req.reps = f.reps;
  if (app->count("--seed")) req.seed = f.seed;
  req.cpus = hm::split_list(f.cpus_csv);
  req.release_every = hm::split_list(f.release_csv);
  req.thp = hm::split_list(f.thp_csv);
  return req;
}

struct RunState {
  MatrixFlags matrix;
  std::string mem_cap, shard;
  hm::runner::RunOptions opts;
};

const hm::cli::CommandRegistrar run_cmd{
    [](CLI::App& app) -> hm::cli::Action {
      auto* cmd = app.add_subcommand(
          "run", "Run a benchmark matrix: allocators x workloads x params x reps, one process per cell");
      auto st = std::make_shared<RunState>();
      add_matrix_flags(cmd, st->matrix);
      cmd->add_option(
             "--suite-dir", st->opts.suite_dir,
             "Where you built a suite's programs ({dir} in its commands). For mimalloc-bench.json: a mimalloc-bench "
             "checkout after its ./build-bench-env.sh bench (heapmark does not ship mimalloc-bench)")
          ->type_name("DIR");
      cmd->add_option("--timeout", st->opts.timeout_s, "Wall timeout per cell, seconds")
          ->check(heapmark::cli::within(1.0, 86400.0));
      cmd->add_option("--mem-cap", st->mem_cap, "RSS cap per cell, e.g. 8G (default: 3/4 of physical memory)");
      cmd->add_option("--sample-hz", st->opts.sample_hz, "RSS sampling rate from /proc/PID/statm; 0 turns sampling off")
          ->check(heapmark::cli::within(0.0, 10000.0));
      cmd->add_option("--points", st->opts.max_points, "Timeline points stored per cell")
          ->check(heapmark::cli::within(16, 1000000));
      cmd->add_option("--touch", st->opts.touch, "Memory touched after each allocation, outside the timed window")
          ->check(CLI::IsMember({"none", "pages", "full"}));
      cmd->add_option_function<std::string>(
             "--timing", [st](const std::string& v) { st->opts.batch_calls = hm::runner::parse_timing(v); },
             "How allocator calls are timed. latency: each call between fenced timestamps (per-call latency "
             "percentiles; "
             "about twice a benchmark loop's time per call, since fences serialise the calls). batch[:K]: runs of K "
             "consecutive calls (default " +
                 std::to_string(hm::runner::kDefaultBatchCalls) +
                 ") between one unfenced timestamp pair, as a benchmark loop times them: ns per call and its spread "
                 "over "
                 "batches, no per-call percentiles")
          ->type_name("latency|batch[:K]")
          ->default_str("latency");
      cmd->add_flag(
          "--no-counters", [st](int64_t) { st->opts.counters = false; },
          "Do not open the kernel event counters (perf_event_open) the cells read at every phase edge");
      cmd->add_flag(
          "--verify", st->opts.verify,
          "Fill every block with a pattern from its id and check it before free: catches overlapping blocks (slower)");
      cmd->add_flag(
          "--attribute", st->opts.attribute,
          "At every phase end, who holds the resident memory: live and pinned bytes per allocation site (a trace "
          "recorded with --stacks) and the heap's page map, for the report's flame graphs and page strips");
      cmd->add_option("--cpu", st->opts.cell_cpu,
                      "CPU the cells are pinned to (default: the last; the runner uses the others)")
          ->check(heapmark::cli::within(0, CPU_SETSIZE - 1))
          ->default_str("last");
      cmd->add_option("--out", st->opts.results_root, "Results root directory");
      cmd->add_option("--run-id", st->opts.run_id, "Name of the results directory (default: UTC time + random suffix)");
      cmd->add_option("--resume", st->opts.resume,
                      "Finish an interrupted run (run id or directory) without repeating finished cells");
      cmd->add_option("--shard", st->shard,
                      "Run only shard K of N (1 <= K <= N): the blocks whose index is K-1 modulo N, each block whole "
                      "(see heapmark plan); an ordinary results directory, merged with heapmark merge")
          ->type_name("K/N");
      cmd->add_flag("-q,--quiet", st->opts.quiet, "No table, no progress");
      cmd->add_option("-j,--jobs", st->opts.jobs,
                      "Cells run at once (default 1). Above 1 only for RSS-only figures: concurrent cells disturb each "
                      "other's timings")
          ->check(heapmark::cli::within(1, 64));
      return [cmd, st]() -> std::optional<int> {
        if (!*cmd) return std::nullopt;
        const std::string parts = hm::cli::parts_dir();
        auto known = hm::registry::builtin(parts);
        st->opts.command_line = hm::cli::command_line();
        st->opts.cell_binary = parts + "/heapmark-cell";
        st->opts.probe_library = parts + "/libheapmark_probe.so";
        st->opts.registry_library = parts + "/libheapmark_attach.so";
        if (!st->mem_cap.empty()) {  // not given: 3/4 of physical memory (the runner decides)
          int64_t cap = 0;
          if (!hm::workloads::parse_quantity(st->mem_cap, cap) || cap <= 0)
            throw hm::InputError("--mem-cap '" + st->mem_cap +
                                 "': expected a size above 0 like 8G or 512M (leave it out for 3/4 of memory)");
          st->opts.mem_cap_bytes = static_cast<uint64_t>(cap);
        }
        if (!st->shard.empty()) st->opts.shard = hm::runner::parse_shard(st->shard);
        if (!st->opts.resume.empty()) {
          // Everything else a run takes is recorded in run.json: a flag given here would be silently ignored.
          for (const CLI::Option* given : cmd->get_options())
            if (given->count() && !given->check_name("--resume") && !given->check_name("--out") &&
                !given->check_name("--quiet") && !given->check_name("--allocator"))
              throw hm::InputError("--resume takes the matrix and options recorded in run.json; drop " +
                                   given->get_name() + " (only --out, --allocator and --quiet go with --resume)");
          for (const auto& u : st->matrix.user_allocs) known.push_back(hm::registry::user(u, known));
          return hm::cli::run_and_report(hm::runner::Matrix{}, st->opts, known);
        }
        const hm::runner::Matrix m = hm::runner::build_matrix(request(cmd, st->matrix), known);
        return hm::cli::run_and_report(m, st->opts, known);
      };
    },
    1};

struct PlanState {
  MatrixFlags matrix;
  int shards = 0;
  std::string suite_dir;
};

const hm::cli::CommandRegistrar plan_cmd{
    [](CLI::App& app) -> hm::cli::Action {
      auto* cmd = app.add_subcommand(
          "plan", "Print a matrix's cells grouped in blocks, as JSON (the same matrix flags as run)");
      auto st = std::make_shared<PlanState>();
      add_matrix_flags(cmd, st->matrix);
      cmd->add_option("--shards", st->shards, "Also say which of N shards each block goes to (run --shard K/N)")
          ->check(heapmark::cli::within(1, 100000));
      cmd->add_option("--suite-dir", st->suite_dir, "As for run: programs are checked as run checks them")
          ->type_name("DIR");
      return [cmd, st]() -> std::optional<int> {
        if (!*cmd) return std::nullopt;
        auto known = hm::registry::builtin(hm::cli::parts_dir());  // --allocator adds to it
        const hm::runner::Matrix m = hm::runner::build_matrix(request(cmd, st->matrix), known);
        if (!m.programs.empty()) {  // what run would refuse, plan refuses too
          hm::runner::RunOptions checked;
          checked.suite_dir = st->suite_dir;
          hm::runner::check_programs(m, checked);
        }
        std::printf("%s\n",
                    boost::json::serialize(hm::runner::plan_json(m, hm::runner::expand(m), st->shards)).c_str());
        return 0;
      };
    },
    2};

}  // namespace
