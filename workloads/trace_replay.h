// What the trace replay's files share (trace.cc describes the replay; which
// file holds what: the list at the top of trace.cc): its limits, the lanes
// through which replay threads see each other, the state they share (Replay),
// the shape of a trace, and each file's functions. Internal to the trace
// workload.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <atomic>
#include <string>
#include <vector>

#include "workloads/op.h"
#include "workloads/scratch.h"
#include "workloads/trace_stream.h"

namespace heapmark::workloads::trace_replay {

namespace tr = heapmark::trace;

constexpr uint64_t kNever = UINT64_MAX;
constexpr uint32_t kLocalSlots = 64;             // a thread keeps up to 2x this many free slots before sharing them
constexpr uint64_t kWindowFromSlots = 1u << 16;  // below this many slots the replay runs unwindowed
constexpr uint64_t kBuckets = 1u << 16;          // of recorded time, for the windowed bound
constexpr uint64_t kStallSeconds = 60;           // no thread made progress: the trace contradicts itself
constexpr uint64_t kDiagnosePaceMs = 4;  // diagnose: how far in recorded time a thread may run ahead (a clock tick)

inline bool is_alloc(tr::Op op) { return op == tr::Op::kMalloc || op == tr::Op::kCalloc || op == tr::Op::kAligned; }
inline bool is_replayed(tr::Op op) {
  return tr::is_block_op(op) || op == tr::Op::kPhase;
}  // block events and phase marks

inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A spinlock that is not taken when the replay has one thread.
class Lock {
 public:
  void lock(bool shared) noexcept {
    if (!shared) return;
    while (word_.exchange(1, std::memory_order_acquire) != 0)
      while (word_.load(std::memory_order_relaxed) != 0) __builtin_ia32_pause();
  }
  void unlock(bool shared) noexcept {
    if (shared) word_.store(0, std::memory_order_release);
  }

 private:
  std::atomic<uint32_t> word_{0};
};

// Per replay thread, what the others read: where its executed ops have got to.
struct alignas(64) Lane {
  std::atomic<uint64_t> executed{0};  // op chunks the executor has run
  std::atomic<uint64_t> clock{0};     // recorded ms of its first event not yet run (kNever: done)
  std::atomic<uint32_t> phases{0};    // phase ops it has emitted
  std::atomic<uint32_t> stuck{0};     // 1 while it waits for another thread
  std::atomic<int32_t> tid{0};        // its kernel thread id once its program has ended (it is exiting)
  std::atomic<uint32_t> exited{0};    // 1 once that thread is gone (its exit path has run)
};

// A recorded thread's end (format 2), for the threads that must not pass it before it has exited.
struct End {
  uint64_t t_ms;
  uint32_t thread;
};

// A `phase NAME` mark of the trace: in its thread's stream where the program
// wrote it; the other threads start that phase at their first event after its time.
struct Mark {
  uint64_t t_ms;
  uint32_t thread, seq;  // seq: the mark's place among its thread's marks; thread kAnyThread: a time for every thread
  char name[32];
};
constexpr uint32_t kMaxMarks = 1024;
constexpr uint32_t kNoThread = UINT32_MAX;
constexpr uint32_t kAnyThread = UINT32_MAX;

class LiveMap;  // trace_live_map.h

// Free slots shared between threads (a stack under a lock), and the slots never used yet.
struct SlotPool {
  Lock lock;
  uint32_t top = 0;
  uint32_t* stack = nullptr;
  std::atomic<uint64_t> fresh{0};
  uint64_t capacity = 0;  // slots in all: the programs' max_ids
};

// What the replay threads share.
struct Replay {
  const tr::TraceFile* file = nullptr;
  uint32_t threads = 0;
  bool shared = false;  // more than one thread: locks taken
  bool as_recorded = false;
  uint64_t window_ms = 0;  // 0: unwindowed
  Lane* lanes = nullptr;
  LiveMap* map = nullptr;
  SlotPool pool;
  std::atomic<uint64_t> progress{0};  // op chunks returned by any thread (stall detection)
  Mark* marks = nullptr;              // sorted by time, then thread and seq
  uint32_t mark_count = 0;
  // diagnose=yes: repro's five phases (marks = the peak point only), replayed up to final_ms.
  bool diagnose = false;
  uint64_t final_ms = kNever;
  uint64_t idle_ms = 0, activity_ms = 0;
  WaitSpec wait;
  // Thread lifetimes (format 2): per thread, the recorded begin and end (kNever:
  // none; a thread's end is its last event's time), and the ends in time order.
  bool lifetimes = false;
  uint64_t* begin_ms = nullptr;
  uint64_t* begin_after = nullptr;  // per thread: the recording's thread ends before its begin
  uint64_t* end_ms = nullptr;
  End* end_order = nullptr;
  uint32_t end_count = 0;
  uint32_t* ended = nullptr;  // the thread of each thread end, in the recording's order (kNoThread: unseen)
  uint64_t ended_cap = 0;
  // Allocation sites (a trace recorded with --stacks): dense ids as SiteTable's.
  uint32_t* site_base = nullptr;  // per image
  uint32_t images = 1;
  uint32_t site_count = 0;
  uint32_t site(const tr::Event& e) const noexcept {
    if (e.site == 0 || e.image >= images) return 0;
    const uint32_t end = e.image + 1 < images ? site_base[e.image + 1] : site_count;
    return e.site <= end - site_base[e.image] ? site_base[e.image] + e.site : 0;
  }
};

// Waits a little longer each round: spin, then yield, then sleep (trace_waits.cc).
struct Backoff {
  uint32_t rounds = 0;
  uint64_t since_ns = 0, seen_progress = 0;
  // Aborts when no replay thread has made progress for kStallSeconds.
  void pause(Replay& r) noexcept;
};
// The thread of lane `l` has exited: its program ended and the kernel no longer
// knows its tid (trace_waits.cc).
bool thread_exited(Lane& l);

// ---- loading (trace_load.cc) ----
// The shape of a trace for its replay: its chunks by thread, and the slots a replay needs.
struct Shape {
  tr::Layout layout;
  uint64_t* first = nullptr;    // per thread: index of its first chunk in `chunks`
  uint64_t* count = nullptr;    // per thread: its chunks
  uint32_t* payload = nullptr;  // per thread: its largest chunk payload
  tr::ChunkRef* chunks = nullptr;
  uint64_t peak_sum = 0;  // sum over threads of each thread's peak (allocations - frees)
  uint64_t max_ms = 0;
};

// One pass per thread: each thread's peak of allocations minus frees, and the
// recorded time span; with `buckets`, allocations and frees per time bucket.
// With `into`, collects the phase marks (at most kMaxMarks) into them, and the
// threads' begins and ends (the first thread's end is the process's: it runs
// the cell, so it never ends here).
void count_events(const tr::TraceFile& file, Shape& sh, uint8_t* buffer, uint64_t bucket_ms, uint64_t* allocs,
                  uint64_t* frees, Replay* into);

// diagnose=yes (heapmark diagnose): repro's five phases over the recorded run.
struct Diagnose {
  bool on = false;
  uint64_t peak_ms = 0, final_ms = kNever, idle_ms = 500, activity_ms = 0;
  WaitSpec wait;
};
// The programs of a replay of the trace at `path`, one per recorded thread.
std::vector<Program*> make_programs(const std::string& path, bool as_recorded, const Diagnose& d, Scratch& s);

// ---- the pacing window (trace_window.cc) ----
// The live blocks a replay of the trace can hold at once, keeping its threads
// within a window of recorded time of each other (Replay::window_ms, set here)
// where that bounds them much lower than the threads' peaks do.
uint64_t live_bound(const tr::TraceFile& file, Shape& sh, uint8_t* buffer, Replay& r, Scratch& s);

// ---- a replay thread's program (trace_program.cc) ----
Program* make_trace_program(Replay& r, uint32_t index, const tr::ChunkRef* chunks, size_t count, uint8_t* buffer,
                            uint32_t* local, Scratch& s);

}  // namespace heapmark::workloads::trace_replay
