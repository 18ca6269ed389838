#include "harness/report/flame.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "harness/report/table.h"

namespace heapmark::report::svg {
namespace {

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

std::string amount(double v, const std::string& unit, double scale) {
  char b[48];
  std::snprintf(b, sizeof b, "%.2f %s", v / scale, unit.c_str());
  return b;
}

struct Node {
  std::string name, title;
  double value = 0;
  std::vector<std::unique_ptr<Node>> children;  // in order of first appearance
  std::map<std::string, Node*> index;
  Node* child(const std::string& n, const std::string& t) {
    auto it = index.find(n);
    if (it != index.end()) return it->second;
    children.push_back(std::make_unique<Node>());
    Node* c = children.back().get();
    c->name = n;
    c->title = t;
    index[n] = c;
    return c;
  }
};

// A warm colour from the name, stable across pictures (the same function has the same colour).
std::string warm(const std::string& name) {
  uint32_t h = 2166136261u;
  for (unsigned char c : name) h = (h ^ c) * 16777619u;
  const int r = 205 + static_cast<int>(h % 50), g = 80 + static_cast<int>((h >> 8) % 130),
            b = 30 + static_cast<int>((h >> 16) % 50);
  char out[16];
  std::snprintf(out, sizeof out, "#%02x%02x%02x", r, g, b);
  return out;
}

// Text that fits `px` pixels at 11 px (about 6.2 px a character), cut with "..".
std::string fit(const std::string& s, double px) {
  const size_t n = static_cast<size_t>(std::max(0.0, px / 6.2));
  if (s.size() <= n) return s;
  return n < 3 ? "" : s.substr(0, n - 2) + "..";
}

}  // namespace

std::string icicle(const Icicle& c) {
  Node root;
  root.name = c.root;
  size_t depth = 0;
  for (const auto& s : c.stacks) {
    if (!(s.value > 0)) continue;
    root.value += s.value;
    Node* n = &root;
    for (size_t i = 0; i < s.frames.size(); ++i) {
      n = n->child(s.frames[i], i < s.titles.size() ? s.titles[i] : "");
      n->value += s.value;
    }
    depth = std::max(depth, s.frames.size());
  }
  constexpr double kRow = 18, kTop = 28;
  const double w = c.width - 2;
  const double height = kTop + kRow * static_cast<double>(depth + 1) + 6;
  std::string out = "<svg class=\"chart flame\" id=\"" + html_escape(c.id) + "\" role=\"img\" width=\"" +
                    std::to_string(c.width) + "\" height=\"" + num(height) + "\" viewBox=\"0 0 " +
                    std::to_string(c.width) + " " + num(height) +
                    "\" font-family=\"sans-serif\" font-size=\"11\">\n<title>" + html_escape(c.title) + "</title>\n";
  out += "<text x=\"1\" y=\"16\" font-size=\"13\" font-weight=\"bold\">" + html_escape(c.title) + "</text>\n";
  if (!(root.value > 0)) return out + "<text x=\"1\" y=\"" + num(kTop + 12) + "\">nothing to show</text>\n</svg>\n";
  // Every box once, from a worklist (no recursion: depth is bounded only by the stacks); a child's
  // box starts where its elder sibling's ends and is as wide as its share of the whole.
  struct Item {
    const Node* n;
    double x;
    size_t d;
  };
  std::vector<Item> todo{{&root, 1, 0}};
  while (!todo.empty()) {
    const Item it = todo.back();
    todo.pop_back();
    const double bw = it.n->value / root.value * w;
    if (bw < 0.3) continue;  // too thin to see, and so are its callees
    const double y = kTop + kRow * static_cast<double>(it.d);
    const std::string share = num(100.0 * it.n->value / root.value) + "%";
    std::string tip = it.n->name + (it.n->title.empty() ? "" : " (" + it.n->title + ")") + ": " +
                      amount(it.n->value, c.unit, c.scale) + ", " + share;
    out += "<g><title>" + html_escape(tip) + "</title><rect x=\"" + num(it.x) + "\" y=\"" + num(y) + "\" width=\"" +
           num(std::max(bw - 0.5, 0.3)) + "\" height=\"" + num(kRow - 1) + "\" fill=\"" +
           (it.d == 0 ? std::string("#c0c0c0") : warm(it.n->name)) + "\" stroke=\"none\"/>";
    const std::string label =
        fit(it.d == 0 ? it.n->name + " " + amount(it.n->value, c.unit, c.scale) : it.n->name, bw - 4);
    if (!label.empty())
      out += "<text x=\"" + num(it.x + 2) + "\" y=\"" + num(y + 12.5) + "\">" + html_escape(label) + "</text>";
    out += "</g>\n";
    double x = it.x;
    for (const auto& ch : it.n->children) {  // boxes do not overlap: the drawing order is free
      todo.push_back({ch.get(), x, it.d + 1});
      x += ch->value / root.value * w;
    }
  }
  return out + "</svg>\n";
}

std::string page_strip(const PageStrip& c) {
  constexpr double kLabel = 84, kRow = 22, kTop = 44;
  const double w = c.width - kLabel - 4;
  const double height = kTop + kRow * static_cast<double>(c.rows.size()) + 4;
  std::string out = "<svg class=\"chart pagemap\" shape-rendering=\"crispEdges\" id=\"" + html_escape(c.id) +
                    "\" role=\"img\" width=\"" + std::to_string(c.width) + "\" height=\"" + num(height) +
                    "\" viewBox=\"0 0 " + std::to_string(c.width) + " " + num(height) +
                    "\" font-family=\"sans-serif\" font-size=\"11\">\n<title>" + html_escape(c.title) + "</title>\n";
  out += "<text x=\"1\" y=\"16\" font-size=\"13\" font-weight=\"bold\">" + html_escape(c.title) + "</text>\n";
  double lx = kLabel;
  for (size_t s = 0; s < c.state_names.size(); ++s) {  // legend
    out += "<rect x=\"" + num(lx) + "\" y=\"24\" width=\"12\" height=\"10\" fill=\"" + c.state_colours[s] +
           "\" stroke=\"#999\" stroke-width=\"0.5\"/>";
    out += "<text x=\"" + num(lx + 16) + "\" y=\"33\">" + html_escape(c.state_names[s]) + "</text>\n";
    lx += 22 + 6.2 * static_cast<double>(c.state_names[s].size());
  }
  for (size_t r = 0; r < c.rows.size(); ++r) {
    const StripRow& row = c.rows[r];
    const double y = kTop + kRow * static_cast<double>(r), h = kRow - 4;
    out += "<g><title>" + html_escape(row.note.empty() ? row.label : row.note) + "</title><text x=\"1\" y=\"" +
           num(y + 13) + "\">" + html_escape(fit(row.label, kLabel - 4)) + "</text></g>\n";
    const size_t n = row.buckets.size();
    if (n == 0) continue;
    const double bw = w / static_cast<double>(n);
    // Equal neighbouring buckets are drawn once, as one wider column.
    for (size_t i = 0; i < n;) {
      size_t j = i + 1;
      while (j < n && row.buckets[j] == row.buckets[i]) ++j;
      const auto& b = row.buckets[i];
      double total = 0;
      for (double v : b) total += v;
      std::string tip = "buckets " + std::to_string(i + 1) + "-" + std::to_string(j) + " of " + std::to_string(n) + ":";
      for (size_t s = 0; s < b.size() && s < c.state_names.size(); ++s)
        if (b[s] > 0) tip += " " + c.state_names[s] + " " + num(total > 0 ? 100.0 * b[s] / total : 0) + "%";
      out += "<g><title>" + html_escape(tip) + "</title>";
      double yy = y;
      for (size_t s = 0; s < b.size() && s < c.state_colours.size(); ++s) {
        if (!(b[s] > 0) || !(total > 0)) continue;
        const double sh = h * b[s] / total;
        out += "<rect x=\"" + num(kLabel + bw * static_cast<double>(i)) + "\" y=\"" + num(yy) + "\" width=\"" +
               num(bw * static_cast<double>(j - i) + 0.4) + "\" height=\"" + num(sh + 0.05) + "\" fill=\"" +
               c.state_colours[s] + "\"/>";
        yy += sh;
      }
      out += "</g>\n";
      i = j;
    }
  }
  return out + "</svg>\n";
}

std::string standalone(const std::string& inline_svg) {
  std::string s = inline_svg;
  const size_t at = s.find("<svg ");
  if (at != std::string::npos) s.insert(at + 5, "xmlns=\"http://www.w3.org/2000/svg\" ");
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + s;
}

}  // namespace heapmark::report::svg
