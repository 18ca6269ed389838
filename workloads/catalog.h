// The workloads heapmark knows. Each workload is one .cc file in workloads/
// that defines a WorkloadDef and registers it with a static Registrar; the
// workloads library is an OBJECT library so no registration is dropped.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "workloads/op.h"
#include "workloads/params.h"
#include "workloads/scratch.h"

namespace heapmark::workloads {

struct WorkloadDef {
  std::string name;
  std::string summary;  // one line for `heapmark list workloads`
  std::vector<ParamSpec> params;
  // Builds one Program per thread, placed in `scratch`, from validated params.
  // Runs in the cell before measurement starts.
  std::function<std::vector<Program*>(const Params&, uint64_t seed, Scratch&)> make;
  // Upper bound of the scratch bytes `make` needs, so the cell maps enough.
  std::function<size_t(const Params&)> scratch_bytes;
  // Set instead of `make` for a workload that measures itself (Google
  // Benchmark): the cell runs it and passes on the JSON it returns.
  std::function<std::string(const Params&)> run_native = nullptr;
  // The parameter that `--workloads NAME:VALUE` sets (trace:app.hmt sets path);
  // empty: the workload takes no such shorthand.
  std::string shorthand_param = "";
};

std::vector<const WorkloadDef*> all_workloads();  // sorted by name
// Throws InputError naming the unknown workload and the valid ones.
const WorkloadDef& find_workload(const std::string& name);

struct Registrar {
  explicit Registrar(const WorkloadDef& def);
};

}  // namespace heapmark::workloads
