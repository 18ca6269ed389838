// What machine and build produced a run: recorded in run.json so a result can
// be read, and compared, away from the machine that made it.
#pragma once
#include <string>
#include <vector>

#include "harness/results/run_info.h"

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
results::MachineInfo machine_context(const TscInfo& tsc);
results::BuildInfo build_info();

// The machine type a run's figures belong to: CPU model, count and microcode,
// memory (GiB), kernel release, THP settings, glibc, each allocator's version
// and heapmark's commit, and their digest (FNV-1a 64). Not the host name:
// identical machines of a fleet share it. `allocators`: run.json's probes.
results::Fingerprint fingerprint(const results::MachineInfo& machine,
                                 const std::vector<results::AllocatorProbe>& allocators);
// (What differs between two: results::fingerprint_difference, harness/results/fingerprint.h.)

}  // namespace heapmark::runner
