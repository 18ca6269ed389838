// One scenario's results directory judged: every repetition's verdict from its
// measured phase ends, the verdict they agree on (or "split"), how the memory
// came back, and which remedies worked. Written as repro.json beside the cells.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "harness/metrics/fragmentation.h"
#include "harness/repro/repro.h"
#include "harness/report/results.h"
#include "harness/results/schema.h"

namespace heapmark::repro {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
using workloads::repro::kActP;
using workloads::repro::kFreeP;

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

const results::Wait* wait_of(const results::CellResult& cell, int i) {
  for (const auto& p : cell.phases)
    if (p.name == kPhaseNames[i] && p.end && p.end->wait) return &*p.end->wait;
  return nullptr;
}

// One repetition, judged.
struct Rep {
  const report::Cell* cell;
  bool ok;
  PhasePoint ph[kPhaseCount];
  Assessment a;
};

Rep judge(const report::Cell& c) {
  Rep r{&c, c.ok(), {}, {}};
  phases_from_cell(c, r.ph);
  if (r.ok) r.a = assess(r.ph);
  return r;
}

int phase_index(const std::string& letter) {
  for (int i = 0; i < kPhaseCount; ++i)
    if (letter == kPhaseLetters[i]) return i;
  return -1;
}

// Median over the repetitions of the waits in phase i: when 75% was back, or how long they lasted.
double returned_after_median(const std::vector<const Rep*>& reps, int i) {
  std::vector<double> v;
  for (const Rep* r : reps)
    if (const results::Wait* w = wait_of(*r->cell, i); w && w->returned_after_s) v.push_back(*w->returned_after_s);
  return median(v);
}
double lasted_median(const std::vector<const Rep*>& reps, int i) {
  std::vector<double> v;
  for (const Rep* r : reps)
    if (const results::Wait* w = wait_of(*r->cell, i)) v.push_back(w->lasted_s);
  return median(v);
}

std::string fmt(const char* f, double a, const std::string& b = "") {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, a, b.c_str());
  return buf;
}

// How the memory came back (or what kept it), in the measurement's own terms:
// the time it took and the mechanism the allocator reports for its horizon.
std::string how(Verdict v, const std::string& when, const std::vector<const Rep*>& reps) {
  if (reps.empty()) return "";
  const results::CellResult& cell = *reps[0]->cell;
  const std::string& what = cell.return_horizon.what;
  const bool background = cell.return_horizon.background;
  const std::string release = cell.identity ? cell.identity->release_call : "";
  const int at = phase_index(when);
  switch (v) {
    case Verdict::kReturned:
      if (when == "F") return "given back by the frees themselves";
      if (when == "I")
        return fmt("after %.1f s idle, with no allocator calls", returned_after_median(reps, 2)) +
               (background ? ": " + what : "");
      return fmt("after %.1f s of activity: %s", returned_after_median(reps, at), what);
    case Verdict::kUntilActivity: return fmt("after %.1f s of activity: %s", returned_after_median(reps, 3), what);
    case Verdict::kLazy:
      return "released with MADV_FREE by " + when +
             ": the kernel may take the pages, but they count in RSS until it does";
    case Verdict::kUntilRelease: {
      std::string s = "only " + release + " gave it back";
      const double lasted = lasted_median(reps, 3);
      if (!std::isnan(lasted)) s += fmt(" (activity ran %.1f s first; %s)", lasted, what);
      return s;
    }
    case Verdict::kFragmentation:
    case Verdict::kNotReturned: {
      std::vector<double> kept;
      for (const Rep* r : reps) kept.push_back((r->ph[4].r - r->ph[4].live) / kMiB);
      return fmt("%.1f MiB stayed above the live bytes after %s", median(kept), release);
    }
    default: return "";
  }
}

std::vector<std::optional<results::PhaseMedians>> median_phases(const std::vector<const Rep*>& ok) {
  std::vector<std::optional<results::PhaseMedians>> out;
  for (int i = 0; i < kPhaseCount; ++i) {
    std::vector<double> r, live, lazy, ret, frag, retained, meta;
    bool breakdown = true;
    for (const Rep* rep : ok) {
      const PhasePoint& p = rep->ph[i];
      if (!p.present) continue;
      r.push_back(p.r);
      live.push_back(p.live);
      lazy.push_back(p.lazy_free);
      if (const auto share = returned_share(rep->ph[0], p)) ret.push_back(*share);
      breakdown &= p.has_breakdown;
      frag.push_back(p.fragmentation);
      retained.push_back(p.retained);
      meta.push_back(p.metadata);
    }
    if (r.empty()) {
      out.emplace_back();
      continue;
    }
    results::PhaseMedians p{median(r), median(live), median(lazy), std::nullopt, std::nullopt};
    if (!ret.empty()) p.returned = median(ret);
    if (breakdown)
      p.breakdown = results::MedianBreakdown{p.live, median(frag), median(retained), p.lazy_free, median(meta)};
    out.push_back(p);
  }
  return out;
}

// What the repetitions of one allocator say together: the verdict all of them
// reached (or split, with the count of each), the agreement, each one's verdict.
struct Consensus {
  Verdict verdict = Verdict::kUnknown;
  std::string when, label = verdict_label(Verdict::kUnknown), agreement;
  int latest = -1, earliest = 99;  // lateness over the ok repetitions
  std::vector<results::RepVerdict> rep_verdicts;
};

Consensus consensus(const std::vector<Rep>& reps) {
  Consensus c;
  std::map<std::pair<Verdict, std::string>, int> votes;
  for (const auto& r : reps) {
    results::RepVerdict rv{static_cast<int>(r.cell->rep), r.cell->status, std::nullopt, "", std::nullopt};
    if (r.ok) {
      rv.verdict = r.a.verdict;
      rv.when = r.a.when;
      const int at = phase_index(r.a.when);
      if (at == 2 || at == 3)
        if (const results::Wait* w = wait_of(*r.cell, at); w && w->returned_after_s) rv.after_s = *w->returned_after_s;
      ++votes[{r.a.verdict, r.a.when}];
      c.latest = std::max(c.latest, lateness(r.a.verdict, r.a.when));
      c.earliest = std::min(c.earliest, lateness(r.a.verdict, r.a.when));
    }
    c.rep_verdicts.push_back(std::move(rv));
  }
  if (votes.size() == 1) {
    c.verdict = votes.begin()->first.first;
    c.when = votes.begin()->first.second;
    c.label = verdict_label(c.verdict);
  } else if (votes.size() > 1) {
    c.verdict = Verdict::kSplit;
    c.label = "split:";
    for (const auto& [vw, n] : votes)
      c.label += (c.label.back() == ':' ? " " : ", ") + std::to_string(n) + "x " + verdict_label(vw.first) + " (" +
                 vw.second + ")";
  }
  int most = 0;
  for (const auto& [_, n] : votes) most = std::max(most, n);
  c.agreement = std::to_string(most) + "/" + std::to_string(reps.size());
  return c;
}

// A base allocator's row as the remedies are judged against it.
struct Base {
  int best = 99;
  std::string label;
  const results::ReproRow* row = nullptr;
};

// R at phase i of a row (NAN when it has no such phase).
double r_at(const results::ReproRow& row, int i) {
  const auto* p = row.phase(i);
  return p ? p->r : NAN;
}

// A remedy helped when, at a phase after the frees (F, I or A), it kept at
// least kHelpedShare less of what its base kept above the live bytes (and at
// least 1 MiB; medians), even where the verdict's words stay the same. Marks
// such rows "helped" and returns them as the summary lists them; a remedy that
// worked is listed once, as having worked.
std::vector<results::RemedyHelped> helped_remedies(std::vector<results::ReproRow>& rows,
                                                   const std::map<std::string, Base>& bases) {
  std::vector<results::RemedyHelped> helped;
  for (auto& row : rows) {
    if (!row.is_remedy() || !row.ok() || row.worked.value_or(false)) continue;
    const auto b = bases.find(row.base);
    if (b == bases.end()) continue;
    const results::ReproRow& theirs = *b->second.row;
    int best = -1;
    double best_less = 0;
    for (int i = kFreeP; i <= static_cast<int>(kActP); ++i) {
      const auto* base_at = theirs.phase(i);
      if (!base_at || !row.phase(i)) continue;
      const double less = base_at->r - r_at(row, i);
      if (less >= kHelpedShare * (base_at->r - base_at->live) && less >= kMiB && less > best_less) {
        best = i;
        best_less = less;
      }
    }
    if (best < 0) continue;
    row.helped = results::ReproRow::Helped{kPhaseLetters[best], best_less};
    char text[768];
    std::snprintf(text, sizeof text, "%s [%s%s]: %.1f MiB less at %s than %s (%.1f vs %.1f MiB), verdict still %s; %s",
                  row.remedy->c_str(), row.base.c_str(), results::env_text(row.env).c_str(), best_less / kMiB,
                  kPhaseLetters[best], row.base.c_str(), r_at(row, best) / kMiB, r_at(theirs, best) / kMiB,
                  row.verdict_label.c_str(), row.remedy_what.c_str());
    helped.push_back(results::RemedyHelped{*row.remedy, row.base, row.env, kPhaseLetters[best], best_less,
                                           r_at(row, best), r_at(theirs, best), text});
  }
  return helped;
}

// The remedy a scheduled row tries: the allocator's release hook at the
// interval, on top of the remedy the allocator is (a variant), if any.
Remedy schedule_remedy(const report::Cell& c, const Remedy* variant) {
  const std::string every = c.params.at(results::param::kReleaseEvery);
  const std::string hook = c.release_schedule ? c.release_schedule->hook : "its release call";
  Remedy r;
  r.name = (variant ? variant->name + " + " : "") + std::string(kSchedulePrefix) + every;
  r.allocator = variant ? variant->allocator : c.allocator;
  if (variant) r.env = variant->env;
  r.what = "calls " + hook + " every " + every + (variant ? ", with " + variant->what : "");
  return r;
}

// One allocator's row: its repetitions judged together.
results::ReproRow judge_row(const Scenario& s, const std::string& name, const std::vector<Rep>& reps,
                            const Remedy* remedy, Consensus& c) {
  const results::CellResult& first = *reps[0].cell;
  std::vector<const Rep*> ok;
  for (const auto& r : reps)
    if (r.ok) ok.push_back(&r);
  results::ReproRow row;
  row.allocator = name;
  row.kind = first.allocator_kind;
  row.base = remedy ? remedy->allocator : name;
  if (remedy) row.remedy = remedy->name;
  row.reps = static_cast<int>(reps.size());
  row.ok_reps = static_cast<int>(ok.size());
  row.env = results::EnvMap(first.env.begin(), first.env.end());
  row.status = ok.empty() ? "failed" : "ok";
  for (const auto& r : reps)
    if (!r.ok) {
      row.detail = r.cell->cause + ": " + r.cell->detail;
      break;
    }
  c = consensus(reps);
  row.rep_verdicts = c.rep_verdicts;
  row.verdict = c.verdict;
  row.verdict_label = c.label;
  row.when = c.when;
  row.agreement = c.agreement;
  row.how = c.verdict == Verdict::kSplit ? "" : how(c.verdict, c.when, ok);
  row.phases = median_phases(ok);
  // A split has its own explanation where the scenario wrote one (why repetitions disagree).
  if (const Explanation* ex = explanation_for(s, row.base, first.allocator_kind, c.verdict)) row.explanation = ex->text;
  if (remedy) row.remedy_what = remedy->what;
  return row;
}

}  // namespace

std::optional<double> returned_share(const PhasePoint& peak, const PhasePoint& at, bool count_lazy) {
  if (!peak.present || !at.present) return std::nullopt;
  return metrics::returned_share(peak.r, at.r - (count_lazy ? at.lazy_free : 0.0), at.live);
}

std::string row_name(const report::Cell& c) {
  const auto e = c.params.find(results::param::kReleaseEvery);
  if (e == c.params.end() || e->second == "off") return c.allocator;
  return c.allocator + " " + std::string(kSchedulePrefix) + e->second;
}

results::ScenarioSummary scenario_summary(const Scenario& s, const std::string& run_dir) {
  const report::Run run = report::read_run(run_dir);
  results::ScenarioSummary sum;
  sum.scenario = s.id;
  sum.slug = s.slug;
  sum.title = s.title;
  sum.recipe = s.recipe_text;
  sum.threshold = metrics::kReturnedShare;
  // Repetitions by row (an allocator, with its release schedule if it ran one), in the run's allocator order.
  std::map<std::string, std::vector<Rep>> by_alloc;
  std::vector<std::pair<std::string, const report::Cell*>> names;  // row name, its first cell
  for (const auto& a : run.allocators)
    for (const auto& c : run.cells)
      if (c.allocator == a) {
        const std::string name = row_name(c);
        if (!by_alloc.count(name)) names.emplace_back(name, &c);
        by_alloc[name].push_back(judge(c));
      }

  std::map<std::string, int> worst, best;  // allocator -> latest / earliest verdict over its ok reps
  std::map<std::string, std::string> base_label;
  std::vector<Remedy> schedules;  // the rows' schedule remedies (pointers to them go into judge_row)
  schedules.reserve(names.size());
  for (const auto& [name, first] : names) {
    const auto it = by_alloc.find(name);
    const Remedy* remedy = nullptr;
    for (const auto& r : s.remedies)
      if (r.name == first->allocator) remedy = &r;
    if (name != first->allocator) remedy = &schedules.emplace_back(schedule_remedy(*first, remedy));
    Consensus c;
    sum.rows.push_back(judge_row(s, name, it->second, remedy, c));
    if (remedy) {
      worst[name] = c.latest;
    } else if (sum.rows.back().ok()) {
      best[name] = c.earliest;
      base_label[name] = c.label + (c.when.empty() ? "" : " (" + c.when + ")");
    }
  }
  // Base allocators first, in the run's order, then the remedies.
  std::stable_sort(sum.rows.begin(), sum.rows.end(), [](const results::ReproRow& a, const results::ReproRow& b) {
    return !a.is_remedy() && b.is_remedy();
  });
  std::map<std::string, Base> bases;
  for (const auto& row : sum.rows)
    if (best.count(row.allocator)) bases[row.allocator] = Base{best[row.allocator], base_label[row.allocator], &row};
  // A remedy worked when even its latest repetition beat the base's earliest.
  for (auto& row : sum.rows) {
    if (!row.is_remedy() || !row.ok()) continue;
    const auto b = bases.find(row.base);
    if (b == bases.end()) continue;
    row.worked = worst[row.allocator] < b->second.best;
    if (*row.worked)
      sum.remedies_worked.push_back(results::RemedyWorked{*row.remedy, row.base, row.env, row.remedy_what,
                                                          row.verdict_label, row.when, row.agreement, b->second.label});
  }
  sum.remedies_helped = helped_remedies(sum.rows, bases);
  return sum;
}

namespace {

// One row of the terminal table, with the lines under it.
std::string row_text(const results::ReproRow& row) {
  char b[512];
  std::snprintf(b, sizeof b, "  %-28s", row.allocator.c_str());
  std::string out = b;
  if (!row.ok()) return out + " FAILED: " + row.detail + "\n";
  double lazy_max = 0;
  for (int i = 0; i < kPhaseCount; ++i) {
    const auto* p = row.phase(i);
    if (!p) {
      std::snprintf(b, sizeof b, i == 0 ? " %8s" : " %14s", "-");
    } else {
      lazy_max = std::max(lazy_max, p->lazy_free / kMiB);
      if (i == 0) std::snprintf(b, sizeof b, " %8.1f", p->r / kMiB);
      else if (!p->returned) std::snprintf(b, sizeof b, " %8.1f %5s", p->r / kMiB, "-");
      else std::snprintf(b, sizeof b, " %8.1f %4.0f%%", p->r / kMiB, *p->returned * 100);
    }
    out += b;
  }
  out += "  " + row.verdict_label + (row.when.empty() ? "" : " (" + row.when + ")") + " " + row.agreement + "\n";
  if (!row.how.empty()) out += "      how: " + row.how + "\n";
  if (row.verdict == Verdict::kSplit) {
    std::string l = "      repetitions:";
    for (const auto& r : row.rep_verdicts)
      l += " " + (r.verdict ? std::string(verdict_id(*r.verdict)) + "(" + r.when + ")" : r.status);
    out += l + "\n";
  }
  if (lazy_max >= 1) {
    std::string l = "      LazyFree MiB (counted in RSS):";
    for (int i = 0; i < kPhaseCount; ++i)
      if (const auto* p = row.phase(i)) {
        std::snprintf(b, sizeof b, " %s %.1f", kPhaseLetters[i], p->lazy_free / kMiB);
        l += b;
      }
    out += l + "\n";
  }
  // Where R is after the frees: what no release can return versus what a release could.
  if (const auto* p = row.phase(1); p && p->breakdown) {
    const auto& o = *p->breakdown;
    std::snprintf(
        b, sizeof b,
        "      at F, MiB: live %.1f | fragmentation %.1f | no live block %.1f | LazyFree %.1f | metadata %.1f\n",
        o.live / kMiB, o.fragmentation / kMiB, o.retained / kMiB, o.lazy_free / kMiB, o.metadata / kMiB);
    out += b;
  }
  if (!row.is_remedy() && row.explanation) out += "      why: " + *row.explanation + "\n";
  return out;
}

}  // namespace

std::string render_summary_text(const results::ScenarioSummary& sum) {
  std::string out;
  char b[512];
  std::snprintf(b, sizeof b, "Scenario %d %s: %s\n  %s\n", sum.scenario, sum.slug.c_str(), sum.title.c_str(),
                sum.recipe.c_str());
  out += b;
  std::snprintf(b, sizeof b, "  %-28s %8s %14s %14s %14s %14s  %s\n", "allocator", "P MiB", "F MiB  ret", "I MiB  ret",
                "A MiB  ret", "R MiB  ret", "verdict (agreement)");
  out += b;
  for (const auto& row : sum.rows) out += row_text(row);
  if (sum.remedies_worked.empty() && sum.remedies_helped.empty())
    out += "  Remedies that worked: none measured here.\n";
  else if (!sum.remedies_worked.empty()) out += "  Remedies that worked (in every repetition):\n";
  for (const auto& w : sum.remedies_worked)
    out += "    " + w.remedy + " [" + w.allocator + results::env_text(w.env) + "]: " + w.verdict_label + " (" + w.when +
           ") " + w.agreement + ", was " + w.base_verdict + "; " + w.what + "\n";
  if (!sum.remedies_helped.empty())
    out += "  Remedies that helped (verdict unchanged; a quarter or more less kept above live at a phase):\n";
  for (const auto& h : sum.remedies_helped) out += "    " + h.text + "\n";
  return out;
}

}  // namespace heapmark::repro
