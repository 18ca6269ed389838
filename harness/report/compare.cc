// Matching two runs and judging each figure's change (see compare.h).
#include "harness/report/compare.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <map>
#include <set>

#include "harness/report/page.h"
#include "harness/report/summary.h"
#include "harness/report/svg.h"
#include "harness/report/table.h"
#include "harness/results/fingerprint.h"

namespace heapmark::report {
namespace {

struct Key {
  std::string workload, params_id, allocator;
  auto operator<=>(const Key&) const = default;
};

struct Side {
  std::vector<const Cell*> ok;
  int failed = 0;
  std::set<std::string> checksums;
  std::map<std::string, std::string> params;
};

std::map<Key, Side> index_run(const Run& r) {
  std::map<Key, Side> m;
  for (const auto& c : r.cells) {
    Side& s = m[{c.workload, c.params_id, c.allocator}];
    if (c.ok()) s.ok.push_back(&c);
    else ++s.failed;
    if (c.program) s.checksums.insert(c.program->checksum);
    s.params = c.params;
  }
  return m;
}

// Labels show only the parameters that vary, over both runs.
std::map<std::pair<std::string, std::string>, std::string> labels(const Run& a, const Run& b) {
  std::map<std::string, std::map<std::string, std::set<std::string>>> seen;
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::string>> groups;
  for (const Run* r : {&a, &b})
    for (const auto& c : r->cells) {
      for (const auto& [k, v] : c.params) seen[c.workload][k].insert(v);
      groups[{c.workload, c.params_id}] = c.params;
    }
  std::map<std::pair<std::string, std::string>, std::string> out;
  for (const auto& [g, params] : groups) {
    std::string label = g.first;
    for (const auto& [k, v] : params)
      if (seen[g.first][k].size() > 1) label += " " + k + "=" + v;
    out[g] = label;
  }
  return out;
}

Table rows_table(const Comparison& c) {
  Table t;
  t.css_class = "compare";
  t.label_columns = 3;
  t.head = {"workload", "allocator", "figure", "a (median)", "b (median)", "b vs a [95% interval]", "verdict"};
  for (const auto& r : c.rows) {
    TableCell verdict(r.verdict_text());
    if (r.verdict == Verdict::kWorse) verdict.heat = 1.0;
    if (r.verdict == Verdict::kBetter) verdict.heat = 0.0;
    std::string change = format_change(r.figure, r.change.point);
    if (r.change.n >= 1 && std::isfinite(r.change.lo)) {
      const bool ratio = r.figure.scale == Scale::kRatio;
      char buf[64];
      std::snprintf(buf, sizeof buf, " [%.2f, %.2f]", r.change.lo, r.change.hi);
      change += ratio ? std::string(buf) : " [" + format_points(r.change.lo) + ", " + format_points(r.change.hi) + "]";
    }
    TableCell figure(r.figure.title);
    figure.title = r.figure.help;
    t.rows.push_back({TableCell(r.label), TableCell(r.allocator), figure,
                      TableCell(format_value(r.figure, r.a_median), "n=" + std::to_string(r.a.size())),
                      TableCell(format_value(r.figure, r.b_median), "n=" + std::to_string(r.b.size())),
                      TableCell(change), verdict});
  }
  return t;
}

struct Tally {
  int better = 0, worse = 0, same = 0, unknown = 0;
};

Tally count(const Comparison& c) {
  Tally t;
  for (const auto& r : c.rows) {
    t.better += r.verdict == Verdict::kBetter;
    t.worse += r.verdict == Verdict::kWorse;
    t.same += r.verdict == Verdict::kSame;
    t.unknown += r.verdict == Verdict::kUnknown;
  }
  return t;
}

std::string tally(const Comparison& c) {
  const auto [better, worse, same, unknown] = count(c);
  return std::to_string(c.rows.size()) + " comparisons: " + std::to_string(better) + " better, " +
         std::to_string(worse) + " worse, " + std::to_string(same) + " same within noise" +
         (unknown ? ", " + std::to_string(unknown) + " undecided (fewer than 2 repetitions on a side, or no value)"
                  : "");
}

std::vector<std::string> notes(const Comparison& c) {
  std::vector<std::string> n;
  for (const auto& s : c.only_in_a) n.push_back("only in a: " + s);
  for (const auto& s : c.only_in_b) n.push_back("only in b: " + s);
  for (const auto& w : c.warnings) n.push_back("warning: " + w);
  return n;
}

}  // namespace

std::string CompareRow::verdict_text() const {
  switch (verdict) {
    case Verdict::kSame: return "same (within noise)";
    case Verdict::kBetter: return figure.better_word;
    case Verdict::kWorse: return figure.worse_word;
    case Verdict::kUnknown: return "undecided";
  }
  return "";
}

std::string compare_method_text() {
  return "b vs a is median(b)/median(a) over each run's ok repetitions (for fractions: median(b) - median(a) in "
         "percentage points, pp). The 95% interval is a percentile bootstrap: 4000 resamples, each run's repetitions "
         "resampled with replacement independently, fixed seed. The verdict is \"same (within noise)\" when the "
         "interval contains 1 (or 0 pp), and needs at least 2 repetitions on each side.";
}

Comparison compare_runs(const Run& a, const Run& b, const std::vector<Figure>& figures) {
  Comparison c;
  c.a_dir = a.dir;
  c.b_dir = b.dir;
  c.a_id = a.run_id;
  c.b_id = b.run_id;
  const auto ia = index_run(a), ib = index_run(b);
  // The same allocator name with another library, version or configuration is worth saying out loud.
  const auto infos_b = allocator_infos(b);
  for (const auto& x : allocator_infos(a))
    for (const auto& y : infos_b)
      if (x.name == y.name && (x.library != y.library || x.env != y.env || x.version != y.version))
        c.warnings.push_back("allocator " + x.name + " differs: a is " + x.version + " " + x.library + " " + x.env +
                             ", b is " + y.version + " " + y.library + " " + y.env);
  // Figures from two machine types compare the machines as much as the allocators.
  const auto& fa = a.info.fingerprint;
  const auto& fb = b.info.fingerprint;
  if (!fa.digest().empty() && !fb.digest().empty() && fa.digest() != fb.digest())
    c.warnings.push_back("the runs come from different machines: " +
                         results::fingerprint_difference(fa.facts, fb.facts));
  for (const Run* r : {&a, &b})
    if (r->ignored_partial_line) c.warnings.push_back(r->dir + ": the incomplete last line of cells.jsonl was ignored");
  const auto label = labels(a, b);
  for (const auto& [k, sa] : ia) {
    const std::string name = label.at({k.workload, k.params_id}) + " / " + k.allocator;
    const auto it = ib.find(k);
    if (it == ib.end()) {
      c.only_in_a.push_back(name);
      continue;
    }
    const Side& sb = it->second;
    if (!sa.checksums.empty() && !sb.checksums.empty() && sa.checksums != sb.checksums)
      c.warnings.push_back(name +
                           ": the runs executed different programs (other seed or generator): not like with like");
    if (sa.failed || sb.failed)
      c.warnings.push_back(name + ": failed cells left out (a: " + std::to_string(sa.failed) +
                           ", b: " + std::to_string(sb.failed) + ")");
    const bool program = !sa.ok.empty() && sa.ok.front()->run.has_value();
    for (const auto& f : figures) {
      if (!program && program_only(f)) continue;  // wall time of a generator cell is mostly its setup
      CompareRow r;
      r.workload = k.workload;
      r.params_id = k.params_id;
      r.label = label.at({k.workload, k.params_id});
      r.allocator = k.allocator;
      r.params = sa.params;
      r.figure = f;
      for (const Cell* cell : sa.ok)
        if (auto v = cell->number(f.path); v && std::isfinite(*v)) r.a.push_back(*v);
      for (const Cell* cell : sb.ok)
        if (auto v = cell->number(f.path); v && std::isfinite(*v)) r.b.push_back(*v);
      if (r.a.empty() && r.b.empty()) continue;
      const bool higher =
          f.direction_from_program && program ? sa.ok.front()->run->metric_higher_is_better : f.higher_is_better;
      r.higher_is_better = higher;
      r.a_median = stats::median(r.a);
      r.b_median = stats::median(r.b);
      r.change = f.scale == Scale::kRatio ? stats::bootstrap_ratio_of_medians(r.a, r.b)
                                          : stats::bootstrap_diff_of_medians(r.a, r.b);
      const double neutral = f.scale == Scale::kRatio ? 1 : 0;
      if (std::isfinite(r.change.point)) {
        const double delta = f.scale == Scale::kRatio ? (r.change.point - 1) * 100 : r.change.point * 100;
        r.worse_by = higher ? -delta : delta;
      }
      if (r.a.size() < 2 || r.b.size() < 2 || !std::isfinite(r.change.lo) || !std::isfinite(r.change.hi)) {
        r.verdict = Verdict::kUnknown;
      } else if (r.change.lo <= neutral && neutral <= r.change.hi) {
        r.verdict = Verdict::kSame;
      } else {
        const bool up = r.change.lo > neutral;
        r.verdict = up == higher ? Verdict::kBetter : Verdict::kWorse;
      }
      c.rows.push_back(std::move(r));
    }
  }
  for (const auto& [k, sb] : ib)
    if (!ia.count(k)) c.only_in_b.push_back(label.at({k.workload, k.params_id}) + " / " + k.allocator);
  return c;
}

std::vector<const CompareRow*> regressions(const Comparison& c, double pct) {
  std::vector<const CompareRow*> out;
  for (const auto& r : c.rows)
    if (r.verdict == Verdict::kWorse && r.worse_by > pct) out.push_back(&r);
  return out;
}

int compare_exit_status(const Comparison& c, double fail_pct) {
  return fail_pct >= 0 && !regressions(c, fail_pct).empty() ? kExitRegression : 0;
}

namespace {

namespace json = boost::json;

json::value number_or_null(double v) {
  return std::isfinite(v) ? json::value(v == 0.0 ? 0.0 : v) : json::value(nullptr);
}

const char* unit_id(Unit u) {
  switch (u) {
    case Unit::kOpsPerS: return "ops/s";
    case Unit::kNs: return "ns";
    case Unit::kBytes: return "bytes";
    case Unit::kFraction: return "fraction";
    case Unit::kSeconds: return "s";
    case Unit::kCount: return "count";
  }
  return "";
}

const char* verdict_id(Verdict v) {
  switch (v) {
    case Verdict::kSame: return "same";
    case Verdict::kBetter: return "better";
    case Verdict::kWorse: return "worse";
    case Verdict::kUnknown: return "undecided";
  }
  return "";
}

json::object side_json(const std::vector<double>& values, double median) {
  json::array v;
  for (double x : values) v.push_back(number_or_null(x));
  return {{"n", values.size()}, {"median", number_or_null(median)}, {"values", std::move(v)}};
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.push_back(json::string(s));
  return a;
}

}  // namespace

json::object compare_json(const Comparison& c, double fail_pct) {
  const auto bad = fail_pct >= 0 ? regressions(c, fail_pct) : std::vector<const CompareRow*>{};
  json::array rows;
  for (const auto& r : c.rows) {
    json::object params;
    for (const auto& [k, v] : r.params) params[k] = v;
    const bool ratio = r.figure.scale == Scale::kRatio;
    rows.push_back(json::object{{"workload", r.workload},
                                {"params_id", r.params_id},
                                {"params", std::move(params)},
                                {"label", r.label},
                                {"allocator", r.allocator},
                                {"figure", json::object{{"path", r.figure.path},
                                                        {"title", r.figure.title},
                                                        {"unit", unit_id(r.figure.unit)},
                                                        {"higher_is_better", r.higher_is_better},
                                                        {"scale", ratio ? "ratio" : "difference"}}},
                                {"a", side_json(r.a, r.a_median)},
                                {"b", side_json(r.b, r.b_median)},
                                {"change", json::object{{"point", number_or_null(r.change.point)},
                                                        {"lo", number_or_null(r.change.lo)},
                                                        {"hi", number_or_null(r.change.hi)}}},
                                {"verdict", verdict_id(r.verdict)},
                                {"verdict_text", r.verdict_text()},
                                {"worse_by", number_or_null(r.worse_by)},
                                {"regression", std::find(bad.begin(), bad.end(), &r) != bad.end()}});
  }
  const Tally t = count(c);
  // The most severe verdict of any row: what a CI gate reads first.
  const char* overall = !bad.empty() ? "regression"
                        : t.worse    ? "worse"
                        : t.better   ? "better"
                        : t.same     ? "same"
                                     : "undecided";
  return json::object{{"schema", "heapmark-compare"},
                      {"schema_version", 1},
                      {"a", json::object{{"dir", c.a_dir}, {"run_id", c.a_id}}},
                      {"b", json::object{{"dir", c.b_dir}, {"run_id", c.b_id}}},
                      {"method", compare_method_text()},
                      {"fail_on_regression_pct", fail_pct >= 0 ? json::value(fail_pct) : json::value(nullptr)},
                      {"rows", std::move(rows)},
                      {"tally", json::object{{"comparisons", c.rows.size()},
                                             {"better", t.better},
                                             {"worse", t.worse},
                                             {"same", t.same},
                                             {"undecided", t.unknown}}},
                      {"regressions", bad.size()},
                      {"only_in_a", strings(c.only_in_a)},
                      {"only_in_b", strings(c.only_in_b)},
                      {"warnings", strings(c.warnings)},
                      {"verdict", overall},
                      {"exit_status", compare_exit_status(c, fail_pct)}};
}

std::string compare_text(const Comparison& c) {
  std::string s = "heapmark compare\n  a: " + c.a_dir + " (run " + c.a_id + ")\n  b: " + c.b_dir + " (run " + c.b_id +
                  ")\n" + compare_method_text() + "\n\n";
  s += to_text(rows_table(c)) + "\n" + tally(c) + "\n";
  for (const auto& n : notes(c)) s += n + "\n";
  return s;
}

std::string compare_markdown(const Comparison& c) {
  std::string s = "# heapmark compare\n\n- a: `" + c.a_dir + "` (run " + c.a_id + ")\n- b: `" + c.b_dir + "` (run " +
                  c.b_id + ")\n\n" + compare_method_text() + "\n\n" + to_markdown(rows_table(c)) + "\n" + tally(c) +
                  "\n";
  const auto n = notes(c);
  if (!n.empty()) s += "\n";
  for (const auto& line : n) s += "- " + line + "\n";
  return s;
}

std::string compare_html(const Comparison& c) {
  std::string b = "<h1>heapmark compare</h1>\n<table class=\"context\"><tbody><tr><th>a</th><td>" +
                  html_escape(c.a_dir) + " (run " + html_escape(c.a_id) + ")</td></tr><tr><th>b</th><td>" +
                  html_escape(c.b_dir) + " (run " + html_escape(c.b_id) +
                  ")</td></tr></tbody></table>\n<p class=\"note\">" + html_escape(compare_method_text()) +
                  " Green: b better; red: b worse.</p>\n";
  b += "<p>" + html_escape(tally(c)) + "</p>\n<div class=\"charts\">\n";
  // One interval chart per figure: every matched cell's b vs a at a glance.
  std::vector<std::string> seen;
  for (const auto& r0 : c.rows) {
    if (std::find(seen.begin(), seen.end(), r0.figure.path) != seen.end()) continue;
    seen.push_back(r0.figure.path);
    svg::IntervalChart chart;
    chart.id = "cmp-" + std::to_string(seen.size());
    chart.title = r0.figure.title + ": b vs a";
    const bool ratio = r0.figure.scale == Scale::kRatio;
    chart.reference = ratio ? 1 : 0;
    chart.x.log = ratio;
    chart.x.label = ratio ? "median(b) / median(a), log scale (95% bootstrap interval)"
                          : "median(b) - median(a), percentage points (95% bootstrap interval)";
    if (ratio) chart.x.format = [](double v) { return format_sig(v, 2) + "×"; };
    else chart.x.format = [](double v) { return format_points(v); };
    for (const auto& r : c.rows) {
      if (r.figure.path != r0.figure.path) continue;
      const std::string colour = r.verdict == Verdict::kWorse    ? "#cf222e"
                                 : r.verdict == Verdict::kBetter ? "#1a7f37"
                                                                 : "#6e7781";
      chart.rows.push_back({r.label + " / " + r.allocator, r.change.point, r.change.lo, r.change.hi, colour,
                            r.label + " / " + r.allocator + ": " + format_value(r.figure, r.a_median) + " -> " +
                                format_value(r.figure, r.b_median) + ", " + format_change(r.figure, r.change.point) +
                                ", " + r.verdict_text()});
    }
    chart.legend_notes = {{"<circle cx=\"12\" cy=\"6\" r=\"4\" fill=\"#1a7f37\"/>", "better"},
                          {"<circle cx=\"12\" cy=\"6\" r=\"4\" fill=\"#cf222e\"/>", "worse"},
                          {"<circle cx=\"12\" cy=\"6\" r=\"4\" fill=\"#6e7781\"/>", "same within noise or undecided"}};
    b += svg::render(chart);
  }
  b += "</div>\n" + to_html(rows_table(c));
  const auto n = notes(c);
  if (!n.empty()) {
    b += "<ul>";
    for (const auto& line : n) b += "<li>" + html_escape(line) + "</li>";
    b += "</ul>\n";
  }
  return html_page("heapmark compare " + c.a_id + " vs " + c.b_id, b);
}

}  // namespace heapmark::report
