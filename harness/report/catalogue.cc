// The repro catalogue page (see catalogue.h).
#include "harness/report/catalogue.h"

#include <cstdio>

#include "harness/report/document.h"
#include "harness/report/page.h"
#include "harness/report/repro_section.h"
#include "harness/results/output_file.h"

namespace heapmark::report {
namespace {

using results::Verdict;

std::string anchor(const results::ScenarioSummary& sum) { return "s" + std::to_string(sum.scenario); }

// One grid cell: the base allocator's verdict, its agreement, and the remedies
// that made it come back sooner.
TableCell verdict_cell(const results::ScenarioSummary& sum, const std::string& allocator) {
  const results::ReproRow* row = sum.row(allocator);
  if (!row) {
    TableCell c("-");
    c.css = "v-unknown";
    return c;
  }
  if (!row->ok()) {
    TableCell c("failed", row->detail);
    c.css = "v-unknown";
    return c;
  }
  std::string text = results::info(row->verdict).tag;
  if (row->verdict == Verdict::kReturned || row->verdict == Verdict::kLazy) text += " " + row->when;
  TableCell c(text, row->agreement);
  std::string fixes;
  for (const auto& w : sum.remedies_worked)
    if (w.allocator == allocator) fixes += (fixes.empty() ? "" : ", ") + w.remedy;
  if (!fixes.empty()) c.note += "; fixed by " + fixes;
  c.title = row->verdict_label + (row->how.empty() ? "" : ": " + row->how);
  c.css = std::string("v-") + results::verdict_id(row->verdict);
  c.href = "#" + anchor(sum);
  return c;
}

std::string legend() {
  std::string l;
  for (const auto& v : results::kVerdicts)
    if (v.verdict != Verdict::kUnknown) l += std::string(l.empty() ? "" : "; ") + v.tag + ": " + v.label;
  return l +
         ". F, I, A, R: the phase by which 75% of the returnable memory was back (after the frees, idle, activity, "
         "the release hook). n/m: repetitions that reached this verdict.";
}

}  // namespace

Table catalogue_grid(const results::Catalogue& cat) {
  Table t;
  t.css_class = "verdicts";
  t.numeric = false;
  t.head = {"scenario"};
  for (const auto& a : cat.allocators) t.head.push_back(a);
  for (const auto& sum : cat.scenarios) {
    std::vector<TableCell> row{HeadingCell(std::to_string(sum.scenario) + " " + sum.slug)};
    row[0].href = "#" + anchor(sum);
    row[0].title = sum.title;
    for (const auto& a : cat.allocators) row.push_back(verdict_cell(sum, a));
    t.rows.push_back(std::move(row));
  }
  return t;
}

namespace {

Document catalogue_document(const results::Catalogue& cat) {
  char head[256];
  std::snprintf(head, sizeof head, "%zu scenarios, %zu allocators, %d repetitions each, %.0f s.", cat.scenarios.size(),
                cat.allocators.size(), cat.reps, cat.wall_s);
  Document d;
  d.heading(1, "Why RES does not drop after free: the heapmark repro catalogue");
  d.note(std::string(head) +
         " One self-contained page: no scripts, no network. Each cell links to its scenario; hover for how the memory "
         "came back.")
      .only(Block::In::kHtml);
  d.note(head).only(Block::In::kMarkdown);
  d.html(cat.preface_html).markdown(cat.preface_md);  // diagnose's self-check
  std::vector<std::pair<std::string, std::string>> nav;
  for (const auto& sum : cat.scenarios) nav.emplace_back(std::to_string(sum.scenario), "#" + anchor(sum));
  d.links(std::move(nav));
  d.heading(2, "Verdicts", "grid").table(catalogue_grid(cat)).note(legend()).note(repro_method_text());
  for (const auto& sum : cat.scenarios)
    add_scenario_section(d, sum, anchor(sum), sum.dir.empty() ? "" : sum.dir + "/report.html",
                         sum.dir.empty() ? "" : sum.dir + "/summary.md");
  return d;
}

}  // namespace

CataloguePaths write_catalogue(const std::string& dir, const results::Catalogue& cat) {
  CataloguePaths p{dir + "/report.html", dir + "/summary.md", to_text(catalogue_grid(cat))};
  const Document doc = catalogue_document(cat);
  results::write_atomically(p.html, html_page("heapmark repro catalogue", to_html(doc)));
  results::write_atomically(p.markdown, to_markdown(doc));
  return p;
}

}  // namespace heapmark::report
