#include "harness/runner/matrix.h"

#include <sched.h>

#include <algorithm>
#include <filesystem>
#include <boost/json.hpp>
#include <fstream>
#include <functional>
#include <sstream>
#include <string_view>

#include "common/input_error.h"
#include "workloads/catalog.h"
#include "workloads/rng.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace heapmark::runner {
namespace {

std::string scalar_text(const json::value& v, const std::string& where) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  throw InputError(where + ": expected a string or an integer");
}

uint64_t mix(uint64_t seed, const std::string& text) {
  uint64_t h = seed ^ 0x9e3779b97f4a7c15ull;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  return workloads::splitmix64(h);
}

const json::value kNoWorkloads = json::array{};

using Fail = std::function<InputError(const std::string& path, const std::string& what)>;
using FieldCheck =
    std::function<void(const json::object&, const std::string& path, std::initializer_list<std::string_view> valid)>;

// One entry of "allocators": a known name, {"name", "base", "env"} (a variant),
// {"name", "library"} (a user's .so), or as run.json records it {"name", "kind",
// "library", "env", "variant_of"}, taken as is.
registry::Allocator allocator_from_json(const json::value& a, const std::string& path,
                                        const std::vector<registry::Allocator>& known, const FieldCheck& only,
                                        const Fail& fail) {
  if (a.is_string()) {
    try {
      return registry::find(known, std::string(a.as_string()));
    } catch (const InputError& e) {
      throw fail(path, e.what());
    }
  }
  if (!a.is_object() || !a.as_object().if_contains("name") || !a.at("name").is_string())
    throw fail(path, "expected an allocator name or an object with \"name\" and \"base\" or \"library\"");
  only(a.as_object(), path, {"name", "base", "library", "kind", "env", "variant_of"});
  registry::Allocator alloc;
  const std::string name(a.at("name").as_string());
  if (const auto* kind = a.as_object().if_contains("kind")) {
    alloc.name = name;
    if (!kind->is_string()) throw fail(path + ".kind", "expected an allocator kind");
    try {
      alloc.family = &registry::family_named(std::string(kind->as_string()));
    } catch (const InputError& e) {
      throw fail(path + ".kind", e.what());
    }
    const auto* lib = a.as_object().if_contains("library");
    alloc.library = lib && lib->is_string() ? std::string(lib->as_string()) : "";
    if (const auto* v = a.as_object().if_contains("variant_of"); v && v->is_string())
      alloc.variant_of = std::string(v->as_string());
  } else if (const auto* base = a.as_object().if_contains("base")) {
    if (!base->is_string()) throw fail(path + ".base", "expected an allocator name");
    try {
      alloc = registry::find(known, std::string(base->as_string()));
    } catch (const InputError& e) {
      throw fail(path + ".base", e.what());
    }
    alloc.name = name;
    alloc.variant_of = std::string(base->as_string());
  } else if (const auto* lib = a.as_object().if_contains("library")) {
    if (!lib->is_string()) throw fail(path + ".library", "expected a path");
    try {
      alloc = registry::user(name + "=" + std::string(lib->as_string()), known);
    } catch (const InputError& e) {
      throw fail(path + ".library", e.what());
    }
  } else {
    throw fail(path, "needs \"base\" (a known allocator) or \"library\" (a .so path)");
  }
  if (const auto* env = a.as_object().if_contains("env")) {
    if (!env->is_object()) throw fail(path + ".env", "expected an object of VARIABLE: value");
    for (const auto& [k, val] : env->as_object()) {
      const std::string where = path + ".env." + std::string(k);
      alloc.env.emplace_back(std::string(k), scalar_text(val, where));
      if (const std::string why = registry::env_entry_problem(alloc.env.back().first, alloc.env.back().second);
          !why.empty())
        throw fail(where, why);
    }
  }
  return alloc;
}

}  // namespace

std::string params_key(const std::map<std::string, std::string>& params) {
  std::string k;
  for (const auto& [name, value] : params) k += (k.empty() ? "" : ",") + name + "=" + value;
  return k;
}

json::value Matrix::to_json() const {
  json::array allocs;
  for (const auto& a : allocators) {
    json::object env;
    for (const auto& [k, v] : a.env) env[k] = v;
    json::object entry{{"name", a.name}, {"kind", a.kind()}, {"library", a.library}, {"env", env}};
    if (!a.is_base()) entry["variant_of"] = a.variant_of;
    allocs.push_back(std::move(entry));
  }
  json::array works;
  for (const auto& w : workloads) {
    json::object grid;
    for (const auto& [k, vs] : w.grid) {
      json::array arr;
      for (const auto& v : vs) arr.push_back(json::string(v));
      grid[k] = arr;
    }
    works.push_back(json::object{{"name", w.name}, {"params", grid}});
  }
  json::object out{
      {"allocators", allocs}, {"workloads", works}, {"reps", reps}, {"seed", seed}, {"baseline", baseline}};
  if (!cpus.empty()) {
    json::array counts;
    for (int n : cpus) counts.push_back(n);
    out["cpus"] = std::move(counts);
  }
  if (!release_every.empty()) {
    json::array every;
    for (const auto& e : release_every) every.push_back(json::string(e));
    out["release_every"] = std::move(every);
  }
  if (!thp.empty()) {
    json::array modes;
    for (const auto& t : thp) modes.push_back(json::string(t));
    out["thp"] = std::move(modes);
  }
  if (!programs.empty()) {
    json::array progs;
    for (const auto& p : programs) progs.push_back(p.to_json());
    out["programs"] = std::move(progs);
  }
  return out;
}

Matrix Matrix::from_json(const json::value& v, const std::vector<registry::Allocator>& known,
                         const std::string& source) {
  const Fail fail = [&](const std::string& path, const std::string& what) -> InputError {
    return InputError(source + ": " + path + ": " + what);
  };
  // A misspelt field would otherwise be ignored and the run go on without it.
  const FieldCheck only = [&](const json::object& obj, const std::string& path,
                              std::initializer_list<std::string_view> valid) {
    for (const auto& [k, _] : obj) {
      if (std::find(valid.begin(), valid.end(), std::string_view(k)) != valid.end()) continue;
      std::string list;
      for (auto f : valid) list += (list.empty() ? "" : ", ") + std::string(f);
      throw fail(path + "." + std::string(k), "unknown field (valid: " + list + ")");
    }
  };
  if (!v.is_object()) throw fail("$", "expected an object with allocators, workloads, reps, seed");
  const auto& o = v.as_object();
  only(o, "$",
       {"allocators", "workloads", "programs", "suites", "reps", "seed", "baseline", "description", "cpus",
        "release_every", "thp"});
  Matrix m;
  const json::value* allocs = o.if_contains("allocators");
  if (!allocs || !allocs->is_array() || allocs->as_array().empty())
    throw fail("$.allocators", "expected a non-empty array");
  for (size_t i = 0; i < allocs->as_array().size(); ++i)
    m.allocators.push_back(
        allocator_from_json(allocs->as_array()[i], "$.allocators[" + std::to_string(i) + "]", known, only, fail));
  if (const auto* progs = o.if_contains("programs")) {
    if (!progs->is_array()) throw fail("$.programs", "expected an array of programs");
    for (size_t i = 0; i < progs->as_array().size(); ++i)
      m.programs.push_back(program_from_json(progs->as_array()[i], source + ": $.programs[" + std::to_string(i) + "]"));
  }
  // Suite files, relative to the matrix file: their programs join the list
  // (to_json writes them out inline, so run.json holds what ran).
  if (const auto* suites = o.if_contains("suites")) {
    if (!suites->is_array()) throw fail("$.suites", "expected an array of suite files");
    const std::filesystem::path base = std::filesystem::absolute(source).parent_path();
    for (size_t i = 0; i < suites->as_array().size(); ++i) {
      const std::string path = "$.suites[" + std::to_string(i) + "]";
      const auto& item = suites->as_array()[i];
      const json::value* file = &item;
      std::vector<std::string> only_names;  // empty: every program of the suite
      if (item.is_object()) {
        only(item.as_object(), path, {"file", "only"});
        file = item.as_object().if_contains("file");
        if (const auto* names = item.as_object().if_contains("only")) {
          if (!names->is_array()) throw fail(path + ".only", "expected a list of program names");
          for (const auto& n : names->as_array()) {
            if (!n.is_string()) throw fail(path + ".only", "expected a list of program names");
            only_names.emplace_back(n.as_string());
          }
        }
      }
      if (!file || !file->is_string())
        throw fail(path, "expected a suite file name, or {\"file\": ..., \"only\": [names]}");
      std::vector<ProgramSpec> progs = load_suite((base / std::string(file->as_string())).lexically_normal().string());
      for (const auto& n : only_names) {
        if (std::any_of(progs.begin(), progs.end(), [&](const ProgramSpec& p) { return p.name == n; })) continue;
        std::string valid;
        for (const auto& p : progs) valid += (valid.empty() ? "" : ", ") + p.name;
        throw fail(path + ".only",
                   "'" + n + "' is not a program of " + std::string(file->as_string()) + " (valid: " + valid + ")");
      }
      for (auto& p : progs)
        if (only_names.empty() || std::find(only_names.begin(), only_names.end(), p.name) != only_names.end())
          m.programs.push_back(std::move(p));
    }
  }
  const json::value* works = o.if_contains("workloads");
  if (!works && !m.programs.empty()) works = &kNoWorkloads;
  if (!works || !works->is_array() || (works->as_array().empty() && m.programs.empty()))
    throw fail("$.workloads", "expected a non-empty array (or \"programs\")");
  for (size_t i = 0; i < works->as_array().size(); ++i) {
    const auto& w = works->as_array()[i];
    const std::string path = "$.workloads[" + std::to_string(i) + "]";
    WorkloadSpec spec;
    if (w.is_string()) {
      spec.name = std::string(w.as_string());
    } else if (w.is_object() && w.as_object().if_contains("name") && w.at("name").is_string()) {
      spec.name = std::string(w.at("name").as_string());
      only(w.as_object(), path, {"name", "params"});
      if (const auto* params = w.as_object().if_contains("params")) {
        if (!params->is_object()) throw fail(path + ".params", "expected an object of parameter: value or [values]");
        for (const auto& [k, val] : params->as_object()) {
          const std::string ppath = path + ".params." + std::string(k);
          auto& values = spec.grid[std::string(k)];
          if (val.is_array()) {
            if (val.as_array().empty()) throw fail(ppath, "empty list of values");
            for (size_t j = 0; j < val.as_array().size(); ++j)
              values.push_back(scalar_text(val.as_array()[j], ppath + "[" + std::to_string(j) + "]"));
          } else {
            values.push_back(scalar_text(val, ppath));
          }
        }
      }
    } else {
      throw fail(path, "expected a workload name or an object with \"name\" and \"params\"");
    }
    try {
      const auto& def = workloads::find_workload(spec.name);
      for (const auto& [k, vs] : spec.grid)
        for (const auto& v : vs) workloads::Params::resolve(def.name, def.params, {{k, v}});
    } catch (const InputError& e) {
      throw fail(path, e.what());
    }
    m.workloads.push_back(spec);
  }
  if (const auto* reps = o.if_contains("reps")) {
    if (!reps->is_int64() || reps->as_int64() < 1 || reps->as_int64() > 1000)
      throw fail("$.reps", "expected an integer in [1, 1000]");
    m.reps = static_cast<int>(reps->as_int64());
  }
  if (const auto* seed = o.if_contains("seed")) {
    if (!seed->is_int64() && !seed->is_uint64()) throw fail("$.seed", "expected a non-negative integer");
    m.seed = seed->is_int64() ? static_cast<uint64_t>(seed->as_int64()) : seed->as_uint64();
  }
  if (const auto* counts = o.if_contains("cpus")) {
    if (!counts->is_array()) throw fail("$.cpus", "expected an array of CPU counts, e.g. [1, 2]");
    for (size_t i = 0; i < counts->as_array().size(); ++i) {
      const auto& n = counts->as_array()[i];
      if (!n.is_int64() || n.as_int64() < 1 || n.as_int64() > CPU_SETSIZE)
        throw fail("$.cpus[" + std::to_string(i) + "]", "expected a CPU count of at least 1");
      m.cpus.push_back(static_cast<int>(n.as_int64()));
    }
  }
  if (const auto* every = o.if_contains("release_every")) {
    if (!every->is_array()) throw fail("$.release_every", "expected an array of intervals, e.g. [\"off\", \"1s\"]");
    for (size_t i = 0; i < every->as_array().size(); ++i) {
      const std::string path = "$.release_every[" + std::to_string(i) + "]";
      const auto& e = every->as_array()[i];
      if (!e.is_string()) throw fail(path, "expected \"off\" or an interval such as \"100ms\"");
      try {
        release_interval_ns(std::string(e.as_string()), path);
      } catch (const InputError& x) {
        throw InputError(source + ": " + x.what());
      }
      m.release_every.emplace_back(e.as_string());
    }
  }
  if (const auto* modes = o.if_contains("thp")) {
    if (!modes->is_array()) throw fail("$.thp", "expected an array of modes, e.g. [\"never\", \"system\"]");
    for (size_t i = 0; i < modes->as_array().size(); ++i) {
      const auto& t = modes->as_array()[i];
      if (!t.is_string() || (t.as_string() != "never" && t.as_string() != "system"))
        throw fail("$.thp[" + std::to_string(i) + "]", "expected never or system");
      m.thp.emplace_back(t.as_string());
    }
  }
  if (const auto* base = o.if_contains("baseline")) {
    if (!base->is_string()) throw fail("$.baseline", "expected an allocator name");
    m.baseline = std::string(base->as_string());
  }
  return m;
}

std::vector<std::string> json_files_in(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

Matrix Matrix::load(const std::string& path, const std::vector<registry::Allocator>& known) {
  if (std::error_code ec_dir; fs::is_directory(path, ec_dir)) {
    std::string files;
    for (const auto& f : json_files_in(path)) files += (files.empty() ? "" : ", ") + f;
    throw InputError("--matrix '" + path + "' is a directory: give one matrix file" +
                     (files.empty() ? std::string() : " (there: " + files + ")"));
  }
  if (std::error_code ec;
      fs::exists(path, ec) && !fs::is_regular_file(path, ec))  // a FIFO would block the read forever
    throw InputError("--matrix '" + path + "' is not a regular file (a FIFO or device): give a matrix file");
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot read the matrix file");
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  const json::value v = json::parse(ss.str(), ec);
  if (ec) throw InputError(path + ": not valid JSON (" + ec.message() + ")");
  return from_json(v, known, path);
}

// One block per (program, rep): every allocator runs it back to back, in an
// order shuffled per block as for generators.
// The order a block runs its allocators in: a shuffle seeded by the block's
// seed, so drift does not always favour the same allocator.
static std::vector<size_t> block_order(size_t allocators, uint64_t seed) {
  std::vector<size_t> order(allocators);
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  workloads::Rng rng(seed ^ 0x5bd1e995u);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

namespace {
// One point of the deployment axes (CPU count, release schedule): its values and the parameters naming them.
struct Deployment {
  int cpus = 0;
  uint64_t release_every_ns = 0;
  bool thp_never = false;
  std::map<std::string, std::string> params;
};
}  // namespace

// A cell's values of the deployment axes, and which of its parameters they added.
static void deploy(CellPlan& c, const Deployment& dep) {
  c.cpus = dep.cpus;
  c.release_every_ns = dep.release_every_ns;
  c.thp_never = dep.thp_never;
  c.thp_axis = dep.params.count(kThpParam) > 0;
  for (const auto& [k, v] : dep.params) c.deployment_keys.push_back(k);
}

// Every point of `out` once for each of an axis's values (`apply` sets one on a copy); `out` unchanged for an
// axis the matrix does not have.
template <class T, class Apply>
static void cross(std::vector<Deployment>& out, const std::vector<T>& values, Apply apply) {
  if (values.empty()) return;
  std::vector<Deployment> next;
  for (const auto& d : out)
    for (const auto& v : values) {
      Deployment x = d;
      apply(x, v);
      next.push_back(std::move(x));
    }
  out = std::move(next);
}

// Every combination of the axes the matrix has; one (as deployed, no schedule) without any.
static std::vector<Deployment> deployments(const Matrix& m) {
  std::vector<Deployment> out{{}};
  cross(out, m.cpus, [](Deployment& d, int n) {
    d.cpus = n;
    d.params[kCpusParam] = std::to_string(n);
  });
  cross(out, m.release_every, [](Deployment& d, const std::string& e) {
    d.release_every_ns = release_interval_ns(e, "--release-every");
    d.params[kReleaseParam] = e;
  });
  cross(out, m.thp, [](Deployment& d, const std::string& t) {
    d.thp_never = t == "never";
    d.params[kThpParam] = t;
  });
  return out;
}

uint64_t release_interval_ns(const std::string& text, const std::string& what) {
  if (text == "off") return 0;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = used ? text.substr(used) : "";
  const double scale = unit == "ms" ? 1e6 : unit == "s" ? 1e9 : 0;
  if (!used || scale == 0 || !(v > 0))
    throw InputError(what + " '" + text + "': expected off or an interval such as 10s, 1s, 100ms, 10ms");
  if (v * scale < 1e6)
    throw InputError(what + " '" + text +
                     "': at least 1ms (a release call costs from microseconds to milliseconds; more often measures the "
                     "calls, not the schedule)");
  return static_cast<uint64_t>(v * scale);
}

void expand_programs(const Matrix& m, size_t& block, std::vector<CellPlan>& cells) {
  for (const auto& p : m.programs) {
    for (const auto& w : m.workloads)
      if (w.name == p.name) throw InputError("program '" + p.name + "' has the name of a workload in the same run");
    for (const Deployment& dep : deployments(m))
      for (int rep = 1; rep <= m.reps; ++rep, ++block) {
        const uint64_t seed = mix(m.seed, "program:" + p.name + "|" + std::to_string(rep));
        for (size_t i : block_order(m.allocators.size(), seed)) {
          CellPlan c;
          c.allocator = &m.allocators[i];
          c.workload = p.name;
          c.program = &p;
          c.params = dep.params;
          deploy(c, dep);
          c.rep = rep;
          c.seed = seed;
          c.block = block;
          c.index = cells.size();
          c.key = "program:" + p.name + (dep.params.empty() ? "" : "/" + params_key(dep.params)) + "/rep" +
                  std::to_string(rep) + "/" + c.allocator->name;
          cells.push_back(std::move(c));
        }
      }
  }
}

// Resume, reports and merge know a cell by its key: two cells with one key
// would be run once and counted twice. Names both, as the user wrote them.
static void check_unique_keys(const Matrix& m, const std::vector<CellPlan>& cells) {
  auto source = [&](const CellPlan& c) {
    if (c.program) return "program '" + c.workload + "'";
    std::string given;
    for (size_t w = 0; w < m.workloads.size(); ++w)
      if (m.workloads[w].name == c.workload) given += (given.empty() ? "" : " and ") + std::to_string(w + 1);
    return "workload '" + c.workload + "' (listed as workload " + given + ") with " + params_key(c.params);
  };
  std::map<std::string, const CellPlan*> seen;
  for (const auto& c : cells)
    if (auto [it, fresh] = seen.emplace(c.key, &c); !fresh)
      throw InputError(
          "two cells would have the key '" + c.key + "': " + source(*it->second) +
          " twice; a workload listed twice or a swept value repeated (-p KEY=a|a) gives the same cell twice: "
          "list each once");
}

std::vector<CellPlan> expand(const Matrix& m) {
  for (size_t i = 0; i < m.allocators.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (m.allocators[i].name == m.allocators[j].name)
        throw InputError("allocator '" + m.allocators[i].name + "' is listed twice");
  for (size_t i = 0; i < m.programs.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (m.programs[i].name == m.programs[j].name)
        throw InputError("program '" + m.programs[i].name + "' is listed twice");
  std::vector<CellPlan> cells;
  size_t block = 0;
  for (const auto& w : m.workloads) {
    const auto& def = workloads::find_workload(w.name);
    // Cartesian product of the grid, in a fixed (sorted-key) order.
    std::vector<std::map<std::string, std::string>> combos{{}};
    for (const auto& [k, values] : w.grid) {
      std::vector<std::map<std::string, std::string>> next;
      for (const auto& c : combos)
        for (const auto& v : values) {
          auto c2 = c;
          c2[k] = v;
          next.push_back(std::move(c2));
        }
      combos = std::move(next);
    }
    for (const auto& given : combos) {
      const auto workload_params = workloads::Params::resolve(def.name, def.params, given).values();
      for (const Deployment& dep : deployments(m)) {
        for (const auto& [k, v] : dep.params)
          if (workload_params.count(k)) {
            std::string flag = k;
            std::replace(flag.begin(), flag.end(), '_', '-');
            throw InputError("workload '" + w.name + "' has a parameter '" + k + "' of its own, which the --" + flag +
                             " axis would shadow: give it with -p " + w.name + "." + k +
                             "=VALUE, or run the axis on other workloads");
          }
        auto params = workload_params;
        params.insert(dep.params.begin(), dep.params.end());
        const std::string pkey = params_key(params);
        for (int rep = 1; rep <= m.reps; ++rep, ++block) {
          // The same program at every CPU count: the seed leaves the axis out.
          const uint64_t seed = mix(m.seed, w.name + "|" + params_key(workload_params) + "|" + std::to_string(rep));
          for (size_t i : block_order(m.allocators.size(), seed)) {
            CellPlan c;
            c.allocator = &m.allocators[i];
            c.workload = w.name;
            c.params = params;
            deploy(c, dep);
            c.rep = rep;
            c.seed = seed;
            c.block = block;
            c.index = cells.size();
            c.key = w.name + "/" + pkey + "/rep" + std::to_string(rep) + "/" + c.allocator->name;
            cells.push_back(std::move(c));
          }
        }
      }
    }
  }
  expand_programs(m, block, cells);
  check_unique_keys(m, cells);
  return cells;
}

}  // namespace heapmark::runner
