// The repro catalogue page (see catalogue.h).
#include "harness/report/catalogue.h"

#include <cstdio>

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
    std::vector<TableCell> row{TableCell::heading(std::to_string(sum.scenario) + " " + sum.slug)};
    row[0].href = "#" + anchor(sum);
    row[0].title = sum.title;
    for (const auto& a : cat.allocators) row.push_back(verdict_cell(sum, a));
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string render_catalogue_html(const results::Catalogue& cat) {
  char head[256];
  std::snprintf(head, sizeof head, "%zu scenarios, %zu allocators, %d repetitions each, %.0f s.", cat.scenarios.size(),
                cat.allocators.size(), cat.reps, cat.wall_s);
  std::string b = "<h1>Why RES does not drop after free: the heapmark repro catalogue</h1>\n<p class=\"note\">" +
                  html_escape(head) +
                  " One self-contained page: no scripts, no network. Each cell links to its scenario; "
                  "hover for how the memory came back.</p>\n";
  b += cat.preface_html;  // diagnose's self-check
  b += "<nav>";
  for (const auto& sum : cat.scenarios)
    b += "<a href=\"#" + anchor(sum) + "\">" + std::to_string(sum.scenario) + "</a>";
  b += "</nav>\n<h2 id=\"grid\">Verdicts</h2>\n" + to_html(catalogue_grid(cat)) + "<p class=\"note\">" +
       html_escape(legend()) + "</p>\n<p class=\"note\">" + html_escape(repro_method_text()) + "</p>\n";
  for (const auto& sum : cat.scenarios)
    b += scenario_section_html(sum, anchor(sum), sum.dir.empty() ? "" : sum.dir + "/report.html");
  return html_page("heapmark repro catalogue", b);
}

std::string render_catalogue_md(const results::Catalogue& cat) {
  std::string m = "# Why RES does not drop after free: the heapmark repro catalogue\n\n";
  if (!cat.preface_md.empty()) m += cat.preface_md + "\n";
  m += to_markdown(catalogue_grid(cat)) + "\n" + legend() + "\n\n" + repro_method_text() + "\n";
  for (const auto& sum : cat.scenarios) m += scenario_section_md(sum, sum.dir.empty() ? "" : sum.dir + "/summary.md");
  return m;
}

CataloguePaths write_catalogue(const std::string& dir, const results::Catalogue& cat) {
  CataloguePaths p{dir + "/report.html", dir + "/summary.md", to_text(catalogue_grid(cat))};
  results::write_atomically(p.html, render_catalogue_html(cat));
  results::write_atomically(p.markdown, render_catalogue_md(cat));
  return p;
}

}  // namespace heapmark::report
