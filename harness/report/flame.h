// Pictures of who holds memory, as inline SVG (no scripts, no network), with
// <title> hover text. Like svg.h they know nothing of heapmark's results.
//   icicle     a flame graph drawn top-down: the root on top, each stack's
//              outermost frame below it, its callees below that; widths are bytes
//   page_strip the heap's pages in address order, one row per phase, each
//              column a bucket of pages split by page state
#pragma once
#include <string>
#include <vector>

namespace heapmark::report::svg {

struct WeightedStack {
  std::vector<std::string> frames;  // outermost first
  double value = 0;
  std::vector<std::string> titles;  // per frame: hover text (e.g. file:line); "" for the frame's name alone
};
struct Icicle {
  std::string title, id, root;  // root: the top box's name ("all pinned bytes")
  std::string unit = "MiB";
  double scale = 1048576;  // values are divided by this in labels
  std::vector<WeightedStack> stacks;
  int width = 880;
};
std::string icicle(const Icicle& c);

// The page states' words and colours, in results::kPageStateNames' order
// (dense, sparse, retained, LazyFree, released): every page map draws them so.
inline constexpr const char* kPageStateLabels[5] = {"dense live", "sparse (pinned)", "retained free", "LazyFree",
                                                    "released"};
inline constexpr const char* kPageStateColours[5] = {"#1b7837", "#e08214", "#92c5de", "#b2abd2", "#f0f0f0"};

struct StripRow {
  std::string label;                         // the phase
  std::vector<std::vector<double>> buckets;  // per bucket: pages per state
  std::string note;                          // hover text for the row label
};
struct PageStrip {
  std::string title, id;
  std::vector<std::string> state_names, state_colours;
  std::vector<StripRow> rows;
  double pages_per_bucket = 1;  // per row may differ: buckets hold what the row says
  int width = 880;
};
std::string page_strip(const PageStrip& c);

// A standalone .svg document from an inline chart (adds the XML namespace).
std::string standalone(const std::string& inline_svg);

}  // namespace heapmark::report::svg
