// A replay thread's program (trace.cc describes the replay): it decodes its
// thread's events a few ahead, turns them into ops chunk by chunk as the
// executor asks, and holds an event back while the order of the recording
// says it must wait: for the pacing window, for another thread's allocation,
// begin or exit, or for a phase. next() is the replay's hot path: every
// helper it calls on the way to an op is in this file or inline in
// trace_replay.h and trace_live_map.h; only the waits (trace_waits.cc) are
// calls into another file.
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "common/input_error.h"
#include "workloads/repro/engine.h"
#include "workloads/trace_live_map.h"
#include "workloads/trace_replay.h"

namespace heapmark::workloads::trace_replay {
namespace {

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
  bool exited(uint32_t u) const { return thread_exited(r_.lanes[u]); }

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

  // One call of fill(): the chunk being filled, and how this thread waits when it must.
  struct Fill {
    Fill(Op* o, size_t c) : out(o), cap(c) {}
    Op* out;
    size_t cap;
    size_t k = 0;             // ops in the chunk
    uint64_t limit = kNever;  // the window's edge: a later event waits
    Backoff wait;
    bool phase_now = false;  // every other thread is held: begin the next phase
  };
  // What a step of fill() says: the event may run (kGo), it ran (kRan), look at
  // the front event again (kAgain), end the chunk (kStop), return it as it is (kReturn).
  enum class Step { kGo, kRan, kAgain, kStop, kReturn };

  size_t fill(Op* out, size_t cap) {
    if (!started_) return first_chunk(out);
    publish();
    Fill f(out, cap);
    f.limit = r_.window_ms ? min_clock() + r_.window_ms : kNever;
    lane_.stuck.store(0, std::memory_order_release);
    if (tail_done_) return finish(0);
    while (f.k < cap && local_count_ < 2 * kLocalSlots && peek()) {
      const tr::Event& e = front();
      Step step = phases_before(f, e);
      if (step == Step::kGo) step = order_before(f, e);
      if (step == Step::kGo) step = run(f, e);
      if (step == Step::kReturn) return finish(f.k);
      if (step == Step::kStop) break;
      if (step == Step::kAgain) continue;
      seen_ = true;
      last_ms_ = e.t_ms;
      pop();
      f.wait = Backoff{};
    }
    return end_chunk(f);
  }

  // The first call: phase 0, alone.
  size_t first_chunk(Op* out) {
    started_ = true;
    lane_.clock.store(peek() ? front().t_ms : kNever, std::memory_order_release);
    out[0] = Op{OpKind::kPhase, 0, 0, 0, 0};
    lane_.phases.store(1, std::memory_order_release);
    return finish(1);
  }

  // Ends the chunk where this thread would have to wait; waits only with nothing outstanding.
  // A wait for the window, a begin or an exit (`on_earlier`) ends once the
  // threads whose next events are earlier have run them (the earliest is never
  // held by these): such a thread is not held, and never begins the next phase
  // early for want of progress elsewhere (parked at the edge with an early
  // clock, it would hold the window shut for good).
  bool blocked(Fill& f, bool on_earlier = false) {
    if (f.k > 0) return true;
    lane_.stuck.store(on_earlier ? 0 : 1, std::memory_order_release);
    if (!on_earlier && next_mark_ < r_.mark_count && all_others_held()) {
      f.phase_now = true;
      return true;
    }
    f.wait.pause(r_);
    if (r_.window_ms) f.limit = min_clock() + r_.window_ms;
    return false;
  }
  Step hold(Fill& f, bool on_earlier = false) { return blocked(f, on_earlier) ? Step::kStop : Step::kAgain; }

  // Before event e: diagnose's end of the replay, and the phases that begin before e.
  Step phases_before(Fill& f, const tr::Event& e) {
    if (r_.diagnose && (e.t_ms > r_.final_ms)) {  // alive at final_ms: this thread waits out the tail too
      if (f.k > 0) return Step::kStop;
      f.k = final_phases(f.out);
      return Step::kReturn;
    }
    if (r_.diagnose && e.op == tr::Op::kPhase) {  // the program's own marks are not phases here
      pop();
      return Step::kAgain;
    }
    if (r_.mark_count > 0) {
      const uint32_t due = marks_due(e);
      if (due > next_mark_) {
        if (f.k > 0) return Step::kStop;
        f.k = begin_phases(f.out, f.cap, due);
        if (e.op == tr::Op::kPhase) {
          ++own_marks_;
          pop();
        }
        return Step::kStop;
      }
      if (e.op == tr::Op::kPhase) {  // begun already (see all_others_held)
        ++own_marks_;
        pop();
        return Step::kAgain;
      }
    }
    return Step::kGo;
  }

  // Before event e: the pacing window, this thread's recorded begin, the
  // threads recorded as ended before e, and (as-recorded) the gap before e.
  Step order_before(Fill& f, const tr::Event& e) {
    if (e.t_ms > f.limit) return hold(f, true);
    if (!begun_ && !(r_.begin_ms[index_] == kNever || (others_reached(r_.begin_ms[index_]) && ended_before_begin())))
      return hold(f, true);
    begun_ = true;
    if (r_.end_count > 0 && !ends_passed(e.t_ms)) return hold(f, true);
    if (r_.as_recorded && seen_ && e.t_ms > last_ms_) {
      if (f.k > 0) return Step::kStop;
      // Alone in its chunk: all of this thread's events before the gap have run.
      f.out[f.k++] = Op{OpKind::kIdle, 0, 0, 0, e.t_ms - last_ms_};
      last_ms_ = e.t_ms;
      lane_.clock.store(e.t_ms, std::memory_order_release);
      return Step::kStop;
    }
    return Step::kGo;
  }

  // Event e as an op: an allocation takes a free slot.
  Step run(Fill& f, const tr::Event& e) {
    if (!is_alloc(e.op)) return run_free(f, e);
    uint32_t slot = 0;
    if (!take_slot(slot)) return hold(f);
    insert(e.id, slot);
    f.out[f.k++] =
        Op{OpKind::kAlloc, e.op == tr::Op::kAligned ? e.align_log2 : uint8_t{0}, 0, slot, e.size, r_.site(e), born(e)};
    return Step::kRan;
  }

  // A free or realloc runs once its block exists (another thread may not have run its allocation yet).
  Step run_free(Fill& f, const tr::Event& e) {
    uint32_t slot = 0;
    const uint64_t victim = e.op == tr::Op::kFree ? e.id : e.old_id;
    auto got = r_.map->take(victim, index_, slot);
    bool never_made = false;  // no thread can still make it: look once more, after their clocks
    if (got == LiveMap::Take::kAbsent && others_past(e.t_ms)) {
      got = r_.map->take(victim, index_, slot);
      never_made = got == LiveMap::Take::kAbsent;
    }
    if (got == LiveMap::Take::kTaken) {
      if (e.op == tr::Op::kFree) {
        f.out[f.k++] = Op{OpKind::kFree, 0, 0, slot, 0};
        give_slot(slot);
      } else {
        insert(e.id, slot);
        f.out[f.k++] = Op{OpKind::kRealloc, 0, 0, slot, e.size, r_.site(e), born(e)};
      }
    } else if (never_made) {
      // Made before the recording started (or freed twice): a free is dropped, a realloc makes a new block.
      if (e.op == tr::Op::kRealloc) {
        if (!take_slot(slot)) return hold(f);
        insert(e.id, slot);
        f.out[f.k++] = Op{OpKind::kAlloc, 0, 0, slot, e.size, r_.site(e), born(e)};
      }
    } else {
      return hold(f);
    }
    return Step::kRan;
  }

  // The chunk is complete: a phase every thread was held for, diagnose's tail, or this thread's end.
  size_t end_chunk(Fill& f) {
    if (f.phase_now) {
      lane_.stuck.store(0, std::memory_order_release);
      f.k = begin_phases(f.out, f.cap, next_mark_ + 1);
    }
    // The trace ended (for this thread) before final_ms: a thread alive there still waits out the tail.
    if (f.k == 0 && r_.diagnose && !peek() && alive_at_final()) f.k = final_phases(f.out);
    // Its last call: the thread ends now; threads that must not pass its end wait until this tid is gone.
    if (f.k == 0) lane_.tid.store(static_cast<int32_t>(syscall(SYS_gettid)), std::memory_order_release);
    return finish(f.k);
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

}  // namespace

Program* make_trace_program(Replay& r, uint32_t index, const tr::ChunkRef* chunks, size_t count, uint8_t* buffer,
                            uint32_t* local, Scratch& s) {
  return s.make<TraceProgram>(r, index, chunks, count, buffer, local);
}

}  // namespace heapmark::workloads::trace_replay
