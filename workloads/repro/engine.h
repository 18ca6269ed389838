// The machinery of the `repro` workload: every scenario of `heapmark repro`
// has the same five phases, so every allocator is read at the same points:
//   peak     (P) the allocation phase ends at the live peak
//   free     (F) right after the frees
//   idle     (I) no allocator calls: `idle_ms`, or for an allocator that returns
//                memory from a background thread, until it has (its return horizon)
//   activity (A) allocator activity like a program's (WaitSpec) until the memory is
//                back or the allocator's return horizon has passed; or a fixed `activity_ms`
//   release  (R) the allocator's explicit release hook, in every thread that allocated
// A scenario's recipe builds one ReproThread per thread out of runs of ops
// (alloc_run, free_run, one). Recipes register themselves by scenario id; the
// scenario definitions (recipe, title, remedies, explanations, one file each)
// live in harness/repro/scenarios/ and are linked into every binary that runs
// or describes them. Sizes scale with `mib`, so tests run the same recipes small.
#pragma once
#include <cstdint>
#include <vector>

#include "workloads/op.h"
#include "workloads/scratch.h"

namespace heapmark::workloads::repro {

inline constexpr uint32_t kPhases = 5;
inline constexpr const char* kPhaseNames[kPhases] = {"peak", "free", "idle", "activity", "release"};
inline constexpr const char* kPhaseLetters[kPhases] = {"P", "F", "I", "A", "R"};
enum Phase : uint32_t { kPeak = 0, kFreeP = 1, kIdleP = 2, kActP = 3, kRelP = 4 };

inline constexpr uint64_t kMiB = 1ull << 20;

// What a recipe is built from (the workload's parameters).
struct Knobs {
  uint64_t mib = 256;  // the main allocation
  uint64_t idle_ms = 500;
  uint64_t activity_ms = 0;  // 0: until returned
  uint32_t threads = 8;      // scenario 9
  WaitSpec wait;
  uint64_t bytes() const { return mib * kMiB; }
};

// A run of ops expanded lazily by next(): generation state stays a few words
// per segment however many blocks a scenario touches.
struct Seg {
  enum Kind : uint8_t { kAllocRun, kFreeRun, kRecvRun, kOne } kind;
  uint32_t first = 0, count = 0, stride = 1;  // ids first, first+stride, ... (count of them)
  uint32_t keep = 0;                          // kFreeRun: skip every keep-th (i % keep == keep-1); 0 frees all
  uint64_t size = 0;                          // kAllocRun: bytes
  uint64_t size2 = 0;                         // kAllocRun: size of odd positions when non-zero
  uint32_t to = 0;                            // kAllocRun: thread each block is sent to (kNoSend: none)
  Op op{};                                    // kOne
};
inline constexpr uint32_t kNoSend = UINT32_MAX;

class ReproThread final : public Program {
 public:
  static constexpr uint32_t kMaxSegs = 12;

  uint32_t max_ids() const noexcept override { return ids_; }
  uint32_t phase_count() const noexcept override { return kPhases; }
  const char* phase_name(uint32_t i) const noexcept override { return i < kPhases ? kPhaseNames[i] : "?"; }
  const WaitSpec& wait_spec() const noexcept override { return wait_; }
  size_t next(Op* out, size_t cap) noexcept override;

  // Building: ids used, phases run (fewer: a thread that exits early).
  void set_ids(uint32_t ids) { ids_ = ids; }
  void set_phases(uint32_t n) { phases_ = n; }
  void set_wait_spec(const WaitSpec& w) { wait_ = w; }
  void add(uint32_t phase, const Seg& s);
  // size2 != 0: odd positions get size2 (interleaved pairs). send_to >= 0: each
  // block is handed to that thread right after its allocation.
  void alloc_run(uint32_t phase, uint32_t first, uint32_t count, uint64_t size, uint32_t stride = 1, uint64_t size2 = 0,
                 int send_to = -1);
  void free_run(uint32_t phase, uint32_t first, uint32_t count, uint32_t keep = 0, uint32_t stride = 1);
  void recv_run(uint32_t phase, uint32_t first, uint32_t count);
  void one(uint32_t phase, Op op);
  // The common tail: idle, activity, release. A thread that only stays alive
  // (`waits` false) waits at the phase edges instead: alive, making no calls.
  void tail(const Knobs& k, bool waits = true);

 private:
  struct PhaseSegs {
    Seg s[kMaxSegs];
    uint32_t n = 0;
  };
  PhaseSegs segs_[kPhases];
  uint32_t ids_ = 1, phases_ = kPhases;
  uint32_t phase_ = 0, seg_ = 0, pos_ = 0;
  bool started_ = false, pending_send_ = false;
  Op send_{};
  WaitSpec wait_;
};

// Where a recipe puts its threads (in the scratch mapping, not the heap).
class Threads {
 public:
  explicit Threads(Scratch& s) : scratch_(s) {}
  ReproThread& add();
  std::vector<Program*> take() { return std::move(out_); }

 private:
  Scratch& scratch_;
  std::vector<Program*> out_;
};

// max(1, bytes / size) blocks.
uint32_t blocks(uint64_t bytes, uint64_t size);

// Recipes several scenarios share, on one thread:
// k.bytes() in blocks of `size` at P, then freed in allocation order at F,
// every `keep`-th kept (0: all freed).
void fill_then_free(const Knobs& k, Threads& threads, uint64_t size, uint32_t keep = 0);
// 16 blocks of `size` allocated and freed three times (all at P but the last frees, at F).
void sixteen_blocks_three_times(const Knobs& k, Threads& threads, uint64_t size);

using Recipe = void (*)(const Knobs&, Threads&);
// Registered by each scenario's file; the repro workload runs scenario `id`'s.
struct RecipeRegistrar {
  RecipeRegistrar(int id, Recipe recipe);
};
// The recipe of scenario `id`, or null.
Recipe find_recipe(int id);
// The registered scenario ids, ascending.
std::vector<int> recipe_ids();

}  // namespace heapmark::workloads::repro
