// Runs one self-measuring workload in this process and prints its JSON:
//   native_workload_run WORKLOAD [KEY=VALUE ...]
// The fork-cow test spawns it to read a held child's /proc from outside, and
// `env LD_PRELOAD=lib.so native_workload_run ...` measures another allocator
// without the runner.
#include <cstdio>
#include <exception>
#include <map>
#include <string>

#include "workloads/catalog.h"

int main(int argc, char** argv) {
  using namespace heapmark::workloads;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s WORKLOAD [KEY=VALUE ...]\n", argv[0]);
    return 2;
  }
  try {
    std::map<std::string, std::string> given;
    for (int i = 2; i < argc; ++i) {
      const std::string kv = argv[i];
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) throw heapmark::InputError("'" + kv + "' is not KEY=VALUE");
      given[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    const WorkloadDef& def = find_workload(argv[1]);
    if (!def.run_native) throw heapmark::InputError("workload '" + def.name + "' does not measure itself");
    const std::string json = def.run_native(Params::resolve(def.name, def.params, given));
    std::printf("%s\n", json.c_str());
    return 0;
  } catch (const heapmark::InputError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
