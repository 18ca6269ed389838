// The `heapmark repro` catalogue page, at the top of a repro run: the verdict
// grid (scenario x allocator, coloured by verdict, with agreement and the
// remedies that worked, each linking to the scenario's section), then every
// scenario's section, from the catalogue's repro.json. Renders; judges nothing.
// A catalogue may carry "preface_html" and "preface_md": a section its writer
// puts above the grid (diagnose's self-check against the recording).
#pragma once
#include <boost/json/object.hpp>
#include <string>

#include "harness/report/table.h"

namespace heapmark::report {

struct CataloguePaths {
  std::string html, markdown;
  std::string grid_text;  // the grid for a terminal
};

// The grid as a table model (rows: scenarios; columns: the catalogue's allocators).
Table catalogue_grid(const boost::json::object& catalogue);
std::string render_catalogue_html(const boost::json::object& catalogue);
std::string render_catalogue_md(const boost::json::object& catalogue);
// Writes dir/report.html and dir/summary.md.
CataloguePaths write_catalogue(const std::string& dir, const boost::json::object& catalogue);

}  // namespace heapmark::report
