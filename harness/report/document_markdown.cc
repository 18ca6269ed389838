// A Document as Markdown: summary.md and the catalogue's summary. One blank
// line between blocks; tables through table.cc; charts and the page's link
// bar are HTML only and left out.
#include "harness/report/document.h"

namespace heapmark::report {
namespace {

std::string block_markdown(const Block& b) {
  switch (b.kind) {
    case Block::Kind::kHeading: return std::string(static_cast<size_t>(b.level), '#') + " " + b.text;
    case Block::Kind::kParagraph: return b.text + (b.link.empty() ? "" : " [" + b.link_text + "](" + b.link + ")");
    case Block::Kind::kNote: return b.text;
    case Block::Kind::kList: {
      std::string m;
      for (const auto& item : b.items) m += (m.empty() ? "- " : "\n- ") + item;
      return m;
    }
    case Block::Kind::kFacts: {
      std::string m;
      for (const auto& [k, v] : b.pairs) m += (m.empty() ? "- " : "\n- ") + k + ": " + v;
      return m;
    }
    case Block::Kind::kTable: {
      std::string m = to_markdown(b.table);
      while (!m.empty() && m.back() == '\n') m.pop_back();
      return m;
    }
    case Block::Kind::kLinks:
    case Block::Kind::kRaw: {
      std::string m = b.text;
      while (!m.empty() && m.back() == '\n') m.pop_back();
      return m;
    }
  }
  return "";
}

// A heading whose section (up to the next heading of its level or above) has
// nothing Markdown shows, only charts, is left out with it.
bool section_has_text(const std::vector<Block>& blocks, size_t heading) {
  for (size_t i = heading + 1; i < blocks.size(); ++i) {
    const Block& b = blocks[i];
    if (b.kind == Block::Kind::kHeading) {
      if (b.level <= blocks[heading].level) return false;
      continue;
    }
    if (b.in != Block::In::kHtml) return true;
  }
  return false;
}

}  // namespace

std::string to_markdown(const Document& d) {
  const std::vector<Block>& blocks = d.blocks();
  std::string m;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const Block& b = blocks[i];
    if (b.in == Block::In::kHtml) continue;
    if (b.kind == Block::Kind::kHeading && b.level > 1 && !section_has_text(blocks, i)) continue;
    const std::string text = block_markdown(b);
    if (!text.empty()) m += (m.empty() ? "" : "\n\n") + text;
  }
  return m + "\n";
}

}  // namespace heapmark::report
