// Inline SVG charts (see svg.h).
#include "harness/report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "harness/report/figures.h"
#include "harness/report/table.h"

namespace heapmark::report::svg {
namespace {

constexpr double kLeft = 80, kRight = 18, kTop = 40, kBottom = 48, kLegendRow = 20;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string tick_text(const Axis& a, double v) { return a.format ? a.format(v) : format_sig(v); }

double nice_step(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
}

struct Scale {
  double lo = 0, hi = 1, px0 = 0, px1 = 1;
  bool log = false;
  double operator()(double v) const {
    if (log) {
      v = std::max(v, lo);
      return px0 + (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) * (px1 - px0);
    }
    return px0 + (v - lo) / (hi - lo) * (px1 - px0);
  }
};

// Domain and tick positions for data in [mn, mx] on axis a.
// tight: the domain is exactly [mn, mx] (time axes); else it is widened to whole steps.
std::vector<double> ticks_for(Scale& s, const Axis& a, double mn, double mx, bool include_zero, bool tight = false) {
  std::vector<double> t;
  if (!std::isfinite(mn) || !std::isfinite(mx)) mn = 0, mx = 1;
  if (s.log) {
    mn = std::max(mn, a.log_floor);
    mx = std::max(mx, mn * 10);
    s.lo = std::pow(10.0, std::floor(std::log10(mn)));
    s.hi = std::pow(10.0, std::ceil(std::log10(mx)));
    const bool fine = std::log10(s.hi / s.lo) <= 2;
    for (double d = s.lo; d <= s.hi * 1.0001; d *= 10) {
      t.push_back(d);
      if (fine && d * 2 < s.hi) t.push_back(d * 2);
      if (fine && d * 5 < s.hi) t.push_back(d * 5);
    }
    std::sort(t.begin(), t.end());
    return t;
  }
  if (include_zero) mn = std::min(mn, 0.0);
  if (mx <= mn) mx = mn + 1;
  const double step = nice_step((mx - mn) / 5);
  s.lo = tight ? mn : std::floor(mn / step) * step;
  s.hi = tight ? mx : std::ceil(mx / step) * step;
  for (double v = std::ceil(s.lo / step - 1e-9) * step; v <= s.hi + step * 1e-9; v += step)
    t.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  return t;
}

struct LegendItem {
  std::string swatch;  // SVG for a 24x12 swatch at the origin
  std::string text;
  std::string key;  // a series' entry: the script makes it hide and show that series
};

// Lays legend items out in rows under the plot; returns the SVG and the rows used.
std::pair<std::string, int> legend(const std::vector<LegendItem>& items, double x0, double y0, double width) {
  std::string s;
  double x = x0, y = y0;
  int rows = items.empty() ? 0 : 1;
  for (const auto& it : items) {
    const double w = 32 + 8.5 * static_cast<double>(it.text.size()) + 16;  // 8.5 px: "mimalloc" at the page font
    if (x + w > x0 + width && x > x0) {
      x = x0;
      y += kLegendRow;
      ++rows;
    }
    s += "<g" + (it.key.empty() ? "" : " class=\"key\" data-series=\"" + html_escape(it.key) + "\"") +
         " transform=\"translate(" + fmt(x) + "," + fmt(y) + ")\">" + it.swatch + "<text x=\"30\" y=\"10\">" +
         html_escape(it.text) + "</text></g>";
    x += w;
  }
  return {s, rows};
}

std::string line_swatch(const std::string& colour, const std::string& dash, double width) {
  return "<line x1=\"0\" y1=\"6\" x2=\"24\" y2=\"6\" stroke=\"" + colour + "\" stroke-width=\"" + fmt(width) + "\"" +
         (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"") + "/>";
}

std::string open_svg(const std::string& id, const std::string& title, int width, double height) {
  return "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" id=\"" + html_escape(id) + "\" viewBox=\"0 0 " +
         std::to_string(width) + " " + fmt(height) + "\" width=\"" + std::to_string(width) + "\" height=\"" +
         fmt(height) + "\" role=\"img\" aria-label=\"" + html_escape(title) + "\">\n<title>" + html_escape(title) +
         "</title>\n" + "<text class=\"ctitle\" x=\"" + fmt(kLeft) + "\" y=\"22\">" + html_escape(title) + "</text>\n";
}

std::string y_axis(const Axis& a, const Scale& sy, const std::vector<double>& ticks, double x0, double x1,
                   double plot_top, double plot_bottom) {
  std::string s;
  for (double t : ticks) {
    const double y = sy(t);
    s += "<line class=\"grid\" x1=\"" + fmt(x0) + "\" x2=\"" + fmt(x1) + "\" y1=\"" + fmt(y) + "\" y2=\"" + fmt(y) +
         "\"/>";
    s += "<text class=\"tick\" x=\"" + fmt(x0 - 6) + "\" y=\"" + fmt(y + 4) + "\" text-anchor=\"end\">" +
         html_escape(tick_text(a, t)) + "</text>";
  }
  const double mid = (plot_top + plot_bottom) / 2;
  s += "<text class=\"alabel\" transform=\"translate(16," + fmt(mid) + ") rotate(-90)\" text-anchor=\"middle\">" +
       html_escape(a.label) + "</text>\n";
  s += "<line class=\"axis\" x1=\"" + fmt(x0) + "\" x2=\"" + fmt(x0) + "\" y1=\"" + fmt(plot_top) + "\" y2=\"" +
       fmt(plot_bottom) + "\"/>";
  return s;
}

std::string series_key(const Series& s) { return s.key.empty() ? s.name : s.key; }

// What a line chart draws on one y axis: the axis (under the x axis) and the series (over it).
struct Plot {
  std::string axis, series;
};

Plot plot(const LineChart& c, const Axis& ya, const Scale& sx, double x0, double x1, double top, double bottom) {
  double ymin = std::numeric_limits<double>::infinity(), ymax = -ymin;
  for (const auto& ser : c.series)
    for (size_t i = 0; i < ser.x.size() && i < ser.y.size(); ++i) {
      const double y = ser.y[i] / ya.scale;
      if (!std::isfinite(ser.x[i]) || !std::isfinite(y) || (ya.log && y <= 0)) continue;
      ymin = std::min(ymin, y);
      ymax = std::max(ymax, y);
    }
  Scale sy{0, 1, bottom, top, ya.log};
  const auto yticks = ticks_for(sy, ya, ymin, ymax, !ya.log);
  Plot p{y_axis(ya, sy, yticks, x0, x1, top, bottom), "<g clip-path=\"url(#" + html_escape(c.id) + "-clip)\">\n"};
  for (const auto& ser : c.series) {
    std::string pts;
    size_t count = 0;
    for (size_t i = 0; i < ser.x.size() && i < ser.y.size(); ++i) {
      if (!std::isfinite(ser.x[i]) || !std::isfinite(ser.y[i])) continue;
      pts += (pts.empty() ? "" : " ") + fmt(sx(ser.x[i] / c.x.scale)) + "," + fmt(sy(ser.y[i] / ya.scale));
      ++count;
    }
    if (count == 0) continue;
    p.series += "<g data-series=\"" + html_escape(series_key(ser)) + "\">";
    if (ser.line)
      p.series += "<polyline class=\"series\" fill=\"none\" stroke=\"" + ser.colour + "\" stroke-width=\"" +
                  fmt(ser.stroke_width) + "\"" + (ser.dash.empty() ? "" : " stroke-dasharray=\"" + ser.dash + "\"") +
                  " points=\"" + pts + "\"><title>" + html_escape(ser.name) + "</title></polyline>";
    if (ser.markers)
      for (size_t i = 0; i < ser.x.size() && i < ser.y.size(); ++i) {
        if (!std::isfinite(ser.x[i]) || !std::isfinite(ser.y[i])) continue;
        p.series += "<circle cx=\"" + fmt(sx(ser.x[i] / c.x.scale)) + "\" cy=\"" + fmt(sy(ser.y[i] / ya.scale)) +
                    "\" r=\"3.5\" fill=\"" + ser.colour + "\"><title>" +
                    html_escape(i < ser.point_titles.size() ? ser.point_titles[i] : ser.name) + "</title></circle>";
      }
    p.series += "</g>\n";
  }
  p.series += "</g>\n";
  return p;
}

}  // namespace

std::string colour(size_t i) {
  static const char* const kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00",
                                         "#56B4E9", "#7F7F7F", "#8C564B", "#B8B800", "#000000"};
  return kPalette[i % 10];
}

std::string dash(size_t i) {
  static const char* const kDash[] = {"", "8 3", "2 3", "8 3 2 3"};
  return kDash[(i / 10) % 4];
}

void decimate(std::vector<double>& x, std::vector<double>& y, size_t max_points) {
  const size_t n = std::min(x.size(), y.size());
  if (n <= max_points || max_points < 4) return;
  const size_t buckets = (max_points - 2) / 2;
  std::vector<double> ox{x[0]}, oy{y[0]};
  for (size_t b = 0; b < buckets; ++b) {
    const size_t lo = 1 + b * (n - 2) / buckets, hi = 1 + (b + 1) * (n - 2) / buckets;
    if (lo >= hi) continue;
    size_t imin = lo, imax = lo;
    for (size_t i = lo; i < hi; ++i) {
      if (y[i] < y[imin]) imin = i;
      if (y[i] > y[imax]) imax = i;
    }
    const size_t a = std::min(imin, imax), c = std::max(imin, imax);
    ox.push_back(x[a]);
    oy.push_back(y[a]);
    if (c != a) {
      ox.push_back(x[c]);
      oy.push_back(y[c]);
    }
  }
  ox.push_back(x[n - 1]);
  oy.push_back(y[n - 1]);
  x = std::move(ox);
  y = std::move(oy);
}

std::string render(const LineChart& c) {
  const double x0 = kLeft, x1 = c.width - kRight, top = kTop, bottom = c.height - kBottom;
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin;
  for (const auto& s : c.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (c.y.log && s.y[i] <= 0)) continue;
      xmin = std::min(xmin, s.x[i] / c.x.scale);
      xmax = std::max(xmax, s.x[i] / c.x.scale);
    }
  for (const auto& b : c.bands) {
    xmin = std::min(xmin, b.x0 / c.x.scale);
    xmax = std::max(xmax, b.x1 / c.x.scale);
  }
  Scale sx{0, 1, x0, x1, c.x.log};
  std::vector<double> xticks;
  if (!c.x_categories.empty()) {
    sx.lo = -0.5;
    sx.hi = static_cast<double>(c.x_categories.size()) - 0.5;
  } else {
    xticks = ticks_for(sx, c.x, xmin, xmax, false, true);
  }
  Plot on_y = plot(c, c.y, sx, x0, x1, top, bottom);
  if (c.y_log) {  // everything drawn on y comes twice: on the linear axis, shown, and on the log one, hidden
    const Plot log = plot(c, *c.y_log, sx, x0, x1, top, bottom);
    for (auto part : {&Plot::axis, &Plot::series})
      on_y.*part =
          "<g class=\"y-linear\">" + on_y.*part + "</g><g class=\"y-log\" display=\"none\">" + log.*part + "</g>\n";
  }

  std::vector<LegendItem> items;
  for (const auto& s : c.series)
    if (s.in_legend) items.push_back({line_swatch(s.colour, s.dash, s.stroke_width), s.name, series_key(s)});
  for (const auto& [style, text] : c.legend_notes) items.push_back({style, text, ""});
  auto [legend_svg, rows] = legend(items, x0, c.height, x1 - x0);
  const double total_h = c.height + rows * kLegendRow + 4;

  std::string s = open_svg(c.id, c.title, c.width, total_h);
  s += "<defs><clipPath id=\"" + html_escape(c.id) + "-clip\"><rect x=\"" + fmt(x0) + "\" y=\"" + fmt(top) +
       "\" width=\"" + fmt(x1 - x0) + "\" height=\"" + fmt(bottom - top) + "\"/></clipPath></defs>\n";
  for (size_t i = 0; i < c.bands.size(); ++i) {
    const auto& b = c.bands[i];
    const double bx0 = sx(b.x0 / c.x.scale), bx1 = sx(b.x1 / c.x.scale);
    s += "<rect class=\"band" + std::string(i % 2 ? " odd" : "") + "\" x=\"" + fmt(bx0) + "\" y=\"" + fmt(top) +
         "\" width=\"" + fmt(std::max(0.0, bx1 - bx0)) + "\" height=\"" + fmt(bottom - top) + "\"><title>" +
         html_escape(b.label) + "</title></rect>";
    if (bx1 - bx0 > 7.0 * static_cast<double>(b.label.size()) + 4)
      s += "<text class=\"blabel\" x=\"" + fmt((bx0 + bx1) / 2) + "\" y=\"" + fmt(top + 12) +
           "\" text-anchor=\"middle\">" + html_escape(b.label.substr(0, b.label.find(' '))) + "</text>";
  }
  s += "\n" + on_y.axis;
  s += "<line class=\"axis\" x1=\"" + fmt(x0) + "\" x2=\"" + fmt(x1) + "\" y1=\"" + fmt(bottom) + "\" y2=\"" +
       fmt(bottom) + "\"/>";
  if (!c.x_categories.empty()) {
    for (size_t i = 0; i < c.x_categories.size(); ++i)
      s += "<text class=\"tick\" x=\"" + fmt(sx(static_cast<double>(i))) + "\" y=\"" + fmt(bottom + 16) +
           "\" text-anchor=\"middle\">" + html_escape(c.x_categories[i]) + "</text>";
  } else {
    for (double t : xticks)
      s += "<text class=\"tick\" x=\"" + fmt(sx(t)) + "\" y=\"" + fmt(bottom + 16) + "\" text-anchor=\"middle\">" +
           html_escape(tick_text(c.x, t)) + "</text>";
  }
  s += "<text class=\"alabel\" x=\"" + fmt((x0 + x1) / 2) + "\" y=\"" + fmt(bottom + 34) +
       "\" text-anchor=\"middle\">" + html_escape(c.x.label) + "</text>\n";
  s += on_y.series + legend_svg + "\n</svg>\n";
  return s;
}

std::string render(const IntervalChart& c) {
  constexpr double kRow = 20, kLabel = 300;
  const double x0 = kLeft + kLabel, x1 = c.width - kRight, top = kTop;
  const double bottom = top + kRow * static_cast<double>(c.rows.size()) + 6;
  const double height = bottom + kBottom;
  double mn = c.reference, mx = c.reference;
  for (const auto& r : c.rows)
    for (double v : {r.point, r.lo, r.hi})
      if (std::isfinite(v) && (!c.x.log || v > 0)) mn = std::min(mn, v / c.x.scale), mx = std::max(mx, v / c.x.scale);
  Scale sx{0, 1, x0, x1, c.x.log};
  if (!c.x.log && mx - mn < 1e-9) mn -= 1, mx += 1;
  if (c.x.log && c.reference > 0) {  // symmetric around the reference, so "same" sits in the middle
    const double span = std::max({mx / c.reference, c.reference / std::max(mn, 1e-12), 1.25});
    mn = c.reference / span;
    mx = c.reference * span;
  }
  const auto ticks = ticks_for(sx, c.x, mn, mx, false);
  std::vector<LegendItem> items;
  for (const auto& [style, text] : c.legend_notes) items.push_back({style, text, ""});
  auto [legend_svg, rows] = legend(items, x0, height, x1 - x0);
  std::string s = open_svg(c.id, c.title, c.width, height + rows * kLegendRow + 4);
  for (double t : ticks) {
    const double x = sx(t);
    s += "<line class=\"grid\" x1=\"" + fmt(x) + "\" x2=\"" + fmt(x) + "\" y1=\"" + fmt(top) + "\" y2=\"" +
         fmt(bottom) + "\"/><text class=\"tick\" x=\"" + fmt(x) + "\" y=\"" + fmt(bottom + 16) +
         "\" text-anchor=\"middle\">" + html_escape(tick_text(c.x, t)) + "</text>";
  }
  const double xr = sx(c.reference / c.x.scale);
  s += "<line class=\"axis\" x1=\"" + fmt(xr) + "\" x2=\"" + fmt(xr) + "\" y1=\"" + fmt(top) + "\" y2=\"" +
       fmt(bottom) + "\" stroke-dasharray=\"4 3\"/>\n";
  s += "<text class=\"alabel\" x=\"" + fmt((x0 + x1) / 2) + "\" y=\"" + fmt(bottom + 34) +
       "\" text-anchor=\"middle\">" + html_escape(c.x.label) + "</text>\n";
  for (size_t i = 0; i < c.rows.size(); ++i) {
    const auto& r = c.rows[i];
    const double y = top + kRow * (static_cast<double>(i) + 0.5);
    s += "<text class=\"tick\" x=\"" + fmt(x0 - 8) + "\" y=\"" + fmt(y + 4) + "\" text-anchor=\"end\">" +
         html_escape(r.label) + "</text>";
    if (!std::isfinite(r.point)) continue;
    const double lo = std::isfinite(r.lo) ? r.lo : r.point, hi = std::isfinite(r.hi) ? r.hi : r.point;
    s += "<g><title>" + html_escape(r.title) + "</title><polyline class=\"series\" fill=\"none\" stroke=\"" + r.colour +
         "\" stroke-width=\"2\" points=\"" + fmt(sx(lo / c.x.scale)) + "," + fmt(y) + " " + fmt(sx(hi / c.x.scale)) +
         "," + fmt(y) + "\"/><circle cx=\"" + fmt(sx(r.point / c.x.scale)) + "\" cy=\"" + fmt(y) +
         "\" r=\"4\" fill=\"" + r.colour + "\"/></g>\n";
  }
  s += legend_svg + "\n</svg>\n";
  return s;
}

std::string render(const StackedBarChart& c) {
  constexpr double kLabelSpace = 64;  // rotated bar labels under the axis
  const double x0 = kLeft, x1 = c.width - kRight, top = kTop, bottom = c.height - kBottom - kLabelSpace;
  double ymax = 0;
  size_t bars = 0;
  for (const auto& g : c.groups)
    for (const auto& b : g.bars) {
      double sum = 0;
      for (double v : b.values) sum += std::max(0.0, v);
      ymax = std::max(ymax, sum / c.y.scale);
      ++bars;
    }
  Scale sy{0, 1, bottom, top, false};
  const auto yticks = ticks_for(sy, c.y, 0, ymax, true);
  std::vector<LegendItem> items;
  for (size_t l = 0; l < c.layer_names.size(); ++l)
    items.push_back({"<rect width=\"24\" height=\"12\" fill=\"" + c.layer_colours[l] + "\"/>", c.layer_names[l], ""});
  auto [legend_svg, rows] = legend(items, x0, c.height, x1 - x0);
  std::string s = open_svg(c.id, c.title, c.width, c.height + rows * kLegendRow + 4);
  s += y_axis(c.y, sy, yticks, x0, x1, top, bottom);
  s += "<line class=\"axis\" x1=\"" + fmt(x0) + "\" x2=\"" + fmt(x1) + "\" y1=\"" + fmt(bottom) + "\" y2=\"" +
       fmt(bottom) + "\"/>\n";
  const double group_gap = 14;
  const double slot =
      (x1 - x0 - group_gap * static_cast<double>(c.groups.size() + 1)) / static_cast<double>(std::max<size_t>(bars, 1));
  const double bw = std::max(2.0, std::min(slot * 0.8, 40.0));
  double x = x0 + group_gap;
  for (const auto& g : c.groups) {
    const double gx0 = x;
    for (const auto& b : g.bars) {
      const double cx = x + slot / 2;
      double acc = 0;
      for (size_t l = 0; l < b.values.size() && l < c.layer_colours.size(); ++l) {
        const double v = std::max(0.0, b.values[l]) / c.y.scale;
        if (v <= 0) continue;
        const double ya = sy(acc), yb = sy(acc + v);
        s += "<rect class=\"bar\" x=\"" + fmt(cx - bw / 2) + "\" y=\"" + fmt(yb) + "\" width=\"" + fmt(bw) +
             "\" height=\"" + fmt(ya - yb) + "\" fill=\"" + c.layer_colours[l] + "\"><title>" +
             html_escape(b.title + "\n" + c.layer_names[l] + ": " + tick_text(c.y, v)) + "</title></rect>";
        acc += v;
      }
      if (!b.colour.empty())
        s += "<rect x=\"" + fmt(cx - bw / 2) + "\" y=\"" + fmt(bottom + 1) + "\" width=\"" + fmt(bw) +
             "\" height=\"4\" fill=\"" + b.colour + "\"/>";
      s += "<text class=\"tick\" transform=\"translate(" + fmt(cx + 3) + "," + fmt(bottom + 12) +
           ") rotate(-50)\" text-anchor=\"end\">" + html_escape(b.label) + "</text>\n";
      x += slot;
    }
    s += "<text class=\"glabel\" x=\"" + fmt((gx0 + x) / 2) + "\" y=\"" + fmt(bottom + kLabelSpace + 18) +
         "\" text-anchor=\"middle\">" + html_escape(g.label) + "</text>\n";
    x += group_gap;
  }
  s += legend_svg + "\n</svg>\n";
  return s;
}

std::string script() {
  // Plain DOM, no libraries or network, so the page stays one self-contained file. It only adds behaviour
  // to what the SVG already draws (class "key" and data-series on legend entries and series, the hidden
  // g.y-log copies of a chart drawn on a log axis), so with scripts off nothing is missing.
  return R"js(<script>
for (const svg of document.querySelectorAll('svg.chart')) {
  for (const key of svg.querySelectorAll('g.key')) {
    const name = key.getAttribute('data-series');
    const parts = [...svg.querySelectorAll('g[data-series]:not(.key)')]
                    .filter(g => g.getAttribute('data-series') === name);
    const toggle = () => {
      const off = key.classList.toggle('off');
      key.setAttribute('aria-pressed', String(!off));
      for (const g of parts) g.setAttribute('display', off ? 'none' : 'inline');
    };
    key.setAttribute('role', 'button');
    key.setAttribute('tabindex', '0');
    key.setAttribute('aria-pressed', 'true');
    key.addEventListener('click', toggle);
    key.addEventListener('keydown', e => {
      if (e.key !== 'Enter' && e.key !== ' ') return;
      e.preventDefault();
      toggle();
    });
  }
  const log = svg.querySelectorAll('g.y-log'), linear = svg.querySelectorAll('g.y-linear');
  if (!log.length) continue;
  const label = document.createElement('label'), box = document.createElement('input');
  box.type = 'checkbox';
  box.addEventListener('change', () => {
    for (const g of log) g.setAttribute('display', box.checked ? 'inline' : 'none');
    for (const g of linear) g.setAttribute('display', box.checked ? 'none' : 'inline');
  });
  label.className = 'axis-switch';
  label.append(box, ' log y axis');
  svg.before(label);
}
</script>
)js";
}

}  // namespace heapmark::report::svg
