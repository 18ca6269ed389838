// What machine and build produced a run: recorded in run.json so a result can
// be read, and compared, away from the machine that made it.
#pragma once
#include <boost/json/object.hpp>

namespace heapmark::runner {

struct TscInfo {
  bool invariant = false;
  double hz = 0;
  uint64_t overhead_cycles = 0;
  double overhead_mean_cycles = 0;
  uint64_t resolution_cycles = 0;
};
TscInfo measure_tsc();

// CPU model, cores, memory, kernel, THP mode and defrag, clocksource, glibc
// version, compiler, TSC, heapmark version and commit, load average.
boost::json::object machine_context(const TscInfo& tsc);
boost::json::object build_info();

}  // namespace heapmark::runner
