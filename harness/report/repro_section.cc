// Renders dir/repro.json (see harness/repro: verdicts per allocator and the
// remedies that worked) as one table model, in HTML and Markdown.
#include "harness/report/repro_section.h"

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "harness/report/table.h"
#include "workloads/repro/engine.h"

namespace json = boost::json;

namespace heapmark::report {
namespace {

using workloads::repro::kPhaseLetters;

std::optional<json::object> load(const Run& run) {
  std::ifstream in(run.dir + "/repro.json");
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

std::string s(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string mib(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", bytes / 1048576.0);
  return b;
}

Table verdict_table(const json::object& sum) {
  Table t;
  t.head = {"allocator", "P MiB", "F MiB", "I MiB", "A MiB", "R MiB", "verdict (agreement): how"};
  t.label_columns = 1;
  t.css_class = "repro";
  for (const auto& rv : sum.at("rows").as_array()) {
    const auto& row = rv.as_object();
    std::vector<TableCell> cells{TableCell::heading(s(row, "allocator"))};
    if (const auto* e = row.if_contains("env"); e && e->is_object())
      for (const auto& [k, v] : e->as_object())
        if (v.is_string())
          cells[0].note += (cells[0].note.empty() ? "" : " ") + std::string(k) + "=" + std::string(v.as_string());
    const auto& ph = row.at("phases").as_array();
    for (int i = 0; i < static_cast<int>(workloads::repro::kPhases); ++i) {
      if (i >= static_cast<int>(ph.size()) || ph[i].is_null()) {
        cells.emplace_back("-");
        continue;
      }
      const auto& p = ph[i].as_object();
      TableCell c(mib(p.at("r").to_number<double>()));
      if (i > 0 && !p.at("returned").is_null()) {
        const double ret = p.at("returned").to_number<double>();
        char b[32];
        std::snprintf(b, sizeof b, "%.0f%% returned", ret * 100);
        c.note = b;
        c.heat = 1.0 - ret;
      }
      if (const auto* bd = p.if_contains("breakdown"); bd && bd->is_object()) {
        const auto& o = bd->as_object();
        c.title = std::string(kPhaseLetters[i]) + ": live " + mib(o.at("live").to_number<double>()) +
                  " MiB, fragmentation " + mib(o.at("fragmentation").to_number<double>()) + " MiB, no live block " +
                  mib(o.at("retained").to_number<double>()) + " MiB, LazyFree " +
                  mib(o.at("lazy_free").to_number<double>()) + " MiB, metadata " +
                  mib(o.at("metadata").to_number<double>()) + " MiB";
      }
      cells.push_back(std::move(c));
    }
    TableCell v(s(row, "verdict_label") + (s(row, "when").empty() ? "" : " (" + s(row, "when") + ")"),
                s(row, "agreement"));
    if (!s(row, "how").empty()) v.note += (v.note.empty() ? "" : ": ") + s(row, "how");
    v.css = "v-" + s(row, "verdict");
    if (s(row, "status") != "ok") v = TableCell("failed", s(row, "detail"));
    if (const auto* e = row.if_contains("explanation"); e && e->is_string()) v.title = std::string(e->as_string());
    cells.push_back(std::move(v));
    t.rows.push_back(std::move(cells));
  }
  return t;
}

std::string heading(const json::object& sum) {
  return "Scenario " + std::to_string(sum.at("scenario").to_number<int64_t>()) + " (" + s(sum, "slug") +
         "): " + s(sum, "title");
}

std::vector<std::string> explanations(const json::object& sum) {
  std::vector<std::string> out;
  for (const auto& rv : sum.at("rows").as_array()) {
    const auto& row = rv.as_object();
    if (!row.at("remedy").is_null()) continue;
    if (const auto* e = row.if_contains("explanation"); e && e->is_string())
      out.push_back(s(row, "allocator") + " (" + s(row, "verdict_label") + "): " + std::string(e->as_string()));
  }
  return out;
}

std::vector<std::string> remedies(const json::object& sum) {
  std::vector<std::string> out;
  for (const auto& wv : sum.at("remedies_worked").as_array()) {
    const auto& w = wv.as_object();
    std::string env;
    for (const auto& [k, v] : w.at("env").as_object())
      if (v.is_string()) env += (env.empty() ? "" : " ") + std::string(k) + "=" + std::string(v.as_string());
    out.push_back(s(w, "remedy") + " [" + s(w, "allocator") + " " + env + "]: " + s(w, "verdict") + " (" +
                  s(w, "when") + ") " + s(w, "agreement") + ", was " + s(w, "base_verdict") + "; " + s(w, "what"));
  }
  // Remedies that kept materially less without changing the verdict (repro's summary words each one).
  if (const auto* h = sum.if_contains("remedies_helped"); h && h->is_array())
    for (const auto& x : h->as_array()) out.push_back("helped, verdict unchanged: " + s(x.as_object(), "text"));
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

std::string scenario_section_html(const json::object& sum, const std::string& id, const std::string& details) {
  std::string b =
      "<h2 id=\"" + html_escape(id) + "\">" + html_escape(heading(sum)) + "</h2>\n<p>" + html_escape(s(sum, "recipe"));
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

std::string scenario_section_md(const json::object& sum, const std::string& details) {
  std::string m = "\n## " + heading(sum) + "\n\n" + s(sum, "recipe") +
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
  const auto sum = load(run);
  if (!sum) return "";
  return scenario_section_html(*sum, "repro", "") + "<p class=\"note\">" + html_escape(kMethod) + "</p>\n";
}

std::string repro_section_md(const Run& run) {
  const auto sum = load(run);
  if (!sum) return "";
  return scenario_section_md(*sum, "") + "\n" + kMethod + "\n";
}

}  // namespace heapmark::report
