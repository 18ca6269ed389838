// Runs one cell: posix_spawn of heapmark-cell with the allocator preloaded,
// then, until it exits, reads its events, samples /proc/PID/statm at the
// configured rate, and enforces the wall timeout and the memory cap. The runner
// never runs workload code.
#pragma once
#include <sched.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/cell/protocol.h"
#include "harness/runner/huge_pages.h"
#include "harness/runner/timeline.h"

namespace heapmark::runner {

struct SpawnSpec {
  std::string cell_binary;
  std::vector<std::string> args;                         // after argv[0]
  std::vector<std::pair<std::string, std::string>> env;  // allocator configuration, LD_PRELOAD included
  double timeout_s = 600;
  uint64_t mem_cap_bytes = 0;  // 0: none. Checked against sampled RSS.
  double sample_hz = 1000;     // 0: no RSS sampling (cap still checked at 10 Hz)
  size_t max_points = 2000;
  // The CPU mask the cell starts with: a normal process's on this machine,
  // not the runner's pinning (the allocator sizes itself from it). Null:
  // the calling thread's.
  const cpu_set_t* start_cpus = nullptr;
  // Transparent huge pages disabled for the cell from its first instruction (prctl PR_SET_THP_DISABLE, inherited
  // through fork and exec): set on the runner for the moment of the spawn.
  bool thp_never = false;
  // AnonHugePages read along the run at most this often (0: not read; runner/huge_pages.h).
  uint64_t huge_every_ns = 0;
};

struct PhaseRecord {
  cell::PhaseBegin begin{};
  cell::PhaseEnd end{};
  bool ended = false;
  std::vector<std::pair<std::string, uint64_t>> stats;
  std::optional<cell::SitesMsg> sites;  // --attribute
  std::optional<cell::PageMapMsg> page_map;
};

struct HistogramRecord {
  cell::HistogramHead head{};
  std::vector<cell::BucketCount> buckets;
};

struct CellOutcome {
  // ok: exit 0 and a complete result. Otherwise cause is one of:
  // signal, timeout, memory_cap, identity, verify, error, exit, protocol.
  bool ok = false;
  std::string cause;
  std::string detail;
  int exit_code = -1;
  int signal = 0;
  uint64_t spawn_ns = 0, exit_ns = 0;
  bool have_hello = false, have_result = false;
  cell::Hello hello{};
  cell::Result result{};
  std::vector<PhaseRecord> phases;
  std::vector<HistogramRecord> histograms;
  Timeline timeline;
  HugePageSeries huge_pages;  // with SpawnSpec::huge_every_ns
  std::string stderr_tail;    // last few KiB the cell wrote to stderr
  std::string native_json;    // a self-measuring workload's own report (micro: Google Benchmark JSON)
  std::vector<std::pair<std::string, std::string>> allocator_config;  // what the allocator configured itself to
  std::vector<cell::ThreadsMsg::Item> threads;                        // where each workload thread ran
};

// Throws std::runtime_error only if the cell cannot be started at all.
CellOutcome supervise(const SpawnSpec& spec);

// The runner's own environment minus LD_PRELOAD and every allocator
// configuration variable (registry::is_allocator_config_var), so configuration
// reaches a cell only through the registry and --env, where it is recorded.
std::vector<std::string> clean_environment();

}  // namespace heapmark::runner
