// repro: the "RES does not drop after free" scenarios of `heapmark repro`.
//
// One workload, `scenario` 1-12 picks the recipe. Every scenario has the same
// five phases, so every allocator is read at the same points:
//   peak     (P) the allocation phase ends at the live peak
//   free     (F) right after the frees
//   idle     (I) no allocator calls: `idle_ms`, or for an allocator that returns
//                memory from a background thread, until it has (its return horizon)
//   activity (A) allocator activity like a program's: `activity_rate` calls per ms
//                per thread of mixed sizes over a working set, until the memory is
//                back or the allocator's return horizon has passed (allocators that
//                purge or consolidate only when called); or a fixed `activity_ms`
//   release  (R) the allocator's explicit release hook, in every thread that allocated
// Waits end early once RSS is back at the live level; `max_ms` bounds them.
// Sizes scale with `mib` (the main allocation, 256 MiB as in the catalogue), so
// tests can run the same recipes small. Threads share one id space; handoffs
// and "in turn" ordering use kSend/kRecv tokens (ids above the block ids).
#include <algorithm>
#include <cstring>

#include "workloads/catalog.h"

namespace heapmark::workloads {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint32_t kPhases = 5;
const char* const kPhaseNames[kPhases] = {"peak", "free", "idle", "activity", "release"};

// A run of ops expanded lazily by Program::next: generation state stays a few
// words per segment however many blocks a scenario touches.
constexpr uint32_t kNoSend = UINT32_MAX;

struct Seg {
  enum Kind : uint8_t { kAllocRun, kFreeRun, kRecvRun, kOne } kind;
  uint32_t first = 0, count = 0, stride = 1;  // ids first, first+stride, ... (count of them)
  uint32_t keep = 0;                          // kFreeRun: skip every keep-th (i % keep == keep-1); 0 frees all
  uint64_t size = 0;                          // kAllocRun: bytes
  uint64_t size2 = 0;                         // kAllocRun: size of odd positions when non-zero
  uint32_t to = 0;                            // kSendRun, kAllocRun: destination thread (kNoSend: none)
  Op op{};                                    // kOne
};

class ReproThread final : public Program {
 public:
  static constexpr uint32_t kMaxSegs = 12;

  uint32_t max_ids() const noexcept override { return ids_; }
  const WaitSpec& wait_spec() const noexcept override { return wait_; }
  void set_wait_spec(const WaitSpec& w) { wait_ = w; }
  uint32_t phase_count() const noexcept override { return kPhases; }
  const char* phase_name(uint32_t i) const noexcept override { return i < kPhases ? kPhaseNames[i] : "?"; }

  // Scenario building: `phases_` ends the program early (a thread that exits).
  void set_ids(uint32_t ids) { ids_ = ids; }
  void set_phases(uint32_t n) { phases_ = n; }
  void add(uint32_t phase, const Seg& s) {
    auto& p = segs_[phase];
    if (p.n < kMaxSegs) p.s[p.n++] = s;
  }
  // size2 != 0: odd positions get size2 (interleaved pairs). send_to >= 0: each block is
  // handed to that thread right after its allocation.
  void alloc_run(uint32_t phase, uint32_t first, uint32_t count, uint64_t size, uint32_t stride = 1,
                 uint64_t size2 = 0, int send_to = -1) {
    Seg s{Seg::kAllocRun};
    s.first = first, s.count = count, s.size = size, s.stride = stride, s.size2 = size2;
    s.to = send_to < 0 ? kNoSend : static_cast<uint32_t>(send_to);
    add(phase, s);
  }
  void free_run(uint32_t phase, uint32_t first, uint32_t count, uint32_t keep = 0, uint32_t stride = 1) {
    Seg s{Seg::kFreeRun};
    s.first = first, s.count = count, s.keep = keep, s.stride = stride;
    add(phase, s);
  }
  void one(uint32_t phase, Op op) {
    Seg s{Seg::kOne};
    s.count = 1, s.op = op;
    add(phase, s);
  }

  size_t next(Op* out, size_t cap) noexcept override {
    size_t n = 0;
    while (n < cap && phase_ < phases_) {
      if (pending_send_) {
        out[n++] = send_;
        pending_send_ = false;
        continue;
      }
      if (!started_) {
        out[n++] = Op{OpKind::kPhase, 0, 0, phase_, 0};
        started_ = true;
        seg_ = pos_ = 0;
        continue;
      }
      const auto& p = segs_[phase_];
      if (seg_ == p.n) {
        ++phase_;
        started_ = false;
        continue;
      }
      const Seg& s = p.s[seg_];
      if (pos_ == s.count) {
        ++seg_;
        pos_ = 0;
        continue;
      }
      const uint32_t i = pos_++;
      const uint32_t id = s.first + i * s.stride;
      switch (s.kind) {
        case Seg::kAllocRun:
          out[n++] = Op{OpKind::kAlloc, 0, 0, id, s.size2 != 0 && i % 2 == 1 ? s.size2 : s.size};
          if (s.to != kNoSend) pending_send_ = true, send_ = Op{OpKind::kSend, 0, 0, id, s.to};
          break;
        case Seg::kFreeRun:
          if (s.keep == 0 || i % s.keep != s.keep - 1) out[n++] = Op{OpKind::kFree, 0, 0, id, 0};
          break;
        case Seg::kRecvRun: out[n++] = Op{OpKind::kRecv, 0, 0, id, 0}; break;
        case Seg::kOne: out[n++] = s.op; break;
      }
    }
    return n;
  }

 private:
  struct PhaseSegs {
    Seg s[kMaxSegs];
    uint32_t n = 0;
  };
  PhaseSegs segs_[kPhases];
  uint32_t ids_ = 1, phases_ = kPhases;
  WaitSpec wait_;
  uint32_t phase_ = 0, seg_ = 0, pos_ = 0;
  bool started_ = false, pending_send_ = false;
  Op send_{};
};

enum P : uint32_t { kPeak = 0, kFreeP = 1, kIdleP = 2, kActP = 3, kRelP = 4 };

struct Knobs {
  uint64_t mib, idle_ms, activity_ms;
  uint32_t threads;
  WaitSpec wait;
};

// The common tail: idle, activity, release (every thread that allocated). A
// thread that only stays alive (the producer of scenario 10) waits at the
// phase edges instead: alive, making no allocator calls.
void tail(ReproThread& t, const Knobs& k, bool waits = true) {
  t.set_wait_spec(k.wait);
  if (waits) {
    t.one(kIdleP, Op{OpKind::kIdle, 0, kUntilReturned, 0, k.idle_ms});
    t.one(kActP, Op{OpKind::kActivity, 0, static_cast<uint16_t>(k.activity_ms ? 0 : kUntilReturned), 0, k.activity_ms});
  }
  t.one(kRelP, Op{OpKind::kRelease, 0, 0, 0, 0});
}

// "LO-HI" of activity_sizes, validated by the parameter's own check.
void size_range(const std::string& text, uint64_t& lo, uint64_t& hi) {
  const size_t dash = text.find('-');
  int64_t a = 0, b = 0;
  parse_quantity(text.substr(0, dash), a);
  parse_quantity(text.substr(dash + 1), b);
  lo = static_cast<uint64_t>(a);
  hi = static_cast<uint64_t>(b);
}

std::string check_size_range(const std::string& text) {
  const size_t dash = text.find('-');
  int64_t a, b;
  if (dash == std::string::npos || !parse_quantity(text.substr(0, dash), a) || !parse_quantity(text.substr(dash + 1), b))
    return "expected LO-HI, e.g. 16-8K";
  if (a < 1 || b < a || b > (int64_t{1} << 30)) return "need 1 <= LO <= HI <= 1G";
  return "";
}

uint32_t blocks(uint64_t bytes, uint64_t size) { return static_cast<uint32_t>(std::max<uint64_t>(1, bytes / size)); }

std::vector<Program*> make_repro(const Params& p, uint64_t seed, Scratch& s) {
  const int scenario = static_cast<int>(p.integer("scenario"));
  Knobs k{static_cast<uint64_t>(p.integer("mib")), static_cast<uint64_t>(p.integer("idle_ms")),
          static_cast<uint64_t>(p.integer("activity_ms")), static_cast<uint32_t>(p.integer("threads")), WaitSpec{}};
  k.wait.max_ms = static_cast<uint64_t>(p.integer("max_ms"));
  k.wait.seed = seed;
  k.wait.activity_rate = static_cast<uint32_t>(p.integer("activity_rate"));
  k.wait.activity_slots = static_cast<uint32_t>(p.integer("activity_slots"));
  size_range(p.text("activity_sizes"), k.wait.activity_min, k.wait.activity_max);
  const uint64_t bytes = k.mib * kMiB;
  std::vector<Program*> out;
  auto thread = [&] {
    auto* t = s.make<ReproThread>();
    out.push_back(t);
    return t;
  };
  switch (scenario) {
    case 1:   // small objects, freed in allocation order
    case 2:   // ... plus one block allocated last and kept: pins the top of glibc's heap
    case 3:   // many fastbin/tcache-sized blocks (the activity's large-bin requests consolidate them)
    case 12: {  // as 1: the allocator's configuration (MADV_FREE) is the point
      const uint64_t size = scenario == 3 ? 64 : 200;
      const uint32_t n = blocks(bytes, size);
      auto* t = thread();
      t->set_ids(n + 1);
      t->alloc_run(kPeak, 0, n, size);
      if (scenario == 2) t->alloc_run(kPeak, n, 1, size);
      t->free_run(kFreeP, 0, n);
      tail(*t, k);
      break;
    }
    case 4: {  // dynamic mmap threshold: a freed 4 MiB mapping raises it above 2 MiB
      const uint32_t pairs = blocks(bytes / 2, 2 * kMiB);  // 256 MiB -> 64 x (2 MiB + 64 B kept)
      auto* t = thread();
      t->set_ids(1 + 2 * pairs);
      t->alloc_run(kPeak, 0, 1, 4 * kMiB);
      t->free_run(kPeak, 0, 1);
      t->alloc_run(kPeak, 1, 2 * pairs, 2 * kMiB, 1, 64);  // ids 1+2i: 2 MiB, 2+2i: 64 B
      t->free_run(kFreeP, 1, pairs, 0, 2);
      tail(*t, k);
      break;
    }
    case 5:    // dense fragmentation: keep every 16th 256 B block (about one per page)
    case 6: {  // sparse: keep every 1024th
      const uint32_t n = blocks(bytes, 256);
      auto* t = thread();
      t->set_ids(n);
      t->alloc_run(kPeak, 0, n, 256);
      t->free_run(kFreeP, 0, n, scenario == 5 ? 16 : 1024);
      tail(*t, k);
      break;
    }
    case 7:    // large blocks: 16 x (mib/16) MiB, freed, allocated again
    case 8: {  // medium blocks: 16 x 1 MiB
      const uint64_t size = scenario == 7 ? std::max<uint64_t>(kMiB, bytes / 16) : kMiB;
      auto* t = thread();
      t->set_ids(16);
      for (int round = 0; round < 2; ++round) {
        t->alloc_run(kPeak, 0, 16, size);
        t->free_run(kPeak, 0, 16);
      }
      t->alloc_run(kPeak, 0, 16, size);
      t->free_run(kFreeP, 0, 16);
      tail(*t, k);
      break;
    }
    case 9: {  // per-thread arenas: threads in turn allocate mib/4 of 512 B, then in turn free all but the last
      const uint32_t nt = k.threads, n = blocks(bytes / 4, 512);
      const uint32_t token = nt * n;  // tokens: token + phase * nt + thread
      for (uint32_t i = 0; i < nt; ++i) {
        auto* t = thread();
        t->set_ids(token + 2 * nt);
        for (uint32_t ph = 0; ph < 2; ++ph) {
          if (i > 0) t->one(ph, Op{OpKind::kRecv, 0, 0, token + ph * nt + i - 1, 0});
          if (ph == kPeak) t->alloc_run(kPeak, i * n, n, 512);
          else t->free_run(kFreeP, i * n, n - 1);
          if (i + 1 < nt) t->one(ph, Op{OpKind::kSend, 0, 0, token + ph * nt + i, i + 1});
        }
        tail(*t, k);
      }
      break;
    }
    case 10: {  // cross-thread free: thread 1 allocates, thread 0 frees, thread 1 stays alive and idle
      const uint32_t n = blocks(bytes, 256);
      auto* main = thread();
      auto* producer = thread();
      main->set_ids(n);
      producer->set_ids(n);
      producer->alloc_run(kPeak, 0, n, 256, 1, 0, /*send_to=*/0);
      Seg recv{Seg::kRecvRun};
      recv.first = 0, recv.count = n;
      main->add(kPeak, recv);
      main->free_run(kFreeP, 0, n);
      tail(*main, k);
      tail(*producer, k, /*waits=*/false);
      break;
    }
    case 11: {  // thread exit: a worker allocates and frees small blocks, then its thread ends
      const uint32_t n = blocks(bytes, 200);
      auto* main = thread();
      auto* worker = thread();
      main->set_ids(n);
      worker->set_ids(n);
      worker->alloc_run(kPeak, 0, n, 200);
      worker->free_run(kFreeP, 0, n);
      worker->set_phases(2);
      tail(*main, k);
      break;
    }
    default: break;
  }
  return out;
}

const WorkloadDef kRepro{
    "repro",
    "RES after free: the 12 scenarios of `heapmark repro`, phases peak/free/idle/activity/release",
    {
        {"scenario", "1", "recipe 1-12 (heapmark repro --list)", ParamType::kInt, 1, 12, {}},
        {"mib", "256", "size of the main allocation, MiB (scenario 9: a quarter per thread)", ParamType::kInt, 4, 16384, {}},
        {"idle_ms", "500", "idle phase, no allocator calls (longer, up to the return horizon, for a background purger)",
         ParamType::kInt, 0, 3'600'000, {}},
        {"activity_ms", "0", "activity phase: 0 until the memory is back or the allocator's return horizon has passed; N: N ms",
         ParamType::kInt, 0, 3'600'000, {}},
        {"max_ms", "30000", "longest an idle or activity phase waits for the allocator", ParamType::kInt, 1, 3'600'000, {}},
        {"activity_rate", "64", "activity: allocator calls per millisecond per thread", ParamType::kInt, 1, 10'000, {}},
        {"activity_sizes", "16-8K", "activity: block sizes, log-uniform LO-HI", ParamType::kText, 0, 0, {}, check_size_range},
        {"activity_slots", "256", "activity: working set (a call frees a live slot's block, else fills the slot)", ParamType::kInt,
         1, kMaxActivitySlots, {}},
        {"threads", "8", "scenario 9: threads allocating in turn", ParamType::kInt, 2, 64, {}},
    },
    [](const Params& p, uint64_t seed, Scratch& s) -> std::vector<Program*> { return make_repro(p, seed, s); },
    [](const Params& p) -> size_t {
      const int scenario = static_cast<int>(p.integer("scenario"));
      const size_t threads = scenario == 9 ? static_cast<size_t>(p.integer("threads")) : 2;
      return threads * (sizeof(ReproThread) + 64) + 4096;
    },
};
const Registrar kRegister{kRepro};

}  // namespace
}  // namespace heapmark::workloads
