// The one writer and reader of repro.json (see repro_result.h).
#include "harness/results/repro_result.h"

#include <boost/json.hpp>
#include <fstream>

#include "common/input_error.h"
#include "harness/results/json_fields.h"

namespace json = boost::json;

namespace heapmark::results {
namespace {

json::value opt(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }
json::value opt(const std::optional<std::string>& v) { return v ? json::value(*v) : json::value(nullptr); }

json::object env_json(const EnvMap& env) {
  json::object o;
  for (const auto& [k, v] : env) o[k] = v;
  return o;
}

json::object phase_json(int i, const PhaseMedians& p) {
  json::object o{{"phase", kReproPhaseLetters[i]},
                 {"r", p.r},
                 {"live", p.live},
                 {"lazy_free", p.lazy_free},
                 {"returned", opt(p.returned)}};
  if (const auto& b = p.breakdown)
    o["breakdown"] = json::object{{"live", b->live},
                                  {"fragmentation", b->fragmentation},
                                  {"retained", b->retained},
                                  {"lazy_free", b->lazy_free},
                                  {"metadata", b->metadata}};
  return o;
}

json::object row_json(const ReproRow& r) {
  json::object o{{"allocator", r.allocator}, {"kind", r.kind},    {"base", r.base},
                 {"remedy", opt(r.remedy)},  {"reps", r.reps},    {"ok_reps", r.ok_reps},
                 {"env", env_json(r.env)},   {"status", r.status}};
  if (!r.detail.empty()) o["detail"] = r.detail;
  json::array reps;
  for (const auto& v : r.rep_verdicts) {
    json::object x{{"rep", v.rep}, {"status", v.status}};
    if (v.verdict) {
      x["verdict"] = verdict_id(*v.verdict);
      x["when"] = v.when;
    }
    if (v.after_s) x["after_s"] = *v.after_s;
    reps.push_back(std::move(x));
  }
  o["rep_verdicts"] = std::move(reps);
  o["verdict"] = verdict_id(r.verdict);
  o["verdict_label"] = r.verdict_label;
  o["when"] = r.when;
  o["agreement"] = r.agreement;
  o["how"] = r.how;
  json::array phases;
  for (int i = 0; i < static_cast<int>(r.phases.size()); ++i)
    phases.push_back(r.phases[i] ? json::value(phase_json(i, *r.phases[i])) : json::value(nullptr));
  o["phases"] = std::move(phases);
  o["explanation"] = opt(r.explanation);
  if (r.is_remedy()) o["remedy_what"] = r.remedy_what;
  if (r.worked) o["worked"] = *r.worked;
  if (r.helped) o["helped"] = json::object{{"phase", r.helped->phase}, {"less", r.helped->less}};
  return o;
}

Verdict verdict_at(const Fields& f, const char* k) {
  const std::string id = f.text(k);
  const Verdict v = verdict_from_id(id);
  if (v == Verdict::kUnknown && id != verdict_id(Verdict::kUnknown)) {
    std::string valid;
    for (const auto& x : kVerdicts) valid += (valid.empty() ? "" : ", ") + std::string(x.id);
    f.fail("unknown verdict '" + id + "' (valid: " + valid + ")", k);
  }
  return v;
}

PhaseMedians phase_from(const json::value& v, const std::string& source, const std::string& path) {
  const Fields f(v, source, path);
  PhaseMedians p;
  p.r = f.number("r");
  p.live = f.number("live");
  p.lazy_free = f.number("lazy_free");
  p.returned = f.maybe_number("returned");
  if (const auto* b = f.find("breakdown")) {
    const Fields g(*b, source, path + ".breakdown");
    p.breakdown = MedianBreakdown{g.number("live"), g.number("fragmentation"), g.number("retained"),
                                  g.number("lazy_free"), g.number("metadata")};
  }
  return p;
}

ReproRow row_from(const json::value& v, const std::string& source, const std::string& path) {
  const Fields f(v, source, path);
  ReproRow r;
  r.allocator = f.text("allocator");
  r.kind = f.text("kind", false);
  r.base = f.text("base", false);
  if (r.base.empty()) r.base = r.allocator;
  r.remedy = f.maybe_text("remedy");
  r.reps = f.integer("reps");
  r.ok_reps = f.integer("ok_reps");
  r.env = f.env("env");
  r.status = f.text("status");
  r.detail = f.text("detail", false);
  f.each("rep_verdicts", [&](const json::value& x, const std::string& p) {
    const Fields g(x, source, p);
    RepVerdict rv{g.integer("rep"), g.text("status"), std::nullopt, g.text("when", false), g.maybe_number("after_s")};
    if (g.find("verdict")) rv.verdict = verdict_at(g, "verdict");
    r.rep_verdicts.push_back(std::move(rv));
  });
  r.verdict = verdict_at(f, "verdict");
  r.verdict_label = f.text("verdict_label");
  r.when = f.text("when", false);
  r.agreement = f.text("agreement", false);
  r.how = f.text("how", false);
  f.each("phases", [&](const json::value& x, const std::string& p) {
    r.phases.push_back(x.is_null() ? std::nullopt : std::optional(phase_from(x, source, p)));
  });
  r.explanation = f.maybe_text("explanation");
  r.remedy_what = f.text("remedy_what", false);
  if (f.find("worked")) r.worked = f.boolean("worked", false);
  if (const auto* h = f.find("helped")) {
    const Fields g(*h, source, path + ".helped");
    r.helped = ReproRow::Helped{g.text("phase"), g.number("less")};
  }
  return r;
}

}  // namespace

const PhaseMedians* ReproRow::phase(int i) const {
  return i >= 0 && i < static_cast<int>(phases.size()) && phases[i] ? &*phases[i] : nullptr;
}

const ReproRow* ScenarioSummary::row(const std::string& allocator) const {
  for (const auto& r : rows)
    if (r.allocator == allocator) return &r;
  return nullptr;
}

std::string env_text(const EnvMap& env) {
  std::string out;
  for (const auto& [k, v] : env) out += " " + k + "=" + v;
  return out;
}

json::object to_json(const ScenarioSummary& s) {
  json::object o{
      {"scenario", s.scenario}, {"slug", s.slug}, {"title", s.title}, {"recipe", s.recipe}, {"threshold", s.threshold}};
  json::array rows, worked, helped;
  for (const auto& r : s.rows) rows.push_back(row_json(r));
  for (const auto& w : s.remedies_worked)
    worked.push_back(json::object{{"remedy", w.remedy},
                                  {"allocator", w.allocator},
                                  {"env", env_json(w.env)},
                                  {"what", w.what},
                                  {"verdict", w.verdict_label},
                                  {"when", w.when},
                                  {"agreement", w.agreement},
                                  {"base_verdict", w.base_verdict}});
  for (const auto& h : s.remedies_helped)
    helped.push_back(json::object{{"remedy", h.remedy},
                                  {"allocator", h.allocator},
                                  {"env", env_json(h.env)},
                                  {"phase", h.phase},
                                  {"less", h.less},
                                  {"kept", h.kept},
                                  {"base_kept", h.base_kept},
                                  {"text", h.text}});
  o["rows"] = std::move(rows);
  o["remedies_worked"] = std::move(worked);
  o["remedies_helped"] = std::move(helped);
  if (!s.dir.empty()) o["dir"] = s.dir;
  return o;
}

json::object to_json(const Catalogue& c) {
  json::array command, allocators, scenarios;
  for (const auto& x : c.command_line) command.push_back(json::string(x));
  for (const auto& x : c.allocators) allocators.push_back(json::string(x));
  for (const auto& s : c.scenarios) scenarios.push_back(to_json(s));
  json::object o{{"schema", "heapmark-repro-catalogue"},
                 {"schema_version", 1},
                 {"command_line", std::move(command)},
                 {"dir", c.dir},
                 {"reps", c.reps},
                 {"jobs", c.jobs},
                 {"mib", c.mib},
                 {"wall_s", c.wall_s},
                 {"allocators", std::move(allocators)},
                 {"complete", c.complete},
                 {"exit_status", c.exit_status},
                 {"scenarios", std::move(scenarios)}};
  if (!c.preface_md.empty()) o["preface_md"] = c.preface_md;
  if (!c.preface_html.empty()) o["preface_html"] = c.preface_html;
  return o;
}

ScenarioSummary scenario_summary_from_json(const json::value& v, const std::string& source) {
  const Fields f(v, source, "$");
  ScenarioSummary s;
  s.scenario = f.integer("scenario");
  s.slug = f.text("slug");
  s.title = f.text("title");
  s.recipe = f.text("recipe", false);
  s.threshold = f.find("threshold") ? f.number("threshold") : 0;
  f.each("rows", [&](const json::value& x, const std::string& p) { s.rows.push_back(row_from(x, source, p)); });
  f.each("remedies_worked", [&](const json::value& x, const std::string& p) {
    const Fields g(x, source, p);
    s.remedies_worked.push_back(RemedyWorked{g.text("remedy"), g.text("allocator"), g.env("env"), g.text("what", false),
                                             g.text("verdict"), g.text("when", false), g.text("agreement", false),
                                             g.text("base_verdict", false)});
  });
  f.each("remedies_helped", [&](const json::value& x, const std::string& p) {
    const Fields g(x, source, p);
    s.remedies_helped.push_back(RemedyHelped{g.text("remedy"), g.text("allocator"), g.env("env"), g.text("phase"),
                                             g.number("less"), g.number("kept"), g.number("base_kept"),
                                             g.text("text")});
  });
  s.dir = f.text("dir", false);
  return s;
}

Catalogue catalogue_from_json(const json::value& v, const std::string& source) {
  const Fields f(v, source, "$");
  if (f.text("schema", false) != "heapmark-repro-catalogue")
    f.fail("not a heapmark repro catalogue (schema \"heapmark-repro-catalogue\")", "schema");
  Catalogue c;
  f.each("command_line", [&](const json::value& x, const std::string&) {
    if (x.is_string()) c.command_line.emplace_back(x.as_string());
  });
  c.dir = f.text("dir", false);
  c.reps = f.integer("reps");
  c.jobs = f.find("jobs") ? f.integer("jobs") : 0;
  c.mib = f.find("mib") ? f.integer("mib") : 0;
  c.wall_s = f.find("wall_s") ? f.number("wall_s") : 0;
  f.each("allocators", [&](const json::value& x, const std::string& p) {
    if (!x.is_string()) throw InputError(source + ": " + p + ": expected an allocator name");
    c.allocators.emplace_back(x.as_string());
  });
  c.complete = f.boolean("complete", false);
  c.exit_status = f.find("exit_status") ? f.integer("exit_status") : 0;
  f.each("scenarios", [&](const json::value& x, const std::string& p) {
    c.scenarios.push_back(scenario_summary_from_json(x, source + " (" + p + ")"));
  });
  c.preface_html = f.text("preface_html", false);
  c.preface_md = f.text("preface_md", false);
  return c;
}

std::optional<ScenarioSummary> read_scenario_summary(const std::string& dir) {
  const std::string path = dir + "/repro.json";
  if (!std::ifstream(path)) return std::nullopt;
  return scenario_summary_from_json(read_json_file(path), path);
}

Catalogue read_catalogue(const std::string& dir) {
  const std::string path = dir + "/repro.json";
  return catalogue_from_json(read_json_file(path), path);
}

}  // namespace heapmark::results
