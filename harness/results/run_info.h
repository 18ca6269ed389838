// run.json typed: what a run was asked to do and what machine and build did it
// (results/SCHEMA.md, "run.json"). The runner fills it and writes it once;
// resume, merge, report, compare and the catalogue read it through
// read_run_info. This is the one writer and the one reader of run.json.
#pragma once
#include <array>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace heapmark::results {

struct BuildInfo {
  std::string version, commit, compiler, build_type;
};

struct TscFacts {
  bool invariant = false, constant_tsc_flag = false, nonstop_tsc_flag = false;
  double hz = 0;
  std::string calibrated_against;
  uint64_t timer_overhead_cycles = 0;
  double timer_overhead_mean_cycles = 0;
  uint64_t timer_resolution_cycles = 0;
  double timer_overhead_ns = 0;
};

struct MachineInfo {
  std::string hostname, cpu_model;
  int cpus_online = 0;
  uint64_t memory_total_bytes = 0;
  std::string kernel, arch, thp_enabled, thp_defrag, clocksource, glibc_version, microcode;
  TscFacts tsc;
  std::array<double, 3> loadavg_at_start{};  // 1, 5, 15 minutes
};

// The options a run was started with (resume takes them back). The defaults
// are the runner's: a run.json of an older heapmark that lacks a field reads
// as the default it ran with.
struct RunOptionsInfo {
  double timeout_s = 600;
  uint64_t mem_cap_bytes = 0;
  double sample_hz = 1000;
  uint64_t max_points = 2000;
  std::string touch = "pages";
  bool verify = false, attribute = false, counters = true;
  std::string timing = "latency";  // or "batch:N"
  int cell_cpu = -1, jobs = 1;
  std::string suite_dir;             // absolute, or empty
  std::optional<std::string> shard;  // "K/N", or none for the whole plan
};

// One allocator as the run's identity probe found it.
struct AllocatorProbe {
  std::string name, kind, library;
  std::vector<std::pair<std::string, std::string>> env;  // in the allocator's order
  bool answered = false;                                 // the probe cell said hello: version and family are its words
  std::string version, family;
  bool identity_ok = false;
  std::string identity_proof;
};

// The machine type a run's figures belong to (runner/context.h makes it):
// flat facts compared field by field (fingerprint.h), and their digest.
struct Fingerprint {
  boost::json::object facts;  // every field as written, the digest included
  std::string digest() const;
  std::string cpu_model() const;
};

// A shard a merged run's cells came from.
struct MergedFrom {
  std::string dir;
  std::optional<std::string> shard;
  std::optional<Fingerprint> fingerprint;
  uint64_t cells = 0;
};

// What the readers take from the matrix (the runner's own plan, kept as it
// wrote it: resume and merge rebuild it through the registry).
struct MatrixFacts {
  struct Allocator {
    std::string name;
    bool variant = false;  // a named variant of a base allocator (a remedy, an environment)
  };
  std::vector<Allocator> allocators;  // in the matrix's order
  std::string baseline;
  int reps = 0;
  uint64_t seed = 0;
  // Per program of the matrix, the server figures its suite entry asks to show.
  std::map<std::string, std::vector<std::string>> server_show;
};

struct RunInfo {
  int schema_version = 0;
  std::string run_id, created_at;
  BuildInfo heapmark;
  std::vector<std::string> command_line;
  std::string cwd;
  RunOptionsInfo options;
  boost::json::object matrix;  // runner::Matrix::to_json
  MatrixFacts matrix_facts;    // read from `matrix`
  std::string matrix_digest;   // plan.matrix_digest
  uint64_t plan_seed = 0;      // plan.seed
  MachineInfo machine;
  std::vector<AllocatorProbe> allocators;
  Fingerprint fingerprint;
  uint64_t cells_planned = 0;
  std::vector<MergedFrom> merged_from;  // a merged run only
};

boost::json::object to_json(const RunInfo& r);
boost::json::object to_json(const MachineInfo& m);
// Throws InputError naming `source` and the field when the JSON is not a run.json.
RunInfo run_info_from_json(const boost::json::value& v, const std::string& source);
MachineInfo machine_from_json(const boost::json::value& v, const std::string& source);

// dir/run.json; throws InputError naming the file when it is missing or malformed.
RunInfo read_run_info(const std::string& dir);
// Writes dir/run.json atomically.
void write_run_info(const std::string& dir, const RunInfo& r);

}  // namespace heapmark::results
