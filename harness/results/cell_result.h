// One finished cell, typed: what was planned, how it ended, and every figure
// derived from what the cell and the runner measured. The runner computes it
// once (harness/runner/cell_record.h); cells.jsonl is its JSON (cell_json.h);
// the terminal row, the report, cells.csv, compare and repro read it back
// through one reader (results_dir.h). Field meanings: results/SCHEMA.md.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace heapmark::results {

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct Breakdown {
  uint64_t live = 0, fragmentation = 0, retained = 0, lazy_free = 0, metadata = 0, live_page_bytes = 0;
};

// A phase that waited for the allocator (idle or activity).
struct Wait {
  std::string kind, stop;
  uint64_t planned_ms = 0;
  double lasted_s = 0;
  std::optional<double> returned_after_s;
  std::optional<uint64_t> activity_calls, activity_peak_live;
};

// Who holds the memory at a phase end (--attribute): per allocation site its
// live bytes and blocks, and its share of the pinned bytes (the non-live rest
// of resident pages holding live blocks, shared equally among their blocks).
struct SiteShare {
  uint32_t site = 0;  // the trace's dense site id (trace_sites.h); 0 = no stack
  uint64_t blocks = 0, live = 0;
  double pinned = 0;
  std::optional<int64_t> median_age_ms;  // on the program's clock (a trace's recorded time)
};
struct Attribution {
  uint32_t site_count = 0;
  std::optional<uint64_t> clock_ms;
  double seconds = 0;            // what the attribution cost the cell
  std::vector<SiteShare> sites;  // the listed sites, most pinned first
  SiteShare unknown, other;      // site 0; every site not listed
};
// The heap's pages in address order, bucketed, by state (protocol.h PageState).
inline constexpr const char* kPageStateNames[5] = {"dense", "sparse", "retained", "lazy_free", "released"};
struct PageMap {
  uint64_t pages_per_bucket = 0, shown_pages = 0, mappings = 0;
  bool lazyfree_known = false;
  uint64_t pages[5] = {};
  std::vector<std::array<uint32_t, 5>> buckets;
};

// What a phase end measured; absent for a phase a failed cell never finished.
struct PhaseEndResult {
  double end_s = 0;
  uint64_t ops = 0;
  double op_ns_mean = 0;
  uint64_t rss = 0, anonymous = 0, lazy_free = 0, anon_huge_pages = 0;
  int64_t r = 0;  // anonymous - R0
  uint64_t live_bytes = 0, live_usable = 0, live_blocks = 0;
  std::optional<double> rho;
  std::optional<Wait> wait;
  std::optional<Breakdown> breakdown;      // absent in results older than the breakdown
  std::optional<Attribution> attribution;  // with --attribute
  std::optional<PageMap> page_map;
  // Event counts over the phase (perf_event_open), available events only.
  std::vector<std::pair<std::string, double>> counters;
  bool counters_multiplexed = false;
  Pairs reported;  // a server's own figures at this phase end (Redis INFO memory), as text
};

struct PhaseResult {
  int index = 0;
  std::string name;
  double begin_s = 0;
  std::optional<PhaseEndResult> end;
  std::vector<std::pair<std::string, uint64_t>> allocator_stats;
};

struct Identity {
  bool ok = false;
  std::string family, version, malloc_from, proof, release_call;
};

struct ReturnHorizon {
  std::optional<uint64_t> ms;  // null: never
  bool background = false;
  std::string what;
};

struct ThreadCpus {
  std::string affinity, ran_on;
};

struct Cpus {
  uint64_t online = 0;
  std::string at_start;
  std::optional<int64_t> pinned;
  std::vector<ThreadCpus> threads;
};

struct Timing {
  double tsc_hz = 0;
  bool tsc_invariant = false;
  uint64_t timer_overhead_cycles = 0;
  double timer_overhead_ns = 0, timer_overhead_mean_cycles = 0;
  uint64_t timer_resolution_cycles = 0;
  double timer_resolution_ns = 0;
  bool latency_net_of_timer_overhead = true;
  double histogram_relative_error = 0;
  std::string timer =
      "latency";  // "latency": each call fenced on its own; "batch": runs of batch_calls calls per timestamp pair
  uint64_t batch_calls = 0;
};

// --timing batch: nanoseconds per allocator call, from runs of batch_calls
// consecutive calls timed by one unfenced timestamp pair. `mean` is every
// batch's cycles over every batched call; the quantiles are of the batches'
// own per-call times.
// A release schedule (--release-every): the hook the cell called between its ops, and what the calls cost.
struct ReleaseSchedule {
  double every_ms = 0;
  std::string hook;  // the family's release call ("malloc_trim(0)")
  // Where it was called: "thread 0", "every thread" (a generator cell; every
  // thread for a hook that acts on the calling thread's caches) or "own
  // thread" (a program cell: the probe's thread, whose per-thread hook then
  // reaches none of the program's threads' caches: per_thread says so).
  std::string called_in;
  bool per_thread = false;
  uint64_t calls = 0;
  double total_ms = 0, max_ms = 0;  // time inside the calls, all threads
};

struct BatchTiming {
  uint64_t calls = 0, batches = 0;
  double mean = 0, min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};

// One kernel event counter over the cell's phases (metrics/perf.h).
struct CounterFigure {
  std::string name;
  bool available = false;
  double total = 0;                    // sum over the phases, begin edge to end edge
  std::optional<double> per_1k_calls;  // per thousand allocator calls
  bool user_only = false;              // counted with exclude_kernel
  int error = 0;                       // errno when unavailable
  std::string reason;
};
struct Counters {
  std::vector<CounterFigure> events;
  std::optional<double> ipc;  // instructions / cycles where both are counted
  bool multiplexed = false;
  // A real program's counters are opened on it once started, before its main (the probe waits for them): threads it
  // had by then are not counted (1: none missed).
  std::optional<uint32_t> threads_at_attach;
};

struct ProgramInfo {
  std::string checksum;  // 16 hex digits
  uint64_t ops = 0, phases = 0, threads = 0;
  int64_t pinned_cpu = -1;
  std::optional<bool> matches_block;  // set by the runner against the block's first cell
};

struct Latency {
  uint64_t count = 0;
  double mean = 0, min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};

struct LatencyHistogram {
  std::string unit;
  std::vector<std::pair<uint64_t, uint64_t>> buckets;  // bucket lower bound (raw cycles), count
};

struct CpuUse {
  double user_s = 0, sys_s = 0;
  uint64_t minflt = 0, majflt = 0, nvcsw = 0, nivcsw = 0;
};

// `memory`; a self-measuring (micro) cell has only r0_anon, r0_rss and vm_hwm.
struct Memory {
  uint64_t r0_anon = 0, r0_rss = 0;
  uint64_t r0_huge = 0;  // AnonHugePages at R0 (the harness's tables): phase and timeline huge pages include it
  std::optional<uint64_t> harness_scratch;
  uint64_t vm_hwm = 0;
  std::optional<uint64_t> peak_rss_sampled, peak_anon_sampled, peak_r, live_peak;
  std::optional<uint64_t> avg_r;  // peak_r's quantity averaged over time (the timeline's area over its span)
  std::optional<double> live_peak_s;
  std::optional<uint64_t> live_end;
  std::optional<double> r_after_free, returned_after_free;
};

struct FragmentationFigures {
  std::optional<double> f4, f3, f1, internal;
};

struct TimelineSeries {
  double sample_hz = 0;
  uint64_t samples = 0, stride = 1;
  std::vector<double> t_s, rss, anon, live;  // parallel arrays
  std::vector<double>
      clock_s;  // parallel too when the workload has a clock (a replay: the recorded time reached), else empty
};

// AnonHugePages along the run (the --thp axis), read from smaps_rollup at a
// rate of its own (runner/huge_pages.h), with what the reads cost.
struct HugePageTimeline {
  double min_interval_ms = 0, max_duty = 0;  // the rate asked for: at most this often, and under this share of time
  uint64_t reads = 0;
  double read_us_mean = 0, read_us_max = 0;
  std::vector<double> t_s, bytes;  // parallel arrays, t_s on the timeline's clock
};

struct MicroBenchmark {
  std::string name;
  double iterations = 0, real_time_ns = 0, cpu_time_ns = 0, calls_per_second = 0, threads = 0;
  std::vector<std::pair<std::string, double>>
      counters;  // the workload's own figures (Google Benchmark's user counters), by name
};

// A real program's run (a `program` workload).
struct ProgramRun {
  std::vector<std::string> command;
  int64_t exit_code = -1;
  uint64_t stdout_bytes = 0;
  std::string stdout_digest;  // FNV-1a 64, 16 hex digits
  std::string check;          // same, digest, command, none
  std::string metric_name;
  std::optional<double> metric;
  bool metric_higher_is_better = true;
  std::string vm_hwm_from;  // "probe" (the process's VmHWM at exit) or "sampled"
};

struct CellResult {
  int schema_version = 0;
  // The plan.
  std::string key;
  uint64_t index = 0, block = 0;
  std::string machine;  // in a run merged with --by-machine: the fingerprint digest of the machine it ran on
  std::string allocator, allocator_kind, library;
  Pairs env;
  std::string workload;
  std::map<std::string, std::string> params;
  int64_t rep = 0;
  uint64_t seed = 0;
  // How it ended.
  std::string status;  // "ok" or "failed"
  std::string cause;   // empty when ok
  std::string detail;
  int64_t exit_code = -1;
  std::optional<int64_t> signal;
  std::string started_at;
  double wall_s = 0;
  std::string stderr_tail;
  // Once the cell reported (identity even when it failed).
  std::optional<Identity> identity;
  // Written once identity was proven (identity->ok); empty before.
  ReturnHorizon return_horizon;
  Pairs allocator_config;
  Cpus cpus;
  Timing timing;
  std::vector<PhaseResult> phases;
  // Written once the program ran to its end (program present).
  std::optional<ProgramInfo> program;
  std::map<std::string, uint64_t> ops;  // alloc, free, realloc
  std::vector<std::pair<std::string, Latency>> latency_ns;
  std::vector<std::pair<std::string, LatencyHistogram>> latency_histogram;
  std::optional<BatchTiming> batch_ns;  // --timing batch, instead of latency_ns
  std::optional<ReleaseSchedule> release_schedule;
  std::optional<Counters> counters;  // event counters, where the cell opened them
  double throughput_ops_s = 0;
  FragmentationFigures fragmentation;
  TimelineSeries timeline;
  std::optional<HugePageTimeline> huge_pages;
  // A real program's run, instead of an op program.
  std::optional<ProgramRun> run;
  // A self-measuring workload's own figures (micro), instead of a program.
  std::optional<std::vector<MicroBenchmark>> micro;
  std::string micro_source;
  // Written with a program or micro.
  double measured_s = 0;
  CpuUse cpu;
  Memory memory;

  bool proven() const { return identity && identity->ok; }
  bool finished() const { return program.has_value() || micro.has_value() || run.has_value(); }
  bool ok() const { return status == "ok"; }
  const Latency* latency(const std::string& op) const;
};

}  // namespace heapmark::results
