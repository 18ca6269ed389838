#include "workloads/catalog.h"

#include <algorithm>

namespace heapmark::workloads {

static std::vector<const WorkloadDef*>& registry() {
  static std::vector<const WorkloadDef*> defs;
  return defs;
}

Registrar::Registrar(const WorkloadDef& def) { registry().push_back(&def); }

std::vector<const WorkloadDef*> all_workloads() {
  auto defs = registry();
  std::sort(defs.begin(), defs.end(), [](auto* a, auto* b) { return a->name < b->name; });
  return defs;
}

const WorkloadDef& find_workload(const std::string& name) {
  std::string valid;
  for (const auto* d : all_workloads()) {
    if (d->name == name) return *d;
    valid += (valid.empty() ? "" : ", ") + d->name;
  }
  throw InputError("unknown workload '" + name + "' (valid: " + valid + ")");
}

const char* op_kind_name(OpKind k) noexcept {
  switch (k) {
    case OpKind::kAlloc: return "alloc";
    case OpKind::kFree: return "free";
    case OpKind::kRealloc: return "realloc";
    case OpKind::kPhase: return "phase";
    case OpKind::kIdle: return "idle";
    case OpKind::kSend: return "send";
    case OpKind::kRecv: return "recv";
    case OpKind::kRelease: return "release";
    case OpKind::kActivity: return "activity";
  }
  return "?";
}

}  // namespace heapmark::workloads
