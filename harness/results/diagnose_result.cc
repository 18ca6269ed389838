// diagnose.json (see diagnose_result.h): the writer and the reader side by side.
#include "harness/results/diagnose_result.h"

#include "harness/results/json_fields.h"

namespace json = boost::json;

namespace heapmark::results {
namespace {

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

std::vector<std::string> strings_from(const Fields& f, const char* k) {
  std::vector<std::string> out;
  f.each(k, [&](const json::value& x, const std::string& p) {
    if (!x.is_string()) throw InputError(f.source() + ": " + p + ": expected a string");
    out.emplace_back(x.as_string());
  });
  return out;
}

}  // namespace

json::object to_json(const SelfCheck& c) {
  json::object o{{"checked", c.checked}, {"tolerance", c.tolerance}};
  if (!c.checked) {
    o["not_checked"] = c.not_checked;
    return o;
  }
  json::array ends;
  for (const auto& x : c.phase_ends)
    ends.push_back(json::object{{"phase", x.phase},
                                {"t_s", x.t_s},
                                {"recorded_lo", x.recorded_lo},
                                {"recorded_hi", x.recorded_hi},
                                {"replayed", x.replayed},
                                {"diff", x.diff},
                                {"diff_pct", x.diff_pct},
                                {"live_recorded", x.live_recorded},
                                {"live_replayed", x.live_replayed}});
  o["allocator"] = c.allocator;
  o["cells"] = c.cells;
  o["phase_ends"] = std::move(ends);
  o["run"] = json::object{
      {"diff", c.run_diff}, {"t_s", c.run_diff_t_s}, {"recorded_peak", c.recorded_peak}, {"diff_pct", c.run_diff_pct}};
  o["flagged"] = c.flagged;
  o["run_over_tolerance"] = c.run_over_tolerance;
  o["causes"] = strings(c.causes);
  o["line"] = c.line;
  return o;
}

namespace {

SelfCheck self_check_from(const json::value& v, const std::string& source, const std::string& path) {
  const Fields f(v, source, path);
  SelfCheck c;
  c.checked = f.boolean("checked", false);
  c.tolerance = f.number("tolerance");
  if (!c.checked) {
    c.not_checked = f.text("not_checked", false);
    return c;
  }
  c.allocator = f.text("allocator");
  c.cells = f.integer("cells");
  f.each("phase_ends", [&](const json::value& x, const std::string& p) {
    const Fields e(x, source, p);
    c.phase_ends.push_back(SelfCheckEnd{e.text("phase"), e.number("t_s"), e.number("recorded_lo"),
                                        e.number("recorded_hi"), e.number("replayed"), e.number("diff"),
                                        e.number("diff_pct"), e.number("live_recorded"), e.number("live_replayed")});
  });
  if (f.object("run")) {
    const Fields r(f.need("run"), source, path + ".run");
    c.run_diff = r.number("diff");
    c.run_diff_t_s = r.number("t_s");
    c.recorded_peak = r.number("recorded_peak");
    c.run_diff_pct = r.number("diff_pct");
  }
  c.flagged = f.boolean("flagged", false);
  c.run_over_tolerance = f.boolean("run_over_tolerance", false);
  c.causes = strings_from(f, "causes");
  c.line = f.text("line", false);
  return c;
}

json::object holders_json(const PinningSites& h) {
  json::array sites;
  for (const auto& x : h.sites)
    sites.push_back(json::object{{"site", x.site},
                                 {"name", x.name},
                                 {"frames", strings(x.frames)},
                                 {"pinned", x.pinned},
                                 {"pinned_share", x.pinned_share},
                                 {"live", x.live},
                                 {"blocks", x.blocks},
                                 {"median_age_s", x.median_age_s ? json::value(*x.median_age_s) : json::value()}});
  return json::object{{"allocator", h.allocator},
                      {"phase", h.phase},
                      {"cells", h.cells},
                      {"r", h.r},
                      {"pinned", h.pinned},
                      {"live", h.live},
                      {"site_count", h.site_count},
                      {"sites", std::move(sites)},
                      {"unknown", json::object{{"pinned", h.unknown_pinned}, {"live", h.unknown_live}}},
                      {"other", json::object{{"pinned", h.other_pinned}, {"live", h.other_live}}}};
}

PinningSites holders_from(const json::value& v, const std::string& source, const std::string& path) {
  const Fields f(v, source, path);
  PinningSites h;
  h.allocator = f.text("allocator");
  h.phase = f.text("phase", false);
  h.cells = f.count("cells");
  h.r = f.number("r");
  h.pinned = f.number("pinned");
  h.live = f.number("live");
  h.site_count = f.count("site_count");
  f.each("sites", [&](const json::value& x, const std::string& p) {
    const Fields s(x, source, p);
    h.sites.push_back(PinningSite{static_cast<uint32_t>(s.count("site")), s.text("name"), strings_from(s, "frames"),
                                  s.number("pinned"), s.number("pinned_share"), s.number("live"), s.number("blocks"),
                                  s.maybe_number("median_age_s")});
  });
  for (const char* k : {"unknown", "other"}) {
    if (!f.object(k)) continue;
    const Fields g(f.need(k), source, path + "." + k);
    (k[0] == 'u' ? h.unknown_pinned : h.other_pinned) = g.number("pinned");
    (k[0] == 'u' ? h.unknown_live : h.other_live) = g.number("live");
  }
  return h;
}

}  // namespace

json::object to_json(const DiagnoseResult& d) {
  json::array holders;
  for (const auto& h : d.holders) holders.push_back(holders_json(h));
  return json::object{{"schema", "heapmark-diagnose"},
                      {"schema_version", 1},
                      {"trace", d.trace},
                      {"program", d.program},
                      {"events", d.events},
                      {"threads", d.threads},
                      {"peak_s", d.peak_s},
                      {"peak_live", d.peak_live},
                      {"final_s", d.final_s},
                      {"final_live", d.final_live},
                      {"at", d.at},
                      {"self_check", to_json(d.self_check)},
                      {"recommendation", strings(d.recommendation)},
                      {"holders", std::move(holders)},
                      {"summary", to_json(d.summary)}};
}

DiagnoseResult diagnose_result_from_json(const json::value& v, const std::string& source) {
  const Fields f(v, source, "$");
  if (f.text("schema", false) != "heapmark-diagnose")
    f.fail("not a heapmark diagnose result (schema \"heapmark-diagnose\")", "schema");
  if (f.integer("schema_version") != 1) f.fail("schema_version 1 is the one this heapmark reads", "schema_version");
  DiagnoseResult d;
  d.trace = f.text("trace");
  d.program = f.text("program", false);
  d.events = f.count("events");
  d.threads = f.count("threads");
  d.peak_s = f.number("peak_s");
  d.peak_live = f.count("peak_live");
  d.final_s = f.number("final_s");
  d.final_live = f.count("final_live");
  d.at = f.text("at", false);
  d.self_check = self_check_from(f.need("self_check"), source, "$.self_check");
  d.recommendation = strings_from(f, "recommendation");
  f.each("holders",
         [&](const json::value& x, const std::string& p) { d.holders.push_back(holders_from(x, source, p)); });
  d.summary = scenario_summary_from_json(f.need("summary"), source + " ($.summary)");
  return d;
}

DiagnoseResult read_diagnose_result(const std::string& dir) {
  const std::string path = dir + "/diagnose.json";
  return diagnose_result_from_json(read_json_file(path), path);
}

}  // namespace heapmark::results
