#include "harness/report/holders.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "harness/report/flame.h"
#include "harness/report/pprof.h"

namespace heapmark::report {
namespace {

namespace json = boost::json;

std::string mib(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f MiB", bytes / 1048576.0);
  return b;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// sites.json: trace path -> site -> frames' text.
using Names = std::map<std::string, std::map<uint32_t, std::vector<std::string>>>;
Names read_names(const std::string& dir) {
  Names out;
  std::ifstream in(dir + "/sites.json");
  if (!in) return out;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return out;  // names are a convenience: without them sites are numbers
  const auto* traces = v.as_object().if_contains("traces");
  if (!traces || !traces->is_object()) return out;
  for (const auto& [path, t] : traces->as_object()) {
    const auto* sites = t.is_object() ? t.as_object().if_contains("sites") : nullptr;
    if (!sites || !sites->is_object()) continue;
    for (const auto& [id, frames] : sites->as_object()) {
      if (!frames.is_array()) continue;
      auto& list = out[std::string(path)][static_cast<uint32_t>(std::strtoul(std::string(id).c_str(), nullptr, 10))];
      for (const auto& f : frames.as_array())
        if (f.is_object() && f.as_object().if_contains("text") && f.as_object().at("text").is_string())
          list.push_back(std::string(f.as_object().at("text").as_string()));
    }
  }
  return out;
}

std::string trace_of(const Cell& c) {
  const auto it = c.params.find("path");
  return it == c.params.end() ? "" : it->second;
}

const results::PhaseEndResult* phase_f(const Cell& c, std::string* name) {
  const results::PhaseResult* last = nullptr;
  for (const auto& p : c.phases) {
    if (!p.end || !p.end->attribution) continue;
    if (p.name == "free") {
      *name = p.name;
      return &*p.end;
    }
    last = &p;
  }
  if (!last) return nullptr;
  *name = last->name;
  return &*last->end;
}

bool any_attribution(const Run& run) {
  for (const auto& c : run.cells)
    for (const auto& p : c.phases)
      if (p.end && p.end->attribution) return true;
  return false;
}

// The picture cell's phase `phase` ("" = F).
const results::PhaseEndResult* phase_of(const Holders& h, const std::string& phase, std::string* name) {
  if (!h.picture) return nullptr;
  if (phase.empty()) return phase_f(*h.picture, name);
  for (const auto& p : h.picture->phases)
    if (p.name == phase && p.end && p.end->attribution) {
      *name = p.name;
      return &*p.end;
    }
  return nullptr;
}

// The data of flame(h, pinned, phase) as a pprof profile, its sample type first.
pprof::Profile flame_profile(const Holders& h, bool pinned, const std::string& phase) {
  std::string ph;
  const results::PhaseEndResult* e = phase_of(h, phase, &ph);
  if (!e) return {};
  pprof::Profile p = pprof::attribution_profile(*e->attribution, h.names,
                                                h.allocator + " at " + ph + ", one cell (the report's flame graph)");
  p.default_type = pinned ? "pinned_space" : "inuse_space";
  return p;
}

// pinned or live bytes by stack at `phase` ("" = F).
svg::Icicle flame(const Holders& h, bool pinned, const std::string& phase, const std::string& id) {
  svg::Icicle ic;
  ic.id = id;
  std::string ph;
  const results::PhaseEndResult* e = phase_of(h, phase, &ph);
  ic.title =
      h.allocator + ": " + (pinned ? "pinned bytes" : "live bytes") + " by allocation stack at " + ph + " (one cell)";
  ic.root = pinned ? "all pinned" : "all live";
  if (!e) return ic;
  const auto& named = h.names;
  auto add = [&](const results::SiteShare& s, const std::vector<std::string>& frames) {
    svg::WeightedStack w;
    w.value = pinned ? s.pinned : static_cast<double>(s.live);
    for (auto f = frames.rbegin(); f != frames.rend(); ++f) {
      // The box shows the function; its hover text, where in the source or module it is.
      const pprof::Frame frame = pprof::parse_frame_text(*f);
      w.frames.push_back(frame.name());
      w.titles.push_back(frame.function.empty() ? "" : frame.where());
    }
    ic.stacks.push_back(std::move(w));
  };
  for (const auto& s : e->attribution->sites) {
    const auto it = named.find(s.site);
    add(s, it != named.end() && !it->second.empty() ? it->second
                                                    : std::vector<std::string>{"site " + std::to_string(s.site)});
  }
  add(e->attribution->unknown, {e->attribution->site_count ? "(no stack recorded)" : "(the workload names no sites)"});
  add(e->attribution->other, {"(other sites)"});
  return ic;
}

svg::PageStrip strip(const Holders& h, const std::string& id) {
  svg::PageStrip s;
  s.id = id;
  s.title = h.allocator + ": the heap's pages in address order at each phase end (one cell)";
  s.state_names.assign(svg::kPageStateLabels, svg::kPageStateLabels + 5);
  s.state_colours.assign(svg::kPageStateColours, svg::kPageStateColours + 5);
  if (!h.picture) return s;
  for (const auto& p : h.picture->phases) {
    if (!p.end || !p.end->page_map) continue;
    const auto& m = *p.end->page_map;
    svg::StripRow row;
    row.label = p.name;
    char note[256];
    std::snprintf(
        note, sizeof note,
        "%s: %.1f MiB dense, %.1f sparse, %.1f retained, %.1f LazyFree%s, %.1f released; %llu pages per column",
        p.name.c_str(), m.pages[0] / 256.0, m.pages[1] / 256.0, m.pages[2] / 256.0, m.pages[3] / 256.0,
        m.lazyfree_known ? "" : " (not told apart here: shown as retained)", m.pages[4] / 256.0,
        static_cast<unsigned long long>(m.pages_per_bucket));
    row.note = note;
    for (const auto& b : m.buckets)
      row.buckets.push_back({double(b[0]), double(b[1]), double(b[2]), double(b[3]), double(b[4])});
    s.rows.push_back(std::move(row));
  }
  return s;
}

std::string slug(const std::string& s) {
  std::string o;
  for (char c : s) o += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  return o;
}

const char* kHoldersNote =
    "Each phase end lays every live block over the heap's pages (mincore tells which are resident). A resident page "
    "holding live blocks gives their bytes to their allocation sites; its other bytes are pinned (the allocator "
    "cannot return the page while any of them lives) and are shared equally among the blocks on it. Resident pages "
    "with no live block are the allocator's: retained free, or LazyFree. Figures are medians over the allocator's "
    "cells; the pictures are of its first cell.";

}  // namespace

std::string Holder::name() const {
  if (frames.empty()) return site == 0 ? "(no stack recorded)" : "site " + std::to_string(site);
  return frames.size() == 1 ? frames[0] : frames[0] + " \u2190 " + frames[1];
}

std::vector<Holders> holders(const Run& run) {
  const Names names = read_names(run.dir);
  std::map<std::string, bool> variant;
  for (const auto& a : run.info.matrix_facts.allocators) variant[a.name] = a.variant;
  std::vector<Holders> out;
  for (const auto& alloc : run.allocators) {
    Holders h;
    h.allocator = alloc;
    h.variant = variant[alloc];
    std::vector<const results::Attribution*> cells;  // F's attribution of each ok cell
    std::vector<double> pinned, live, r;
    std::set<uint32_t> listed;
    for (const auto& c : run.cells) {
      std::string ph;
      const results::PhaseEndResult* e = c.allocator == alloc && c.ok() ? phase_f(c, &ph) : nullptr;
      if (!e) continue;
      if (!h.picture) {
        h.picture = &c;
        h.phase = ph;
        if (const auto t = names.find(trace_of(c)); t != names.end()) h.names = t->second;
      }
      const auto& a = *e->attribution;
      cells.push_back(&a);
      h.site_count = std::max(h.site_count, a.site_count);
      double total = a.unknown.pinned + a.other.pinned;
      for (const auto& s : a.sites) {
        total += s.pinned;
        listed.insert(s.site);
      }
      pinned.push_back(total);
      live.push_back(static_cast<double>(e->live_bytes));
      r.push_back(static_cast<double>(e->r));
    }
    if (cells.empty()) continue;
    h.cells = cells.size();
    // One figure per cell (0 where a cell did not list the site), then the median of each.
    auto over_cells = [&](auto figures_of, Holder& x) {
      std::vector<double> l, p, b, age;
      for (const results::Attribution* a : cells) {
        const results::SiteShare* s = figures_of(*a);
        l.push_back(s ? double(s->live) : 0);
        p.push_back(s ? s->pinned : 0);
        b.push_back(s ? double(s->blocks) : 0);
        if (s && s->median_age_ms) age.push_back(double(*s->median_age_ms) / 1000);
      }
      x.live = median(l);
      x.pinned = median(p);
      x.blocks = median(b);
      if (!age.empty()) x.median_age_s = median(age);
    };
    for (uint32_t site : listed) {
      Holder x;
      x.site = site;
      over_cells(
          [site](const results::Attribution& a) -> const results::SiteShare* {
            for (const auto& s : a.sites)
              if (s.site == site) return &s;
            return nullptr;
          },
          x);
      if (const auto f = h.names.find(site); f != h.names.end()) x.frames = f->second;
      h.sites.push_back(std::move(x));
    }
    std::sort(h.sites.begin(), h.sites.end(), [](const Holder& a, const Holder& b) {
      return a.pinned != b.pinned ? a.pinned > b.pinned : a.live != b.live ? a.live > b.live : a.site < b.site;
    });
    over_cells([](const results::Attribution& a) { return &a.unknown; }, h.unknown);
    over_cells([](const results::Attribution& a) { return &a.other; }, h.other);
    h.unknown.median_age_s.reset();
    h.other.median_age_s.reset();
    h.other.frames = {"(other sites)"};
    h.pinned_total = median(pinned);
    h.live_total = median(live);
    h.r = median(r);
    out.push_back(std::move(h));
  }
  return out;
}

Table pinning_table(const std::vector<Holders>& hs, size_t top) {
  Table t;
  t.head = {"allocator", "site", "pinned", "share of pinned", "share of R", "live", "blocks", "median age"};
  t.label_columns = 2;
  for (const auto& h : hs) {
    if (h.variant) continue;  // a remedy's cells keep their attribution in cells.jsonl
    bool first = true;
    auto row = [&](const Holder& s) {
      std::vector<TableCell> r;
      r.push_back(first ? HeadingCell(h.allocator, h.phase + ", " + std::to_string(h.cells) + " cells")
                        : TableCell(""));
      first = false;
      TableCell name(s.name());
      for (const auto& f : s.frames) name.title += f + "\n";
      r.push_back(name);
      r.push_back(TableCell(mib(s.pinned)));
      char share[32];
      std::snprintf(share, sizeof share, "%.1f%%", h.pinned_total > 0 ? 100.0 * s.pinned / h.pinned_total : 0.0);
      r.push_back(TableCell(share));
      std::snprintf(share, sizeof share, "%.1f%%", h.r > 0 ? 100.0 * s.pinned / h.r : 0.0);
      r.push_back(TableCell(share));
      r.push_back(TableCell(mib(s.live)));
      r.push_back(TableCell(std::to_string(static_cast<uint64_t>(s.blocks))));
      char age[32] = "";
      if (s.median_age_s) std::snprintf(age, sizeof age, "%.3g s", *s.median_age_s);
      r.push_back(TableCell(age));
      t.rows.push_back(std::move(r));
    };
    size_t n = 0;
    for (const auto& s : h.sites)
      if (n++ < top) row(s);
    if (h.unknown.blocks > 0) row(h.unknown);
    if (h.other.blocks > 0) row(h.other);
  }
  return t;
}

// The flame graphs of pinned and live bytes at F and of live bytes at the peak (when the trace names sites),
// and the page map of every phase end, per base allocator: the models first, then the drawings.
std::vector<Picture> pictures(const std::vector<Holders>& hs) {
  struct Flame {
    std::string name;
    svg::Icicle model;
    pprof::Profile data;  // what the graph draws, for the report's link
  };
  std::vector<Flame> flames;
  std::vector<std::pair<std::string, svg::PageStrip>> maps;
  for (const auto& h : hs) {
    if (h.variant) continue;
    const std::string s = slug(h.allocator);
    auto add = [&](const std::string& what, bool pinned, const std::string& phase) {
      const std::string name = "flame-" + what + "-" + s;
      flames.push_back({name, flame(h, pinned, phase, name), flame_profile(h, pinned, phase)});
    };
    if (h.site_count > 0) {
      add("pinned", true, "");
      add("live", false, "");
      std::string ph;
      if (phase_of(h, "peak", &ph)) add("peak", false, "peak");
    }
    maps.emplace_back("pagemap-" + s, strip(h, "pagemap-" + s));
  }
  std::vector<Picture> out;
  for (const auto& f : flames)
    out.push_back(
        {f.name, svg::icicle(f.model), true, f.data.samples.empty() ? "" : pprof::gzip(pprof::encode(f.data))});
  for (const auto& [name, model] : maps) out.push_back({name, svg::page_strip(model), false, ""});
  return out;
}

std::vector<Picture> add_holders_section(Document& d, const Run& run) {
  if (!any_attribution(run)) return {};
  const auto hs = holders(run);
  bool sites = false;
  for (const auto& h : hs) sites |= h.site_count > 0;
  Table top = pinning_table(hs);
  std::vector<Picture> drawn = pictures(hs);
  d.heading(2, "Who holds the memory", "holders").note(kHoldersNote).only(sites ? Block::In::kBoth : Block::In::kHtml);
  if (sites) {
    d.heading(3, "Top sites pinning memory").table(std::move(top)).heading(3, "Flame graphs");
    d.note(
         "Icicles: the whole on top, each stack's outermost frame below it, the allocating function at the bottom; "
         "widths are bytes. Hover a box for its bytes, share and source line.")
        .only(Block::In::kHtml);
    for (const auto& p : drawn)
      if (p.flame) {
        d.html(p.svg);
        if (!p.pprof.empty())
          d.paragraph("This graph's data as a pprof profile (go tool pprof -http=: FILE, speedscope, Pyroscope):",
                      "pprof/" + p.name + ".pb.gz", p.name + ".pb.gz")
              .only(Block::In::kHtml);
      }
  }
  d.heading(3, "Heap page map");
  d.note(
       "Each column is a run of the heap's pages (its private anonymous mappings, less heapmark's own tables and "
       "thread stacks), in address order, split by state. Non-resident runs longer than 64 pages are drawn as 64. "
       "Hover a row's name for its totals.")
      .only(Block::In::kHtml);
  for (const auto& p : drawn)
    if (!p.flame) d.html(p.svg);
  return drawn;
}

std::vector<std::string> write_pictures(const std::vector<Picture>& pictures, const std::string& out_dir) {
  std::vector<std::string> files;
  if (pictures.empty()) return files;
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(out_dir) / "svg";
  std::error_code ec;
  fs::create_directories(dir, ec);
  for (const auto& p : pictures) {
    const std::string path = (dir / (p.name + ".svg")).string();
    std::ofstream(path, std::ios::trunc) << svg::standalone(p.svg);
    files.push_back(path);
    if (p.pprof.empty()) continue;
    const fs::path profiles = fs::path(out_dir) / "pprof";
    fs::create_directories(profiles, ec);
    files.push_back((profiles / (p.name + ".pb.gz")).string());
    std::ofstream(files.back(), std::ios::trunc | std::ios::binary) << p.pprof;
  }
  return files;
}

}  // namespace heapmark::report
