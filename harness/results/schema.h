// The results schema in code: its version and the dotted paths of the cell
// figures that readers look up by name (the report's figure catalogue,
// compare, tests). Every field is documented in results/SCHEMA.md; a test
// (Run.EveryFieldACellWritesIsDocumentedInSchemaMd) checks that a real run's
// every field is, and that each path here resolves in its cells.
#pragma once

namespace heapmark::results {

inline constexpr int kSchemaVersion = 1;

// The parameters the deployment axes add to a cell (params.cpus, ...): the
// runner sets them, the report and repro group cells by them.
namespace param {
inline constexpr const char* kCpus = "cpus";
inline constexpr const char* kReleaseEvery = "release_every";
inline constexpr const char* kThp = "thp";
}  // namespace param

namespace path {
inline constexpr const char* kThroughput = "throughput_ops_s";
inline constexpr const char* kAllocP50 = "latency_ns.alloc.p50";
inline constexpr const char* kAllocP99 = "latency_ns.alloc.p99";
inline constexpr const char* kAllocP999 = "latency_ns.alloc.p999";
inline constexpr const char* kFreeP50 = "latency_ns.free.p50";
inline constexpr const char* kFreeP99 = "latency_ns.free.p99";
inline constexpr const char* kPeakR = "memory.peak_r";
inline constexpr const char* kAvgR = "memory.avg_r";
inline constexpr const char* kReturnedAfterFree = "memory.returned_after_free";
inline constexpr const char* kVmHwm = "memory.vm_hwm";
inline constexpr const char* kF4 = "fragmentation.f4";
inline constexpr const char* kSysCpu = "cpu.sys_s";
inline constexpr const char* kAll[] = {kThroughput, kAllocP50, kAllocP99,          kAllocP999, kFreeP50, kFreeP99,
                                       kPeakR,      kAvgR,     kReturnedAfterFree, kVmHwm,     kF4,      kSysCpu};
// Present only where measured: --timing batch, and event counters the machine could count.
inline constexpr const char* kBatchNsPerCall = "batch_ns_per_call.mean";
inline constexpr const char* kPageFaultsPer1k = "counters.events.page-faults.per_1k_calls";
inline constexpr const char* kIpc = "counters.ipc";
// Program cells (real programs): figures measured from outside the process.
inline constexpr const char* kWall = "wall_s";
inline constexpr const char* kUserCpu = "cpu.user_s";
inline constexpr const char* kMinorFaults = "cpu.minflt";
inline constexpr const char* kProgramMetric = "program_run.metric";
inline constexpr const char* kProgram[] = {kWall, kUserCpu, kSysCpu, kVmHwm, kAvgR, kMinorFaults, kProgramMetric};
}  // namespace path

}  // namespace heapmark::results
