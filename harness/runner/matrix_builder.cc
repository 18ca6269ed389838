#include "harness/runner/matrix_builder.h"

#include <unistd.h>

#include <set>

#include "common/input_error.h"
#include "common/text.h"
#include "workloads/catalog.h"

namespace heapmark::runner {
namespace {

// NAME or NAME:VALUE, the value going to the workload's shorthand parameter.
WorkloadSpec workload_spec(const std::string& item) {
  const size_t colon = item.find(':');
  const std::string name = item.substr(0, colon);
  const auto& def = workloads::find_workload(name);
  WorkloadSpec spec{name, {}};
  if (colon != std::string::npos) {
    if (def.shorthand_param.empty())
      throw InputError("--workloads '" + item + "': workload '" + name +
                       "' takes no NAME:VALUE form; give its parameters with -p KEY=VALUE");
    spec.grid[def.shorthand_param] = {item.substr(colon + 1)};  // validated with the grid by expand()
  }
  return spec;
}

// KEY=VALUE (every selected workload that has KEY) or WORKLOAD.KEY=VALUE.
void apply_param(const std::string& p, Matrix& m) {
  const size_t eq = p.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--param '" + p + "': expected KEY=VALUE or WORKLOAD.KEY=VALUE");
  std::string key = p.substr(0, eq), scope;
  if (const size_t dot = key.find('.'); dot != std::string::npos) {
    scope = key.substr(0, dot);
    key = key.substr(dot + 1);
    workloads::find_workload(scope);
  }
  bool applied = false;
  for (auto& w : m.workloads) {
    if (!scope.empty() && w.name != scope) continue;
    const auto& def = workloads::find_workload(w.name);
    bool has = false;
    for (const auto& s : def.params) has |= s.name == key;
    if (!has) {
      if (!scope.empty()) workloads::Params::resolve(def.name, def.params, {{key, ""}});  // throws, naming valid keys
      continue;
    }
    w.grid[key] = p.size() > eq + 1 ? split_list(p.substr(eq + 1), '|') : std::vector<std::string>{""};
    applied = true;
  }
  if (applied) return;
  std::string known;  // each selected workload's parameters, once
  std::set<std::string> listed;
  for (const auto& w : m.workloads) {
    if (!listed.insert(w.name).second) continue;
    std::string names;
    for (const auto& s : workloads::find_workload(w.name).params) names += (names.empty() ? "" : ", ") + s.name;
    known += (known.empty() ? "" : "; ") + w.name + ": " + names;
  }
  throw InputError("--param '" + p + "': no selected workload has a parameter '" + key + "' (" + known + ")");
}

// VAR=value replaces an existing VAR, else is added.
void set_env(registry::Env& env, const registry::Env& add) {
  for (const auto& [k, v] : add) {
    bool replaced = false;
    for (auto& [k0, v0] : env)
      if (k0 == k) v0 = v, replaced = true;
    if (!replaced) env.emplace_back(k, v);
  }
}

void apply_env(const std::string& e, Matrix& m) {
  const size_t colon = e.find(':'), eq = e.find('=');
  if (colon == std::string::npos || eq == std::string::npos || eq < colon || colon == 0 || eq == colon + 1)
    throw InputError("--env '" + e +
                     "': expected ALLOCATOR:VAR=VALUE, e.g. jemalloc:MALLOC_CONF=background_thread:true");
  if (const std::string why = registry::env_entry_problem(e.substr(colon + 1, eq - colon - 1), e.substr(eq + 1));
      !why.empty())
    throw InputError("--env '" + e + "': " + why);
  const std::string name = e.substr(0, colon);
  bool found = false;
  for (auto& a : m.allocators)
    if (a.name == name) {
      set_env(a.env,
              {{e.substr(colon + 1, eq - colon - 1), e.substr(eq + 1)}});  // --env overrides the registry's value
      found = true;
    }
  if (!found) throw InputError("--env '" + e + "': allocator '" + name + "' is not in this run");
}

// --cpus 1,2: CPU counts. N:visible=M (a container that shows M CPUs while it runs on N) would need a cgroup.
std::vector<int> cpu_counts(const std::vector<std::string>& items) {
  std::vector<int> out;
  for (const auto& item : items) {
    if (item.find(':') != std::string::npos)
      throw InputError("--cpus '" + item +
                       "': showing a program more CPUs than it may run on needs a cgroup (a cpuset or cpu.max quota), "
                       "which heapmark does not change on this machine; --cpus N starts each cell with N CPUs in its "
                       "mask, what a cpuset of N CPUs shows the allocator");
    size_t used = 0;
    int n = 0;
    try {
      n = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || item.empty())
      throw InputError("--cpus '" + item + "': expected CPU counts, e.g. --cpus 1,2");
    out.push_back(n);
  }
  return out;
}

// Every count between 1 and the CPUs online, each once.
void check_cpu_counts(const std::vector<int>& counts) {
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] < 1 || counts[i] > online)
      throw InputError("--cpus " + std::to_string(counts[i]) + ": this machine has " + std::to_string(online) +
                       " CPUs online (valid: 1 to " + std::to_string(online) + ")");
    for (size_t j = 0; j < i; ++j)
      if (counts[j] == counts[i])
        throw InputError("--cpus lists " + std::to_string(counts[i]) + " twice: list each once");
  }
}

// Each interval valid and once.
void check_release_schedule(const Matrix& m) {
  std::set<uint64_t> seen;
  for (const auto& e : m.release_every)
    if (!seen.insert(release_interval_ns(e, "--release-every")).second)
      throw InputError("--release-every lists " + e + " twice (or an equal interval): list each once");
}

// never or system, each once, on a kernel with transparent huge pages.
void check_thp(const Matrix& m) {
  std::set<std::string> seen;
  for (const auto& t : m.thp) {
    if (t != "never" && t != "system")
      throw InputError("--thp '" + t +
                       "': expected never (the cell disables huge pages for itself) or system (the machine's setting)");
    if (!seen.insert(t).second) throw InputError("--thp lists " + t + " twice: list each once");
  }
  if (m.thp.empty()) return;
  if (access("/sys/kernel/mm/transparent_hugepage/enabled", R_OK) != 0)
    throw InputError("--thp: this kernel has no transparent huge pages (no /sys/kernel/mm/transparent_hugepage)");
}

}  // namespace

Matrix build_matrix(const MatrixRequest& r, std::vector<registry::Allocator>& known) {
  for (const auto& u : r.user_allocators) known.push_back(registry::user(u, known));
  Matrix m;
  if (!r.matrix_file.empty()) m = Matrix::load(r.matrix_file, known);
  if (r.reps || r.matrix_file.empty()) m.reps = r.reps.value_or(3);
  if (r.seed || r.matrix_file.empty()) m.seed = r.seed.value_or(1);
  if (!r.allocators.empty()) {
    m.allocators.clear();
    for (const auto& name : r.allocators) m.allocators.push_back(registry::find(known, name));
  }
  for (const auto& u : r.user_allocators) {
    const std::string name = u.substr(0, u.find('='));
    bool listed = false;
    for (const auto& a : m.allocators) listed |= a.name == name;
    if (!listed) m.allocators.push_back(registry::find(known, name));
  }
  if (m.allocators.empty()) throw InputError("no allocators: give --allocators, --allocator or --matrix");
  // Environment first, so a variant inherits its base's (repro's setups).
  for (const auto& e : r.envs) apply_env(e, m);
  for (const auto& v : r.variants) {
    const registry::Allocator* base = nullptr;
    for (const auto& a : m.allocators)
      if (a.name == v.base) base = &a;
    registry::Allocator a = base ? *base : registry::find(known, v.base);
    a.name = v.name;
    a.variant_of = v.base;
    if (!v.summary.empty()) a.summary = v.summary;
    set_env(a.env, v.env);
    m.allocators.push_back(std::move(a));
  }
  if (!r.workloads.empty()) {
    m.workloads.clear();
    for (const auto& item : r.workloads) m.workloads.push_back(workload_spec(item));
  }
  for (const auto& f : r.program_flags) m.programs.push_back(program_from_flag(f));
  for (const auto& path : r.suites)
    for (auto& p : load_suite(path)) m.programs.push_back(std::move(p));
  if (m.workloads.empty() && m.programs.empty())
    throw InputError("no workloads: give --workloads, --program, --suite or --matrix");
  for (const auto& p : r.params) apply_param(p, m);
  if (!r.cpus.empty()) m.cpus = cpu_counts(r.cpus);
  check_cpu_counts(m.cpus);
  if (!r.release_every.empty()) m.release_every = r.release_every;
  check_release_schedule(m);
  if (!r.thp.empty()) m.thp = r.thp;
  check_thp(m);
  if (r.baseline) m.baseline = *r.baseline;
  std::string names;
  bool has_glibc = false, has_baseline = false;
  for (const auto& a : m.allocators) {
    names += (names.empty() ? "" : ", ") + a.name;
    has_glibc |= a.name == "glibc";
    has_baseline |= a.name == m.baseline;
  }
  if (m.baseline.empty()) m.baseline = has_glibc ? "glibc" : m.allocators.front().name;
  else if (!has_baseline)
    throw InputError("baseline '" + m.baseline + "' is not an allocator of this run (its allocators: " + names + ")");
  return m;
}

}  // namespace heapmark::runner
