// One scenario's results directory judged: every repetition's verdict from its
// measured phase ends, the verdict they agree on (or "split"), how the memory
// came back, and which remedies worked. Written as repro.json beside the cells.
#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <map>

#include "harness/metrics/fragmentation.h"
#include "harness/repro/repro.h"
#include "harness/report/results.h"

namespace json = boost::json;

namespace heapmark::repro {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
using workloads::repro::kActP;
using workloads::repro::kFreeP;

std::string str(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

double number(const json::value& v, const char* k) {
  const auto* x = v.is_object() ? v.as_object().if_contains(k) : nullptr;
  return x && x->is_number() ? x->to_number<double>() : NAN;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

json::value num_or_null(double v) { return std::isnan(v) ? json::value(nullptr) : json::value(v); }

// The wait of phase i of one cell, or null.
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

json::array median_phases(const std::vector<const Rep*>& ok) {
  json::array out;
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
      out.push_back(nullptr);
      continue;
    }
    json::object p{{"phase", kPhaseLetters[i]},
                   {"r", median(r)},
                   {"live", median(live)},
                   {"lazy_free", median(lazy)},
                   {"returned", num_or_null(median(ret))}};
    if (breakdown)
      p["breakdown"] = json::object{{"live", median(live)},
                                    {"fragmentation", median(frag)},
                                    {"retained", median(retained)},
                                    {"lazy_free", median(lazy)},
                                    {"metadata", median(meta)}};
    out.push_back(std::move(p));
  }
  return out;
}

// What the repetitions of one allocator say together: the verdict all of them
// reached (or split, with the count of each), the agreement, each one's verdict.
struct Consensus {
  Verdict verdict = Verdict::kUnknown;
  std::string when, label = verdict_label(Verdict::kUnknown), agreement;
  int latest = -1, earliest = 99;  // lateness over the ok repetitions
  json::array rep_verdicts;
};

Consensus consensus(const std::vector<Rep>& reps) {
  Consensus c;
  std::map<std::pair<Verdict, std::string>, int> votes;
  for (const auto& r : reps) {
    json::object rv{{"rep", r.cell->rep}, {"status", r.cell->status}};
    if (r.ok) {
      rv["verdict"] = verdict_id(r.a.verdict);
      rv["when"] = r.a.when;
      const int at = phase_index(r.a.when);
      if (at == 2 || at == 3)
        if (const results::Wait* w = wait_of(*r.cell, at); w && w->returned_after_s)
          rv["after_s"] = *w->returned_after_s;
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

// " K=V K=V": a row's environment, as the summary's lines show it.
std::string env_text(const json::value& env) {
  std::string out;
  for (const auto& [k, v] : env.as_object())
    if (v.is_string()) out += " " + std::string(k) + "=" + std::string(v.as_string());
  return out;
}

// A base allocator's row as the remedies are judged against it.
struct Base {
  int best = 99;
  std::string label;
  json::array phases;  // medians
};

// A remedy helped when, at a phase after the frees (F, I or A), it kept at
// least kHelpedShare less of what its base kept above the live bytes (and at
// least 1 MiB; medians), even where the verdict's words stay the same. Marks
// such rows "helped" and returns them as the summary lists them; a remedy that
// worked is listed once, as having worked.
json::array helped_remedies(json::array& rows, const std::map<std::string, Base>& bases) {
  json::array helped;
  for (auto& rv : rows) {
    auto& row = rv.as_object();
    if (row["remedy"].is_null() || row["status"] != "ok" || (row.contains("worked") && row["worked"].as_bool()))
      continue;
    const auto b = bases.find(str(row, "base"));
    if (b == bases.end()) continue;
    const auto& mine = row["phases"].as_array();
    const auto& theirs = b->second.phases;
    int best = -1;
    double best_less = 0;
    for (int i = kFreeP; i <= static_cast<int>(kActP) && i < static_cast<int>(std::min(mine.size(), theirs.size()));
         ++i) {
      const double less = number(theirs[i], "r") - number(mine[i], "r");
      if (less >= kHelpedShare * (number(theirs[i], "r") - number(theirs[i], "live")) && less >= kMiB &&
          less > best_less) {
        best = i;
        best_less = less;
      }
    }
    if (best < 0) continue;
    row["helped"] = json::object{{"phase", kPhaseLetters[best]}, {"less", best_less}};
    char text[768];
    std::snprintf(text, sizeof text, "%s [%s%s]: %.1f MiB less at %s than %s (%.1f vs %.1f MiB), verdict still %s; %s",
                  str(row, "remedy").c_str(), str(row, "base").c_str(), env_text(row["env"]).c_str(), best_less / kMiB,
                  kPhaseLetters[best], str(row, "base").c_str(), number(mine[best], "r") / kMiB,
                  number(theirs[best], "r") / kMiB, str(row, "verdict_label").c_str(), str(row, "remedy_what").c_str());
    helped.push_back(json::object{{"remedy", row["remedy"]},
                                  {"allocator", row["base"]},
                                  {"env", row["env"]},
                                  {"phase", kPhaseLetters[best]},
                                  {"less", best_less},
                                  {"kept", number(mine[best], "r")},
                                  {"base_kept", number(theirs[best], "r")},
                                  {"text", text}});
  }
  return helped;
}

}  // namespace

std::optional<double> returned_share(const PhasePoint& peak, const PhasePoint& at, bool count_lazy) {
  if (!peak.present || !at.present) return std::nullopt;
  return metrics::returned_share(peak.r, at.r - (count_lazy ? at.lazy_free : 0.0), at.live);
}

json::object scenario_summary(const Scenario& s, const std::string& run_dir) {
  const report::Run run = report::read_run(run_dir);
  json::object sum{{"scenario", s.id},
                   {"slug", s.slug},
                   {"title", s.title},
                   {"recipe", s.recipe_text},
                   {"threshold", metrics::kReturnedShare}};
  // Repetitions by allocator, in the run's allocator order.
  std::map<std::string, std::vector<Rep>> by_alloc;
  for (const auto& c : run.cells) by_alloc[c.allocator].push_back(judge(c));

  json::array rows;
  std::map<std::string, Base> bases;
  std::map<std::string, int> worst;  // allocator -> latest verdict over its ok reps
  for (const auto& name : run.allocators) {
    const auto it = by_alloc.find(name);
    if (it == by_alloc.end()) continue;
    const auto& reps = it->second;
    const results::CellResult& first = *reps[0].cell;
    const Remedy* remedy = nullptr;
    for (const auto& r : s.remedies)
      if (r.name == name) remedy = &r;
    std::vector<const Rep*> ok;
    for (const auto& r : reps)
      if (r.ok) ok.push_back(&r);

    json::object row{{"allocator", name},
                     {"kind", first.allocator_kind},
                     {"base", remedy ? remedy->allocator : name},
                     {"remedy", remedy ? json::value(remedy->name) : json::value(nullptr)},
                     {"reps", reps.size()},
                     {"ok_reps", ok.size()}};
    json::object env;
    for (const auto& [k, v] : first.env) env[k] = v;
    row["env"] = std::move(env);
    row["status"] = ok.empty() ? "failed" : "ok";
    if (ok.size() < reps.size())
      for (const auto& r : reps)
        if (!r.ok) {
          row["detail"] = r.cell->cause + ": " + r.cell->detail;
          break;
        }
    const Consensus c = consensus(reps);
    const Verdict v = c.verdict;
    const std::string& when = c.when;
    const std::string& label = c.label;
    const int latest = c.latest, earliest = c.earliest;
    row["rep_verdicts"] = c.rep_verdicts;
    row["verdict"] = verdict_id(v);
    row["verdict_label"] = label;
    row["when"] = when;
    row["agreement"] = c.agreement;
    row["how"] = v == Verdict::kSplit ? "" : how(v, when, ok);
    row["phases"] = median_phases(ok);
    // A split has its own explanation where the scenario wrote one (why repetitions disagree).
    const Explanation* ex = explanation_for(s, remedy ? remedy->allocator : name, first.allocator_kind, v);
    row["explanation"] = ex ? json::value(ex->text) : json::value(nullptr);
    if (remedy) {
      row["remedy_what"] = remedy->what;
      worst[name] = latest;
    } else if (!ok.empty()) {
      bases[name] = Base{earliest, label + (when.empty() ? "" : " (" + when + ")"), row["phases"].as_array()};
    }
    rows.push_back(std::move(row));
  }
  // A remedy worked when even its latest repetition beat the base's earliest.
  json::array worked;
  for (auto& rv : rows) {
    auto& row = rv.as_object();
    if (row["remedy"].is_null() || row["status"] != "ok") continue;
    const auto b = bases.find(str(row, "base"));
    if (b == bases.end()) continue;
    const bool better = worst[str(row, "allocator")] < b->second.best;
    row["worked"] = better;
    if (better)
      worked.push_back(json::object{{"remedy", row["remedy"]},
                                    {"allocator", row["base"]},
                                    {"env", row["env"]},
                                    {"what", row["remedy_what"]},
                                    {"verdict", row["verdict_label"]},
                                    {"when", row["when"]},
                                    {"agreement", row["agreement"]},
                                    {"base_verdict", b->second.label}});
  }
  json::array helped = helped_remedies(rows, bases);
  // Base allocators first, in the run's order, then the remedies.
  std::stable_sort(rows.begin(), rows.end(), [](const json::value& a, const json::value& b) {
    return a.as_object().at("remedy").is_null() && !b.as_object().at("remedy").is_null();
  });
  sum["rows"] = std::move(rows);
  sum["remedies_worked"] = std::move(worked);
  sum["remedies_helped"] = std::move(helped);
  return sum;
}

std::string render_summary_text(const json::object& sum) {
  std::string out;
  char b[512];
  std::snprintf(b, sizeof b, "Scenario %d %s: %s\n  %s\n", static_cast<int>(sum.at("scenario").to_number<int64_t>()),
                str(sum, "slug").c_str(), str(sum, "title").c_str(), str(sum, "recipe").c_str());
  out += b;
  std::snprintf(b, sizeof b, "  %-28s %8s %14s %14s %14s %14s  %s\n", "allocator", "P MiB", "F MiB  ret", "I MiB  ret",
                "A MiB  ret", "R MiB  ret", "verdict (agreement)");
  out += b;
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
    out += line + "  " + verdict + " " + str(row, "agreement") + "\n";
    if (!str(row, "how").empty()) out += "      how: " + str(row, "how") + "\n";
    if (str(row, "verdict") == "split") {
      std::string l = "      repetitions:";
      for (const auto& r : row.at("rep_verdicts").as_array())
        l += " " + (r.as_object().contains("verdict")
                        ? str(r.as_object(), "verdict") + "(" + str(r.as_object(), "when") + ")"
                        : str(r.as_object(), "status"));
      out += l + "\n";
    }
    if (lazy_max >= 1) {
      std::string l = "      LazyFree MiB (counted in RSS):";
      for (int i = 0; i < kPhaseCount; ++i)
        if (!ph[i].is_null()) {
          std::snprintf(b, sizeof b, " %s %.1f", kPhaseLetters[i],
                        ph[i].as_object().at("lazy_free").to_number<double>() / kMiB);
          l += b;
        }
      out += l + "\n";
    }
    // Where R is after the frees: what no release can return versus what a release could.
    if (!ph[1].is_null()) {
      const auto& p = ph[1].as_object();
      if (const auto* bd = p.if_contains("breakdown")) {
        const auto& o = bd->as_object();
        std::snprintf(
            b, sizeof b,
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
  static const json::array kNone;
  const auto* hp = sum.if_contains("remedies_helped");
  const json::array& helped = hp && hp->is_array() ? hp->as_array() : kNone;
  if (worked.empty() && helped.empty()) out += "  Remedies that worked: none measured here.\n";
  else if (!worked.empty()) out += "  Remedies that worked (in every repetition):\n";
  for (const auto& wv : worked) {
    const auto& w = wv.as_object();
    out += "    " + str(w, "remedy") + " [" + str(w, "allocator") + env_text(w.at("env")) + "]: " + str(w, "verdict") +
           " (" + str(w, "when") + ") " + str(w, "agreement") + ", was " + str(w, "base_verdict") + "; " +
           str(w, "what") + "\n";
  }
  if (!helped.empty())
    out += "  Remedies that helped (verdict unchanged; a quarter or more less kept above live at a phase):\n";
  for (const auto& h : helped) out += "    " + str(h.as_object(), "text") + "\n";
  return out;
}

}  // namespace heapmark::repro
