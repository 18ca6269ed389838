// A cell's phases in cells.jsonl: each phase end's figures, its wait, its
// breakdown, who pins the memory (attribution) and the page map; written and
// read here (see cell_json.h).
#include "harness/results/cell_json_internal.h"

namespace heapmark::results::cell_json {
namespace {

json::object site_json(const SiteShare& s) {
  return json::object{{"site", s.site},
                      {"blocks", s.blocks},
                      {"live", s.live},
                      {"pinned", s.pinned},
                      {"median_age_ms", opt(s.median_age_ms)}};
}

json::object attribution_json(const Attribution& a) {
  json::array sites;
  for (const auto& s : a.sites) sites.push_back(site_json(s));
  return json::object{{"site_count", a.site_count}, {"clock_ms", opt(a.clock_ms)},     {"seconds", a.seconds},
                      {"sites", std::move(sites)},  {"unknown", site_json(a.unknown)}, {"other", site_json(a.other)}};
}

json::object page_map_json(const PageMap& m) {
  json::object pages;
  for (int s = 0; s < 5; ++s) pages[kPageStateNames[s]] = m.pages[s];
  json::array buckets;
  for (const auto& b : m.buckets) buckets.push_back(json::array{b[0], b[1], b[2], b[3], b[4]});
  return json::object{
      {"pages_per_bucket", m.pages_per_bucket}, {"shown_pages", m.shown_pages}, {"mappings", m.mappings},
      {"lazyfree_known", m.lazyfree_known},     {"pages", std::move(pages)},    {"buckets", std::move(buckets)}};
}

}  // namespace

json::object phase_json(const PhaseResult& p) {
  json::object po{{"index", p.index}, {"name", p.name}, {"begin_s", p.begin_s}};
  if (const auto& e = p.end) {
    po["end_s"] = e->end_s;
    po["ops"] = e->ops;
    po["op_ns_mean"] = e->op_ns_mean;
    po["rss"] = e->rss;
    po["anonymous"] = e->anonymous;
    po["lazy_free"] = e->lazy_free;
    po["anon_huge_pages"] = e->anon_huge_pages;
    po["r"] = e->r;
    po["live_bytes"] = e->live_bytes;
    po["live_usable"] = e->live_usable;
    po["live_blocks"] = e->live_blocks;
    po["rho"] = opt(e->rho);
    if (const auto& w = e->wait) {
      json::object wo{{"kind", w->kind},
                      {"stop", w->stop},
                      {"planned_ms", w->planned_ms},
                      {"lasted_s", w->lasted_s},
                      {"returned_after_s", opt(w->returned_after_s)}};
      if (w->activity_calls) wo["activity_calls"] = *w->activity_calls;
      if (w->activity_peak_live) wo["activity_peak_live"] = *w->activity_peak_live;
      po["wait"] = std::move(wo);
    }
    if (!e->reported.empty()) po["reported"] = pairs(e->reported);
    if (const auto& b = e->breakdown)
      po["breakdown"] = json::object{{"live", b->live},         {"fragmentation", b->fragmentation},
                                     {"retained", b->retained}, {"lazy_free", b->lazy_free},
                                     {"metadata", b->metadata}, {"live_page_bytes", b->live_page_bytes}};
    if (e->attribution) po["attribution"] = attribution_json(*e->attribution);
    if (e->page_map) po["page_map"] = page_map_json(*e->page_map);
    if (!e->counters.empty()) {
      json::object co;
      for (const auto& [k, v] : e->counters) co[k] = v;
      po["counters"] = std::move(co);
      if (e->counters_multiplexed) po["counters_multiplexed"] = true;
    }
  }
  json::object st;
  for (const auto& [k, v] : p.allocator_stats) st[k] = v;
  po["allocator_stats"] = std::move(st);
  return po;
}

namespace {

SiteShare read_site(const Reader& rd, const json::object& o, const std::string& path) {
  return SiteShare{rd.integer<uint32_t>(o, "site", path).value_or(0),
                   rd.integer<uint64_t>(o, "blocks", path).value_or(0),
                   rd.integer<uint64_t>(o, "live", path).value_or(0), rd.num(o, "pinned", path).value_or(0),
                   rd.integer<int64_t>(o, "median_age_ms", path)};
}

Attribution read_attribution(const Reader& rd, const json::object& o, const std::string& path) {
  Attribution a;
  a.site_count = rd.integer<uint32_t>(o, "site_count", path).value_or(0);
  a.clock_ms = rd.integer<uint64_t>(o, "clock_ms", path);
  a.seconds = rd.num(o, "seconds", path).value_or(0);
  if (const auto* sites = rd.array(o, "sites", path))
    for (size_t i = 0; i < sites->size(); ++i) {
      const std::string sp = path + "sites[" + std::to_string(i) + "].";
      if (!(*sites)[i].is_object()) rd.fail(path + "sites[" + std::to_string(i) + "]", "an object");
      a.sites.push_back(read_site(rd, (*sites)[i].get_object(), sp));
    }
  if (const auto* u = rd.object(o, "unknown", path)) a.unknown = read_site(rd, *u, path + "unknown.");
  if (const auto* u = rd.object(o, "other", path)) a.other = read_site(rd, *u, path + "other.");
  return a;
}

PageMap read_page_map(const Reader& rd, const json::object& o, const std::string& path) {
  PageMap m;
  m.pages_per_bucket = rd.integer<uint64_t>(o, "pages_per_bucket", path).value_or(0);
  m.shown_pages = rd.integer<uint64_t>(o, "shown_pages", path).value_or(0);
  m.mappings = rd.integer<uint64_t>(o, "mappings", path).value_or(0);
  m.lazyfree_known = rd.boolean(o, "lazyfree_known", path);
  if (const auto* pages = rd.object(o, "pages", path))
    for (int s = 0; s < 5; ++s)
      m.pages[s] = rd.integer<uint64_t>(*pages, kPageStateNames[s], path + "pages.").value_or(0);
  if (const auto* buckets = rd.array(o, "buckets", path))
    for (size_t i = 0; i < buckets->size(); ++i) {
      const std::string bp = path + "buckets[" + std::to_string(i) + "]";
      const auto& b = (*buckets)[i];
      if (!b.is_array() || b.get_array().size() != 5) rd.fail(bp, "an array of 5 page counts");
      const auto v = rd.numbers(b.get_array(), bp);
      m.buckets.push_back({static_cast<uint32_t>(v[0]), static_cast<uint32_t>(v[1]), static_cast<uint32_t>(v[2]),
                           static_cast<uint32_t>(v[3]), static_cast<uint32_t>(v[4])});
    }
  return m;
}

}  // namespace

PhaseResult read_phase(const Reader& rd, const json::object& po, const std::string& path) {
  PhaseResult p;
  p.index = rd.integer<int>(po, "index", path).value_or(0);
  p.name = rd.str(po, "name", path);
  p.begin_s = rd.num(po, "begin_s", path).value_or(0);
  if (rd.find(po, "end_s") || rd.find(po, "r")) {  // a phase end was measured
    PhaseEndResult e;
    e.end_s = rd.num(po, "end_s", path).value_or(p.begin_s);
    e.ops = rd.integer<uint64_t>(po, "ops", path).value_or(0);
    e.op_ns_mean = rd.num(po, "op_ns_mean", path).value_or(0);
    e.rss = rd.integer<uint64_t>(po, "rss", path).value_or(0);
    e.anonymous = rd.integer<uint64_t>(po, "anonymous", path).value_or(0);
    e.lazy_free = rd.integer<uint64_t>(po, "lazy_free", path).value_or(0);
    e.anon_huge_pages = rd.integer<uint64_t>(po, "anon_huge_pages", path).value_or(0);
    e.r = rd.integer<int64_t>(po, "r", path).value_or(0);
    e.live_bytes = rd.integer<uint64_t>(po, "live_bytes", path).value_or(0);
    e.live_usable = rd.integer<uint64_t>(po, "live_usable", path).value_or(0);
    e.live_blocks = rd.integer<uint64_t>(po, "live_blocks", path).value_or(0);
    e.rho = rd.num(po, "rho", path);
    if (const auto* w = rd.object(po, "wait", path)) {
      const std::string wp = path + "wait.";
      e.wait = Wait{rd.str(*w, "kind", wp),
                    rd.str(*w, "stop", wp),
                    rd.integer<uint64_t>(*w, "planned_ms", wp).value_or(0),
                    rd.num(*w, "lasted_s", wp).value_or(0),
                    rd.num(*w, "returned_after_s", wp),
                    rd.integer<uint64_t>(*w, "activity_calls", wp),
                    rd.integer<uint64_t>(*w, "activity_peak_live", wp)};
    }
    if (const auto* b = rd.object(po, "breakdown", path)) {
      const std::string bp = path + "breakdown.";
      e.breakdown = Breakdown{rd.integer<uint64_t>(*b, "live", bp).value_or(0),
                              rd.integer<uint64_t>(*b, "fragmentation", bp).value_or(0),
                              rd.integer<uint64_t>(*b, "retained", bp).value_or(0),
                              rd.integer<uint64_t>(*b, "lazy_free", bp).value_or(0),
                              rd.integer<uint64_t>(*b, "metadata", bp).value_or(0),
                              rd.integer<uint64_t>(*b, "live_page_bytes", bp).value_or(0)};
    }
    if (const auto* rp = rd.object(po, "reported", path)) e.reported = rd.text_pairs(*rp, path + "reported.");
    if (const auto* a = rd.object(po, "attribution", path))
      e.attribution = read_attribution(rd, *a, path + "attribution.");
    if (const auto* m = rd.object(po, "page_map", path)) e.page_map = read_page_map(rd, *m, path + "page_map.");
    if (const auto* co = rd.object(po, "counters", path))
      for (const auto& [k, v] : *co)
        e.counters.emplace_back(std::string(k), rd.num(*co, std::string(k).c_str(), path + "counters.").value_or(0));
    e.counters_multiplexed = rd.boolean(po, "counters_multiplexed", path);
    p.end = e;
  }
  if (const auto* st = rd.object(po, "allocator_stats", path))
    for (const auto& [k, v] : *st)
      if (v.is_number()) p.allocator_stats.emplace_back(std::string(k), v.to_number<uint64_t>());
  return p;
}

}  // namespace heapmark::results::cell_json
