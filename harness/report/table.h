// A layout-neutral table: the report, summary.md and compare fill one model and
// render it as HTML, Markdown or aligned terminal text, so the three stay alike.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace heapmark::report {

struct TableCell {
  TableCell(std::string t = {}, std::string n = {}) : text(std::move(t)), note(std::move(n)) {}
  std::string text;            // main value
  std::string note;            // secondary line (e.g. "1.52× [1.40, 1.61]"); same line in Markdown and text
  std::string title;           // hover text in HTML
  std::optional<double> heat;  // 0 = best .. 1 = worst: background colour in HTML
  bool noisy = false;          // marked "~" everywhere
  bool bold = false;
  std::string href;  // HTML only: the text links here
  std::string css;   // HTML only: class of the cell
};

// A row's label, in bold: HeadingCell("glibc", "baseline").
struct HeadingCell : TableCell {
  explicit HeadingCell(std::string t, std::string n = {}) : TableCell(std::move(t), std::move(n)) { bold = true; }
};

struct Table {
  std::vector<std::string> head;
  std::vector<std::vector<TableCell>> rows;
  std::string css_class;     // HTML only
  bool numeric = true;       // right-align the value columns (Markdown, text)
  size_t label_columns = 1;  // leading columns that are labels, always left-aligned
};

std::string html_escape(const std::string& s);
std::string to_html(const Table& t);
std::string to_markdown(const Table& t);
std::string to_text(const Table& t);  // fixed-width columns for a terminal

}  // namespace heapmark::report
