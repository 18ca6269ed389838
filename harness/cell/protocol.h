// The cell -> runner event stream on the cell's fd 3: a header then a fixed
// struct per message. Both ends are built from this header in one build, so
// the structs travel as raw bytes; the reader still checks every length, and a
// stream cut short (a crashed cell) yields only whole messages.
//
// Order: kHello, kConfig, then per phase kPhaseBegin / kPhaseEnd (+ kStats,
// and with --attribute kSites and kPageMap),
// then one kHistogram per op kind that ran, kThreads, then kResult. kError
// replaces the rest. A
// workload that measures itself (micro) sends kNativeJson, its own JSON report
// as text, instead of phases and histograms.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/metrics/perf.h"
#include "harness/metrics/procfs.h"
#include "workloads/op.h"

namespace heapmark::cell {

inline constexpr uint32_t kProtocolVersion = 1;

enum class MsgType : uint32_t {
  kHello = 1,
  kPhaseBegin,
  kPhaseEnd,
  kStats,
  kHistogram,
  kResult,
  kError,
  kNativeJson,
  kConfig,
  kThreads,
  kSites,
  kPageMap
};
inline constexpr uint32_t kLastMsgType = static_cast<uint32_t>(MsgType::kPageMap);

struct MsgHeader {
  uint32_t type;
  uint32_t length;  // payload bytes after the header
};

struct Hello {
  uint32_t protocol = kProtocolVersion;
  uint8_t identity_ok = 0;
  uint8_t tsc_invariant = 0;
  uint16_t threads = 0;
  uint32_t phase_count = 0;
  int32_t pinned_cpu = -1;  // CPU a single-thread cell runs on, -1 when unpinned
  double tsc_hz = 0;
  uint64_t timer_overhead_cycles = 0;     // median of an empty timed pair
  double timer_overhead_mean_cycles = 0;  // its mean (interrupted pairs left out)
  uint64_t timer_resolution_cycles = 0;
  uint64_t r0_anon = 0;  // anonymous RSS before the first phase (baseline R0)
  uint64_t r0_rss = 0;
  uint64_t r0_huge = 0;  // AnonHugePages then: the harness's own tables are in huge pages where the machine allows
  uint64_t scratch_bytes = 0;  // harness tables (mmap), part of R0
  uint64_t t_ns = 0;
  char family[16] = "";
  char version[64] = "";
  char malloc_from[256] = "";
  char proof[512] = "";
  char release_call[64] = "";
  uint8_t release_per_thread = 0;  // the call acts on the calling thread's caches
  // The CPUs the process could run on when it started (before any pinning):
  // what the allocator saw when it sized its arenas and caches.
  char cpus_at_start[64] = "";
  uint32_t cpus_online = 0;
  // The allocator's return horizon (registry::Horizon), as configured here.
  uint64_t horizon_ms = 0;
  uint8_t horizon_background = 0;
  char horizon_what[120] = "";
  // The event counters (metrics/perf.h): errno per event (0: counted), and
  // whether it counts user space only. All errors are ENOSYS-like when the
  // cell opened none (a self-measuring workload).
  int32_t counter_error[metrics::perf::kEvents] = {};
  uint8_t counter_user_only[metrics::perf::kEvents] = {};
  // --timing batch: calls per timed batch (0: per-call latency timing).
  uint32_t batch_calls = 0;
};

// What the allocator configured itself to, read once after it initialised.
struct ConfigMsg {
  static constexpr size_t kMax = 32;
  uint32_t count = 0;
  struct Item {
    char name[40];
    char value[40];
  } items[kMax];
};

// Where each workload thread was allowed to run and where it was seen running
// (sched_getcpu at every phase edge), as CPU lists ("0-1", "1").
struct ThreadsMsg {
  static constexpr size_t kMax = 64;
  uint32_t count = 0;
  struct Item {
    char affinity[48];
    char ran_on[48];
  } threads[kMax];
};

struct PhaseBegin {
  uint32_t index = 0;
  char name[32] = "";
  uint64_t t_ns = 0;
};

struct PhaseEnd {
  uint32_t index = 0;
  uint64_t t_ns = 0;                   // when the phase's last op finished
  metrics::procfs::SmapsRollup smaps;  // read right after
  uint64_t live_bytes = 0;             // requested bytes live at phase end
  uint64_t live_usable = 0;            // malloc_usable_size of the same blocks (0 if unknown)
  uint64_t live_blocks = 0;
  uint64_t ops = 0;              // allocator calls in this phase
  uint64_t op_cycles = 0;        // sum of their timed cycles
  uint64_t live_page_bytes = 0;  // resident bytes of the pages holding at least one live block (mincore)
  uint64_t metadata = 0;         // allocator metadata bytes where its stats report them, else 0
  // A phase that waits for the allocator to return memory (idle or activity):
  // how long it was planned to last, why it ended, when 3/4 of the returnable
  // memory was back (0: never in this phase), and the activity's calls.
  uint8_t wait = 0;       // WaitKind
  uint8_t wait_stop = 0;  // WaitStop
  uint64_t wait_planned_ms = 0;
  uint64_t returned_t_ns = 0;
  uint64_t activity_ops = 0;
  uint64_t activity_peak_live = 0;  // the activity's own working set at its largest, bytes
  // Event counts over the phase, begin edge to end edge (available events only).
  double counters[metrics::perf::kEvents] = {};
  uint8_t counters_multiplexed = 0;  // a hardware count was scaled (the PMU was shared)
};

enum class WaitKind : uint8_t { kNone = 0, kIdle = 1, kActivity = 2 };
// kFixed: the program's length. kReturned: memory was back (RSS within 5% of
// the returnable amount of the live bytes). kHorizon: the allocator's horizon
// plus a margin passed. kMax: the stated maximum.
enum class WaitStop : uint8_t { kNone = 0, kFixed = 1, kReturned = 2, kHorizon = 3, kMax = 4 };
const char* wait_kind_name(WaitKind k) noexcept;
const char* wait_stop_name(WaitStop s) noexcept;

struct StatsMsg {
  static constexpr size_t kMax = 48;
  uint32_t phase_index = 0;
  uint32_t count = 0;
  struct Item {
    char name[56];
    uint64_t value;
  } items[kMax];
};

// Who holds the resident memory at a phase end (--attribute; harness/cell/
// attribution.h): per allocation site, its live bytes and blocks, and the
// pinned bytes (the non-live rest of each resident page holding live blocks,
// shared equally among those blocks). The sites with the most pinned and the
// most live bytes travel; the rest are summed in `other`.
struct SiteFigures {
  uint32_t site = 0;
  uint32_t pad = 0;
  uint64_t blocks = 0, live = 0;
  double pinned = 0;
  int64_t median_age_ms = -1;  // on the program's clock; -1 when it has none
};
struct SitesMsg {
  static constexpr size_t kMax = 64;
  uint32_t phase_index = 0;
  uint32_t count = 0;
  uint32_t site_count = 0;  // sites the program names (0: none; everything is site 0)
  uint32_t pad = 0;
  uint64_t clock_ms = 0;  // the program's clock at the phase end
  SiteFigures unknown;    // site 0: blocks without a site
  SiteFigures other;      // every site not listed
  SiteFigures items[kMax];
  double seconds = 0;  // what the attribution cost (outside every timed window)
};

// The heap's pages in address order, in buckets of equal page counts, by
// state. Runs of 1024 or more pages that are not resident are shown as 64
// (a reserved but released range would drown the rest).
enum class PageState : uint8_t { kDense = 0, kSparse = 1, kRetained = 2, kLazyFree = 3, kReleased = 4 };
inline constexpr int kPageStates = 5;
struct PageMapMsg {
  static constexpr size_t kBuckets = 512;
  uint32_t phase_index = 0;
  uint32_t buckets = 0;  // used
  uint64_t pages_per_bucket = 0;
  uint64_t pages[kPageStates] = {};  // every heap page by state, before shortening
  uint64_t shown_pages = 0;
  uint64_t mappings = 0;       // heap mappings read from /proc/self/maps
  uint8_t lazyfree_known = 0;  // 1: LazyFree pages told apart (/proc/kpageflags); 0: shown as retained
  uint8_t pad[7] = {};
  uint32_t counts[kBuckets][kPageStates] = {};
};

// Sparse histogram: only non-empty buckets travel.
struct HistogramHead {
  uint32_t op_kind = 0;
  uint32_t buckets = 0;  // number of BucketCount entries that follow
  uint64_t total = 0, min = 0, max = 0;
  double sum = 0;
};
struct BucketCount {
  uint32_t bucket;
  uint32_t pad;
  uint64_t count;
};

struct Result {
  uint64_t ops[16] = {};     // per OpKind (kOpKinds of them used)
  uint64_t checksum = 0;     // program checksum (FNV-1a of every op)
  uint64_t program_ops = 0;  // ops in the program, phase marks included
  uint64_t live_peak = 0;    // exact peak of live requested bytes
  uint64_t live_peak_t_ns = 0;
  uint64_t live_usable_at_peak = 0;
  uint64_t live_end = 0;
  uint64_t first_t_ns = 0, last_t_ns = 0;  // first phase begin, last phase end
  uint64_t utime_us = 0, stime_us = 0, minflt = 0, majflt = 0, nvcsw = 0, nivcsw = 0;
  uint64_t vm_hwm = 0;
  uint64_t failed_allocs = 0;
  // --timing batch: calls timed in batches and their cycles, every batch.
  uint64_t batch_calls = 0, batch_cycles = 0;
  // A release schedule (--release-every): the hook's calls between ops, their cycles in all and the longest.
  uint64_t scheduled_releases = 0, scheduled_release_cycles = 0, scheduled_release_max_cycles = 0;
};

// The kHistogram op_kind of --timing batch's histogram (picoseconds per call
// of each batch), after the op kinds' own.
inline constexpr uint32_t kBatchHistogram = workloads::kOpKinds;

static_assert(workloads::kOpKinds <= 16, "Result::ops holds one counter per op kind");

enum class ErrorCode : uint32_t { kSetup = 1, kIdentity = 2, kOutOfMemory = 3, kVerify = 4 };
struct ErrorMsg {
  uint32_t code = 0;
  char text[480] = "";
};

// Decoded message as the runner sees it.
struct Message {
  MsgType type;
  std::vector<unsigned char> payload;
  template <class T>
  const T& as() const {
    return *reinterpret_cast<const T*>(payload.data());
  }
};

// Accumulates bytes from the pipe and yields whole, length-checked messages.
class Reader {
 public:
  void feed(const void* data, size_t n);
  // Next whole message, or false when more bytes are needed. Throws
  // std::runtime_error for a malformed stream (unknown type, bad length).
  bool next(Message& out);
  size_t pending() const { return buf_.size() - pos_; }

 private:
  std::vector<unsigned char> buf_;
  size_t pos_ = 0;
};

inline constexpr size_t kMaxNativeJson = 16 << 20;

// Expected payload size of a fixed-size message type; 0 for variable ones.
size_t fixed_size(MsgType t);

// Cell side: writes a whole message with raw write(2) calls (no heap, no stdio).
// Returns false if the runner went away.
bool write_message(int fd, MsgType type, const void* payload, size_t length) noexcept;

}  // namespace heapmark::cell
