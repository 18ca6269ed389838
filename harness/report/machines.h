// Which rankings change with the hardware: in a run merged with --by-machine
// (cells carry their machine), per workload and parameters, each machine
// type's ranking of the allocators by throughput and by peak RSS, and whether
// it differs from the first machine's. Nothing for a run from one machine.
#pragma once
#include <string>

#include "harness/report/document.h"
#include "harness/report/results.h"

namespace heapmark::report {

Table machine_rankings(const Run& run);
void add_machines_section(Document& d, const Run& run);

}  // namespace heapmark::report
