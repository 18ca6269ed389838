// trace: replays a recorded allocation trace (.hmt, `heapmark record`), one
// program per recorded thread, streaming: each thread decodes its own chunks
// with pread as the executor asks for ops, so the harness holds a few buffers
// and about 100 bytes per live block, however many events the trace has.
//
// Block ids. Ops name executor slots, not recorded ids: a shared map takes a
// recorded id to its slot while the block is live, and slots are reused as
// blocks die. A thread reuses the slots it freed at once (its ops run in
// order); it gives them to others only after its executor has run those frees.
//
// Cross-thread frees. An op chunk that next() returns is executed before the
// thread's next call, so each call first publishes: the allocations it
// decoded last time now exist (a per-thread executed count, and every map
// entry carries the count of the chunk that made it). A thread that must free
// a block another thread made and has not yet executed ends its chunk there
// and, with nothing of its own outstanding, waits. The recorded run happened
// in one order, so some thread can always go on.
//
// Memory. The slots needed are bounded before the replay starts (one pass over
// the trace): the live blocks of any interleaving are at most the sum over
// threads of each thread's peak (its allocations minus its frees). Where that
// sum is much larger than the trace's live blocks (one thread allocates, others
// free), the threads are kept within a window of recorded time of each other,
// which bounds the slots by the live blocks over any window plus the window's
// allocations. timing=as-recorded inserts the recorded gaps as kIdle.
//
// Thread lifetimes (a trace of format 2 says where each thread began and
// ended). A replay thread begins once every other thread has run its events
// recorded before the begin and the threads whose ends the recording wrote
// before it began have exited (the ends are counted: the clock's ticks are too
// coarse to order a begin after an end), and ends (returns from its start routine, so the
// allocator runs its thread-exit path: tcache flush, arena detach, heap
// abandonment) after its last event; no other thread runs an event recorded
// after that end until the thread has exited (the kernel no longer knows its
// tid). An older trace has neither: every thread starts at once and ends after
// its last event, unwaited for.
//
// Pace. Threads run their events as soon as the order allows (compressed),
// within the window below when one is set; diagnose sets one of
// kDiagnosePaceMs for every trace of several threads, so a thread that freed
// late in the recording (a consumer behind its producers) frees late here too.
//
// Phases. Without marks one phase; with the program's `phase NAME` marks,
// "start" and then one phase per mark. With diagnose=yes (heapmark diagnose)
// the five phases of `heapmark repro` instead: peak (up to peak_ms, the
// recorded live peak), free (up to final_ms: the trace's end, a mark or --at;
// later events are not replayed), then idle, activity and release as in
// repro, run by thread 0 and by the threads that have events after final_ms
// (a thread whose events end before it ends there, as it did when recorded;
// with lifetimes, one that was alive at final_ms waits out the tail too).
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/input_error.h"
#include "workloads/catalog.h"
#include "workloads/repro/engine.h"
#include "workloads/trace_sites.h"
#include "workloads/trace_stream.h"

namespace heapmark::workloads {
namespace {

namespace tr = heapmark::trace;

constexpr uint64_t kNever = UINT64_MAX;
constexpr uint32_t kLocalSlots = 64;             // a thread keeps up to 2x this many free slots before sharing them
constexpr uint64_t kWindowFromSlots = 1u << 16;  // below this many slots the replay runs unwindowed
constexpr uint64_t kBuckets = 1u << 16;          // of recorded time, for the windowed bound
constexpr uint64_t kStallSeconds = 60;           // no thread made progress: the trace contradicts itself
constexpr uint64_t kDiagnosePaceMs = 4;  // diagnose: how far in recorded time a thread may run ahead (a clock tick)

bool is_alloc(tr::Op op) { return op == tr::Op::kMalloc || op == tr::Op::kCalloc || op == tr::Op::kAligned; }
bool is_replayed(tr::Op op) { return tr::is_block_op(op) || op == tr::Op::kPhase; }  // block events and phase marks

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

// Recorded id -> slot of the live blocks: partitions of linear probing tables
// with backward-shift deletion (no tombstones), each under its own lock.
class LiveMap {
 public:
  struct Entry {
    uint64_t key;  // recorded id + 1; 0 = empty
    uint32_t slot;
    uint32_t owner;  // the thread that made the block
    uint64_t chunk;  // the owner's op chunk that made it: it exists once the owner's executed count reaches this
  };
  enum class Take { kTaken, kPending, kAbsent };

  LiveMap(uint64_t blocks, uint32_t parts, bool shared, const Lane* lanes, Scratch& s)
      : parts_(s.array<Part>(parts)), part_bits_(__builtin_ctz(parts)), shared_(shared), lanes_(lanes) {
    const uint64_t cap = part_capacity(blocks, parts);
    for (uint32_t i = 0; i < parts; ++i) {
      new (&parts_[i]) Part;
      parts_[i].capacity = cap;
      parts_[i].e = s.array<Entry>(cap);
    }
  }

  void prefetch(uint64_t id) const noexcept {
    const uint64_t h = mix(id + 1);
    const Part& p = parts_[part_bits_ ? h >> (64 - part_bits_) : 0];
    // As an asm statement: GCC 12 at -O2 drops a __builtin_prefetch here.
    asm volatile("prefetcht0 %0" : : "m"(*reinterpret_cast<const char*>(&p.e[home(p, h)])));
  }

  // False when the partition is full (the slot bound was wrong).
  bool insert(uint64_t id, uint32_t slot, uint32_t owner, uint64_t chunk) noexcept {
    const uint64_t h = mix(id + 1);
    Part& p = part(h);
    p.lock.lock(shared_);
    const bool ok = p.used + 1 < p.capacity;
    if (ok) {
      uint64_t i = home(p, h);
      while (p.e[i].key != 0) i = step(p, i);
      p.e[i] = Entry{id + 1, slot, owner, chunk};
      ++p.used;
    }
    p.lock.unlock(shared_);
    return ok;
  }

  // Removes the block `id` for thread `self` when it exists by now (made by
  // self, or made in a chunk its owner has executed).
  Take take(uint64_t id, uint32_t self, uint32_t& slot) noexcept {
    const uint64_t h = mix(id + 1);
    Part& p = part(h);
    p.lock.lock(shared_);
    Take r = Take::kAbsent;
    uint64_t i = home(p, h);
    for (; p.e[i].key != 0; i = step(p, i)) {
      if (p.e[i].key != id + 1) continue;
      const Entry& x = p.e[i];
      if (x.owner != self && lanes_[x.owner].executed.load(std::memory_order_acquire) < x.chunk) {
        r = Take::kPending;
        break;
      }
      slot = x.slot;
      erase_at(p, i);
      r = Take::kTaken;
      break;
    }
    p.lock.unlock(shared_);
    return r;
  }

 private:
  struct alignas(64) Part {
    Lock lock;
    uint64_t capacity = 0;
    uint64_t used = 0;
    Entry* e = nullptr;
  };
  // Load at most 3/4 (linear probing stays short there), any capacity: the
  // home position is the hash scaled to it, not masked.
  static uint64_t part_capacity(uint64_t blocks, uint32_t parts) { return (blocks / parts) * 4 / 3 + 64 + 8 * parts; }
  static uint64_t home(const Part& p, uint64_t h) noexcept {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(h << 8) * p.capacity) >> 64);
  }
  static uint64_t step(const Part& p, uint64_t i) noexcept { return i + 1 == p.capacity ? 0 : i + 1; }
  // Cyclic distance from a to b going forward.
  static uint64_t dist(const Part& p, uint64_t a, uint64_t b) noexcept { return b >= a ? b - a : b + p.capacity - a; }
  Part& part(uint64_t h) noexcept { return parts_[part_bits_ ? h >> (64 - part_bits_) : 0]; }
  static void erase_at(Part& p, uint64_t i) noexcept {
    // Backward shift: move later entries of the run up so no probe sequence breaks.
    for (uint64_t j = step(p, i); p.e[j].key != 0; j = step(p, j)) {
      const uint64_t h = home(p, mix(p.e[j].key));
      // e[j] may fill the hole at i when its home is not in (i, j] (cyclically).
      if (dist(p, h, j) >= dist(p, i, j)) {
        p.e[i] = p.e[j];
        i = j;
      }
    }
    p.e[i].key = 0;
    --p.used;
  }

  Part* parts_;
  int part_bits_;
  bool shared_;
  const Lane* lanes_;
};

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

// Waits a little longer each round: spin, then yield, then sleep.
struct Backoff {
  uint32_t rounds = 0;
  uint64_t since_ns = 0, seen_progress = 0;
  void pause(Replay& r) noexcept {
    ++rounds;
    if (rounds < 64) {
      __builtin_ia32_pause();
    } else if (rounds < 1024) {
      sched_yield();
    } else {
      const timespec ts{0, 50'000};
      nanosleep(&ts, nullptr);
    }
    if (rounds % 1024 != 0) return;
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const uint64_t ns = static_cast<uint64_t>(now.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(now.tv_nsec);
    const uint64_t p = r.progress.load(std::memory_order_relaxed);
    if (since_ns == 0 || p != seen_progress) {
      since_ns = ns;
      seen_progress = p;
    } else if (ns - since_ns > kStallSeconds * 1'000'000'000ull) {
      std::fprintf(stderr,
                   "heapmark: trace %s: no replay thread could go on for %llu s: the trace's cross-thread frees "
                   "contradict its times (a corrupted or hand-made trace)\n",
                   r.file->name().c_str(), static_cast<unsigned long long>(kStallSeconds));
      std::abort();
    }
  }
};

class TraceProgram final : public Program {
 public:
  TraceProgram(Replay& r, uint32_t index, const tr::ChunkRef* chunks, size_t count, uint8_t* buffer, uint32_t* local)
      : r_(r), index_(index), lane_(r.lanes[index]), cursor_(*r.file, chunks, count, buffer), local_(local) {}

  size_t next(Op* out, size_t cap) noexcept override {
    try {
      return fill(out, cap);
    } catch (const std::exception& e) {  // the file changed or broke after it was checked
      std::fprintf(stderr, "heapmark: %s\n", e.what());
      std::abort();
    }
  }
  uint32_t max_ids() const noexcept override { return static_cast<uint32_t>(r_.pool.capacity); }
  // Without marks one phase, "replay"; with them "start", then each mark's phase; diagnosing, repro's five.
  const char* phase_name(uint32_t i) const noexcept override {
    if (r_.diagnose) return i < repro::kPhases ? repro::kPhaseNames[i] : "?";
    if (r_.mark_count == 0) return "replay";
    return i == 0 ? "start" : r_.marks[i - 1].name;
  }
  uint32_t phase_count() const noexcept override { return r_.diagnose ? repro::kPhases : 1 + r_.mark_count; }
  const WaitSpec& wait_spec() const noexcept override { return r_.wait; }
  // With several threads, slot numbers and where the other threads begin a
  // mark's phase depend on how they interleave; each thread's calls do not.
  bool checksum_exact() const noexcept override { return r_.threads == 1; }
  uint32_t site_count() const noexcept override { return r_.site_count; }
  uint64_t clock_ms() const noexcept override { return last_ms_; }
  // The earliest event not yet run by any thread (once all have run: this thread's last).
  uint64_t reached_ms() const noexcept override {
    const uint64_t m = min_clock();
    return m == kNever ? last_ms_ : m;
  }

 private:
  // The next block event (rss samples and fork marks are not replayed). Events
  // are decoded kAhead in advance and their map lines prefetched: the map is
  // the one random access per event the replay adds.
  bool peek() {
    if (size_ == 0) refill();
    return size_ > 0;
  }
  const tr::Event& front() const { return ahead_[head_]; }
  void pop() {
    head_ = (head_ + 1) % kAhead;
    if (--size_ < kAhead / 2) refill();
  }
  void refill() {
    while (!ended_ && size_ < kAhead) {
      tr::Event& e = ahead_[(head_ + size_) % kAhead];
      if (!cursor_.next(e)) {
        ended_ = true;
        break;
      }
      if (!is_replayed(e.op)) continue;
      if (e.op != tr::Op::kPhase)
        r_.map->prefetch(e.op == tr::Op::kFree ? e.id : e.op == tr::Op::kRealloc ? e.old_id : e.id);
      ++size_;
    }
  }

  // Everything returned by the last call has run: make it visible.
  void publish() {
    lane_.executed.store(chunk_, std::memory_order_release);
    ++chunk_;
    lane_.clock.store(peek() ? front().t_ms : kNever, std::memory_order_release);
    if (local_count_ >= 2 * kLocalSlots) {
      r_.pool.lock.lock(r_.shared);
      while (local_count_ > kLocalSlots) r_.pool.stack[r_.pool.top++] = local_[--local_count_];
      r_.pool.lock.unlock(r_.shared);
    }
  }

  uint64_t min_clock() const {
    uint64_t m = kNever;
    for (uint32_t t = 0; t < r_.threads; ++t) m = std::min(m, r_.lanes[t].clock.load(std::memory_order_acquire));
    return m;
  }
  // No other thread can still make a block at time `t` (ms): their next events are later.
  bool others_past(uint64_t t) const {
    for (uint32_t u = 0; u < r_.threads; ++u)
      if (u != index_ && r_.lanes[u].clock.load(std::memory_order_acquire) <= t) return false;
    return true;
  }

  // Every other thread has run its events recorded before `t` (ms).
  bool others_reached(uint64_t t) const {
    for (uint32_t u = 0; u < r_.threads; ++u)
      if (u != index_ && r_.lanes[u].clock.load(std::memory_order_acquire) < t) return false;
    return true;
  }
  // Thread u has exited: its program ended and the kernel no longer knows its tid.
  bool exited(uint32_t u) const {
    Lane& l = r_.lanes[u];
    if (l.exited.load(std::memory_order_acquire)) return true;
    const int32_t tid = l.tid.load(std::memory_order_acquire);
    if (tid == 0 || syscall(SYS_tgkill, static_cast<pid_t>(getpid()), static_cast<pid_t>(tid), 0) == 0 ||
        errno != ESRCH)
      return false;
    l.exited.store(1, std::memory_order_release);
    return true;
  }
  // The threads whose ends the recording wrote before this one began have exited here
  // (the first thread's end is the process's: it runs the cell and never ends here).
  bool ended_before_begin() {
    const uint64_t n = std::min(r_.begin_after[index_], r_.ended_cap);
    for (; begin_checked_ < n; ++begin_checked_) {
      const uint32_t u = r_.ended[begin_checked_];
      if (u != kNoThread && u != 0 && u != index_ && !exited(u)) return false;
    }
    return true;
  }
  // The threads recorded as ended before time `t` have exited here.
  bool ends_passed(uint64_t t) {
    for (; next_end_ < r_.end_count && r_.end_order[next_end_].t_ms < t; ++next_end_)
      if (r_.end_order[next_end_].thread != index_ && !exited(r_.end_order[next_end_].thread)) return false;
    return true;
  }
  // diagnose: this thread was alive at final_ms (it has events after it, or, with lifetimes, it had not ended there).
  bool alive_at_final() const { return index_ == 0 || (r_.lifetimes && r_.end_ms[index_] > r_.final_ms); }

  // How many marks must have begun before event `e` runs: through its own mark
  // when `e` is one, else those of other threads recorded before e's time.
  uint32_t marks_due(const tr::Event& e) const {
    if (e.op == tr::Op::kPhase) {
      for (uint32_t i = 0; i < r_.mark_count; ++i)
        if (r_.marks[i].thread == index_ && r_.marks[i].seq == own_marks_) return std::max(next_mark_, i + 1);
      return next_mark_;
    }
    uint32_t due = next_mark_;
    while (due < r_.mark_count && r_.marks[due].thread != index_ && e.t_ms > r_.marks[due].t_ms) ++due;
    return due;
  }
  // diagnose: at final_ms the replay stops; the phases left and repro's waits
  // follow (idle, activity, release), alone in their chunk.
  size_t final_phases(Op* out) {
    size_t k = 0;
    while (next_mark_ + 1 < repro::kIdleP) out[k++] = Op{OpKind::kPhase, 0, 0, ++next_mark_, 0};
    out[k++] = Op{OpKind::kPhase, 0, 0, repro::kIdleP, 0};
    out[k++] = Op{OpKind::kIdle, 0, kUntilReturned, 0, r_.idle_ms};
    out[k++] = Op{OpKind::kPhase, 0, 0, repro::kActP, 0};
    out[k++] = Op{OpKind::kActivity, 0, static_cast<uint16_t>(r_.activity_ms ? 0 : kUntilReturned), 0, r_.activity_ms};
    out[k++] = Op{OpKind::kPhase, 0, 0, repro::kRelP, 0};
    out[k++] = Op{OpKind::kRelease, 0, 0, 0, 0};
    next_mark_ = repro::kRelP;
    lane_.phases.store(repro::kPhases, std::memory_order_release);
    tail_done_ = true;
    return k;
  }
  // Phase ops through mark `due` (alone in their chunk: what came before has run and is published).
  size_t begin_phases(Op* out, size_t cap, uint32_t due) {
    size_t k = 0;
    while (next_mark_ < due && k < cap) out[k++] = Op{OpKind::kPhase, 0, 0, ++next_mark_, 0};
    lane_.phases.store(next_mark_ + 1, std::memory_order_release);
    return k;
  }
  // Every other thread waits at the next phase, or for another thread, or has
  // ended: where a mark's clock tick leaves the order open, this thread's wait
  // can only end after the phase begins.
  bool all_others_held() const {
    for (uint32_t u = 0; u < r_.threads; ++u) {
      if (u == index_) continue;
      const Lane& l = r_.lanes[u];
      if (l.clock.load(std::memory_order_acquire) != kNever &&
          l.phases.load(std::memory_order_acquire) <= next_mark_ + 1 && l.stuck.load(std::memory_order_acquire) == 0)
        return false;
    }
    return true;
  }

  bool take_slot(uint32_t& slot) {
    if (local_count_ > 0) {
      slot = local_[--local_count_];
      return true;
    }
    r_.pool.lock.lock(r_.shared);
    const bool shared = r_.pool.top > 0;
    if (shared) slot = r_.pool.stack[--r_.pool.top];
    r_.pool.lock.unlock(r_.shared);
    if (shared) return true;
    const uint64_t f = r_.pool.fresh.fetch_add(1, std::memory_order_relaxed);
    if (f < r_.pool.capacity) {
      slot = static_cast<uint32_t>(f);
      return true;
    }
    r_.pool.fresh.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  void give_slot(uint32_t slot) { local_[local_count_++] = slot; }

  void insert(uint64_t id, uint32_t slot) {
    if (!r_.map->insert(id, slot, index_, chunk_))
      throw InputError(r_.file->name() + ": replay: more live blocks than the trace's bound (a corrupted trace)");
  }

  size_t fill(Op* out, size_t cap) {
    if (!started_) {
      started_ = true;
      lane_.clock.store(peek() ? front().t_ms : kNever, std::memory_order_release);
      out[0] = Op{OpKind::kPhase, 0, 0, 0, 0};
      lane_.phases.store(1, std::memory_order_release);
      return finish(1);
    }
    publish();
    size_t k = 0;
    uint64_t limit = r_.window_ms ? min_clock() + r_.window_ms : kNever;
    Backoff wait;
    // Ends the chunk where this thread would have to wait; waits only with nothing outstanding.
    bool phase_now = false;
    // A wait for the window, a begin or an exit (`on_earlier`) ends once the
    // threads whose next events are earlier have run them (the earliest is never
    // held by these): such a thread is not held, and never begins the next phase
    // early for want of progress elsewhere (parked at the edge with an early
    // clock, it would hold the window shut for good).
    auto blocked = [&](bool on_earlier = false) {
      if (k > 0) return true;
      lane_.stuck.store(on_earlier ? 0 : 1, std::memory_order_release);
      if (!on_earlier && next_mark_ < r_.mark_count && all_others_held()) {
        phase_now = true;
        return true;
      }
      wait.pause(r_);
      if (r_.window_ms) limit = min_clock() + r_.window_ms;
      return false;
    };
    lane_.stuck.store(0, std::memory_order_release);
    if (tail_done_) return finish(0);
    while (k < cap && local_count_ < 2 * kLocalSlots && peek()) {
      const tr::Event& e = front();
      if (r_.diagnose && (e.t_ms > r_.final_ms)) {  // alive at final_ms: this thread waits out the tail too
        if (k > 0) break;
        return finish(final_phases(out));
      }
      if (r_.diagnose && e.op == tr::Op::kPhase) {  // the program's own marks are not phases here
        pop();
        continue;
      }
      if (r_.mark_count > 0) {
        const uint32_t due = marks_due(e);
        if (due > next_mark_) {
          if (k > 0) break;
          k = begin_phases(out, cap, due);
          if (e.op == tr::Op::kPhase) {
            ++own_marks_;
            pop();
          }
          break;
        }
        if (e.op == tr::Op::kPhase) {  // begun already (see all_others_held)
          ++own_marks_;
          pop();
          continue;
        }
      }
      if (e.t_ms > limit) {
        if (blocked(true)) break;
        continue;
      }
      if (!begun_ &&
          !(r_.begin_ms[index_] == kNever || (others_reached(r_.begin_ms[index_]) && ended_before_begin()))) {
        if (blocked(true)) break;
        continue;
      }
      begun_ = true;
      if (r_.end_count > 0 && !ends_passed(e.t_ms)) {
        if (blocked(true)) break;
        continue;
      }
      if (r_.as_recorded && seen_ && e.t_ms > last_ms_) {
        if (k > 0) break;
        // Alone in its chunk: all of this thread's events before the gap have run.
        out[k++] = Op{OpKind::kIdle, 0, 0, 0, e.t_ms - last_ms_};
        last_ms_ = e.t_ms;
        lane_.clock.store(e.t_ms, std::memory_order_release);
        break;
      }
      uint32_t slot = 0;
      if (is_alloc(e.op)) {
        if (!take_slot(slot)) {
          if (blocked()) break;
          continue;
        }
        insert(e.id, slot);
        out[k++] = Op{OpKind::kAlloc, e.op == tr::Op::kAligned ? e.align_log2 : uint8_t{0}, 0, slot, e.size, r_.site(e),
                      born(e)};
      } else {
        const uint64_t victim = e.op == tr::Op::kFree ? e.id : e.old_id;
        auto got = r_.map->take(victim, index_, slot);
        bool never_made = false;  // no thread can still make it: look once more, after their clocks
        if (got == LiveMap::Take::kAbsent && others_past(e.t_ms)) {
          got = r_.map->take(victim, index_, slot);
          never_made = got == LiveMap::Take::kAbsent;
        }
        if (got == LiveMap::Take::kTaken) {
          if (e.op == tr::Op::kFree) {
            out[k++] = Op{OpKind::kFree, 0, 0, slot, 0};
            give_slot(slot);
          } else {
            insert(e.id, slot);
            out[k++] = Op{OpKind::kRealloc, 0, 0, slot, e.size, r_.site(e), born(e)};
          }
        } else if (never_made) {
          // Made before the recording started (or freed twice): a free is dropped, a realloc makes a new block.
          if (e.op == tr::Op::kRealloc) {
            if (!take_slot(slot)) {
              if (blocked()) break;
              continue;
            }
            insert(e.id, slot);
            out[k++] = Op{OpKind::kAlloc, 0, 0, slot, e.size, r_.site(e), born(e)};
          }
        } else {
          if (blocked()) break;
          continue;
        }
      }
      seen_ = true;
      last_ms_ = e.t_ms;
      pop();
      wait = Backoff{};
    }
    if (phase_now) {
      lane_.stuck.store(0, std::memory_order_release);
      k = begin_phases(out, cap, next_mark_ + 1);
    }
    // The trace ended (for this thread) before final_ms: a thread alive there still waits out the tail.
    if (k == 0 && r_.diagnose && !peek() && alive_at_final()) k = final_phases(out);
    // Its last call: the thread ends now; threads that must not pass its end wait until this tid is gone.
    if (k == 0) lane_.tid.store(static_cast<int32_t>(syscall(SYS_gettid)), std::memory_order_release);
    return finish(k);
  }

  static uint32_t born(const tr::Event& e) noexcept {
    return static_cast<uint32_t>(std::min<uint64_t>(e.t_ms, UINT32_MAX));
  }

  size_t finish(size_t k) {
    if (k > 0) r_.progress.fetch_add(1, std::memory_order_relaxed);
    else lane_.clock.store(kNever, std::memory_order_release);
    return k;
  }

  Replay& r_;
  uint32_t index_;
  Lane& lane_;
  tr::ThreadCursor cursor_;
  uint32_t* local_;
  uint32_t local_count_ = 0;
  static constexpr uint32_t kAhead = 16;
  tr::Event ahead_[kAhead];
  uint32_t head_ = 0, size_ = 0;
  bool ended_ = false, started_ = false, seen_ = false;
  uint32_t next_mark_ = 0;      // marks whose phase this thread has begun
  uint32_t own_marks_ = 0;      // this thread's own marks passed
  bool tail_done_ = false;      // diagnose: the final phases are out
  bool begun_ = false;          // past its recorded begin
  uint32_t next_end_ = 0;       // ends (Replay::end_order) this thread has seen pass
  uint64_t begin_checked_ = 0;  // ends before its begin (Replay::ended) seen exited
  uint64_t last_ms_ = 0;
  uint64_t chunk_ = 1;  // the op chunk being decoded; entries made in it exist once `executed` reaches it
};

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

Shape shape_of(const tr::TraceFile& file, Scratch& s) {
  Shape sh;
  // Chunk headers twice (counting, then placing), no heap.
  auto* per_thread = s.array<uint64_t>(tr::kMaxThreads);
  sh.layout = tr::scan_chunks(file, [&](uint32_t t, const tr::ChunkRef&) { ++per_thread[t]; });
  if (sh.layout.lost)
    throw InputError(file.name() + ": incomplete trace: " + std::to_string(sh.layout.lost) +
                     " events were not recorded (" + tr::lost_reason_text(sh.layout.lost_reasons) +
                     "): record it again");
  const uint32_t threads = std::max<uint32_t>(sh.layout.threads, 1);
  sh.first = s.array<uint64_t>(threads);
  sh.count = s.array<uint64_t>(threads);
  sh.payload = s.array<uint32_t>(threads);
  sh.chunks = s.array<tr::ChunkRef>(sh.layout.event_chunks);
  for (uint32_t t = 1; t < threads; ++t) sh.first[t] = sh.first[t - 1] + per_thread[t - 1];
  tr::scan_chunks(file, [&](uint32_t t, const tr::ChunkRef& c) {
    sh.chunks[sh.first[t] + sh.count[t]++] = c;
    sh.payload[t] = std::max(sh.payload[t], c.payload_bytes);
  });
  return sh;
}

// One pass per thread: each thread's peak of allocations minus frees, and the
// recorded time span; with `buckets`, allocations and frees per time bucket.
// With `into`, collects the phase marks (at most kMaxMarks) into them, and the
// threads' begins and ends (the first thread's end is the process's: it runs
// the cell, so it never ends here).
void count_events(const tr::TraceFile& file, Shape& sh, uint8_t* buffer, uint64_t bucket_ms, uint64_t* allocs,
                  uint64_t* frees, Replay* into) {
  const uint32_t threads = std::max<uint32_t>(sh.layout.threads, 1);
  sh.peak_sum = 0;
  for (uint32_t t = 0; t < threads; ++t) {
    tr::ThreadCursor c(file, sh.chunks + sh.first[t], sh.count[t], buffer);
    tr::Event e;
    int64_t net = 0, peak = 0;
    uint32_t seq = 0;
    uint64_t last_ms = 0;
    bool ended = false;
    if (into) {
      into->begin_ms[t] = into->end_ms[t] = kNever;
      into->begin_after[t] = 0;
    }
    while (c.next(e)) {
      last_ms = e.t_ms;
      if (into && e.op == tr::Op::kThreadBegin && into->begin_ms[t] == kNever) {
        into->begin_ms[t] = e.t_ms;
        into->begin_after[t] = e.size;
      }
      if (into && e.op == tr::Op::kThreadEnd && e.size < into->ended_cap) into->ended[e.size] = t;
      ended |= e.op == tr::Op::kThreadEnd;
      if (into && e.op == tr::Op::kPhase) {
        if (into->mark_count == kMaxMarks)
          throw InputError(file.name() + ": more than " + std::to_string(kMaxMarks) + " phase marks (at byte " +
                           std::to_string(e.offset) + "): mark fewer phases");
        Mark& m = into->marks[into->mark_count++];
        m.t_ms = e.t_ms;
        m.thread = t;
        m.seq = seq++;
        if (e.name_len > 0) std::memcpy(m.name, e.name, std::min<size_t>(e.name_len, sizeof m.name - 1));
        else std::snprintf(m.name, sizeof m.name, "phase%u", into->mark_count);
      }
      if (!tr::is_block_op(e.op)) continue;
      sh.max_ms = std::max(sh.max_ms, e.t_ms);
      const uint64_t b = bucket_ms ? std::min(e.t_ms / bucket_ms, kBuckets - 1) : 0;
      if (is_alloc(e.op)) {
        peak = std::max(peak, ++net);
        if (allocs) ++allocs[b];
      } else if (e.op == tr::Op::kFree) {
        --net;
        if (frees) ++frees[b];
      } else {  // a realloc frees one block and makes another: for the bound, the new one first
        peak = std::max(peak, net + 1);
        if (allocs) ++allocs[b];
        if (frees) ++frees[b];
      }
    }
    sh.peak_sum += static_cast<uint64_t>(peak);
    if (into && ended && t != 0) {
      into->end_ms[t] = last_ms;
      into->end_order[into->end_count++] = End{last_ms, t};
    }
  }
}

struct Diagnose {
  bool on = false;
  uint64_t peak_ms = 0, final_ms = kNever, idle_ms = 500, activity_ms = 0;
  WaitSpec wait;
};

std::vector<Program*> make_programs(const std::string& path, bool as_recorded, const Diagnose& d, Scratch& s) {
  auto* file = s.make<tr::TraceFile>(path);
  Shape sh = shape_of(*file, s);
  const uint32_t threads = std::max<uint32_t>(sh.layout.threads, 1);
  auto* buffer = s.array<uint8_t>(sizeof(tr::ChunkHeader) + sh.layout.max_payload);
  auto* r = s.make<Replay>();
  r->marks = s.array<Mark>(kMaxMarks);
  r->lifetimes = file->header().version >= 2;
  r->begin_ms = s.array<uint64_t>(threads);
  r->end_ms = s.array<uint64_t>(threads);
  r->end_order = s.array<End>(threads);
  r->begin_after = s.array<uint64_t>(threads);
  r->ended_cap = uint64_t{threads} * 8;  // a thread ends once, or again per round of exit destructors that allocate
  r->ended = s.array<uint32_t>(r->ended_cap);
  std::fill(r->ended, r->ended + r->ended_cap, kNoThread);
  count_events(*file, sh, buffer, 0, nullptr, nullptr, r);
  std::sort(r->end_order, r->end_order + r->end_count, [](const End& a, const End& b) { return a.t_ms < b.t_ms; });
  std::stable_sort(r->marks, r->marks + r->mark_count, [](const Mark& a, const Mark& b) {
    return a.t_ms != b.t_ms ? a.t_ms < b.t_ms : a.thread != b.thread ? a.thread < b.thread : a.seq < b.seq;
  });
  if (d.on) {  // the peak point is the one mark; the program's own are skipped
    r->diagnose = true;
    r->mark_count = 1;
    r->marks[0] = Mark{d.peak_ms, kAnyThread, 0, "peak"};
    r->final_ms = d.final_ms;
    r->idle_ms = d.idle_ms;
    r->activity_ms = d.activity_ms;
    r->wait = d.wait;
  }

  r->images = sh.layout.images;
  r->site_base = s.array<uint32_t>(r->images);
  if (!sh.layout.site_chunks.empty()) {
    auto* site_buffer = s.array<uint8_t>(tr::kMaxChunkPayload);
    r->site_count = tr::site_bases(*file, sh.layout, site_buffer, r->site_base);
  }
  r->file = file;
  r->threads = threads;
  r->shared = threads > 1;
  r->as_recorded = as_recorded;
  uint64_t live_bound = sh.peak_sum;
  if (threads > 1 && sh.peak_sum > kWindowFromSlots) {
    // Within a window of W ms (the bucket), a thread runs an event only when it is at most W after every
    // thread's next unrun event (T). Then the live blocks are at most those made by T + W less those freed
    // before T: at most allocs up to bucket(T) + 1 less frees before bucket(T).
    const uint64_t bucket_ms = std::max<uint64_t>(16, sh.max_ms / kBuckets + 1);
    auto* allocs = s.array<uint64_t>(kBuckets);
    auto* frees = s.array<uint64_t>(kBuckets);
    count_events(*file, sh, buffer, bucket_ms, allocs, frees, nullptr);
    uint64_t windowed = 0, made = allocs[0], freed = 0;  // made: buckets 0..i+1; freed: buckets 0..i-1
    for (uint64_t i = 0; i < kBuckets; ++i) {
      if (i + 1 < kBuckets) made += allocs[i + 1];
      if (i >= 1) freed += frees[i - 1];
      windowed = std::max(windowed, made > freed ? made - freed : 0);
    }
    if (2 * windowed < sh.peak_sum) {
      live_bound = windowed;
      r->window_ms = bucket_ms;
    }
  }
  // diagnose: threads keep the recorded pace to within kDiagnosePaceMs of one another, so a free another
  // thread made late (a consumer behind its producers) is late here too, and the live bytes at P and F are
  // the recording's. A narrower window holds fewer blocks than the bound above allows.
  if (r->diagnose && threads > 1)
    r->window_ms = r->window_ms ? std::min(r->window_ms, kDiagnosePaceMs) : kDiagnosePaceMs;
  const uint64_t slots = live_bound + uint64_t{threads} * (2 * kLocalSlots + 1) + 16;
  if (slots >= UINT32_MAX) throw InputError(path + ": more than 2^32 blocks live at once: too many to replay");
  r->pool.capacity = slots;
  r->pool.stack = s.array<uint32_t>(slots);
  r->lanes = s.array<Lane>(threads);
  for (uint32_t t = 0; t < threads; ++t) new (&r->lanes[t]) Lane;
  uint32_t parts = 1;
  while (r->shared && parts < 64 && parts < 4 * threads) parts <<= 1;
  r->map = s.make<LiveMap>(slots, parts, r->shared, r->lanes, s);

  std::vector<Program*> programs;
  for (uint32_t t = 0; t < threads; ++t) {
    auto* buf = s.array<uint8_t>(sizeof(tr::ChunkHeader) + sh.payload[t]);
    auto* local = s.array<uint32_t>(2 * kLocalSlots + 1);
    programs.push_back(s.make<TraceProgram>(*r, t, sh.chunks + sh.first[t], sh.count[t], buf, local));
  }
  return programs;
}

// Checked in the runner before any cell: a readable file that decodes to its
// end and lost no events (one pass, reading a chunk at a time).
std::string replayable_trace(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || access(path.c_str(), R_OK) != 0)
    return "'" + path + "' is not a readable file (record one with: heapmark record -o app.hmt -- ./app)";
  try {
    tr::TraceFile file(path);
    std::vector<tr::ChunkRef> chunks;
    const tr::Layout layout = tr::scan_chunks(file, [&](uint32_t, const tr::ChunkRef& c) { chunks.push_back(c); });
    if (layout.lost)
      return path + ": incomplete trace: " + std::to_string(layout.lost) + " events were not recorded (" +
             tr::lost_reason_text(layout.lost_reasons) + "): record it again";
    std::vector<uint8_t> buffer(sizeof(tr::ChunkHeader) + layout.max_payload);
    tr::ThreadCursor all(file, chunks.data(), chunks.size(), buffer.data());  // file order: every chunk decodes
    tr::Event e;
    while (all.next(e)) {
    }
  } catch (const InputError& err) {
    return err.what();
  }
  return "";
}

const WorkloadDef kTrace{
    "trace",
    "replays a recorded allocation trace (heapmark record): threads, sizes, alignments and handoffs as recorded",
    {
        {"path", "", "the .hmt trace to replay (required)", ParamType::kText, 0, 0, {}, replayable_trace},
        {"timing",
         "compressed",
         "compressed: calls back to back; as-recorded: the recorded gaps as idle time",
         ParamType::kChoice,
         0,
         0,
         {"compressed", "as-recorded"}},
        {"diagnose",
         "no",
         "yes: the five phases of heapmark repro (peak, free, idle, activity, release), as heapmark diagnose runs it",
         ParamType::kChoice,
         0,
         0,
         {"no", "yes"}},
        {"peak_ms",
         "0",
         "diagnose: the recorded time (ms) where the peak phase ends",
         ParamType::kInt,
         0,
         INT64_MAX,
         {}},
        {"final_ms",
         "0",
         "diagnose: the recorded time (ms) the replay stops at; 0: the trace's end",
         ParamType::kInt,
         0,
         INT64_MAX,
         {}},
        {"idle_ms",
         "500",
         "diagnose: idle phase, no allocator calls (longer, up to the return horizon, for a background purger)",
         ParamType::kInt,
         0,
         3'600'000,
         {}},
        {"activity_ms",
         "0",
         "diagnose: activity phase: 0 until the memory is back or the return horizon has passed; N: N ms",
         ParamType::kInt,
         0,
         3'600'000,
         {}},
        {"max_ms",
         "30000",
         "diagnose: longest an idle or activity phase waits for the allocator",
         ParamType::kInt,
         1,
         3'600'000,
         {}},
    },
    [](const Params& p, uint64_t seed, Scratch& s) -> std::vector<Program*> {
      if (p.text("path").empty()) throw InputError("workload 'trace' needs its trace: -p path=app.hmt");
      Diagnose d;
      d.on = p.text("diagnose") == "yes";
      d.peak_ms = static_cast<uint64_t>(p.integer("peak_ms"));
      d.final_ms = p.integer("final_ms") == 0 ? kNever : static_cast<uint64_t>(p.integer("final_ms"));
      d.idle_ms = static_cast<uint64_t>(p.integer("idle_ms"));
      d.activity_ms = static_cast<uint64_t>(p.integer("activity_ms"));
      d.wait.max_ms = static_cast<uint64_t>(p.integer("max_ms"));
      d.wait.seed = seed;
      if (d.on && d.peak_ms > d.final_ms)
        throw InputError("workload 'trace': peak_ms " + std::to_string(d.peak_ms) + " is after final_ms " +
                         std::to_string(d.final_ms));
      return make_programs(p.text("path"), p.text("timing") == "as-recorded", d, s);
    },
    [](const Params& p) -> size_t {
      struct stat st;
      if (stat(p.text("path").c_str(), &st) != 0) return size_t{1} << 20;
      // Address space only (pages are touched as used): per live block about 100 bytes with the executor's
      // slot, and a block is at least a byte of the file; buffers, the chunk index and the buckets besides.
      return static_cast<size_t>(st.st_size) * 128 + (size_t{64} << 20);
    },
    nullptr,
    "path",  // --workloads trace:app.hmt
};
const Registrar kRegister{kTrace};

}  // namespace
}  // namespace heapmark::workloads
