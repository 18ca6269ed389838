// Renders the layout-neutral Table (see table.h).
#include "harness/report/table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace heapmark::report {
namespace {

// Green (best) through yellow to red (worst), light enough for black text.
std::string heat_colour(double h) {
  h = std::clamp(h, 0.0, 1.0);
  const double hue = 120.0 * (1.0 - h);
  char buf[48];
  std::snprintf(buf, sizeof buf, "hsl(%.0f,70%%,85%%)", hue);
  return buf;
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string plain(const TableCell& c) {
  std::string s = c.text;
  if (c.noisy) s += " ~";
  if (!c.note.empty()) s += (s.empty() ? "" : " ") + c.note;
  return s;
}

// Display width in code points (UTF-8 continuation bytes take no column).
size_t width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string to_html(const Table& t) {
  std::string h =
      "<table" + (t.css_class.empty() ? std::string() : " class=\"" + t.css_class + "\"") + ">\n<thead><tr>";
  for (const auto& col : t.head) h += "<th>" + html_escape(col) + "</th>";
  h += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    h += "<tr>";
    for (size_t i = 0; i < row.size(); ++i) {
      const auto& c = row[i];
      const char* tag = i == 0 ? "th" : "td";
      h += std::string("<") + tag;
      if (c.heat) h += " style=\"background:" + heat_colour(*c.heat) + "\"";
      if (!c.title.empty()) h += " title=\"" + html_escape(c.title) + "\"";
      const std::string css = c.css + (c.noisy ? std::string(c.css.empty() ? "" : " ") + "noisy" : "");
      if (!css.empty()) h += " class=\"" + css + "\"";
      h += ">";
      std::string text = html_escape(c.text);
      if (c.bold) text = "<b>" + text + "</b>";
      if (!c.href.empty()) text = "<a href=\"" + html_escape(c.href) + "\">" + text + "</a>";
      if (c.noisy) text += "<span class=\"mark\" title=\"noisy\">~</span>";
      h += text;
      if (!c.note.empty()) h += "<br><small>" + html_escape(c.note) + "</small>";
      h += std::string("</") + tag + ">";
    }
    h += "</tr>\n";
  }
  return h + "</tbody></table>\n";
}

std::string to_markdown(const Table& t) {
  std::string m = "|";
  for (const auto& col : t.head) m += " " + md_escape(col) + " |";
  m += "\n|";
  for (size_t i = 0; i < t.head.size(); ++i) m += i < t.label_columns || !t.numeric ? " --- |" : " ---: |";
  m += "\n";
  for (const auto& row : t.rows) {
    m += "|";
    for (const auto& c : row) {
      std::string s = md_escape(plain(c));
      if (c.bold && !c.text.empty()) s = "**" + md_escape(c.text) + "**" + md_escape(plain(c).substr(c.text.size()));
      m += " " + s + " |";
    }
    m += "\n";
  }
  return m;
}

std::string to_text(const Table& t) {
  std::vector<size_t> w(t.head.size(), 0);
  for (size_t i = 0; i < t.head.size(); ++i) w[i] = width(t.head[i]);
  for (const auto& row : t.rows)
    for (size_t i = 0; i < row.size() && i < w.size(); ++i) w[i] = std::max(w[i], width(plain(row[i])));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size() && i < w.size(); ++i) {
      const size_t pad = w[i] - width(cells[i]);
      if (i > 0) s += "  ";
      if (i < t.label_columns || !t.numeric) s += cells[i] + std::string(pad, ' ');
      else s += std::string(pad, ' ') + cells[i];
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::string out = line(t.head);
  std::vector<std::string> rule;
  for (size_t x : w) rule.push_back(std::string(x, '-'));
  out += line(rule);
  for (const auto& row : t.rows) {
    std::vector<std::string> cells;
    for (const auto& c : row) cells.push_back(plain(c));
    out += line(cells);
  }
  return out;
}

}  // namespace heapmark::report
