// Renders dir/repro.json (see harness/repro: verdicts per allocator and the
// remedies that worked) as one table model, in HTML and Markdown.
#include "harness/report/repro_section.h"

#include <cstdio>

#include "harness/report/table.h"

namespace heapmark::report {
namespace {

using results::kReproPhaseLetters;

std::string mib(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", bytes / 1048576.0);
  return b;
}

// One phase end of one row: R, the share returned (as heat), the breakdown on hover.
TableCell phase_cell(const results::PhaseMedians& p, int i) {
  TableCell c(mib(p.r));
  if (i > 0 && p.returned) {
    char b[32];
    std::snprintf(b, sizeof b, "%.0f%% returned", *p.returned * 100);
    c.note = b;
    c.heat = 1.0 - *p.returned;
  }
  if (const auto& o = p.breakdown)
    c.title = std::string(kReproPhaseLetters[i]) + ": live " + mib(o->live) + " MiB, fragmentation " +
              mib(o->fragmentation) + " MiB, no live block " + mib(o->retained) + " MiB, LazyFree " +
              mib(o->lazy_free) + " MiB, metadata " + mib(o->metadata) + " MiB";
  return c;
}

Table verdict_table(const results::ScenarioSummary& sum) {
  Table t;
  t.head = {"allocator", "P MiB", "F MiB", "I MiB", "A MiB", "R MiB", "verdict (agreement): how"};
  t.label_columns = 1;
  t.css_class = "repro";
  for (const auto& row : sum.rows) {
    std::vector<TableCell> cells{TableCell::heading(row.allocator)};
    const std::string env = results::env_text(row.env);
    if (!env.empty()) cells[0].note = env.substr(1);
    for (int i = 0; i < results::kReproPhases; ++i)
      cells.push_back(row.phase(i) ? phase_cell(*row.phase(i), i) : TableCell("-"));
    TableCell v(row.verdict_label + (row.when.empty() ? "" : " (" + row.when + ")"), row.agreement);
    if (!row.how.empty()) v.note += (v.note.empty() ? "" : ": ") + row.how;
    v.css = std::string("v-") + results::verdict_id(row.verdict);
    if (!row.ok()) v = TableCell("failed", row.detail);
    if (row.explanation) v.title = *row.explanation;
    cells.push_back(std::move(v));
    t.rows.push_back(std::move(cells));
  }
  return t;
}

std::string heading(const results::ScenarioSummary& sum) {
  return "Scenario " + std::to_string(sum.scenario) + " (" + sum.slug + "): " + sum.title;
}

std::vector<std::string> explanations(const results::ScenarioSummary& sum) {
  std::vector<std::string> out;
  for (const auto& row : sum.rows)
    if (!row.is_remedy() && row.explanation)
      out.push_back(row.allocator + " (" + row.verdict_label + "): " + *row.explanation);
  return out;
}

std::vector<std::string> remedies(const results::ScenarioSummary& sum) {
  std::vector<std::string> out;
  for (const auto& w : sum.remedies_worked)
    out.push_back(w.remedy + " [" + w.allocator + results::env_text(w.env) + "]: " + w.verdict_label + " (" + w.when +
                  ") " + w.agreement + ", was " + w.base_verdict + "; " + w.what);
  // Remedies that kept materially less without changing the verdict (repro's summary words each one).
  for (const auto& h : sum.remedies_helped) out.push_back("helped, verdict unchanged: " + h.text);
  return out;
}

const char* kMethod =
    "RSS is R = anonymous RSS minus the cell's baseline, read at the end of each phase: P peak, F after the frees, "
    "I after idling (idle_ms without allocator calls; an allocator that returns memory from a background thread "
    "idles up to its return horizon), A after activity like a program's (activity_rate calls per ms per thread of "
    "log-uniform activity_sizes over activity_slots live blocks) that lasts until RSS is back at the live level or "
    "the allocator's own return horizon (its decay or purge delay, as it reports it) plus a margin has passed, at "
    "most max_ms; R after the allocator's release hook. Each cell's parameters and horizon are in its results. "
    "\"Returned\" is (R at P - R) / (R at P - live): the share of what could have left RSS that did; figures are "
    "medians over the repetitions. A repetition's verdict names the first phase where at least 75% was returned; "
    "after release, fragmentation when pages holding live blocks keep most of the rest. The verdict shown is the one "
    "every repetition reached, with the agreement (3/3), or split; a remedy worked when every repetition of it beat "
    "every repetition of its base. Hover over a phase for its RSS breakdown and over a verdict for the mechanism "
    "(shown only when it matches the measurement).";

}  // namespace

std::string scenario_section_html(const results::ScenarioSummary& sum, const std::string& id,
                                  const std::string& details) {
  std::string b =
      "<h2 id=\"" + html_escape(id) + "\">" + html_escape(heading(sum)) + "</h2>\n<p>" + html_escape(sum.recipe);
  if (!details.empty()) b += " <a href=\"" + html_escape(details) + "\">RSS timelines and every figure</a>";
  b += "</p>\n" + to_html(verdict_table(sum));
  const auto ex = explanations(sum);
  if (!ex.empty()) {
    b += "<h3>Why</h3>\n<ul>";
    for (const auto& e : ex) b += "<li>" + html_escape(e) + "</li>";
    b += "</ul>\n";
  }
  const auto rem = remedies(sum);
  b += "<h3>Remedies that worked or helped</h3>\n";
  if (rem.empty()) b += "<p>None measured here.</p>\n";
  else {
    b += "<ul>";
    for (const auto& r : rem) b += "<li>" + html_escape(r) + "</li>";
    b += "</ul>\n";
  }
  return b;
}

std::string scenario_section_md(const results::ScenarioSummary& sum, const std::string& details) {
  std::string m = "\n## " + heading(sum) + "\n\n" + sum.recipe +
                  (details.empty() ? "" : " [Details](" + details + ")") + "\n\n" + to_markdown(verdict_table(sum));
  const auto ex = explanations(sum);
  if (!ex.empty()) {
    m += "\nWhy:\n\n";
    for (const auto& e : ex) m += "- " + e + "\n";
  }
  m += "\nRemedies that worked or helped:\n\n";
  const auto rem = remedies(sum);
  if (rem.empty()) m += "None measured here.\n";
  for (const auto& r : rem) m += "- " + r + "\n";
  return m;
}

const char* repro_method_text() { return kMethod; }

std::string repro_section_html(const Run& run) {
  const auto sum = results::read_scenario_summary(run.dir);
  if (!sum) return "";
  return scenario_section_html(*sum, "repro", "") + "<p class=\"note\">" + html_escape(kMethod) + "</p>\n";
}

std::string repro_section_md(const Run& run) {
  const auto sum = results::read_scenario_summary(run.dir);
  if (!sum) return "";
  return scenario_section_md(*sum, "") + "\n" + kMethod + "\n";
}

}  // namespace heapmark::report
