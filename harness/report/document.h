// A page as a list of blocks: the report's sections build it once and two
// writers render it, report.html (document_html.cc) and summary.md
// (document_markdown.cc), so the page and the summary say the same things in
// the same order. A block the other format cannot show (a chart, the page's
// script, a link bar) says where it belongs.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "harness/report/table.h"

namespace heapmark::report {

struct Block {
  enum class Kind {
    kHeading,    // level 1-3, with an anchor id
    kParagraph,  // text, with a link after it ("" none)
    kNote,       // a paragraph of method or explanation
    kList,       // items, one per line
    kFacts,      // label: value pairs on one line (HTML) or as a list (Markdown)
    kLinks,      // a bar of links to anchors (label, "#id")
    kTable,
    kRaw,  // markup of one format, as is: a chart (SVG), a script, a block written elsewhere
  };
  enum class In { kBoth, kHtml, kMarkdown };
  Kind kind = Kind::kParagraph;
  In in = In::kBoth;
  int level = 0;
  std::string id;    // kHeading: the anchor
  std::string text;  // kHeading, kParagraph, kNote; kRaw: the markup
  std::string link, link_text;
  std::vector<std::string> items;                          // kList
  std::vector<std::pair<std::string, std::string>> pairs;  // kFacts: label, value; kLinks: label, href
  Table table;
};

class Document {
 public:
  const std::vector<Block>& blocks() const { return blocks_; }

  Document& heading(int level, std::string text, std::string id = {}) {
    Block b = make(Block::Kind::kHeading);
    b.level = level;
    b.text = std::move(text);
    b.id = std::move(id);
    return add(std::move(b));
  }
  Document& paragraph(std::string text, std::string link = {}, std::string link_text = {}) {
    Block b = make(Block::Kind::kParagraph);
    b.text = std::move(text);
    b.link = std::move(link);
    b.link_text = std::move(link_text);
    return add(std::move(b));
  }
  Document& note(std::string text) {
    Block b = make(Block::Kind::kNote);
    b.text = std::move(text);
    return add(std::move(b));
  }
  Document& list(std::vector<std::string> items) {
    Block b = make(Block::Kind::kList);
    b.items = std::move(items);
    return add(std::move(b));
  }
  Document& facts(std::vector<std::pair<std::string, std::string>> pairs) {
    Block b = make(Block::Kind::kFacts);
    b.pairs = std::move(pairs);
    return add(std::move(b));
  }
  Document& links(std::vector<std::pair<std::string, std::string>> label_href) {
    Block b = make(Block::Kind::kLinks, Block::In::kHtml);
    b.pairs = std::move(label_href);
    return add(std::move(b));
  }
  Document& table(Table t) {
    Block b = make(Block::Kind::kTable);
    b.table = std::move(t);
    return add(std::move(b));
  }
  Document& html(std::string markup) { return raw(Block::In::kHtml, std::move(markup)); }
  Document& markdown(std::string text) { return raw(Block::In::kMarkdown, std::move(text)); }
  // The last block added, for one format only.
  Document& only(Block::In in) {
    if (!blocks_.empty()) blocks_.back().in = in;
    return *this;
  }

 private:
  static Block make(Block::Kind kind, Block::In in = Block::In::kBoth) {
    Block b;
    b.kind = kind;
    b.in = in;
    return b;
  }
  Document& raw(Block::In in, std::string text) {
    if (text.empty()) return *this;
    Block b = make(Block::Kind::kRaw, in);
    b.text = std::move(text);
    return add(std::move(b));
  }
  Document& add(Block b) {
    blocks_.push_back(std::move(b));
    return *this;
  }
  std::vector<Block> blocks_;
};

// The page's body (html_page adds the shell) and the Markdown file: each
// writer skips the blocks of the other format.
std::string to_html(const Document& d);
std::string to_markdown(const Document& d);

}  // namespace heapmark::report
