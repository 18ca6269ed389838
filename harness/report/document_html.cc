// A Document as HTML: the body of report.html and of the catalogue's page
// (html_page wraps it). Text is escaped here, once; kRaw markup goes as is.
#include "harness/report/document.h"

namespace heapmark::report {
namespace {

std::string block_html(const Block& b) {
  switch (b.kind) {
    case Block::Kind::kHeading: {
      const std::string tag = "h" + std::to_string(b.level);
      return "<" + tag + (b.id.empty() ? "" : " id=\"" + html_escape(b.id) + "\"") + ">" + html_escape(b.text) + "</" +
             tag + ">\n";
    }
    case Block::Kind::kParagraph:
      return "<p>" + html_escape(b.text) +
             (b.link.empty() ? "" : " <a href=\"" + html_escape(b.link) + "\">" + html_escape(b.link_text) + "</a>") +
             "</p>\n";
    case Block::Kind::kNote: return "<p class=\"note\">" + html_escape(b.text) + "</p>\n";
    case Block::Kind::kList: {
      std::string h = "<ul>";
      for (const auto& item : b.items) h += "<li>" + html_escape(item) + "</li>";
      return h + "</ul>\n";
    }
    case Block::Kind::kFacts: {
      std::string h = "<p class=\"note\">";
      for (const auto& [k, v] : b.pairs) h += "<b>" + html_escape(k) + "</b>: " + html_escape(v) + ". ";
      return h + "</p>\n";
    }
    case Block::Kind::kLinks: {
      std::string h = "<nav>";
      for (const auto& [label, href] : b.pairs)
        h += "<a href=\"" + html_escape(href) + "\">" + html_escape(label) + "</a>";
      return h + "</nav>\n";
    }
    case Block::Kind::kTable: return to_html(b.table);
    case Block::Kind::kRaw: return b.text;
  }
  return "";
}

}  // namespace

std::string to_html(const Document& d) {
  std::string h;
  for (const Block& b : d.blocks())
    if (b.in != Block::In::kMarkdown) h += block_html(b);
  return h;
}

}  // namespace heapmark::report
