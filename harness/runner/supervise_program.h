// Runs one program cell: the program (or server) preloaded with the allocator
// and libheapmark_probe.so, supervised as a generator cell is (1 kHz statm
// timeline, wall timeout, memory cap) with stdout kept for the output check.
// Phases: `phase NAME` lines the program writes to HEAPMARK_PHASE_FD, or a
// server's client steps; at each phase end the runner reads the program's
// /proc/PID/smaps_rollup from outside, and the kernel event counters it
// opened on the program right after starting it.
#pragma once
#include <sched.h>
#include <sys/resource.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/metrics/perf.h"
#include "harness/metrics/procfs.h"
#include "harness/runner/program.h"
#include "harness/runner/huge_pages.h"
#include "harness/runner/timeline.h"

namespace heapmark::runner {

struct ProgramCellSpec {
  ProgramSpec program;                                   // placeholders expanded
  std::vector<std::pair<std::string, std::string>> env;  // allocator configuration and LD_PRELOAD (the probe included)
  std::string expect_malloc_from;                        // the allocator's library, or "" for the C library's
  std::string stdout_path;                               // the program's (or server's) stdout goes here
  double timeout_s = 600;
  uint64_t mem_cap_bytes = 0;
  double sample_hz = 1000;
  size_t max_points = 2000;
  const cpu_set_t* start_cpus = nullptr;
  bool thp_never = false;      // started with PR_SET_THP_DISABLE (the --thp axis)
  uint64_t huge_every_ns = 0;  // AnonHugePages read along the run at most this often (0: not read)
  bool counters = true;
  // libheapmark_attach.so, which the probe loads at exit to write the
  // allocator's configuration to config_path (JSON, its "config" object), and
  // in which its thread calls the allocator's release hook every
  // release_every_ms (0: no schedule).
  std::string registry_library, config_path;
  double release_every_ms = 0;
};

// What the probe's release thread did, from its line at exit.
struct ProgramRelease {
  double every_ms = 0;
  std::string hook;         // the family's release call; empty when error says why there was none
  std::string error;        // the library would not load, or the allocator has no hook
  bool per_thread = false;  // the hook acts on the probe thread's caches only
  uint64_t calls = 0, total_ns = 0, max_ns = 0;
};

struct ProgramPhase {
  std::string name;
  uint64_t begin_ns = 0, end_ns = 0;
  bool ended = false;
  metrics::procfs::SmapsRollup
      smaps;  // read from outside at the phase end (the last sample's statm for the program's last phase)
  double counters[metrics::perf::kEvents] = {};  // event counts over the phase (available events only)
  bool counters_multiplexed = false;
  std::vector<std::pair<std::string, std::string>> figures;  // the server's own, from `figures` after the step
};

struct ProgramOutcome {
  bool ok = false;
  std::string cause, detail;  // causes: identity, signal, exit, timeout, memory_cap, not_ready, client, error
  int exit_code = -1, signal = 0;
  uint64_t spawn_ns = 0, exit_ns = 0;
  bool identity_reported = false;
  std::string malloc_from, free_from;
  uint64_t vm_hwm = 0;                    // the probe's, at exit (0: not reported)
  std::optional<ProgramRelease> release;  // the release schedule's line (none: no schedule, or no exit line)
  rusage usage{};
  Timeline timeline;
  HugePageSeries huge_pages;  // with ProgramCellSpec::huge_every_ns
  std::vector<ProgramPhase> phases;
  // The event counters, opened on the program (pid, inherit) as soon as it was
  // started: threads it made before then, in its first microseconds, are not
  // counted (threads_at_attach says how many there were; 1 is the usual).
  bool counters_opened = false;
  metrics::perf::Availability counter_avail[metrics::perf::kEvents];
  uint32_t threads_at_attach = 0;
  uint64_t stdout_bytes = 0;
  std::string stdout_digest;  // FNV-1a 64 of stdout, 16 hex digits
  std::string client_output;  // a server's clients' stdout, concatenated (for the metric)
  std::string stderr_tail;
};

ProgramOutcome supervise_program(const ProgramCellSpec& spec);

// FNV-1a 64 of a file's bytes as 16 hex digits, and its size.
std::string file_digest(const std::string& path, uint64_t* bytes = nullptr);

}  // namespace heapmark::runner
