// Runs the chosen scenarios through the ordinary runner (one results directory
// per scenario under results/<run-id>/, so `heapmark report` draws each one's
// RSS timelines), then judges every cell and prints the tables.
#include <algorithm>
#include <boost/json.hpp>
#include <tuple>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/input_error.h"
#include "harness/repro/repro.h"
#include "harness/report/report.h"
#include "harness/runner/run.h"
#include "harness/runner/results.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace heapmark::repro {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

void set_env(registry::Env& env, const registry::Env& add) {
  for (const auto& [k, v] : add) {
    bool replaced = false;
    for (auto& [k0, v0] : env)
      if (k0 == k) v0 = v, replaced = true;
    if (!replaced) env.emplace_back(k, v);
  }
}

// Position of a verdict on the "how late did it come back" scale: a remedy worked when it moves left.
int lateness(const std::string& verdict, const std::string& when) {
  if (verdict == "returned") return when == "F" ? 0 : 1;
  if (verdict == "lazy") return 2;
  if (verdict == "retained-until-activity") return 3;
  if (verdict == "retained-until-release") return 4;
  if (verdict == "fragmentation") return 5;
  if (verdict == "not-returned") return 6;
  return 7;
}

std::string str(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::vector<json::object> read_cells(const std::string& dir) {
  std::vector<json::object> out;
  std::ifstream in(dir + "/cells.jsonl");
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && !in.eof()) out.push_back(json::parse(line).as_object());  // a last line without newline is incomplete
  return out;
}

std::string env_text(const json::object& env) {
  std::string s;
  for (const auto& [k, v] : env) s += (s.empty() ? "" : " ") + std::string(k) + "=" + std::string(v.as_string());
  return s;
}

std::string default_run_id() { return runner::utc_now("repro-%Y%m%d-%H%M%S"); }

}  // namespace

json::object scenario_summary(const Scenario& s, const std::string& run_dir) {
  json::object sum{{"scenario", s.id}, {"slug", s.slug}, {"title", s.title}, {"recipe", s.recipe},
                   {"threshold", kReturnedThreshold}};
  json::array rows;
  std::map<std::string, std::pair<std::string, std::string>> base_verdict;  // allocator -> (verdict, when)
  for (const auto& cell : read_cells(run_dir)) {
    json::object row;
    const std::string alloc = str(cell, "allocator"), kind = str(cell, "allocator_kind");
    const Remedy* remedy = nullptr;
    for (const auto& r : s.remedies)
      if (r.name == alloc) remedy = &r;
    row["allocator"] = alloc;
    row["kind"] = kind;
    row["base"] = remedy ? remedy->allocator : alloc;
    row["remedy"] = remedy ? json::value(remedy->name) : json::value(nullptr);
    if (const auto* e = cell.if_contains("env"); e && e->is_object()) row["env"] = *e;
    row["status"] = str(cell, "status");
    if (str(cell, "status") != "ok") row["detail"] = str(cell, "detail");
    PhasePoint ph[kPhaseCount];
    phases_from_cell(cell, ph);
    json::array phases;
    for (int i = 0; i < kPhaseCount; ++i) {
      if (!ph[i].present) {
        phases.push_back(nullptr);
        continue;
      }
      const auto share = returned_share(ph[0], ph[i]);
      json::object p{{"phase", kPhaseLetters[i]}, {"r", ph[i].r}, {"live", ph[i].live}, {"lazy_free", ph[i].lazy_free},
                     {"returned", share ? json::value(*share) : json::value(nullptr)}};
      if (ph[i].has_breakdown)
        p["breakdown"] = json::object{{"live", ph[i].live}, {"fragmentation", ph[i].fragmentation},
                                      {"retained", ph[i].retained}, {"lazy_free", ph[i].lazy_free},
                                      {"metadata", ph[i].metadata}};
      phases.push_back(std::move(p));
    }
    row["phases"] = std::move(phases);
    const Assessment a = str(cell, "status") == "ok" ? assess(ph) : Assessment{};
    row["verdict"] = verdict_id(a.verdict);
    row["verdict_label"] = verdict_label(a.verdict);
    row["when"] = a.when;
    const Explanation* ex = explanation_for(s, remedy ? remedy->allocator : alloc, kind, a.verdict);
    row["explanation"] = ex ? json::value(ex->text) : json::value(nullptr);
    if (remedy) row["remedy_what"] = remedy->what;
    else base_verdict[alloc] = {verdict_id(a.verdict), a.when};
    rows.push_back(std::move(row));
  }
  json::array worked;
  for (auto& rv : rows) {
    auto& row = rv.as_object();
    if (row["remedy"].is_null()) continue;
    const auto it = base_verdict.find(std::string(row["base"].as_string()));
    if (it == base_verdict.end()) continue;
    const bool better = lateness(str(row, "verdict"), str(row, "when")) < lateness(it->second.first, it->second.second);
    row["worked"] = better;
    if (better)
      worked.push_back(json::object{{"remedy", row["remedy"]}, {"allocator", row["base"]}, {"env", row["env"]},
                                    {"what", row["remedy_what"]}, {"verdict", row["verdict_label"]}, {"when", row["when"]},
                                    {"base_verdict", verdict_label(Verdict::kUnknown)}});
    if (better) {
      // The base allocator's verdict label, for "was: ...".
      for (const auto& b : rows)
        if (b.as_object().at("remedy").is_null() && b.as_object().at("allocator") == row["base"])
          worked.back().as_object()["base_verdict"] =
              std::string(b.as_object().at("verdict_label").as_string()) + " (" + str(b.as_object(), "when") + ")";
    }
  }
  // Base allocators first, in the catalogue's order, then the remedies.
  auto order = [](const json::value& v) {
    const auto& r = v.as_object();
    static const std::vector<std::string> bases{"glibc", "jemalloc", "mimalloc", "tcmalloc", "ptmalloc-style", "buddy", "slab"};
    const auto it = std::find(bases.begin(), bases.end(), str(r, "base"));
    return std::make_tuple(!r.at("remedy").is_null(), it - bases.begin(), str(r, "allocator"));
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const json::value& a, const json::value& b) { return order(a) < order(b); });
  sum["rows"] = std::move(rows);
  sum["remedies_worked"] = std::move(worked);
  return sum;
}

std::string render_summary_text(const json::object& sum) {
  std::string out;
  char b[512];
  std::snprintf(b, sizeof b, "Scenario %d %s: %s\n  %s\n", static_cast<int>(sum.at("scenario").to_number<int64_t>()),
                str(sum, "slug").c_str(), str(sum, "title").c_str(), str(sum, "recipe").c_str());
  out += b;
  std::snprintf(b, sizeof b, "  %-28s %8s %14s %14s %14s %14s  %s\n", "allocator", "P MiB", "F MiB  ret", "I MiB  ret",
                "A MiB  ret", "R MiB  ret", "verdict");
  out += b;
  std::string explained;
  for (const auto& rv : sum.at("rows").as_array()) {
    const auto& row = rv.as_object();
    std::string line;
    std::snprintf(b, sizeof b, "  %-28s", str(row, "allocator").c_str());
    line += b;
    if (str(row, "status") != "ok") {
      out += line + " FAILED: " + str(row, "detail") + "\n";
      continue;
    }
    const auto& ph = row.at("phases").as_array();
    double lazy_max = 0;
    for (int i = 0; i < kPhaseCount; ++i) {
      if (ph[i].is_null()) {
        std::snprintf(b, sizeof b, i == 0 ? " %8s" : " %14s", "-");
      } else {
        const auto& p = ph[i].as_object();
        const double r = p.at("r").to_number<double>() / kMiB;
        lazy_max = std::max(lazy_max, p.at("lazy_free").to_number<double>() / kMiB);
        if (i == 0) std::snprintf(b, sizeof b, " %8.1f", r);
        else if (p.at("returned").is_null()) std::snprintf(b, sizeof b, " %8.1f %5s", r, "-");
        else std::snprintf(b, sizeof b, " %8.1f %4.0f%%", r, p.at("returned").to_number<double>() * 100);
      }
      line += b;
    }
    std::string verdict = str(row, "verdict_label");
    if (!str(row, "when").empty()) verdict += " (" + str(row, "when") + ")";
    out += line + "  " + verdict + "\n";
    if (lazy_max >= 1) {
      std::string l = "      LazyFree MiB (counted in RSS):";
      for (int i = 0; i < kPhaseCount; ++i)
        if (!ph[i].is_null()) {
          std::snprintf(b, sizeof b, " %s %.1f", kPhaseLetters[i], ph[i].as_object().at("lazy_free").to_number<double>() / kMiB);
          l += b;
        }
      out += l + "\n";
    }
    // Where R is after the frees: what no release can return versus what a release could.
    if (!ph[1].is_null()) {
      const auto& p = ph[1].as_object();
      if (const auto* bd = p.if_contains("breakdown")) {
        const auto& o = bd->as_object();
        std::snprintf(b, sizeof b,
                      "      at F, MiB: live %.1f | fragmentation %.1f | no live block %.1f | LazyFree %.1f | metadata %.1f\n",
                      o.at("live").to_number<double>() / kMiB, o.at("fragmentation").to_number<double>() / kMiB,
                      o.at("retained").to_number<double>() / kMiB, o.at("lazy_free").to_number<double>() / kMiB,
                      o.at("metadata").to_number<double>() / kMiB);
        out += b;
      }
    }
    if (row.at("remedy").is_null() && !row.at("explanation").is_null())
      out += "      why: " + std::string(row.at("explanation").as_string()) + "\n";
  }
  const auto& worked = sum.at("remedies_worked").as_array();
  out += worked.empty() ? "  Remedies that worked: none measured here.\n" : "  Remedies that worked:\n";
  for (const auto& wv : worked) {
    const auto& w = wv.as_object();
    out += "    " + str(w, "remedy") + " [" + str(w, "allocator") + " " + env_text(w.at("env").as_object()) + "]: " +
           str(w, "verdict") + " (" + str(w, "when") + "), was " + str(w, "base_verdict") + "; " + str(w, "what") + "\n";
  }
  return out;
}

int run_repro(const Options& o, const std::vector<registry::Allocator>& known) {
  if (o.list) {
    for (const auto& s : catalogue()) {
      std::printf("%2d %-22s %s\n   %s\n", s.id, s.slug.c_str(), s.title.c_str(), s.recipe.c_str());
      for (const auto& r : s.remedies) {
        std::string env;
        for (const auto& [k, v] : r.env) env += " " + k + "=" + v;
        std::printf("   remedy %-30s %-9s%s\n", r.name.c_str(), r.allocator.c_str(), env.c_str());
      }
    }
    return 0;
  }
  // Everything is validated before the first cell runs.
  std::vector<const Scenario*> scenarios;
  if (o.scenarios.empty())
    for (const auto& s : catalogue()) scenarios.push_back(&s);
  for (const auto& t : o.scenarios) scenarios.push_back(&find_scenario(t));
  std::vector<registry::Allocator> bases;
  if (o.allocators.empty()) {
    bases = registry::bases(known);
  } else {
    for (const auto& n : o.allocators) bases.push_back(registry::find(known, n));
  }
  const bool no_remedies = o.remedies.size() == 1 && o.remedies[0] == "none";
  std::set<std::string> wanted(o.remedies.begin(), o.remedies.end());
  if (!no_remedies)
    for (const auto& r : wanted) {
      std::string valid;
      bool found = false;
      for (const auto* s : scenarios)
        for (const auto& rem : s->remedies) {
          found |= rem.name == r;
          if (valid.find(rem.name) == std::string::npos) valid += (valid.empty() ? "" : ", ") + rem.name;
        }
      if (!found) throw InputError("unknown remedy '" + r + "' for the chosen scenarios (valid: " + (valid.empty() ? "none" : valid) + ", or none)");
    }

  const std::string run_id = o.run_id.empty() ? default_run_id() : o.run_id;
  const std::string root = runner::create_run_dir(o.results_root, run_id, false);  // refuses an existing one
  const auto t0 = std::chrono::steady_clock::now();
  std::string all_text;
  for (const auto* s : scenarios) {
    runner::Matrix m;
    for (const auto& b : bases) {
      registry::Allocator a = b;
      for (const auto& [who, env] : s->setups)
        if (who == a.name || who == a.kind()) set_env(a.env, env);
      m.allocators.push_back(a);
    }
    for (const auto& r : s->remedies) {
      if (no_remedies || (!wanted.empty() && !wanted.count(r.name))) continue;
      for (const auto& a0 : m.allocators) {
        if (a0.name != r.allocator) continue;
        registry::Allocator a = a0;
        a.name = r.name;
        a.summary = r.what;
        set_env(a.env, r.env);
        m.allocators.push_back(a);
        break;
      }
    }
    runner::WorkloadSpec w{"repro", {}};
    for (const auto& [k, v] : s->params) w.grid[k] = {v};
    w.grid["mib"] = {std::to_string(o.mib)};
    if (o.idle_ms >= 0) w.grid["idle_ms"] = {std::to_string(o.idle_ms)};
    if (o.activity_ms >= 0) w.grid["activity_ms"] = {std::to_string(o.activity_ms)};
    m.workloads.push_back(w);
    m.reps = 1;
    m.baseline = bases.empty() ? "glibc" : bases.front().name;

    runner::RunOptions ro;
    ro.results_root = root;
    ro.run_id = s->dir_name();
    ro.timeout_s = o.timeout_s;
    ro.sample_hz = 200;  // RSS timelines for the report; phase ends are read exactly by the cell
    ro.jobs = o.jobs;
    ro.cell_binary = o.cell_binary;
    ro.command_line = o.command_line;
    ro.quiet = true;
    if (!o.quiet) std::fprintf(stderr, "heapmark repro: scenario %d %s, %zu cells\n", s->id, s->slug.c_str(), m.allocators.size());
    std::string dir;
    const int status = runner::run(m, ro, known, &dir);
    if (dir.empty()) return status;
    const json::object sum = scenario_summary(*s, dir);
    {
      std::ofstream out(dir + "/repro.json", std::ios::trunc);
      out << json::serialize(sum) << "\n";
    }
    report::write_report(dir);
    const std::string text = render_summary_text(sum);
    all_text += text + "\n";
    if (!o.quiet) std::printf("%s\n", text.c_str());
    std::fflush(stdout);
    if (status != 0) return status;  // interrupted: what ran is recorded and reported
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char b[256];
  std::snprintf(b, sizeof b, "%zu scenarios in %.0f s (--jobs %d). Results and a report per scenario: %s/NN-name/report.html\n",
                scenarios.size(), wall, o.jobs, root.c_str());
  all_text += b;
  std::ofstream(root + "/repro.txt", std::ios::trunc) << all_text;
  if (!o.quiet) std::printf("%s", b);
  return 0;
}

}  // namespace heapmark::repro
