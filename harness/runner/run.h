// `heapmark run`: expands a matrix into cells, runs each in a fresh process,
// appends every finished cell to cells.jsonl and prints a row per cell.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "harness/runner/matrix.h"
#include "harness/runner/plan.h"

namespace heapmark::runner {

struct RunOptions {
  std::string results_root = "results";
  std::string run_id;          // empty: a new one
  std::string resume;          // run id or directory to finish
  Shard shard;                 // --shard K/N: only these blocks (plan.h)
  double timeout_s = 600;      // per cell, wall
  uint64_t mem_cap_bytes = 0;  // per cell, RSS; 0 picks 3/4 of physical memory
  double sample_hz = 1000;
  size_t max_points = 2000;  // stored timeline points per cell
  std::string touch = "pages";
  bool verify = false;        // pattern-fill every block and check it before free
  bool attribute = false;     // pinned memory by site and the heap's page map at every phase end
  uint32_t batch_calls = 0;   // --timing batch[:K]: calls per timed batch; 0 = per-call latency timing
  bool counters = true;       // kernel event counters at every phase edge
  int cell_cpu = -1;          // -1: the last CPU when there are two or more
  std::string cell_binary;    // heapmark-cell, next to heapmark
  std::string probe_library;  // libheapmark_probe.so, preloaded into program cells
  // libheapmark_attach.so: the registry's families, which the probe loads into
  // a program cell at exit to read its allocator's configuration, and its
  // release thread to call the allocator's release hook on a schedule
  std::string registry_library;
  std::string suite_dir;  // --suite-dir: {dir} in program commands
  std::vector<std::string> command_line;
  bool quiet = false;
  // What an interruption message tells the user to run; empty: heapmark run --resume DIR.
  std::string finish_command;
  int jobs = 1;  // cells run at once; above 1 only for RSS-only work (timings disturb each other)
};

// `--timing`: "latency" -> 0, "batch" -> kDefaultBatchCalls, "batch:K" -> K
// (2..65536). Throws InputError naming the value and the valid forms.
inline constexpr uint32_t kDefaultBatchCalls =
    1024;  // fewer, longer windows: the bookkeeping between batches cools the allocator's caches less often
uint32_t parse_timing(const std::string& text);
std::string timing_text(uint32_t batch_calls);

// A run id names one directory under the results root: throws InputError for
// an empty one or one with '/' or '..'.
void check_run_id(const std::string& id);
// Creates root/id (root as needed) and returns it; throws InputError when it
// exists already: a run is never written over (`resumable`: the message
// points to --resume, which adds a run's missing cells).
std::string create_run_dir(const std::string& root, const std::string& id, bool resumable);

// Returns the process exit status: 0 when the run completed (failed cells are
// results, recorded with their cause), 130 when interrupted. `dir` receives the
// results directory once it exists.
int run(Matrix matrix, RunOptions options, const std::vector<registry::Allocator>& known, std::string* dir = nullptr);

}  // namespace heapmark::runner
