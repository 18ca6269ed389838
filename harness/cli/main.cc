// heapmark: the one command users run. Subcommands: list, run.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <set>

#include "allocators/registry/registry.h"
#include "harness/cli/commands.h"
#include "harness/report/report.h"
#include "common/input_error.h"
#include "harness/runner/matrix.h"
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

std::vector<std::string> split_list(const std::string& s, char sep) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  for (size_t start = 0;;) {
    const size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

std::string self_dir() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}
}  // namespace heapmark::cli

namespace {

// `heapmark run` ends with the report, also after an interruption: it reads
// only the results files, so a partial run reports what it has.
int run_and_report(const hm::runner::Matrix& m, const hm::runner::RunOptions& opts,
                   const std::vector<hm::registry::Allocator>& known) {
  std::string dir;
  const int status = hm::runner::run(m, opts, known, &dir);
  if (dir.empty()) return status;
  const auto paths = hm::report::write_report(dir);
  if (!opts.quiet) std::printf("Report: %s (also %s, %s)\n", paths.html.c_str(), paths.markdown.c_str(), paths.csv.c_str());
  return status;
}


// "Probe" each found allocator in a cell, as a run would, for its real version.
void list_allocators(const std::vector<hm::registry::Allocator>& all, const std::string& cell) {
  std::printf("%-16s %-9s %-8s %-22s %s\n", "name", "kind", "status", "version", "library / configuration");
  for (const auto& a : all) {
    std::string version = "-", status = a.found ? "found" : "missing";
    if (a.found) {
      hm::runner::SpawnSpec spec;
      spec.cell_binary = cell;
      spec.args = {"--probe", "--kind", a.kind()};
      if (!a.library.empty()) spec.args.insert(spec.args.end(), {"--library", a.library});
      spec.env = a.env;
      if (!a.library.empty()) spec.env.emplace_back("LD_PRELOAD", a.library);
      spec.timeout_s = 30;
      spec.sample_hz = 0;
      const auto out = hm::runner::supervise(spec);
      if (out.have_hello) {
        version = out.hello.version;
        if (!out.hello.identity_ok) status = "no-proof";
      } else {
        status = "broken";
      }
    }
    std::string where = a.library.empty() ? "(libc, no preload)" : a.library;
    for (const auto& [k, v] : a.env) where += "  " + k + "=" + v;
    if (!a.found) where += "  -> " + a.missing_hint;
    std::printf("%-16s %-9s %-8s %-22s %s\n", a.name.c_str(), a.kind(), status.c_str(),
                version.c_str(), where.c_str());
  }
}

void list_workloads() {
  for (const auto* w : hm::workloads::all_workloads()) {
    std::printf("%s — %s\n", w->name.c_str(), w->summary.c_str());
    for (const auto& p : w->params) {
      std::string range;
      if (p.type == hm::workloads::ParamType::kInt) range = "[" + std::to_string(p.min) + ", " + std::to_string(p.max) + "]";
      if (p.type == hm::workloads::ParamType::kChoice)
        for (const auto& c : p.choices) range += (range.empty() ? "" : "|") + c;
      if (p.type == hm::workloads::ParamType::kSizes) range = hm::workloads::SizeDist::kinds();
      if (p.type == hm::workloads::ParamType::kText) range = "text";
      if (p.name == w->shorthand_param) range += " (also --workloads " + w->name + ":VALUE)";
      std::printf("  %-8s default %-16s %s  %s\n", p.name.c_str(), p.default_value.c_str(), p.help.c_str(), range.c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string bindir = hm::cli::self_dir();
  CLI::App app{"heapmark: allocator benchmarking and fragmentation analysis.\n"
               "Each cell runs one workload under one allocator in a fresh process (LD_PRELOAD),\n"
               "measuring per-op latency (TSC), RSS over time, RSS returned after frees and fragmentation.",
               "heapmark"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");

  auto* list = app.add_subcommand("list", "List what heapmark knows: allocators (with versions, probed in a cell) or workloads");
  std::string what;
  list->add_option("what", what, "allocators | workloads")->required()->check(CLI::IsMember({"allocators", "workloads"}));

  auto* run = app.add_subcommand("run", "Run a benchmark matrix: allocators x workloads x params x reps, one process per cell");
  std::string matrix_file, allocators_csv, workloads_csv;
  std::vector<std::string> user_allocs, envs, params;
  int reps = 3;
  uint64_t seed = 1;
  std::string mem_cap = "0";
  hm::runner::RunOptions opts;
  run->add_option("--matrix", matrix_file, "Matrix JSON file (workloads/matrices/*.json); flags below add to or override it");
  run->add_option("--allocators", allocators_csv, "Comma-separated allocator names (see `heapmark list allocators`)");
  run->add_option("--allocator", user_allocs, "Your own allocator: NAME=/path/to/lib.so (repeatable)");
  run->add_option("--workloads", workloads_csv, "Comma-separated workload names (see `heapmark list workloads`); trace:app.hmt replays a recorded trace");
  run->add_option("-p,--param", params, "Workload parameter KEY=VALUE or WORKLOAD.KEY=VALUE; VALUE may be a|b|c to sweep (repeatable)");
  run->add_option("--env", envs, "Allocator configuration ALLOCATOR:VAR=VALUE, recorded with the results (repeatable)");
  run->add_option("--reps", reps, "Repetitions of every (workload, params, allocator)")->check(CLI::Range(1, 1000));
  run->add_option("--seed", seed, "Seed for every generated program");
  run->add_option("--timeout", opts.timeout_s, "Wall timeout per cell, seconds")->check(CLI::Range(1.0, 86400.0));
  run->add_option("--mem-cap", mem_cap, "RSS cap per cell, e.g. 8G (default: 3/4 of physical memory)");
  run->add_option("--sample-hz", opts.sample_hz, "RSS sampling rate from /proc/PID/statm; 0 turns sampling off")->check(CLI::Range(0.0, 10000.0));
  run->add_option("--points", opts.max_points, "Timeline points stored per cell")->check(CLI::Range(16, 1000000));
  run->add_option("--touch", opts.touch, "Memory touched after each allocation, outside the timed window")
      ->check(CLI::IsMember({"none", "pages", "full"}));
  run->add_flag("--verify", opts.verify,
                "Fill every block with a pattern from its id and check it before free: catches overlapping blocks (slower)");
  run->add_option("--cpu", opts.cell_cpu, "CPU the cells are pinned to (default: the last; the runner uses the others)");
  run->add_option("--out", opts.results_root, "Results root directory");
  run->add_option("--run-id", opts.run_id, "Name of the results directory (default: UTC time + random suffix)");
  run->add_option("--resume", opts.resume, "Finish an interrupted run (run id or directory) without repeating finished cells");
  run->add_flag("-q,--quiet", opts.quiet, "No table, no progress");
  run->add_option("-j,--jobs", opts.jobs,
                  "Cells run at once (default 1). Above 1 only for RSS-only figures: concurrent cells disturb each other's timings")
      ->check(CLI::Range(1, 64));

  std::vector<hm::cli::Action> actions;
  for (auto& add : hm::cli::command_adders()) actions.push_back(add(app));

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
  }

  try {
    auto known = hm::registry::builtin(bindir);
    const std::string cell = bindir + "/heapmark-cell";
    for (auto& action : actions)
      if (auto status = action()) return *status;
    if (*list) {
      if (what == "allocators") list_allocators(known, cell);
      else list_workloads();
      return 0;
    }

    // run
    for (int i = 0; i < argc; ++i) opts.command_line.push_back(argv[i]);
    opts.cell_binary = cell;
    {
      int64_t cap = 0;
      if (!hm::workloads::parse_quantity(mem_cap, cap)) throw hm::InputError("--mem-cap '" + mem_cap + "': expected a size like 8G or 512M");
      opts.mem_cap_bytes = static_cast<uint64_t>(cap);
    }
    for (const auto& u : user_allocs) known.push_back(hm::registry::user(u, known));

    hm::runner::Matrix m;
    if (!opts.resume.empty()) {
      if (!matrix_file.empty() || !allocators_csv.empty() || !workloads_csv.empty() || !params.empty() || !envs.empty())
        throw hm::InputError("--resume takes the matrix and options recorded in run.json; drop the other run flags");
      return run_and_report(m, opts, known);
    }
    if (!matrix_file.empty()) m = hm::runner::Matrix::load(matrix_file, known);
    if (run->count("--reps") || matrix_file.empty()) m.reps = reps;
    if (run->count("--seed") || matrix_file.empty()) m.seed = seed;
    if (!allocators_csv.empty()) {
      m.allocators.clear();
      for (const auto& name : hm::cli::split_list(allocators_csv)) m.allocators.push_back(hm::registry::find(known, name));
    }
    for (const auto& u : user_allocs) {
      const std::string name = u.substr(0, u.find('='));
      bool listed = false;
      for (const auto& a : m.allocators) listed |= a.name == name;
      if (!listed) m.allocators.push_back(hm::registry::find(known, name));
    }
    if (!workloads_csv.empty()) {
      m.workloads.clear();
      for (const auto& item : hm::cli::split_list(workloads_csv)) {
        // NAME or NAME:VALUE, the value going to the workload's shorthand parameter.
        const size_t colon = item.find(':');
        const std::string name = item.substr(0, colon);
        const auto& def = hm::workloads::find_workload(name);
        hm::runner::WorkloadSpec spec{name, {}};
        if (colon != std::string::npos) {
          if (def.shorthand_param.empty())
            throw hm::InputError("--workloads '" + item + "': workload '" + name +
                                 "' takes no NAME:VALUE form; give its parameters with -p KEY=VALUE");
          spec.grid[def.shorthand_param] = {item.substr(colon + 1)};  // validated with the grid by expand()
        }
        m.workloads.push_back(spec);
      }
    }
    if (m.allocators.empty()) throw hm::InputError("no allocators: give --allocators, --allocator or --matrix");
    if (m.workloads.empty()) throw hm::InputError("no workloads: give --workloads or --matrix");
    for (const auto& p : params) {
      const size_t eq = p.find('=');
      if (eq == std::string::npos || eq == 0) throw hm::InputError("--param '" + p + "': expected KEY=VALUE or WORKLOAD.KEY=VALUE");
      std::string key = p.substr(0, eq), scope;
      if (const size_t dot = key.find('.'); dot != std::string::npos) {
        scope = key.substr(0, dot);
        key = key.substr(dot + 1);
        hm::workloads::find_workload(scope);
      }
      bool applied = false;
      for (auto& w : m.workloads) {
        if (!scope.empty() && w.name != scope) continue;
        const auto& def = hm::workloads::find_workload(w.name);
        bool has = false;
        for (const auto& s : def.params) has |= s.name == key;
        if (!has) {
          if (!scope.empty()) hm::workloads::Params::resolve(def.name, def.params, {{key, ""}});  // throws, naming valid keys
          continue;
        }
        w.grid[key] = p.size() > eq + 1 ? hm::cli::split_list(p.substr(eq + 1), '|') : std::vector<std::string>{""};
        applied = true;
      }
      if (!applied) {
        std::string known;  // each selected workload's parameters, once
        std::set<std::string> listed;
        for (const auto& w : m.workloads) {
          if (!listed.insert(w.name).second) continue;
          std::string names;
          for (const auto& s : hm::workloads::find_workload(w.name).params) names += (names.empty() ? "" : ", ") + s.name;
          known += (known.empty() ? "" : "; ") + w.name + ": " + names;
        }
        throw hm::InputError("--param '" + p + "': no selected workload has a parameter '" + key + "' (" + known + ")");
      }
    }
    for (const auto& e : envs) {
      const size_t colon = e.find(':'), eq = e.find('=');
      if (colon == std::string::npos || eq == std::string::npos || eq < colon || colon == 0 || eq == colon + 1)
        throw hm::InputError("--env '" + e + "': expected ALLOCATOR:VAR=VALUE, e.g. jemalloc:MALLOC_CONF=background_thread:true");
      const std::string name = e.substr(0, colon);
      bool found = false;
      for (auto& a : m.allocators)
        if (a.name == name) {
          a.env.emplace_back(e.substr(colon + 1, eq - colon - 1), e.substr(eq + 1));
          found = true;
        }
      if (!found) throw hm::InputError("--env '" + e + "': allocator '" + name + "' is not in this run");
    }
    return run_and_report(m, opts, known);
  } catch (const hm::InputError& e) {
    std::fprintf(stderr, "heapmark: %s\n", e.what());
    return hm::kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heapmark: error: %s\n", e.what());
    return 1;
  }
}
