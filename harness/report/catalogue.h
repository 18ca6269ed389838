// The `heapmark repro` catalogue page, at the top of a repro run: the verdict
// grid (scenario x allocator, coloured by verdict, with agreement and the
// remedies that worked, each linking to the scenario's section), then every
// scenario's section, from the catalogue's repro.json. Renders; judges nothing.
// A catalogue's preface (diagnose's self-check against the recording) stands
// above the grid.
#pragma once
#include <string>

#include "harness/report/table.h"
#include "harness/results/repro_result.h"

namespace heapmark::report {

struct CataloguePaths {
  std::string html, markdown;
  std::string grid_text;  // the grid for a terminal
};

// The grid as a table model (rows: scenarios; columns: the catalogue's allocators).
Table catalogue_grid(const results::Catalogue& catalogue);
// Writes dir/report.html and dir/summary.md.
CataloguePaths write_catalogue(const std::string& dir, const results::Catalogue& catalogue);

}  // namespace heapmark::report
