// The report's view of one results directory (results/SCHEMA.md): run.json and
// every complete line of cells.jsonl, read through the one reader
// (harness/results). Reports and compare read only these files, so they work
// on interrupted runs and on runs copied from other machines.
#pragma once
#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/results/cell_result.h"
#include "harness/results/run_info.h"

namespace heapmark::report {

// One cell: its typed result, plus the object as stored (cells.csv flattens
// it; figures are looked up in it by dotted path).
struct Cell : results::CellResult {
  boost::json::object raw;
  std::string params_id;  // "k=v,k=v" over every parameter, sorted: cells with equal ids ran the same program family

  // A scalar number at a dotted path ("latency_ns.alloc.p99"); nullopt when absent or null.
  std::optional<double> number(const std::string& dotted) const;
};

struct Run {
  std::string dir;
  results::RunInfo info;  // run.json
  std::string run_id, baseline;
  std::vector<std::string> allocators;          // in run.json matrix order, then any seen only in cells
  std::vector<Cell> cells;                      // in file order
  std::map<std::string, std::string> machines;  // merged --by-machine: fingerprint digest -> "CPU model (digest)"
  bool ignored_partial_line = false;            // cells.jsonl ended without a newline; that fragment was skipped
};

// Reads dir/run.json and dir/cells.jsonl. A last line without a trailing
// newline is incomplete (a run still being written or cut short) and is
// ignored. Throws InputError (one line) for a missing directory or run.json,
// malformed JSON in a complete line, or a schema_version other than 1.
// A missing cells.jsonl reads as a run with no finished cells.
Run read_run(const std::string& dir);

// A value at a dotted path inside a JSON object, or nullptr.
const boost::json::value* find_path(const boost::json::object& obj, const std::string& dotted);

}  // namespace heapmark::report
