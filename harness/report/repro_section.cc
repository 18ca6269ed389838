// Renders dir/repro.json (see harness/repro: verdicts per allocator and the
// remedies that worked) as blocks of the report's document.
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
    std::vector<TableCell> cells{HeadingCell(row.allocator)};
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

void add_scenario_section(Document& d, const results::ScenarioSummary& sum, const std::string& id,
                          const std::string& details_html, const std::string& details_md) {
  Table verdicts = verdict_table(sum);
  std::vector<std::string> why = explanations(sum), worked = remedies(sum);
  d.heading(2, heading(sum), id);
  if (details_html == details_md) d.paragraph(sum.recipe);
  else
    d.paragraph(sum.recipe, details_html, "RSS timelines and every figure")
        .only(Block::In::kHtml)
        .paragraph(sum.recipe, details_md, "Details")
        .only(Block::In::kMarkdown);
  d.table(std::move(verdicts));
  if (!why.empty()) d.heading(3, "Why").list(std::move(why));
  d.heading(3, "Remedies that worked or helped");
  if (worked.empty()) d.paragraph("None measured here.");
  else d.list(std::move(worked));
}

const char* repro_method_text() { return kMethod; }

void add_repro_section(Document& d, const Run& run) {
  const auto sum = results::read_scenario_summary(run.dir);
  if (!sum) return;
  add_scenario_section(d, *sum, "repro", "", "");
  d.note(kMethod);
}

}  // namespace heapmark::report
