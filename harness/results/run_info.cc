// The one writer and reader of run.json (see run_info.h).
#include "harness/results/run_info.h"

#include <boost/json.hpp>
#include <fstream>

#include "common/input_error.h"
#include "harness/results/json_fields.h"
#include "harness/results/output_file.h"
#include "harness/results/schema.h"

namespace json = boost::json;

namespace heapmark::results {
namespace {

json::value opt(const std::optional<std::string>& v) { return v ? json::value(*v) : json::value(nullptr); }

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& x : v) a.push_back(json::string(x));
  return a;
}

json::object options_json(const RunOptionsInfo& o) {
  return json::object{{"timeout_s", o.timeout_s}, {"mem_cap_bytes", o.mem_cap_bytes},
                      {"sample_hz", o.sample_hz}, {"max_points", o.max_points},
                      {"touch", o.touch},         {"verify", o.verify},
                      {"attribute", o.attribute}, {"timing", o.timing},
                      {"counters", o.counters},   {"cell_cpu", o.cell_cpu},
                      {"jobs", o.jobs},           {"suite_dir", o.suite_dir},
                      {"shard", opt(o.shard)}};
}

// Options a run.json of an older heapmark lacks keep their defaults.
RunOptionsInfo options_from(const Fields& f) {
  RunOptionsInfo o;
  auto number = [&](const char* k, double dflt) { return f.find(k) ? f.number(k) : dflt; };
  o.timeout_s = number("timeout_s", o.timeout_s);
  o.mem_cap_bytes = static_cast<uint64_t>(number("mem_cap_bytes", 0));
  o.sample_hz = number("sample_hz", o.sample_hz);
  o.max_points = static_cast<uint64_t>(number("max_points", static_cast<double>(o.max_points)));
  if (f.find("touch")) o.touch = f.text("touch");
  o.verify = f.boolean("verify", o.verify);
  o.attribute = f.boolean("attribute", o.attribute);
  if (f.find("timing")) o.timing = f.text("timing");
  o.counters = f.boolean("counters", o.counters);
  o.cell_cpu = static_cast<int>(number("cell_cpu", o.cell_cpu));
  o.jobs = static_cast<int>(number("jobs", o.jobs));
  o.suite_dir = f.text("suite_dir", false);
  o.shard = f.maybe_text("shard");
  return o;
}

json::object probe_json(const AllocatorProbe& a) {
  json::object env;
  for (const auto& [k, v] : a.env) env[k] = v;
  json::object o{{"name", a.name}, {"kind", a.kind}, {"library", a.library}, {"env", std::move(env)}};
  if (a.answered) o["version"] = a.version;
  o["identity_ok"] = a.identity_ok;
  o["identity_proof"] = a.identity_proof;
  if (a.answered) o["family"] = a.family;
  return o;
}

AllocatorProbe probe_from(const Fields& f) {
  AllocatorProbe a;
  a.name = f.text("name");
  a.kind = f.text("kind", false);
  a.library = f.text("library", false);
  a.env = f.env("env");
  a.answered = f.find("version") != nullptr;
  a.version = f.text("version", false);
  a.family = f.text("family", false);
  a.identity_ok = f.boolean("identity_ok", false);
  a.identity_proof = f.text("identity_proof", false);
  return a;
}

MatrixFacts matrix_facts(const Fields& m) {
  MatrixFacts facts;
  m.each("allocators", [&](const json::value& a, const std::string&) {
    if (!a.is_object()) return;
    const auto* name = a.as_object().if_contains("name");
    if (name && name->is_string())
      facts.allocators.push_back({std::string(name->as_string()), a.as_object().contains("variant_of")});
  });
  facts.baseline = m.text("baseline", false);
  facts.reps = m.find("reps") ? m.integer("reps") : 0;
  facts.seed = m.find("seed") ? m.count("seed") : 0;
  m.each("programs", [&](const json::value& p, const std::string& path) {
    const Fields prog(p, m.source(), path);
    const auto* server = prog.object("server");
    const auto* show = server ? server->if_contains("show") : nullptr;
    if (!show || !show->is_array()) return;
    auto& keys = facts.server_show[prog.text("name")];
    for (const auto& k : show->as_array())
      if (k.is_string()) keys.emplace_back(k.as_string());
  });
  return facts;
}

}  // namespace

std::string Fingerprint::digest() const {
  const auto* v = facts.if_contains("digest");
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string Fingerprint::cpu_model() const {
  const auto* v = facts.if_contains("cpu_model");
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

json::object to_json(const MachineInfo& m) {
  const TscFacts& t = m.tsc;
  return json::object{
      {"hostname", m.hostname},
      {"cpu_model", m.cpu_model},
      {"cpus_online", m.cpus_online},
      {"memory_total_bytes", m.memory_total_bytes},
      {"kernel", m.kernel},
      {"arch", m.arch},
      {"thp_enabled", m.thp_enabled},
      {"thp_defrag", m.thp_defrag},
      {"clocksource", m.clocksource},
      {"glibc_version", m.glibc_version},
      {"microcode", m.microcode},
      {"tsc", json::object{{"invariant", t.invariant},
                           {"constant_tsc_flag", t.constant_tsc_flag},
                           {"nonstop_tsc_flag", t.nonstop_tsc_flag},
                           {"hz", t.hz},
                           {"calibrated_against", t.calibrated_against},
                           {"timer_overhead_cycles", t.timer_overhead_cycles},
                           {"timer_overhead_mean_cycles", t.timer_overhead_mean_cycles},
                           {"timer_resolution_cycles", t.timer_resolution_cycles},
                           {"timer_overhead_ns", t.timer_overhead_ns}}},
      {"loadavg_at_start", json::array{m.loadavg_at_start[0], m.loadavg_at_start[1], m.loadavg_at_start[2]}},
  };
}

MachineInfo machine_from_json(const json::value& v, const std::string& source) {
  const Fields f(v, source, "$.machine");
  MachineInfo m;
  m.hostname = f.text("hostname", false);
  m.cpu_model = f.text("cpu_model", false);
  m.cpus_online = f.find("cpus_online") ? f.integer("cpus_online") : 0;
  m.memory_total_bytes = f.find("memory_total_bytes") ? f.count("memory_total_bytes") : 0;
  m.kernel = f.text("kernel", false);
  m.arch = f.text("arch", false);
  m.thp_enabled = f.text("thp_enabled", false);
  m.thp_defrag = f.text("thp_defrag", false);
  m.clocksource = f.text("clocksource", false);
  m.glibc_version = f.text("glibc_version", false);
  m.microcode = f.text("microcode", false);
  if (const auto* t = f.find("tsc")) {
    const Fields g(*t, source, "$.machine.tsc");
    auto number = [&](const char* k) { return g.find(k) ? g.number(k) : 0.0; };
    m.tsc = TscFacts{g.boolean("invariant", false),        g.boolean("constant_tsc_flag", false),
                     g.boolean("nonstop_tsc_flag", false), number("hz"),
                     g.text("calibrated_against", false),  static_cast<uint64_t>(number("timer_overhead_cycles")),
                     number("timer_overhead_mean_cycles"), static_cast<uint64_t>(number("timer_resolution_cycles")),
                     number("timer_overhead_ns")};
  }
  size_t i = 0;
  f.each("loadavg_at_start", [&](const json::value& x, const std::string&) {
    if (i < 3 && x.is_number()) m.loadavg_at_start[i++] = x.to_number<double>();
  });
  return m;
}

json::object to_json(const RunInfo& r) {
  json::array probes;
  for (const auto& a : r.allocators) probes.push_back(probe_json(a));
  json::object o{{"schema_version", kSchemaVersion},
                 {"run_id", r.run_id},
                 {"created_at", r.created_at},
                 {"heapmark", json::object{{"version", r.heapmark.version},
                                           {"commit", r.heapmark.commit},
                                           {"compiler", r.heapmark.compiler},
                                           {"build_type", r.heapmark.build_type}}},
                 {"command_line", strings(r.command_line)},
                 {"cwd", r.cwd},
                 {"options", options_json(r.options)},
                 {"matrix", r.matrix},
                 {"plan", json::object{{"matrix_digest", r.matrix_digest}, {"seed", r.plan_seed}}},
                 {"machine", to_json(r.machine)},
                 {"allocators", std::move(probes)},
                 {"fingerprint", r.fingerprint.facts},
                 {"cells_planned", r.cells_planned}};
  if (!r.merged_from.empty()) {
    json::array from;
    for (const auto& m : r.merged_from)
      from.push_back(json::object{{"dir", m.dir},
                                  {"shard", opt(m.shard)},
                                  {"fingerprint", m.fingerprint ? json::value(m.fingerprint->facts) : nullptr},
                                  {"cells", m.cells}});
    o["merged_from"] = std::move(from);
  }
  return o;
}

RunInfo run_info_from_json(const json::value& v, const std::string& source) {
  const Fields f(v, source, "$");
  RunInfo r;
  r.schema_version = f.integer("schema_version");
  if (r.schema_version != kSchemaVersion)
    throw InputError(source + ": schema_version " + std::to_string(r.schema_version) +
                     " is not supported (this heapmark reads " + std::to_string(kSchemaVersion) + ")");
  r.run_id = f.text("run_id", false);
  r.created_at = f.text("created_at", false);
  if (const auto* h = f.find("heapmark")) {
    const Fields b(*h, source, "$.heapmark");
    r.heapmark = BuildInfo{b.text("version", false), b.text("commit", false), b.text("compiler", false),
                           b.text("build_type", false)};
  }
  f.each("command_line", [&](const json::value& x, const std::string&) {
    if (x.is_string()) r.command_line.emplace_back(x.as_string());
  });
  r.cwd = f.text("cwd", false);
  if (const auto* o = f.find("options")) r.options = options_from(Fields(*o, source, "$.options"));
  if (const auto* m = f.object("matrix")) {
    r.matrix = *m;
    r.matrix_facts = matrix_facts(Fields(r.matrix, source, "$.matrix"));
  }
  if (const auto* p = f.find("plan")) {
    const Fields plan(*p, source, "$.plan");
    r.matrix_digest = plan.text("matrix_digest", false);
    r.plan_seed = plan.find("seed") ? plan.count("seed") : 0;
  }
  if (const auto* m = f.find("machine")) r.machine = machine_from_json(*m, source);
  f.each("allocators",
         [&](const json::value& x, const std::string& p) { r.allocators.push_back(probe_from(Fields(x, source, p))); });
  if (const auto* fp = f.object("fingerprint")) r.fingerprint.facts = *fp;
  r.cells_planned = f.find("cells_planned") ? f.count("cells_planned") : 0;
  f.each("merged_from", [&](const json::value& x, const std::string& p) {
    const Fields g(x, source, p);
    MergedFrom m{g.text("dir", false), g.maybe_text("shard"), std::nullopt, g.find("cells") ? g.count("cells") : 0};
    if (const auto* fp = g.object("fingerprint")) m.fingerprint = Fingerprint{*fp};
    r.merged_from.push_back(std::move(m));
  });
  return r;
}

RunInfo read_run_info(const std::string& dir) {
  const std::string path = dir + "/run.json";
  if (!std::ifstream(path)) throw InputError(path + ": cannot read (is '" + dir + "' a heapmark results directory?)");
  return run_info_from_json(read_json_file(path), path);
}

void write_run_info(const std::string& dir, const RunInfo& r) {
  write_atomically(dir + "/run.json", json::serialize(to_json(r)) + "\n");
}

}  // namespace heapmark::results
