// `heapmark diagnose app.hmt`: the repro machinery applied to the user's own
// trace. The trace replays on each allocator with repro's five phases
//   P  up to the recorded live peak (before F)
//   F  up to the end of the trace, a phase mark (--at NAME) or --at TIME
//   I  idle, A  light activity, R  the allocator's release hook
// and every remedy of the catalogue that applies to an allocator runs as its
// own variant. The verdicts, breakdowns and remedies are repro's (one
// scenario, built here from the trace); a recommendation line per allocator
// says what stays after the frees and which remedy gave it back, at what cost
// in allocator time. First comes the self-check (cli/replay_check.h): the
// replay on the recording's own allocator against the program's own RSS.
//   heapmark diagnose app.hmt
//   heapmark diagnose app.hmt --allocators glibc,jemalloc --at after-burst
#include <algorithm>
#include <boost/json.hpp>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/input_error.h"
#include "harness/cli/commands.h"
#include "harness/cli/replay_check.h"
#include "harness/cli/trace_summary.h"
#include "harness/report/catalogue.h"
#include "harness/report/document.h"
#include "harness/report/holders.h"
#include "harness/report/results.h"
#include "harness/report/stats.h"
#include "harness/report/table.h"
#include "harness/repro/repro.h"
#include "harness/results/diagnose_result.h"
#include "harness/results/results_dir.h"

namespace {

namespace json = boost::json;
using heapmark::InputError;
using heapmark::cli::human;
using heapmark::cli::parse_at;

struct State {
  std::string trace, at, allocators, remedies;
  heapmark::repro::Options o;
};

// Median of the allocator time (timed calls) of the replay phases P and F over the ok cells of one allocator.
double replay_call_seconds(const heapmark::report::Run& run, const std::string& row) {
  std::vector<double> v;
  for (const auto& c : run.cells) {
    if (heapmark::repro::row_name(c) != row || !c.ok()) continue;
    double s = 0;
    for (const auto& p : c.phases)
      if ((p.name == "peak" || p.name == "free") && p.end) s += double(p.end->ops) * p.end->op_ns_mean * 1e-9;
    v.push_back(s);
  }
  return v.empty() ? NAN : heapmark::report::stats::median(v);
}

// Median time inside a scheduled row's release calls (0 for a row without a schedule).
double release_ms(const heapmark::report::Run& run, const std::string& row) {
  std::vector<double> v;
  for (const auto& c : run.cells)
    if (heapmark::repro::row_name(c) == row && c.ok() && c.release_schedule) v.push_back(c.release_schedule->total_ms);
  return v.empty() ? 0 : heapmark::report::stats::median(v);
}

// Median figure `key` of `part` at phase i of a summary row: R, live, or a breakdown part (NAN when absent).
double at_phase(const heapmark::results::ReproRow& row, int i, double heapmark::results::MedianBreakdown::*part) {
  const auto* p = row.phase(i);
  return p && p->breakdown ? (*p->breakdown).*part : NAN;
}
double r_at(const heapmark::results::ReproRow& row, int i) {
  const auto* p = row.phase(i);
  return p ? p->r : NAN;
}
double live_at(const heapmark::results::ReproRow& row, int i) {
  const auto* p = row.phase(i);
  return p ? p->live : NAN;
}
std::string format_ms(double ms) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f ms", ms);
  return b;
}
std::string mib(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.0f MiB", bytes / 1048576.0);
  return b;
}

// The allocator's own release call as the cells name it ("malloc_trim(0)").
std::string release_call(const heapmark::report::Run& run, const std::string& allocator) {
  for (const auto& c : run.cells)
    if (c.allocator == allocator && c.identity && !c.identity->release_call.empty()) return c.identity->release_call;
  return "the release hook";
}

// One line per base allocator: what it keeps after the frees (F), of what; the
// release hook first where it is the fix (it gives back at least the share of
// what stays above live by which repro's summary judges a remedy to help); then
// the remedies that worked or helped (repro's rule), with what they kept less
// and their cost in allocator time.
std::vector<std::string> recommendations(const heapmark::results::ScenarioSummary& sum,
                                         const heapmark::report::Run& run) {
  using heapmark::results::MedianBreakdown;
  std::vector<std::string> out;
  for (const auto& base : sum.rows) {
    if (base.is_remedy() || !base.ok()) continue;
    const std::string& name = base.allocator;
    const double keep = r_at(base, 1), live = live_at(base, 1);
    const double retained = at_phase(base, 1, &MedianBreakdown::retained);
    const double frag = at_phase(base, 1, &MedianBreakdown::fragmentation);
    std::string line = name + " keeps " + mib(keep) + " after the frees (F) for " + mib(live) + " live";
    if (!std::isnan(retained)) line += ": " + mib(retained) + " retained free, " + mib(frag) + " fragmentation";
    line += "; " + base.verdict_label + (base.when.empty() ? "" : " (" + base.when + ")");
    const double after_release = r_at(base, 4);
    if (keep - after_release >= heapmark::repro::kHelpedShare * (keep - live) && keep - after_release > 1048576.0)
      line += ". First: " + release_call(run, name) + " gives back " + mib(keep - after_release) +
              " of it (R): call it after "
              "bursts of frees (in a running process, heapmark attach PID --apply release calls it once)";
    const double base_calls = replay_call_seconds(run, name);
    std::vector<std::string> fixes;
    for (const auto& r : sum.rows) {
      if (!r.is_remedy() || r.base != name || !r.ok()) continue;
      const std::string env = heapmark::results::env_text(r.env);
      if (!r.worked.value_or(false) && !r.helped) continue;
      std::string less = mib(std::max(0.0, keep - r_at(r, 1))) + " less than " + name + " at F";
      if (r.helped && r.helped->phase != "F") less += ", " + mib(r.helped->less) + " less at " + r.helped->phase;
      const double speed = base_calls / replay_call_seconds(run, r.allocator);
      const double in_release = release_ms(run, r.allocator);
      char b[640];
      std::snprintf(
          b, sizeof b, "%s (%s): %s%s, %s, at %.2fx its allocator time%s",
          env.empty() ? r.remedy.value_or("").c_str() : env.c_str() + 1, r.allocator.c_str(), r.verdict_label.c_str(),
          r.when.empty() ? "" : (" (" + r.when + ")").c_str(), less.c_str(), std::isnan(speed) ? 0.0 : 1.0 / speed,
          in_release > 0 ? (", plus " + format_ms(in_release) + " inside the scheduled release calls").c_str() : "");
      fixes.push_back(b);
    }
    if (!fixes.empty()) {
      line += ". Remedies: ";
      for (size_t i = 0; i < fixes.size(); ++i) line += (i ? "; " : "") + fixes[i];
    }
    out.push_back(line);
  }
  return out;
}

// The self-check above the catalogue's grid, in report.html and summary.md (rewritten from repro.json).
void add_preface(const std::string& root, const heapmark::cli::ReplayCheck& check) {
  heapmark::results::Catalogue cat;
  try {
    cat = heapmark::results::read_catalogue(root);
  } catch (const InputError&) {
    return;  // the catalogue stays as the run wrote it
  }
  heapmark::report::Document d;
  d.heading(2, "Self-check against the recording", "self-check").paragraph(check.line());
  std::vector<std::string> also;
  for (size_t i = 1; i < check.causes.size(); ++i) also.push_back("also possible: " + check.causes[i]);
  if (!also.empty()) d.list(std::move(also));
  d.html(check.chart_svg());
  cat.preface_md = to_markdown(d);
  cat.preface_html = to_html(d);
  heapmark::report::write_catalogue(root, cat);
}

// The trace, --at and every option: as the diagnose started (--resume), or as given.
void settle_options(State& st) {
  namespace fs = std::filesystem;
  if (!st.o.resume.empty()) {  // the trace, --at and every option as the diagnose started
    heapmark::repro::read_invocation(st.o.resume, "diagnose", st.o);
    auto text = [&](const char* k) {
      const auto* v = st.o.extra.if_contains(k);
      return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    st.trace = text("trace");
    st.at = text("at");
  } else {
    if (st.trace.empty()) throw InputError("diagnose: give the trace file (or --resume DIR to finish one)");
    st.o.allocators = heapmark::cli::split_list(st.allocators);
    st.o.remedies = heapmark::cli::split_list(st.remedies);
    st.o.command_line = heapmark::cli::command_line();
    st.o.extra = json::object{{"trace", fs::absolute(st.trace).string()}, {"at", st.at}};
  }
}

// The trace as a repro scenario: P at the recorded live peak, F at --at (or the end), every remedy and mechanism.
heapmark::repro::Scenario trace_scenario(const heapmark::cli::Summary& s, const std::string& path,
                                         const heapmark::cli::PeakPoint& peak, uint64_t final_rel,
                                         const std::string& at) {
  namespace fs = std::filesystem;
  const uint64_t final_abs = s.t0_ms + final_rel;
  heapmark::repro::Scenario sc;
  sc.id = 0;
  sc.slug = "diagnose";
  sc.workload = "trace";
  sc.title = "your trace: " + s.header.program + " (" + fs::path(path).filename().string() + ")";
  char recipe[512];
  std::snprintf(recipe, sizeof recipe,
                "replay of %s: P at the recorded live peak, %.3f s (%s live); F at %s, %.3f s (%s live); then idle, "
                "activity and the release hook",
                path.c_str(), double(peak.t_ms - s.t0_ms) / 1000, human(peak.live).c_str(),
                at.empty() ? "the trace's end" : ("--at " + at).c_str(), double(final_rel) / 1000,
                human(peak.live_at_final).c_str());
  sc.recipe_text = recipe;
  for (const auto& r : heapmark::repro::remedy_catalogue()) sc.remedies.push_back(r);
  sc.explanations = heapmark::repro::mechanism_catalogue();
  sc.params = {{"path", path},
               {"diagnose", "yes"},
               {"peak_ms", std::to_string(peak.t_ms)},
               {"final_ms", at.empty() ? "0" : std::to_string(std::max<uint64_t>(final_abs, 1))}};

  return sc;
}

// diagnose.json's holders: per base allocator the top sites behind the pinned bytes at F.
std::vector<heapmark::results::PinningSites> pinning_sites(const std::vector<heapmark::report::Holders>& holders) {
  std::vector<heapmark::results::PinningSites> out;
  for (const auto& h : holders) {
    if (h.variant) continue;
    heapmark::results::PinningSites p;
    p.allocator = h.allocator;
    p.phase = h.phase;
    p.cells = h.cells;
    p.site_count = h.site_count;
    p.r = h.r;
    p.pinned = h.pinned_total;
    p.live = h.live_total;
    for (size_t i = 0; i < h.sites.size() && i < 10; ++i) {
      const auto& x = h.sites[i];
      p.sites.push_back({x.site, x.name(), x.frames, x.pinned, h.pinned_total > 0 ? x.pinned / h.pinned_total : 0.0,
                         x.live, x.blocks, x.median_age_s});
    }
    p.unknown_pinned = h.unknown.pinned;
    p.unknown_live = h.unknown.live;
    p.other_pinned = h.other.pinned;
    p.other_live = h.other.live;
    out.push_back(std::move(p));
  }
  return out;
}

int diagnose(State& st) {
  namespace fs = std::filesystem;
  settle_options(st);
  st.o.command = "diagnose";
  const std::string path = fs::absolute(st.trace).string();
  const heapmark::cli::Summary s = heapmark::cli::summarize(path);  // a bad trace is refused here, exit 2
  if (s.lost)
    throw InputError(path + ": incomplete trace: " + std::to_string(s.lost) + " events were not recorded (" +
                     s.lost_reason + "): record it again");
  if (s.events == 0) throw InputError(path + ": the trace holds no events to diagnose");
  const uint64_t final_rel = st.at.empty() ? s.duration_ms : parse_at(st.at, s, path);
  const uint64_t final_abs = s.t0_ms + final_rel;
  // F at the end: the summary's peak is P; an earlier F needs the peak before it (one more pass).
  const heapmark::cli::PeakPoint peak = st.at.empty()
                                            ? heapmark::cli::PeakPoint{s.t0_ms + s.peak_ms, s.peak_live, s.live_end}
                                            : heapmark::cli::peak_until(path, final_abs);

  heapmark::repro::Scenario sc = trace_scenario(s, path, peak, final_rel, st.at);
  const std::string dir = heapmark::cli::parts_dir();
  const auto known = heapmark::registry::builtin(dir);
  st.o.cell_binary = dir + "/heapmark-cell";
  if (st.o.run_id.empty()) st.o.run_id = heapmark::results::utc_now("diagnose-%Y%m%d-%H%M%S");
  std::vector<heapmark::results::ScenarioSummary> summaries;
  const int status = heapmark::repro::run_scenarios({&sc}, st.o, known, &summaries);
  if (summaries.empty()) return status;
  const std::string root = st.o.results_root + "/" + st.o.run_id;
  const std::string run_dir = root + "/" + sc.dir_name();
  const heapmark::report::Run run = heapmark::report::read_run(run_dir);
  // How far to trust what follows: the replay on the recording's own allocator against the program's own RSS.
  const heapmark::cli::ReplayCheck check = heapmark::cli::check_replay(
      s, run, known, {{0, "P", peak.t_ms, peak.live}, {1, "F", final_abs, peak.live_at_final}});
  if (!st.o.quiet) std::printf("\n%s\n", check.line().c_str());
  add_preface(root, check);
  const auto lines = recommendations(summaries[0], run);
  // Who pins what stays: the sites behind the pinned bytes at F (a trace recorded with --stacks).
  const auto holders = heapmark::report::holders(run);
  bool named = false;
  for (const auto& h : holders) named |= !h.variant && h.site_count > 0;
  if (!st.o.quiet) {
    if (named) {
      std::printf("\nWho pins the memory at F (top sites; flame graphs and page maps in the report, svg/):\n%s",
                  heapmark::report::to_text(heapmark::report::pinning_table(holders, 5)).c_str());
    } else {
      std::printf(
          "\nAllocation sites: not in this trace (record it with heapmark record --stacks to see which code pins the "
          "memory)\n");
    }
  }
  // The recommendation: on the terminal, in diagnose.json and at the end of summary.md.
  std::string md = "\n## Recommendation\n\n";
  if (!st.o.quiet) std::printf("\nRecommendation:\n");
  for (const auto& l : lines) {
    md += "- " + l + "\n";
    if (!st.o.quiet) std::printf("  %s\n", l.c_str());
  }
  heapmark::results::DiagnoseResult out;
  out.trace = path;
  out.program = s.header.program;
  out.events = s.events;
  out.threads = s.threads;
  out.peak_s = double(peak.t_ms - s.t0_ms) / 1000;
  out.peak_live = peak.live;
  out.final_s = double(final_rel) / 1000;
  out.final_live = peak.live_at_final;
  out.at = st.at;
  out.self_check = check.result();
  out.recommendation = lines;
  out.holders = pinning_sites(holders);
  out.summary = summaries[0];
  heapmark::results::write_atomically(root + "/diagnose.json", json::serialize(to_json(out)) + "\n");
  std::ofstream(root + "/summary.md", std::ios::app) << md;
  if (!st.o.quiet)
    std::printf("\nResults: %s (diagnose.json, summary.md, report.html; the cells in %s)\n", root.c_str(),
                run_dir.c_str());
  return status;
}

const heapmark::cli::CommandRegistrar reg{[](CLI::App& app) -> heapmark::cli::Action {
  auto st = std::make_shared<State>();
  auto* cmd = app.add_subcommand("diagnose",
                                 "Why your program's RSS stays high: replay its trace with repro's phases, verdicts "
                                 "and remedies, after checking the "
                                 "replay against the program's own RSS on the allocator it was recorded under");
  cmd->add_option("trace", st->trace, "Trace file (.hmt, from heapmark record)");
  cmd->add_option(
      "--at", st->at,
      "Where F is: a time after the trace's start (12.5, 12.5s, 800ms) or a phase mark's name (default: the end)");
  cmd->add_option("--allocators", st->allocators,
                  "Comma-separated base allocators (default: glibc,jemalloc,mimalloc,tcmalloc and the in-house ones)");
  cmd->add_option("--remedies", st->remedies,
                  "Comma-separated remedies to run (default: every one that applies; 'none': no remedy). "
                  "every:INTERVAL (every:1s, every:100ms) is a release schedule: the allocator's own release hook at "
                  "that interval, judged against the allocator without it; run only when named");
  heapmark::cli::add_repro_options(cmd, st->o, "diagnose-<UTC time>");
  return [cmd, st]() -> std::optional<int> {
    if (!*cmd) return std::nullopt;
    if (!st->o.resume.empty()) heapmark::cli::refuse_beside_resume(*cmd, "diagnose");
    return diagnose(*st);
  };
}};

}  // namespace
