// heapmark merge: the shards of one plan (run --shard K/N, on one machine or
// many) as one run that report and compare read like any other. Refused, with
// one line naming what is wrong: directories that are not results
// directories, shards of different plans, a cell recorded twice with different
// results, a block whose cells ran on machines of different fingerprints, and
// missing cells (unless `partial`). Exact duplicates (a retried shard) are
// dropped. Shards from several machine types merge only with `by_machine`:
// each cell line then carries its machine's fingerprint digest.
#pragma once
#include <string>
#include <vector>

#include "allocators/registry/registry.h"

namespace heapmark::runner {

struct MergeOptions {
  std::vector<std::string> dirs;
  std::string out;
  bool partial = false, by_machine = false;
};

struct MergeSummary {
  size_t planned = 0, cells = 0, duplicates = 0, machines = 0;
  std::vector<size_t> missing_blocks;
};

// Writes out/run.json and out/cells.jsonl; throws InputError for every refusal
// (nothing is written then).
MergeSummary merge_runs(const MergeOptions& o, const std::vector<registry::Allocator>& known);

}  // namespace heapmark::runner
