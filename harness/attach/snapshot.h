// One `heapmark attach` invocation's findings, typed: the outside view, and
// where taken, the inside view and its assessment, the --apply result and the
// --watch timeline. The CLI fills it; the terminal text, attach.json and
// report.html are its three renderings.
#pragma once
#include <boost/json/object.hpp>
#include <optional>
#include <string>

#include "harness/attach/inside.h"
#include "harness/attach/outside.h"
#include "harness/attach/verdict.h"
#include "harness/attach/watch.h"

namespace heapmark::attach {

struct Snapshot {
  OutsideView outside;
  std::optional<InsideView> inside;
  std::optional<Assessment> assessment;
  std::optional<Applied> applied;
  std::optional<Watch> watch;
};

boost::json::object to_json(const Snapshot& s);
std::string render_text(const Snapshot& s);
// A self-contained report.html: the two views of RES as stacked bars, the
// verdict, the allocator's figures, --apply's prediction against what it
// measured, and the --watch timeline (the report's SVG charts and page shell).
std::string render_html(const Snapshot& s);

}  // namespace heapmark::attach
