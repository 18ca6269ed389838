// heapmark: the one command users run. Subcommands: list, run.
#include <sched.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <set>

#include "allocators/registry/registry.h"
#include "harness/cli/commands.h"
#include "harness/cli/validators.h"
#include "harness/report/report.h"
#include "common/input_error.h"
#include "harness/runner/context.h"
#include "harness/runner/matrix.h"
#include "harness/runner/matrix_builder.h"
#include "harness/runner/plan.h"
#include "harness/runner/program_cell.h"
#include "common/text.h"
#include "harness/runner/run.h"
#include "harness/runner/supervise.h"
#include "workloads/catalog.h"
#include "workloads/params.h"
#include "workloads/sizes.h"

namespace hm = heapmark;
namespace fs = std::filesystem;

namespace heapmark::cli {
std::vector<CommandAdder>& command_adders() {
  static std::vector<CommandAdder> adders;
  return adders;
}
CommandRegistrar::CommandRegistrar(CommandAdder add) { command_adders().push_back(std::move(add)); }

std::vector<std::string> g_command_line;

namespace {
// Where this heapmark runs from: in the build tree every part sits beside it;
// installed, bin/heapmark finds them at the install layout's relative paths
// (packaging/CMakeLists.txt), so a relocated prefix (dpkg --instdir, a
// tarball) works too.
struct Layout {
  std::string parts, data;
};

const Layout& layout() {
  static const Layout l = [] {
    char buf[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    const fs::path exe = n > 0 ? fs::path(std::string(buf, static_cast<size_t>(n))).parent_path() : fs::path(".");
    std::error_code ec;  // an unreadable directory reads as "installed": a missing part is then named where it is used
    if (fs::exists(exe / "heapmark-cell", ec)) return Layout{exe.string(), HEAPMARK_SOURCE_DATA_DIR};
    return Layout{(exe / HEAPMARK_INSTALL_PARTS_REL).lexically_normal().string(),
                  (exe / HEAPMARK_INSTALL_DATA_REL).lexically_normal().string()};
  }();
  return l;
}
}  // namespace

std::string parts_dir() { return layout().parts; }
std::string data_dir() { return layout().data; }

std::string shipped_file(const std::string& given, const std::string& folder) {
  if (given.find('/') != std::string::npos || fs::exists(given)) return given;
  const std::string name = given.ends_with(".json") ? given : given + ".json";
  const std::string dir = data_dir() + "/" + folder, shipped = dir + "/" + name;
  if (fs::exists(shipped)) return shipped;
  const std::string valid = shipped_names(folder);
  throw InputError("--" + std::string(folder == "matrices" ? "matrix" : "suite") + " '" + given +
                   "': no such file, nor a shipped one (" + dir + ": " + (valid.empty() ? "none" : valid) + ")");
}

std::string shipped_names(const std::string& folder) {
  std::string out;
  for (const auto& f : runner::json_files_in(data_dir() + "/" + folder))
    out += (out.empty() ? "" : ", ") + fs::path(f).stem().string();
  return out;
}
}  // namespace heapmark::cli

namespace heapmark::cli {
int run_and_report(const runner::Matrix& m, const runner::RunOptions& opts,
                   const std::vector<registry::Allocator>& known, std::string* run_dir) {
  std::string dir;
  const int status = runner::run(m, opts, known, &dir);
  if (run_dir) *run_dir = dir;
  if (dir.empty()) return status;
  const auto paths = report::write_report(dir);
  if (!opts.quiet)
    std::printf("Report: %s (also %s, %s)\n", paths.html.c_str(), paths.markdown.c_str(), paths.csv.c_str());
  return status;
}

const std::vector<std::string>& command_line() { return g_command_line; }
}  // namespace heapmark::cli

namespace {

// "Probe" each found allocator in a cell, as a run would, for its real version.
struct Listed {
  const hm::registry::Allocator* a;
  std::string status, version;
};

std::vector<Listed> probe_all(const std::vector<hm::registry::Allocator>& all, const std::string& cell) {
  std::vector<Listed> out;
  for (const auto& a : all) {
    Listed l{&a, a.found ? "found" : "missing", ""};
    if (a.found) {
      hm::runner::SpawnSpec spec;
      spec.cell_binary = cell;
      spec.args = {"--probe", "--kind", a.kind()};
      if (!a.library.empty()) spec.args.insert(spec.args.end(), {"--library", a.library});
      spec.env = a.env;
      if (!a.library.empty()) spec.env.emplace_back("LD_PRELOAD", a.library);
      spec.timeout_s = 30;
      spec.sample_hz = 0;
      const auto r = hm::runner::supervise(spec);
      if (r.have_hello) {
        l.version = r.hello.version;
        if (!r.hello.identity_ok) l.status = "no-proof";
      } else {
        l.status = "broken";
      }
    }
    out.push_back(std::move(l));
  }
  return out;
}

void list_allocators(const std::vector<hm::registry::Allocator>& all, const std::string& cell, bool as_json) {
  const auto listed = probe_all(all, cell);
  if (as_json) {
    boost::json::array arr;
    for (const auto& l : listed) {
      boost::json::object env;
      for (const auto& [k, v] : l.a->env) env[k] = v;
      arr.push_back(boost::json::object{{"name", l.a->name},
                                        {"kind", l.a->kind()},
                                        {"status", l.status},
                                        {"version", l.version},
                                        {"library", l.a->library},
                                        {"env", std::move(env)},
                                        {"variant_of", l.a->variant_of},
                                        {"summary", l.a->summary},
                                        {"missing_hint", l.a->missing_hint}});
    }
    std::printf("%s\n", boost::json::serialize(arr).c_str());
    return;
  }
  int name_w = 16, version_w = 22;  // columns stay aligned for long names and versions (jemalloc's has its git hash)
  for (const auto& l : listed)
    name_w = std::max(name_w, static_cast<int>(l.a->name.size())),
    version_w = std::max(version_w, static_cast<int>(l.version.size()));
  std::printf("%-*s %-9s %-8s %-*s %s\n", name_w, "name", "kind", "status", version_w, "version",
              "library / configuration");
  for (const auto& l : listed) {
    const auto& a = *l.a;
    std::string where = a.library.empty() ? "(libc, no preload)" : a.library;
    for (const auto& [k, v] : a.env) where += "  " + k + "=" + v;
    if (!a.found) where += "  -> " + a.missing_hint;
    std::printf("%-*s %-9s %-8s %-*s %s\n", name_w, a.name.c_str(), a.kind(), l.status.c_str(), version_w,
                l.version.empty() ? "-" : l.version.c_str(), where.c_str());
  }
}

std::string param_range(const hm::workloads::WorkloadDef& w, const hm::workloads::ParamSpec& p) {
  std::string range;
  if (p.type == hm::workloads::ParamType::kInt)
    range = "[" + std::to_string(p.min) + ", " + std::to_string(p.max) + "]";
  if (p.type == hm::workloads::ParamType::kChoice)
    for (const auto& c : p.choices) range += (range.empty() ? "" : "|") + c;
  if (p.type == hm::workloads::ParamType::kSizes) range = hm::workloads::SizeDist::kinds();
  if (p.type == hm::workloads::ParamType::kText) range = "text";
  return range;
}

void list_workloads(bool as_json) {
  if (as_json) {
    boost::json::array arr;
    for (const auto* w : hm::workloads::all_workloads()) {
      boost::json::array params;
      for (const auto& p : w->params) {
        boost::json::object o{
            {"name", p.name}, {"default", p.default_value}, {"help", p.help}, {"valid", param_range(*w, p)}};
        if (p.type == hm::workloads::ParamType::kInt) o["min"] = p.min, o["max"] = p.max;
        if (p.type == hm::workloads::ParamType::kChoice) {
          boost::json::array c;
          for (const auto& x : p.choices) c.push_back(boost::json::string(x));
          o["choices"] = std::move(c);
        }
        params.push_back(std::move(o));
      }
      arr.push_back(boost::json::object{{"name", w->name},
                                        {"summary", w->summary},
                                        {"shorthand", w->shorthand_param},
                                        {"params", std::move(params)}});
    }
    std::printf("%s\n", boost::json::serialize(arr).c_str());
    return;
  }
  for (const auto* w : hm::workloads::all_workloads()) {
    std::printf("%s — %s\n", w->name.c_str(), w->summary.c_str());
    size_t width = 8, dwidth = 8;  // names and defaults keep their columns however long they are
    auto shown = [](const std::string& d) { return d.empty() ? std::string("-") : d; };  // "-": no default
    for (const auto& p : w->params)
      width = std::max(width, p.name.size()), dwidth = std::max(dwidth, shown(p.default_value).size());
    for (const auto& p : w->params) {
      std::string range = param_range(*w, p);
      if (p.name == w->shorthand_param) range += " (also --workloads " + w->name + ":VALUE)";
      std::printf("  %-*s default %-*s  %s  %s\n", static_cast<int>(width), p.name.c_str(), static_cast<int>(dwidth),
                  shown(p.default_value).c_str(), p.help.c_str(), range.c_str());
    }
  }
}

// The flags that make a matrix, shared by `run` and `plan`.
struct MatrixFlags {
  std::string matrix_file, allocators_csv, workloads_csv;
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
  return req;
}

}  // namespace

// --help shows each option's default; a list or text option with nothing by
// default would show "=[]" or "=": those show none.
void hide_empty_defaults(CLI::App& app) {
  for (auto* opt : app.get_options())
    if (opt->get_default_str() == "[]" || opt->get_default_str().empty()) opt->default_str("");
}

// Declares `list`, `run` and `plan` with their options (other subcommands register
// from their own files), parses, and dispatches: long because the option
// declarations are the documentation of the flags.
int main(int argc, char** argv) {
  const std::string parts = hm::cli::parts_dir();
  CLI::App app{
      "heapmark: allocator benchmarking and fragmentation analysis.\n"
      "Each cell runs one workload under one allocator in a fresh process (LD_PRELOAD),\n"
      "measuring per-op latency (TSC), RSS over time, RSS returned after frees and fragmentation.",
      "heapmark"};
  app.option_defaults()->always_capture_default();  // --help shows each option's default
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print heapmark's version, commit and build type");
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  {
    std::string footer = "\nExit status:";
    for (const auto& e : hm::kExitStatusDocs) footer += "\n  " + std::to_string(e.status) + "  " + e.meaning;
    app.footer(footer);
  }

  auto* list =
      app.add_subcommand("list", "List what heapmark knows: allocators (with versions, probed in a cell) or workloads");
  std::string what;
  bool list_json = false;
  list->add_option("what", what, "allocators | workloads")
      ->required()
      ->check(CLI::IsMember({"allocators", "workloads"}));
  list->add_flag("--json", list_json, "One JSON array instead of the table (for scripts and shell completion)");

  auto* run =
      app.add_subcommand("run", "Run a benchmark matrix: allocators x workloads x params x reps, one process per cell");
  MatrixFlags run_matrix;
  add_matrix_flags(run, run_matrix);
  std::string mem_cap, shard;
  hm::runner::RunOptions opts;
  run->add_option(
         "--suite-dir", opts.suite_dir,
         "Where you built a suite's programs ({dir} in its commands). For mimalloc-bench.json: a mimalloc-bench "
         "checkout after its ./build-bench-env.sh bench (heapmark does not ship mimalloc-bench)")
      ->type_name("DIR");
  run->add_option("--timeout", opts.timeout_s, "Wall timeout per cell, seconds")
      ->check(heapmark::cli::within(1.0, 86400.0));
  run->add_option("--mem-cap", mem_cap, "RSS cap per cell, e.g. 8G (default: 3/4 of physical memory)");
  run->add_option("--sample-hz", opts.sample_hz, "RSS sampling rate from /proc/PID/statm; 0 turns sampling off")
      ->check(heapmark::cli::within(0.0, 10000.0));
  run->add_option("--points", opts.max_points, "Timeline points stored per cell")
      ->check(heapmark::cli::within(16, 1000000));
  run->add_option("--touch", opts.touch, "Memory touched after each allocation, outside the timed window")
      ->check(CLI::IsMember({"none", "pages", "full"}));
  run->add_option_function<std::string>(
         "--timing", [&opts](const std::string& v) { opts.batch_calls = hm::runner::parse_timing(v); },
         "How allocator calls are timed. latency: each call between fenced timestamps (per-call latency percentiles; "
         "about twice a benchmark loop's time per call, since fences serialise the calls). batch[:K]: runs of K "
         "consecutive calls (default " +
             std::to_string(hm::runner::kDefaultBatchCalls) +
             ") between one unfenced timestamp pair, as a benchmark loop times them: ns per call and its spread over "
             "batches, no per-call percentiles")
      ->type_name("latency|batch[:K]")
      ->default_str("latency");
  run->add_flag(
      "--no-counters", [&opts](int64_t) { opts.counters = false; },
      "Do not open the kernel event counters (perf_event_open) the cells read at every phase edge");
  run->add_flag(
      "--verify", opts.verify,
      "Fill every block with a pattern from its id and check it before free: catches overlapping blocks (slower)");
  run->add_flag("--attribute", opts.attribute,
                "At every phase end, who holds the resident memory: live and pinned bytes per allocation site (a trace "
                "recorded with --stacks) and the heap's page map, for the report's flame graphs and page strips");
  run->add_option("--cpu", opts.cell_cpu, "CPU the cells are pinned to (default: the last; the runner uses the others)")
      ->check(heapmark::cli::within(0, CPU_SETSIZE - 1))
      ->default_str("last");
  run->add_option("--out", opts.results_root, "Results root directory");
  run->add_option("--run-id", opts.run_id, "Name of the results directory (default: UTC time + random suffix)");
  run->add_option("--resume", opts.resume,
                  "Finish an interrupted run (run id or directory) without repeating finished cells");
  run->add_option("--shard", shard,
                  "Run only shard K of N (1 <= K <= N): the blocks whose index is K-1 modulo N, each block whole "
                  "(see heapmark plan); an ordinary results directory, merged with heapmark merge")
      ->type_name("K/N");
  auto* plan =
      app.add_subcommand("plan", "Print a matrix's cells grouped in blocks, as JSON (the same matrix flags as run)");
  MatrixFlags plan_matrix;
  add_matrix_flags(plan, plan_matrix);
  int plan_shards = 0;
  plan->add_option("--shards", plan_shards, "Also say which of N shards each block goes to (run --shard K/N)")
      ->check(heapmark::cli::within(1, 100000));
  std::string plan_suite_dir;
  plan->add_option("--suite-dir", plan_suite_dir, "As for run: programs are checked as run checks them")
      ->type_name("DIR");
  run->add_flag("-q,--quiet", opts.quiet, "No table, no progress");
  run->add_option("-j,--jobs", opts.jobs,
                  "Cells run at once (default 1). Above 1 only for RSS-only figures: concurrent cells disturb each "
                  "other's timings")
      ->check(heapmark::cli::within(1, 64));

  std::vector<hm::cli::Action> actions;
  for (auto& add : hm::cli::command_adders()) actions.push_back(add(app));
  hm::cli::guard_numbers(app);

  for (int i = 0; i < argc; ++i) hm::cli::g_command_line.push_back(argv[i]);
  std::string valid_commands;
  bool known_command = argc < 2 || argv[1][0] == '-';
  for (auto* sub : app.get_subcommands({})) {
    valid_commands += (valid_commands.empty() ? "" : ", ") + sub->get_name();
    known_command |= sub->check_name(argv[1] ? argv[1] : "");
  }
  for (auto* sub : app.get_subcommands({})) hide_empty_defaults(*sub);
  if (!known_command) {
    std::fprintf(stderr, "heapmark: unknown subcommand '%s' (valid: %s)\n", argv[1], valid_commands.c_str());
    return hm::kExitBadInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "heapmark: %s (see heapmark %s--help)\n", e.what(),
                 app.get_subcommands().empty() ? "" : (app.get_subcommands()[0]->get_name() + " ").c_str());
    return hm::kExitBadInput;
  } catch (const hm::InputError& e) {  // an option's own parser (--timing)
    std::fprintf(stderr, "heapmark: %s\n", e.what());
    return hm::kExitBadInput;
  }

  // An option given with an empty value where a default would be used silently.
  for (const CLI::App* sub : app.get_subcommands())
    for (const char* name : {"--run-id", "--out", "--resume"})
      if (const CLI::Option* opt = sub->get_option_no_throw(name);
          opt && opt->count() && opt->as<std::string>().empty()) {
        std::fprintf(stderr, "heapmark: %s '': give a non-empty value or leave the option out\n", name);
        return hm::kExitBadInput;
      }

  if (show_version) {
    const auto b = hm::runner::build_info();
    std::printf("heapmark %s (commit %s, %s build, %s)\n", b.at("version").as_string().c_str(),
                b.at("commit").as_string().c_str(), b.at("build_type").as_string().c_str(),
                b.at("compiler").as_string().c_str());
    return hm::kExitOk;
  }
  if (app.get_subcommands().empty()) {
    std::fprintf(stderr, "heapmark: a subcommand is required (valid: %s; see heapmark --help)\n",
                 valid_commands.c_str());
    return hm::kExitBadInput;
  }
  try {
    auto known = hm::registry::builtin(parts);
    const std::string cell = parts + "/heapmark-cell";
    for (auto& action : actions)
      if (auto status = action()) return *status;
    if (*list) {
      if (what == "allocators") list_allocators(known, cell, list_json);
      else list_workloads(list_json);
      return 0;
    }

    // run
    opts.command_line = hm::cli::command_line();
    opts.cell_binary = cell;
    opts.probe_library = parts + "/libheapmark_probe.so";
    if (!mem_cap.empty()) {  // not given: 3/4 of physical memory (the runner decides)
      int64_t cap = 0;
      if (!hm::workloads::parse_quantity(mem_cap, cap) || cap <= 0)
        throw hm::InputError("--mem-cap '" + mem_cap +
                             "': expected a size above 0 like 8G or 512M (leave it out for 3/4 of memory)");
      opts.mem_cap_bytes = static_cast<uint64_t>(cap);
    }
    if (*plan) {
      const hm::runner::Matrix m = hm::runner::build_matrix(request(plan, plan_matrix), known);
      if (!m.programs.empty()) {  // what run would refuse, plan refuses too
        hm::runner::RunOptions checked;
        checked.suite_dir = plan_suite_dir;
        hm::runner::check_programs(m, checked);
      }
      std::printf("%s\n", boost::json::serialize(hm::runner::plan_json(m, hm::runner::expand(m), plan_shards)).c_str());
      return 0;
    }
    if (!shard.empty()) opts.shard = hm::runner::parse_shard(shard);
    if (!opts.resume.empty()) {
      // Everything else a run takes is recorded in run.json: a flag given here would be silently ignored.
      for (const CLI::Option* given : run->get_options())
        if (given->count() && !given->check_name("--resume") && !given->check_name("--out") &&
            !given->check_name("--quiet") && !given->check_name("--allocator"))
          throw hm::InputError("--resume takes the matrix and options recorded in run.json; drop " + given->get_name() +
                               " (only --out, --allocator and --quiet go with --resume)");
      for (const auto& u : run_matrix.user_allocs) known.push_back(hm::registry::user(u, known));
      return hm::cli::run_and_report(hm::runner::Matrix{}, opts, known);
    }
    const hm::runner::Matrix m = hm::runner::build_matrix(request(run, run_matrix), known);
    return hm::cli::run_and_report(m, opts, known);
  } catch (const hm::InputError& e) {
    std::fprintf(stderr, "heapmark: %s\n", e.what());
    return hm::kExitBadInput;
  } catch (const hm::EnvironmentError& e) {
    std::fprintf(stderr, "heapmark: %s\n", e.what());
    return hm::kExitEnvironment;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heapmark: error: %s\n", e.what());
    return hm::kExitInternal;
  }
}
