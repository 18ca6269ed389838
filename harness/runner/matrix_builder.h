// The one way a matrix is assembled: `run`'s flags, a matrix file, `replay`
// and `repro` all describe what they want as a MatrixRequest; build_matrix
// validates it (InputError naming the flag or field and the valid values)
// and resolves it against the registry.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "allocators/registry/registry.h"
#include "harness/runner/matrix.h"

namespace heapmark::runner {

// A named copy of a known allocator with more environment (a remedy, `je-dirty0`).
struct VariantRequest {
  std::string name, base;
  registry::Env env;
  std::string summary;
};

struct MatrixRequest {
  std::string matrix_file;                   // a matrix JSON file; the fields below add to or override it
  std::vector<std::string> allocators;       // names; non-empty replaces the file's list
  std::vector<std::string> user_allocators;  // NAME=/path/lib.so, appended
  std::vector<VariantRequest> variants;      // appended
  std::vector<std::string> workloads;  // NAME or NAME:VALUE (the workload's shorthand parameter); non-empty replaces
  std::vector<std::string> program_flags;  // NAME='CMD ARGS', appended
  std::vector<std::string> suites;         // suite files (workloads/programs/*.json), their programs appended
  std::vector<std::string> params;         // KEY=VALUE or WORKLOAD.KEY=VALUE, VALUE may be a|b|c to sweep
  std::vector<std::string> envs;           // ALLOCATOR:VAR=VALUE, applied before variants copy their base
  std::optional<int> reps;                 // default 3 without a matrix file
  std::optional<uint64_t> seed;            // default 1 without a matrix file
  std::optional<std::string> baseline;     // default: the file's, else glibc
  std::vector<std::string> cpus;           // the CPU-count axis (--cpus 1,2); non-empty replaces the file's
  std::vector<std::string> release_every;  // the release-schedule axis (--release-every off,1s); non-empty replaces
  std::vector<std::string> thp;            // the THP axis (--thp never,system); non-empty replaces
};

// `known` gains the request's user allocators (run.json and repro find them there).
Matrix build_matrix(const MatrixRequest& request, std::vector<registry::Allocator>& known);

}  // namespace heapmark::runner
