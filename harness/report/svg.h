// Chart drawing as inline SVG: line charts (linear or log axes, categorical x,
// shaded bands) and stacked bar charts, with titles, axis labels, legends and
// <title> hover text, and the page script that lets a reader hide series and
// switch axes. Knows nothing of heapmark's results: callers pass numbers.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace heapmark::report::svg {

// Colour i of a palette of 10 distinguishable colours (Okabe-Ito and Tableau);
// beyond 10, colours repeat with a dash pattern from dash(i).
std::string colour(size_t i);
std::string dash(size_t i);

struct Axis {
  std::string label;  // with unit, e.g. "RSS above R0 (MiB)"
  bool log = false;
  std::function<std::string(double)> format;  // tick text; default: 3 significant digits
  double scale = 1;                           // data are divided by this before drawing (e.g. 1 MiB)
  double log_floor = 1e-3;  // log axes start no lower (axis units, a power of ten); values below lie on the bottom edge
};

struct Series {
  std::string name, colour, dash;
  std::vector<double> x, y;
  double stroke_width = 2;
  bool markers = false;
  bool line = true;                       // false: markers only
  std::vector<std::string> point_titles;  // hover text per point (markers only)
  bool in_legend = true;
  std::string key;  // series with the same key share one legend entry, which hides and shows them all; empty: name
};

struct Band {
  double x0, x1;
  std::string label;
};

struct LineChart {
  std::string title, id;
  Axis x, y;
  std::vector<std::string> x_categories;  // when set, x values are category indexes
  std::vector<Series> series;
  std::vector<Band> bands;
  std::vector<std::pair<std::string, std::string>> legend_notes;  // (swatch style, text), e.g. dashed = live bytes
  std::optional<Axis>
      y_log;  // a log y axis: the chart is also drawn on it, hidden until the reader switches (script())
  int width = 880, height = 380;
};

struct Bar {
  std::string label;           // under the bar
  std::vector<double> values;  // one per layer, bottom first
  std::string title;           // hover text
  std::string colour;          // optional strip under the bar identifying its series
};
struct BarGroup {
  std::string label;
  std::vector<Bar> bars;
};
struct StackedBarChart {
  std::string title, id;
  Axis y;
  std::vector<std::string> layer_names, layer_colours;
  std::vector<BarGroup> groups;
  int width = 880, height = 380;
};

// Estimates with intervals, one row each, against a reference line (a forest plot).
struct IntervalRow {
  std::string label;
  double point, lo, hi;
  std::string colour, title;
};
struct IntervalChart {
  std::string title, id;
  Axis x;
  double reference = 1;
  std::vector<IntervalRow> rows;
  std::vector<std::pair<std::string, std::string>> legend_notes;
  int width = 880;
};

std::string render(const LineChart& c);
std::string render(const IntervalChart& c);
std::string render(const StackedBarChart& c);

// The page script, an inline <script> element for the end of a page's body:
// each line chart's series legend entries become buttons that hide and show
// their series, and a chart with a y_log gets a checkbox that switches to it.
// With scripts off the page shows every series on the linear axis.
std::string script();

// Keeps at most max_points points: the first, the last, and per bucket the
// minimum and maximum, so peaks and troughs survive.
void decimate(std::vector<double>& x, std::vector<double>& y, size_t max_points);

}  // namespace heapmark::report::svg
