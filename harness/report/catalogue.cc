#include "harness/results/output_file.h"
#include "harness/report/catalogue.h"

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>

#include "common/input_error.h"
#include "harness/repro/verdicts.h"
#include "harness/report/page.h"
#include "harness/report/repro_section.h"

namespace json = boost::json;

namespace heapmark::report {
namespace {

std::string s(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string anchor(const json::object& sum) { return "s" + std::to_string(sum.at("scenario").to_number<int64_t>()); }

// One grid cell: the base allocator's verdict, its agreement, and the remedies
// that made it come back sooner.
TableCell verdict_cell(const json::object& sum, const std::string& allocator) {
  for (const auto& rv : sum.at("rows").as_array()) {
    const auto& row = rv.as_object();
    if (s(row, "allocator") != allocator) continue;
    if (s(row, "status") != "ok") {
      TableCell c("failed", s(row, "detail"));
      c.css = "v-unknown";
      return c;
    }
    const auto v = repro::verdict_from_id(s(row, "verdict"));
    std::string text = repro::info(v).tag;
    if (v == repro::Verdict::kReturned || v == repro::Verdict::kLazy) text += " " + s(row, "when");
    TableCell c(text, s(row, "agreement"));
    std::string fixes;
    for (const auto& wv : sum.at("remedies_worked").as_array())
      if (s(wv.as_object(), "allocator") == allocator)
        fixes += (fixes.empty() ? "" : ", ") + s(wv.as_object(), "remedy");
    if (!fixes.empty()) c.note += "; fixed by " + fixes;
    c.title = s(row, "verdict_label") + (s(row, "how").empty() ? "" : ": " + s(row, "how"));
    c.css = std::string("v-") + repro::verdict_id(v);
    c.href = "#" + anchor(sum);
    return c;
  }
  TableCell c("-");
  c.css = "v-unknown";
  return c;
}

std::string legend() {
  std::string l;
  for (const auto& v : repro::kVerdicts)
    if (v.verdict != repro::Verdict::kUnknown) l += std::string(l.empty() ? "" : "; ") + v.tag + ": " + v.label;
  return l +
         ". F, I, A, R: the phase by which 75% of the returnable memory was back (after the frees, idle, activity, "
         "the release hook). n/m: repetitions that reached this verdict.";
}

}  // namespace

Table catalogue_grid(const json::object& cat) {
  Table t;
  t.css_class = "verdicts";
  t.numeric = false;
  t.head = {"scenario"};
  for (const auto& a : cat.at("allocators").as_array()) t.head.emplace_back(a.as_string());
  for (const auto& sv : cat.at("scenarios").as_array()) {
    const auto& sum = sv.as_object();
    std::vector<TableCell> row{
        TableCell::heading(std::to_string(sum.at("scenario").to_number<int64_t>()) + " " + s(sum, "slug"))};
    row[0].href = "#" + anchor(sum);
    row[0].title = s(sum, "title");
    for (const auto& a : cat.at("allocators").as_array()) row.push_back(verdict_cell(sum, std::string(a.as_string())));
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string render_catalogue_html(const json::object& cat) {
  char head[256];
  std::snprintf(head, sizeof head, "%zu scenarios, %zu allocators, %lld repetitions each, %.0f s.",
                cat.at("scenarios").as_array().size(), cat.at("allocators").as_array().size(),
                static_cast<long long>(cat.at("reps").to_number<int64_t>()), cat.at("wall_s").to_number<double>());
  std::string b = "<h1>Why RES does not drop after free: the heapmark repro catalogue</h1>\n<p class=\"note\">" +
                  html_escape(head) +
                  " One self-contained page: no scripts, no network. Each cell links to its scenario; "
                  "hover for how the memory came back.</p>\n";
  if (const auto* p = cat.if_contains("preface_html"); p && p->is_string())
    b += std::string(p->as_string());  // diagnose's self-check
  b += "<nav>";
  for (const auto& sv : cat.at("scenarios").as_array())
    b += "<a href=\"#" + anchor(sv.as_object()) + "\">" + std::to_string(sv.at("scenario").to_number<int64_t>()) +
         "</a>";
  b += "</nav>\n<h2 id=\"grid\">Verdicts</h2>\n" + to_html(catalogue_grid(cat)) + "<p class=\"note\">" +
       html_escape(legend()) + "</p>\n<p class=\"note\">" + html_escape(repro_method_text()) + "</p>\n";
  for (const auto& sv : cat.at("scenarios").as_array()) {
    const auto& sum = sv.as_object();
    b += scenario_section_html(sum, anchor(sum), s(sum, "dir").empty() ? "" : s(sum, "dir") + "/report.html");
  }
  return html_page("heapmark repro catalogue", b);
}

std::string render_catalogue_md(const json::object& cat) {
  std::string m = "# Why RES does not drop after free: the heapmark repro catalogue\n\n";
  if (const auto* p = cat.if_contains("preface_md"); p && p->is_string()) m += std::string(p->as_string()) + "\n";
  m += to_markdown(catalogue_grid(cat)) + "\n" + legend() + "\n\n" + repro_method_text() + "\n";
  for (const auto& sv : cat.at("scenarios").as_array()) {
    const auto& sum = sv.as_object();
    m += scenario_section_md(sum, s(sum, "dir").empty() ? "" : s(sum, "dir") + "/summary.md");
  }
  return m;
}

CataloguePaths write_catalogue(const std::string& dir, const json::object& cat) {
  CataloguePaths p{dir + "/report.html", dir + "/summary.md", to_text(catalogue_grid(cat))};
  results::write_atomically(p.html, render_catalogue_html(cat));
  results::write_atomically(p.markdown, render_catalogue_md(cat));
  return p;
}

}  // namespace heapmark::report
