// `heapmark list allocators|workloads`: what heapmark knows, each allocator
// probed in a cell as a run would (its real version), as a table or JSON.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>

#include "allocators/registry/registry.h"
#include "harness/cli/commands.h"
#include "harness/runner/supervise.h"
#include "workloads/catalog.h"
#include "workloads/params.h"
#include "workloads/sizes.h"

namespace {

namespace hm = heapmark;

// "Probe" each found allocator in a cell, as a run would, for its real version.
struct Listed {
  const hm::registry::Allocator* a;
  std::string status, version;
};

std::vector<Listed> probe_all(const std::vector<hm::registry::Allocator>& all, const std::string& cell) {
  std::vector<Listed> out;
  for (const auto& a : all) {
    Listed l{&a, a.found ? "found" : "missing", ""};
    if (a.found) {
      hm::runner::SpawnSpec spec;
      spec.cell_binary = cell;
      spec.args = {"--probe", "--kind", a.kind()};
      if (!a.library.empty()) spec.args.insert(spec.args.end(), {"--library", a.library});
      spec.env = a.env;
      if (!a.library.empty()) spec.env.emplace_back("LD_PRELOAD", a.library);
      spec.timeout_s = 30;
      spec.sample_hz = 0;
      const auto r = hm::runner::supervise(spec);
      if (r.have_hello) {
        l.version = r.hello.version;
        if (!r.hello.identity_ok) l.status = "no-proof";
      } else {
        l.status = "broken";
      }
    }
    out.push_back(std::move(l));
  }
  return out;
}

void list_allocators(const std::vector<hm::registry::Allocator>& all, const std::string& cell, bool as_json) {
  const auto listed = probe_all(all, cell);
  if (as_json) {
    boost::json::array arr;
    for (const auto& l : listed) {
      boost::json::object env;
      for (const auto& [k, v] : l.a->env) env[k] = v;
      arr.push_back(boost::json::object{{"name", l.a->name},
                                        {"kind", l.a->kind()},
                                        {"status", l.status},
                                        {"version", l.version},
                                        {"library", l.a->library},
                                        {"env", std::move(env)},
                                        {"variant_of", l.a->variant_of},
                                        {"summary", l.a->summary},
                                        {"missing_hint", l.a->missing_hint}});
    }
    std::printf("%s\n", boost::json::serialize(arr).c_str());
    return;
  }
  int name_w = 16, version_w = 22;  // columns stay aligned for long names and versions (jemalloc's has its git hash)
  for (const auto& l : listed)
    name_w = std::max(name_w, static_cast<int>(l.a->name.size())),
    version_w = std::max(version_w, static_cast<int>(l.version.size()));
  std::printf("%-*s %-9s %-8s %-*s %s\n", name_w, "name", "kind", "status", version_w, "version",
              "library / configuration");
  for (const auto& l : listed) {
    const auto& a = *l.a;
    std::string where = a.library.empty() ? "(libc, no preload)" : a.library;
    for (const auto& [k, v] : a.env) where += "  " + k + "=" + v;
    if (!a.found) where += "  -> " + a.missing_hint;
    std::printf("%-*s %-9s %-8s %-*s %s\n", name_w, a.name.c_str(), a.kind(), l.status.c_str(), version_w,
                l.version.empty() ? "-" : l.version.c_str(), where.c_str());
  }
}

std::string param_range(const hm::workloads::WorkloadDef& w, const hm::workloads::ParamSpec& p) {
  std::string range;
  if (p.type == hm::workloads::ParamType::kInt)
    range = "[" + std::to_string(p.min) + ", " + std::to_string(p.max) + "]";
  if (p.type == hm::workloads::ParamType::kChoice)
    for (const auto& c : p.choices) range += (range.empty() ? "" : "|") + c;
  if (p.type == hm::workloads::ParamType::kSizes) range = hm::workloads::SizeDist::kinds();
  if (p.type == hm::workloads::ParamType::kText) range = "text";
  return range;
}

void list_workloads(bool as_json) {
  if (as_json) {
    boost::json::array arr;
    for (const auto* w : hm::workloads::all_workloads()) {
      boost::json::array params;
      for (const auto& p : w->params) {
        boost::json::object o{
            {"name", p.name}, {"default", p.default_value}, {"help", p.help}, {"valid", param_range(*w, p)}};
        if (p.type == hm::workloads::ParamType::kInt) o["min"] = p.min, o["max"] = p.max;
        if (p.type == hm::workloads::ParamType::kChoice) {
          boost::json::array c;
          for (const auto& x : p.choices) c.push_back(boost::json::string(x));
          o["choices"] = std::move(c);
        }
        params.push_back(std::move(o));
      }
      arr.push_back(boost::json::object{{"name", w->name},
                                        {"summary", w->summary},
                                        {"shorthand", w->shorthand_param},
                                        {"params", std::move(params)}});
    }
    std::printf("%s\n", boost::json::serialize(arr).c_str());
    return;
  }
  for (const auto* w : hm::workloads::all_workloads()) {
    std::printf("%s — %s\n", w->name.c_str(), w->summary.c_str());
    size_t width = 8, dwidth = 8;  // names and defaults keep their columns however long they are
    auto shown = [](const std::string& d) { return d.empty() ? std::string("-") : d; };  // "-": no default
    for (const auto& p : w->params)
      width = std::max(width, p.name.size()), dwidth = std::max(dwidth, shown(p.default_value).size());
    for (const auto& p : w->params) {
      std::string range = param_range(*w, p);
      if (p.name == w->shorthand_param) range += " (also --workloads " + w->name + ":VALUE)";
      std::printf("  %-*s default %-*s  %s  %s\n", static_cast<int>(width), p.name.c_str(), static_cast<int>(dwidth),
                  shown(p.default_value).c_str(), p.help.c_str(), range.c_str());
    }
  }
}

const hm::cli::CommandRegistrar list_cmd{
    [](CLI::App& app) -> hm::cli::Action {
      auto* list = app.add_subcommand(
          "list", "List what heapmark knows: allocators (with versions, probed in a cell) or workloads");
      auto what = std::make_shared<std::string>();
      auto as_json = std::make_shared<bool>(false);
      list->add_option("what", *what, "allocators | workloads")
          ->required()
          ->check(CLI::IsMember({"allocators", "workloads"}));
      list->add_flag("--json", *as_json, "One JSON array instead of the table (for scripts and shell completion)");
      return [list, what, as_json]() -> std::optional<int> {
        if (!*list) return std::nullopt;
        const std::string parts = hm::cli::parts_dir();
        if (*what == "allocators") list_allocators(hm::registry::builtin(parts), parts + "/heapmark-cell", *as_json);
        else list_workloads(*as_json);
        return 0;
      };
    },
    0};

}  // namespace
