// The benchmark matrix: allocators x workloads x parameter grid x repetitions,
// from a JSON file or CLI flags, expanded into cells grouped in blocks. One
// block is one (workload, params, rep) for every allocator, in an order
// shuffled per block, so slow drift of the machine hits every allocator alike.
#pragma once
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "allocators/registry/registry.h"
#include "harness/results/schema.h"
#include "harness/runner/program.h"

namespace heapmark::runner {

struct WorkloadSpec {
  std::string name;
  // Each parameter maps to the list of values to sweep (the grid is their product).
  std::map<std::string, std::vector<std::string>> grid;
};

struct Matrix {
  std::vector<registry::Allocator> allocators;  // resolved, configuration included
  std::vector<WorkloadSpec> workloads;
  std::vector<ProgramSpec> programs;  // real programs as workloads (program.h)
  int reps = 3;
  uint64_t seed = 1;
  // The CPU-count axis (--cpus, "cpus" in a matrix file): each cell starts with
  // that many CPUs in its mask, what a container limited to a cpuset of that
  // size shows an allocator. Empty: every cell starts with the runner's own mask.
  std::vector<int> cpus;
  // The release-schedule axis (--release-every, "release_every"): "off" or an
  // interval ("10s", "100ms", at least 1 ms) at which the cell calls the
  // allocator's release hook between its ops, outside the timed calls.
  std::vector<std::string> release_every;
  // The transparent-huge-page axis (--thp, "thp"): "never" (the cell disables
  // THP for itself, prctl PR_SET_THP_DISABLE) or "system" (the machine's
  // setting, recorded in run.json). Generator cells.
  std::vector<std::string> thp;
  // What the report compares against. Empty until build_matrix resolves it:
  // glibc when it is in the run, else the first allocator.
  std::string baseline;

  boost::json::value to_json() const;
  // Reads a matrix file; `known` supplies allocators by name. Throws InputError
  // naming the file and the JSON path of the bad field.
  static Matrix from_json(const boost::json::value& v, const std::vector<registry::Allocator>& known,
                          const std::string& source);
  static Matrix load(const std::string& path, const std::vector<registry::Allocator>& known);
};

// The names of the *.json files in `dir` ("default.json", ...), sorted; none
// when it cannot be read. What a directory of matrices or suites offers.
std::vector<std::string> json_files_in(const std::string& dir);

struct CellPlan {
  std::string key;  // stable identity: workload/params/rep/allocator; resume matches on it
  size_t block = 0;
  size_t index = 0;  // position in the whole run
  const registry::Allocator* allocator = nullptr;
  std::string workload;                       // a generator's name, or the program's
  const ProgramSpec* program = nullptr;       // set for a real program's cell
  std::map<std::string, std::string> params;  // complete (defaults filled in); empty for a program
  // The CPU-count axis: the CPUs in the cell's start mask (0: as deployed); also params["cpus"], so reports group by
  // it.
  int cpus = 0;
  // The release-schedule axis: the interval in ns (0: off); also params["release_every"] as given.
  uint64_t release_every_ns = 0;
  bool thp_never = false;                    // the THP axis: huge pages disabled for the cell; also params["thp"]
  bool thp_axis = false;                     // the run has the THP axis: AnonHugePages is read along the timeline
  std::vector<std::string> deployment_keys;  // the keys of params the axes added (never passed to the workload)
  int rep = 0;
  uint64_t seed = 0;  // same for every allocator of a block: same program
};

// The parameters the deployment axes add to a cell beside its workload's (never passed to the workload).
inline constexpr const char* kCpusParam = results::param::kCpus;
inline constexpr const char* kReleaseParam = results::param::kReleaseEvery;
inline constexpr const char* kThpParam = results::param::kThp;

// "off" -> 0, "100ms" -> 100'000'000, "2.5s"; throws InputError naming `what` below 1 ms or unparsable.
uint64_t release_interval_ns(const std::string& text, const std::string& what);

// Validates every workload and parameter (throws InputError) and returns the
// cells in run order.
std::vector<CellPlan> expand(const Matrix& m);

std::string params_key(const std::map<std::string, std::string>& params);

}  // namespace heapmark::runner
