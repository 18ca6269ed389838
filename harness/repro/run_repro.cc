// Runs the chosen scenarios through the ordinary runner (one results directory
// per scenario under results/<run-id>/, so `heapmark report` draws each one's
// RSS timelines), judges every cell, prints the tables, and writes the
// catalogue page (report.html, summary.md, repro.json) at the top of the run.
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>

#include "common/input_error.h"
#include "harness/repro/repro.h"
#include "harness/report/catalogue.h"
#include "harness/report/report.h"
#include "harness/runner/matrix_builder.h"
#include "harness/runner/run.h"
#include "harness/results/results_dir.h"

namespace json = boost::json;

namespace heapmark::repro {
namespace {

std::string default_run_id() { return results::utc_now("repro-%Y%m%d-%H%M%S"); }

// The whole catalogue at the top of the run: repro.json (every scenario's
// summary, for scripts; also stdout under --format json), report.html and
// summary.md (the verdict grid). `status` is what repro exits with; a run cut
// short (interrupted) is not complete and holds the scenarios that finished.
report::CataloguePaths write_catalogue(const std::string& root, const Options& o,
                                       const std::vector<registry::Allocator>& bases,
                                       const std::vector<results::ScenarioSummary>& summaries, double wall_s,
                                       size_t scenarios_chosen, int status) {
  results::Catalogue cat;
  cat.command_line = o.command_line;
  cat.dir = root;
  cat.reps = o.reps;
  cat.jobs = o.jobs;
  cat.mib = o.mib;
  cat.wall_s = wall_s;
  for (const auto& b : bases) cat.allocators.push_back(b.name);
  cat.complete = status != kExitInterrupted && summaries.size() == scenarios_chosen;
  cat.exit_status = status;
  cat.scenarios = summaries;
  const std::string text = json::serialize(results::to_json(cat)) + "\n";
  results::write_atomically(root + "/repro.json", text);
  if (o.json) {
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
  }
  return report::write_catalogue(root, cat);
}

void list_catalogue() {
  for (const auto& s : catalogue()) {
    std::printf("%2d %-22s %s\n   %s\n", s.id, s.slug.c_str(), s.title.c_str(), s.recipe_text.c_str());
    for (const auto& r : s.remedies) {
      std::string env;
      for (const auto& [k, v] : r.env) env += " " + k + "=" + v;
      std::printf("   remedy %-30s %-9s%s\n", r.name.c_str(), r.allocator.c_str(), env.c_str());
    }
  }
}

// --remedies names only remedies of the chosen scenarios, or release schedules (every:INTERVAL).
void check_remedies(const std::set<std::string>& wanted, const std::vector<const Scenario*>& scenarios) {
  for (const auto& r : wanted) {
    if (is_schedule(r)) {
      runner::release_interval_ns(r.substr(kSchedulePrefix.size()), "--remedies " + r);
      continue;
    }
    std::string valid;
    bool found = false;
    for (const auto* s : scenarios)
      for (const auto& rem : s->remedies) {
        found |= rem.name == r;
        if (valid.find(rem.name) == std::string::npos) valid += (valid.empty() ? "" : ", ") + rem.name;
      }
    if (!found)
      throw InputError("unknown remedy '" + r + "' for the chosen scenarios (valid: " +
                       (valid.empty() ? "none" : valid) + ", every:INTERVAL such as every:100ms, or none)");
  }
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& x : v) a.push_back(json::string(x));
  return a;
}

// What starts the catalogue again, written once when it starts: every option
// that shapes its cells (not how it prints).
void write_invocation(const std::string& root, const Options& o) {
  const json::object inv{{"schema", "heapmark-invocation"},
                         {"schema_version", 1},
                         {"command", o.command},
                         {"allocators", strings(o.allocators)},
                         {"remedies", strings(o.remedies)},
                         {"mib", o.mib},
                         {"idle_ms", o.idle_ms},
                         {"activity_ms", o.activity_ms},
                         {"max_ms", o.max_ms},
                         {"reps", o.reps},
                         {"jobs", o.jobs},
                         {"timeout_s", o.timeout_s},
                         {"command_line", strings(o.command_line)},
                         {"extra", o.extra}};
  results::write_atomically(root + "/invocation.json", json::serialize(inv) + "\n");
}

}  // namespace

void read_invocation(const std::string& dir, const std::string& command, Options& o) {
  const std::string path = dir + "/invocation.json";
  std::ifstream in(path);
  if (!in) throw InputError("--resume '" + dir + "': no " + command + " started there (" + path + " cannot be read)");
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  const json::value v = json::parse(ss.str(), ec);
  const json::object* inv = !ec && v.is_object() ? &v.as_object() : nullptr;
  auto str_list = [&](const char* k) {
    std::vector<std::string> out;
    if (const auto* a = inv->if_contains(k); a && a->is_array())
      for (const auto& x : a->as_array())
        if (x.is_string()) out.emplace_back(x.as_string());
    return out;
  };
  auto num = [&](const char* k, auto dflt) {
    const auto* x = inv->if_contains(k);
    return x && x->is_number() ? x->to_number<decltype(dflt)>() : dflt;
  };
  if (!inv || !inv->if_contains("command") || !inv->at("command").is_string())
    throw InputError(path + ": not valid JSON of heapmark's (" + (ec ? ec.message() : std::string("no command")) + ")");
  if (inv->at("command").as_string() != command)
    throw InputError("--resume '" + dir + "' is a " + std::string(inv->at("command").as_string()) +
                     " run: finish it with heapmark " + std::string(inv->at("command").as_string()) + " --resume " +
                     dir);
  o.command = command;
  o.allocators = str_list("allocators");
  o.remedies = str_list("remedies");
  o.mib = num("mib", o.mib);
  o.idle_ms = num("idle_ms", o.idle_ms);
  o.activity_ms = num("activity_ms", o.activity_ms);
  o.max_ms = num("max_ms", o.max_ms);
  o.reps = num("reps", o.reps);
  o.jobs = num("jobs", o.jobs);
  o.timeout_s = num("timeout_s", o.timeout_s);
  o.command_line = str_list("command_line");
  if (const auto* e = inv->if_contains("extra"); e && e->is_object()) o.extra = e->as_object();
  const std::filesystem::path d(dir);
  o.results_root = d.parent_path().empty() ? "." : d.parent_path().string();
  o.run_id = d.filename().string();
  o.resume = dir;
}

int run_repro(const Options& o, const std::vector<registry::Allocator>& known) {
  if (o.list) {
    list_catalogue();
    return 0;
  }
  // Everything is validated before the first cell runs.
  std::vector<const Scenario*> scenarios;
  if (o.scenarios.empty())
    for (const auto& s : catalogue()) scenarios.push_back(&s);
  for (const auto& t : o.scenarios) scenarios.push_back(&find_scenario(t));
  return run_scenarios(scenarios, o, known);
}

int run_scenarios(const std::vector<const Scenario*>& scenarios, const Options& o,
                  const std::vector<registry::Allocator>& known, std::vector<results::ScenarioSummary>* summaries_out) {
  std::vector<registry::Allocator> bases;
  if (o.allocators.empty()) {
    bases = registry::bases(known);
  } else {
    for (const auto& n : o.allocators) bases.push_back(registry::find(known, n));
  }
  const bool no_remedies = o.remedies.size() == 1 && o.remedies[0] == "none";
  std::set<std::string> wanted(o.remedies.begin(), o.remedies.end());
  if (!no_remedies) check_remedies(wanted, scenarios);

  const std::string run_id = o.run_id.empty() ? default_run_id() : o.run_id;
  const std::string root = o.resume.empty() ? runner::create_run_dir(o.results_root, run_id, true) : o.resume;
  const results::DirLock lock(root);  // one writer at a time, a resume included
  if (o.resume.empty()) write_invocation(root, o);
  const std::string finish = "heapmark " + o.command + " --resume " + root;
  const auto t0 = std::chrono::steady_clock::now();
  auto wall_s = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  std::string all_text;
  std::vector<results::ScenarioSummary> summaries;
  int worst = kExitOk;
  for (const auto* s : scenarios) {
    runner::MatrixRequest req;
    for (const auto& b : bases) {
      req.allocators.push_back(b.name);
      for (const auto& [who, env] : s->setups)
        if (who == b.name || who == b.kind())
          for (const auto& [k, v] : env) req.envs.push_back(b.name + ":" + k + "=" + v);
    }
    // Named schedules only: an empty --remedies (every remedy that applies) runs none, as they double the cells.
    const auto schedules = release_schedules(o.remedies);
    const bool only_schedules = !schedules.empty() && schedules.size() == wanted.size();
    for (const auto& r : s->remedies) {
      if (no_remedies || only_schedules || (!wanted.empty() && !wanted.count(r.name))) continue;
      for (const auto& b : bases)
        if (b.name == r.allocator) req.variants.push_back({r.name, r.allocator, r.env, r.what});
    }
    if (!schedules.empty()) {  // every allocator and remedy without a schedule (the rows they are judged against) and
                               // with each
      req.release_every = {"off"};
      req.release_every.insert(req.release_every.end(), schedules.begin(), schedules.end());
    }
    const std::string w = s->workload + ".";
    req.workloads = {s->workload};
    for (const auto& [k, v] : s->params) req.params.push_back(w + k + "=" + v);
    if (s->workload == "repro") req.params.push_back(w + "mib=" + std::to_string(o.mib));
    if (o.idle_ms >= 0) req.params.push_back(w + "idle_ms=" + std::to_string(o.idle_ms));
    if (o.activity_ms >= 0) req.params.push_back(w + "activity_ms=" + std::to_string(o.activity_ms));
    if (o.max_ms >= 0) req.params.push_back(w + "max_ms=" + std::to_string(o.max_ms));
    req.reps = o.reps;
    req.baseline = bases.empty() ? "glibc" : bases.front().name;
    std::vector<registry::Allocator> all = known;
    const runner::Matrix m = runner::build_matrix(req, all);

    runner::RunOptions ro;
    ro.results_root = root;
    ro.run_id = s->dir_name();
    ro.timeout_s = o.timeout_s;
    ro.sample_hz = 200;  // RSS timelines for the report; phase ends are read exactly by the cell
    ro.jobs = o.jobs;
    ro.cell_binary = o.cell_binary;
    ro.command_line = o.command_line;
    ro.quiet = true;
    ro.finish_command = finish;
    ro.attribute = true;  // who pins the memory, and the page map, at every phase end
    if (!o.quiet)
      std::fprintf(stderr, "heapmark repro: scenario %d %s, %zu allocators x %d reps\n", s->id, s->slug.c_str(),
                   m.allocators.size(), o.reps);
    // A scenario that started before the stop is resumed (its finished cells
    // kept), one that did not starts now.
    if (!o.resume.empty()) {
      const std::string sd = root + "/" + s->dir_name();
      if (std::filesystem::exists(sd + "/run.json")) ro.resume = sd;
      else if (!std::filesystem::exists(sd + "/cells.jsonl"))
        std::filesystem::remove_all(sd);  // stopped before its run.json: nothing in it
    }
    std::string dir;
    const int status = runner::run(ro.resume.empty() ? m : runner::Matrix{}, ro, known, &dir);
    if (dir.empty()) return status;
    results::ScenarioSummary sum = scenario_summary(*s, dir);
    results::write_atomically(dir + "/repro.json", json::serialize(results::to_json(sum)) + "\n");
    report::write_report(dir);
    const std::string text = render_summary_text(sum);
    all_text += text + "\n";
    if (!o.quiet && !o.json) std::printf("%s\n", text.c_str());
    std::fflush(stdout);
    sum.dir = s->dir_name();
    summaries.push_back(std::move(sum));
    if (status == kExitInterrupted) {  // what ran is recorded and reported
      write_catalogue(root, o, bases, summaries, wall_s(), scenarios.size(), status);
      return status;
    }
    if (status != kExitOk) worst = status;  // a failed cell: the scenarios go on, repro exits with it at the end
  }
  if (summaries_out) *summaries_out = summaries;
  const auto page = write_catalogue(root, o, bases, summaries, wall_s(), scenarios.size(), worst);
  char b[512];
  std::snprintf(b, sizeof b,
                "%zu scenarios x %zu allocators x %d reps in %.0f s (--jobs %d).\nCatalogue: %s (also %s); each "
                "scenario: %s/NN-name/report.html\n",
                scenarios.size(), bases.size(), o.reps, wall_s(), o.jobs, page.html.c_str(), page.markdown.c_str(),
                root.c_str());
  all_text += page.grid_text + "\n" + b;
  std::ofstream(root + "/repro.txt", std::ios::trunc) << all_text;
  if (!o.quiet && !o.json) std::printf("%s\n%s", page.grid_text.c_str(), b);
  return worst;
}

}  // namespace heapmark::repro
