#include "harness/attach/snapshot.h"

#include <algorithm>
#include <cstdio>

#include "harness/report/flame.h"
#include "harness/report/page.h"
#include "harness/report/svg.h"
#include "harness/report/table.h"

namespace heapmark::attach {
namespace json = boost::json;
namespace svg = report::svg;
using report::html_escape;

json::object to_json(const Snapshot& s) {
  json::object doc = to_json(s.outside);
  if (s.inside) doc["inside"] = to_json(*s.inside);
  if (s.assessment) doc["assessment"] = to_json(*s.assessment);
  if (s.applied) doc["apply"] = to_json(*s.applied);
  if (s.watch) doc["watch"] = to_json(*s.watch);
  return doc;
}

std::string render_text(const Snapshot& s) {
  std::string t = render_text(s.outside);
  if (s.inside && s.assessment) t += render_text(*s.inside, *s.assessment);
  if (s.applied) t += render_text(*s.applied);
  if (s.watch) t += render_text(*s.watch);
  return t;
}

namespace {

constexpr double kMiB = 1 << 20;

std::string mib_tick(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.0f", v);
  return b;
}

// RES twice: by the outside view's parts, and by what the allocator says of it.
std::string res_chart(const Snapshot& s) {
  svg::StackedBarChart c;
  c.id = "res";
  c.title = "Where RES is: from outside (smaps), and as the allocator accounts for it";
  for (int p = 0; p < static_cast<int>(Part::kCount); ++p) c.layer_names.push_back(part_name(static_cast<Part>(p)));
  c.layer_colours = {"#4C78A8", "#72B7B2", "#B279A2", "#BAB0AC", "#9D755D", "#F58518"};
  const size_t parts = c.layer_names.size();
  const Assessment* a = s.assessment ? &*s.assessment : nullptr;
  const bool inside = a && a->live && a->free_resident;
  if (inside) {
    for (const char* n : {"live (the program's blocks)", "free, kept resident by the allocator",
                          "free, pinned by live blocks on their pages",
                          "the rest of RES (file pages, stacks, metadata, other mappings)"})
      c.layer_names.push_back(n);
    for (const char* col : {"#1F77B4", "#E45756", "#FF9DA6", "#D3D3D3"}) c.layer_colours.push_back(col);
  }
  c.y.label = "MiB";
  c.y.scale = kMiB;
  c.y.format = mib_tick;
  svg::BarGroup g;
  g.label = "PID " + std::to_string(s.outside.pid);
  svg::Bar outside;
  outside.label = "from outside";
  outside.values.assign(c.layer_names.size(), 0.0);
  for (size_t p = 0; p < parts; ++p) outside.values[p] = double(s.outside.parts[p]);
  outside.title = "every mapping's Rss: " + human(s.outside.total);
  g.bars.push_back(outside);
  if (inside) {
    svg::Bar in;
    in.label = "the allocator's account";
    in.values.assign(c.layer_names.size(), 0.0);
    const double live = double(*a->live), kept = double(*a->free_resident), pinned = double(a->pinned.value_or(0));
    in.values[parts] = live;
    in.values[parts + 1] = kept;
    in.values[parts + 2] = pinned;
    in.values[parts + 3] = std::max(0.0, double(a->rss) - live - kept - pinned);
    in.title = human(*a->live) + " live, " + human(*a->free_resident) + " free kept resident";
    g.bars.push_back(in);
  }
  c.groups.push_back(g);
  return svg::render(c);
}

std::string watch_chart(const Watch& w) {
  svg::LineChart c;
  c.id = "watch";
  c.title = "RSS while watched (/proc/PID/statm), with the allocator's accounting";
  c.x.label = "seconds";
  c.y.label = "MiB";
  c.y.scale = kMiB;
  c.y.format = mib_tick;
  const auto series = [](const char* name, size_t colour) {
    svg::Series s;
    s.name = name;
    s.colour = svg::colour(colour);
    return s;
  };
  svg::Series rss = series("RSS", 0), anon = series("anonymous RSS", 1), live = series("live (allocator)", 2);
  rss.x = anon.x = w.t_s;
  for (uint64_t v : w.rss) rss.y.push_back(double(v));
  for (uint64_t v : w.anon) anon.y.push_back(double(v));
  live.markers = true;
  live.line = false;
  for (const auto& a : w.accounting)
    if (a.ok && a.live) {
      live.x.push_back(a.t_s);
      live.y.push_back(double(*a.live));
    }
  c.series = {rss, anon};
  if (!live.x.empty()) c.series.push_back(live);
  return svg::render(c);
}

// The catalogue's page map of the heaps glibc's walk went through, now.
std::string page_map(const PageWalk& w, const std::string& allocator) {
  svg::PageStrip strip;
  strip.id = "pagemap";
  strip.title = allocator + ": the heaps' pages in address order, now (heap after heap)";
  strip.state_names.assign(svg::kPageStateLabels, svg::kPageStateLabels + 5);
  strip.state_colours.assign(svg::kPageStateColours, svg::kPageStateColours + 5);
  strip.pages_per_bucket = double(w.pages_per_bucket);
  svg::StripRow row;
  row.label = "now";
  char note[256];
  std::snprintf(
      note, sizeof note,
      "%.1f MiB dense, %.1f sparse, %.1f retained, %.1f released (LazyFree not told apart); %llu pages per column",
      w.pages[0] / 256.0, w.pages[1] / 256.0, w.pages[2] / 256.0, w.pages[4] / 256.0,
      static_cast<unsigned long long>(w.pages_per_bucket));
  row.note = note;
  for (const auto& b : w.buckets)
    row.buckets.push_back({double(b[0]), double(b[1]), double(b[2]), double(b[3]), double(b[4])});
  strip.rows.push_back(std::move(row));
  return svg::page_strip(strip);
}

}  // namespace

std::string render_html(const Snapshot& s) {
  const OutsideView& o = s.outside;
  std::string b = "<h1>heapmark attach " + std::to_string(o.pid) + " (" + html_escape(o.comm) + ")</h1>\n<p>" +
                  html_escape(o.exe) + ", " + std::to_string(o.threads) + " threads; resident " + human(o.total) +
                  " (VmRSS " + human(o.vm_rss) + ")</p>\n";
  if (s.assessment) {
    const Assessment& a = *s.assessment;
    b += "<h2>Verdict: " + html_escape(a.label) + "</h2>\n<p>" + html_escape(a.why) + "</p>\n<p><b>Remedy:</b> " +
         html_escape(a.remedy) + "</p>\n";
  } else {
    b += "<p>The outside view only: the process was not entered.</p>\n";
  }
  b += res_chart(s);
  if (s.inside && s.inside->injection.ok) {
    const InsideView& in = *s.inside;
    b += "<h2>The allocator</h2>\n<p>" + html_escape(in.version) + " (" + html_escape(in.family) +
         " family): " + html_escape(in.proof) + ". The process was stopped " +
         std::to_string(static_cast<int>(in.injection.stopped_ms)) + " ms.</p>\n";
    report::Table t;
    t.head = {"free memory it keeps", "bytes", "resident", "its release hook returns it"};
    if (in.accounting)
      for (const auto& k : in.accounting->kept)
        t.rows.push_back({report::TableCell(k.pinned ? "pinned: " + k.mechanism : k.mechanism),
                          report::TableCell(human(k.bytes)), report::TableCell(k.resident ? "yes" : "resident or not"),
                          report::TableCell(k.release_returns ? "yes" : "no")});
    if (!t.rows.empty()) b += report::to_html(t);
    if (in.walk && in.walk->ok) {
      const PageWalk& w = *in.walk;
      b += "<p>Heap walk (" + std::to_string(w.heaps) + " heaps): " + human(w.resident) + " resident, of it " +
           human(w.live_pages) + " in pages holding live chunks and " + human(w.free_pages) +
           " in pages holding none; " + std::to_string(w.chunks_in_use) + " chunks in use, " +
           std::to_string(w.chunks_free) + " free.</p>\n";
      if (!w.buckets.empty()) b += page_map(w, in.version);
    }
  } else if (s.inside) {
    b += "<p>The inside view is missing: " + html_escape(s.inside->injection.error) + "</p>\n";
  }
  if (s.applied) {
    const Applied& a = *s.applied;
    b += "<h2>Applied: " + html_escape(a.hook) + "</h2>\n<p>" +
         (a.ok ? "RES " + human(a.rss_before) + " → " + human(a.rss_after) + ": returned " + human(a.returned) +
                     (a.predicted ? ", predicted " + human(*a.predicted) : std::string(", no prediction"))
               : "not done: " + html_escape(a.error)) +
         "</p>\n";
  }
  if (s.watch && !s.watch->t_s.empty()) b += "<h2>Watched</h2>\n" + watch_chart(*s.watch);
  return report::html_page("heapmark attach " + std::to_string(o.pid), b + svg::script());
}

}  // namespace heapmark::attach
