// Program cells within a run: checking every program before anything runs,
// preparing their inputs once, and running one cell (supervise_program) into
// its CellResult, output check and metric included.
#pragma once
#include <sched.h>

#include <map>
#include <string>

#include "harness/results/cell_result.h"
#include "harness/runner/matrix.h"
#include "harness/runner/run.h"

namespace heapmark::runner {

// Throws InputError for a program whose command, client, check or figures
// command is not an executable, or whose stdin file is missing.
void check_programs(const Matrix& m, const RunOptions& o);
// Runs each program's prepare commands once, in `work` (its {work}), then each
// program checked "same" once with nothing preloaded: returns that reference
// run's stdout digest per program name, which every cell's output must equal.
// Throws InputError when a prepare command or a reference run fails.
std::map<std::string, std::string> prepare_programs(const Matrix& m, const RunOptions& o, const std::string& work);
// One program cell; `reference` is prepare_programs' result.
results::CellResult run_program_cell(const CellPlan& c, const RunOptions& o, const std::string& run_dir,
                                     const cpu_set_t& deployed, const std::map<std::string, std::string>& reference);

}  // namespace heapmark::runner
