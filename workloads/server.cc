// server: larson-like. Each of `threads` threads keeps a working set of `slots`
// objects and, each step, frees a random one and allocates its replacement
// (sizes from `sizes`). Objects bleed between threads, both ways larson has:
//  - every `bleed` steps a thread allocates an object and hands it (kSend) to
//    the next thread, which frees it: a steady stream of cross-thread frees
//    through a ring of `queue` ids per thread, with a token back before an id
//    is reused. The receiver takes message k at its own (k + queue/2)-th
//    handoff point, so neighbours may drift queue/2 handoffs apart before
//    either waits (no lockstep); the last queue/2 are taken at the very end;
//  - larson's threads end and new ones inherit their objects. The executor has
//    no thread start/stop op, so a thread "ends" at the end of each round
//    (phase): it hands its whole working set to the next thread and, in the
//    next round, "restarts" with a freshly allocated set, while its successor
//    frees the inherited objects spread over that round. The last round frees
//    each thread's own set instead.
// Phases: "round1".."roundN". Only thread-local generator state: every id a
// thread receives and the order it arrives in follow from the parameters.
//
// Ids of thread t: base(t) = t * (2*slots + 2*queue); its working set in
// round r is [base + (r%2)*slots, +slots) (alternating so a handed-off set can
// still be live while the fresh one is allocated), then its queue ring, then
// the tokens its successor returns for the ring.
#include <algorithm>
#include <cstdio>

#include "workloads/catalog.h"
#include "workloads/rng.h"
#include "workloads/sizes.h"
#include "workloads/stepped.h"

namespace heapmark::workloads {
namespace {

class Server final : public SteppedProgram {
 public:
  Server(const Params& p, uint64_t seed, uint32_t thread, const char* names)
      : rng_(seed + 0x9e3779b97f4a7c15ull * (thread + 1)),
        sizes_(SizeDist::parse_or_throw(p.text("sizes"))),
        threads_(static_cast<uint32_t>(p.integer("threads"))),
        slots_(static_cast<uint32_t>(p.integer("slots"))),
        steps_(static_cast<uint64_t>(p.integer("steps"))),
        rounds_(static_cast<uint32_t>(p.integer("rounds"))),
        bleed_(static_cast<uint64_t>(p.integer("bleed"))),
        queue_(static_cast<uint32_t>(p.integer("queue"))),
        t_(thread),
        names_(names) {}

  static constexpr size_t kNameLen = 16;
  static uint64_t ids_needed(const Params& p) {
    return static_cast<uint64_t>(p.integer("threads")) *
           (2 * static_cast<uint64_t>(p.integer("slots")) + 2 * static_cast<uint64_t>(p.integer("queue")));
  }

  uint32_t max_ids() const noexcept override { return threads_ * per_thread(); }
  uint32_t phase_count() const noexcept override { return rounds_; }
  const char* phase_name(uint32_t i) const noexcept override { return names_ + size_t{i} * kNameLen; }

 private:
  enum class Stage { kPhase, kFresh, kSteps, kEnd, kDone };

  uint32_t per_thread() const noexcept { return 2 * slots_ + 2 * queue_; }
  uint32_t base(uint32_t t) const noexcept { return t * per_thread(); }
  uint32_t own(uint32_t t, uint32_t round, uint32_t i) const noexcept { return base(t) + (round % 2) * slots_ + i; }
  uint32_t ring(uint32_t t, uint64_t k) const noexcept {
    return base(t) + 2 * slots_ + static_cast<uint32_t>(k % queue_);
  }
  uint32_t token(uint32_t t, uint64_t k) const noexcept { return ring(t, k) + queue_; }
  uint64_t lag() const noexcept { return queue_ / 2; }
  uint32_t next_thread() const noexcept { return (t_ + 1) % threads_; }
  uint32_t prev_thread() const noexcept { return (t_ + threads_ - 1) % threads_; }
  void emit(OpKind kind, uint32_t id, uint64_t size) noexcept { push(Op{kind, 0, 0, id, size}); }

  bool step() noexcept override {
    switch (stage_) {
      case Stage::kPhase:
        emit(OpKind::kPhase, round_, 0);
        stage_ = Stage::kFresh;
        i_ = 0;
        return true;
      case Stage::kFresh:  // a (re)started thread allocates its working set
        if (i_ < slots_) {
          emit(OpKind::kAlloc, own(t_, round_, i_), sizes_.sample(rng_));
          ++i_;
        } else {
          stage_ = Stage::kSteps;
          step_ = 0;
          inherited_ = 0;
        }
        return true;
      case Stage::kSteps:
        if (step_ == steps_) {
          stage_ = Stage::kEnd;
          i_ = 0;
          return true;
        }
        // The previous round's set of the thread before us, freed evenly over this round.
        if (round_ > 0 && inherited_ < (step_ + 1) * slots_ / steps_) {
          const uint32_t id = own(prev_thread(), round_ - 1, static_cast<uint32_t>(inherited_++));
          emit(OpKind::kRecv, id, 0);
          emit(OpKind::kFree, id, 0);
          return true;
        }
        {
          const uint32_t id = own(t_, round_, static_cast<uint32_t>(rng_.below(slots_)));
          emit(OpKind::kFree, id, 0);
          emit(OpKind::kAlloc, id, sizes_.sample(rng_));
        }
        if (bleed_ > 0 && (step_ + 1) % bleed_ == 0) {
          // Handoff point k: message k goes to the next thread, message k - lag comes
          // from the previous one. Every wait is for a point < k, so none deadlocks.
          const uint64_t k = bled_++;
          if (k >= queue_) emit(OpKind::kRecv, token(t_, k), 0);  // the receiver freed message k - queue
          emit(OpKind::kAlloc, ring(t_, k), sizes_.sample(rng_));
          emit(OpKind::kSend, ring(t_, k), next_thread());
          if (k >= lag()) {
            const uint64_t m = k - lag();
            emit(OpKind::kRecv, ring(prev_thread(), m), 0);
            emit(OpKind::kFree, ring(prev_thread(), m), 0);
            emit(OpKind::kSend, token(prev_thread(), m), prev_thread());
          }
        }
        ++step_;
        return true;
      case Stage::kEnd:  // the thread "ends": its set goes to its successor (or is freed at the very end)
        if (round_ + 1 == rounds_ && flushed_ < bled_) {
          // The very end: the handed objects not yet taken (the last `lag`) are freed.
          const uint64_t m = std::max(flushed_, bled_ > lag() ? bled_ - lag() : 0);
          emit(OpKind::kRecv, ring(prev_thread(), m), 0);
          emit(OpKind::kFree, ring(prev_thread(), m), 0);
          flushed_ = m + 1;
        } else if (i_ < slots_) {
          if (round_ + 1 < rounds_) emit(OpKind::kSend, own(t_, round_, i_), next_thread());
          else emit(OpKind::kFree, own(t_, round_, i_), 0);
          ++i_;
        } else if (++round_ < rounds_) {
          stage_ = Stage::kPhase;
        } else {
          stage_ = Stage::kDone;
        }
        return true;
      case Stage::kDone: return false;
    }
    return false;
  }

  Rng rng_;
  SizeDist sizes_;
  uint32_t threads_, slots_;
  uint64_t steps_;
  uint32_t rounds_;
  uint64_t bleed_;
  uint32_t queue_, t_;
  const char* names_;

  Stage stage_ = Stage::kPhase;
  uint32_t round_ = 0, i_ = 0;
  uint64_t step_ = 0, inherited_ = 0, bled_ = 0, flushed_ = 0;
};

const WorkloadDef kServer{
    "server",
    "larson-like threads replacing random objects; objects bleed to the next thread (handoffs, and whole working "
    "sets when a thread's round ends)",
    {
        {"threads", "4", "threads, in a ring: each hands objects to the next", ParamType::kInt, 2, 64, {}},
        {"slots", "2000", "objects in each thread's working set", ParamType::kInt, 1, 4'000'000, {}},
        {"steps",
         "100000",
         "steps per thread per round (a step frees a random object and allocates its replacement)",
         ParamType::kInt,
         1,
         1'000'000'000,
         {}},
        {"rounds",
         "4",
         "rounds (phases); between rounds every thread's working set goes to the next thread",
         ParamType::kInt,
         1,
         1000,
         {}},
        {"sizes", "uniform:16-1K", "object size distribution", ParamType::kSizes, 0, 0, {}},
        {"bleed",
         "8",
         "every this many steps an object is allocated and handed to the next thread, which frees it "
         "(0: only the handoffs between rounds)",
         ParamType::kInt,
         0,
         1'000'000,
         {}},
        {"queue",
         "4096",
         "handed objects in flight per thread; neighbours drift up to queue/2 handoffs apart",
         ParamType::kInt,
         2,
         1'000'000,
         {}},
    },
    [](const Params& p, uint64_t seed, Scratch& s) -> std::vector<Program*> {
      if (Server::ids_needed(p) > (uint64_t{1} << 26))
        throw InputError("workload 'server': threads x (2 x slots + 2 x queue) must stay below 2^26 block ids");
      const auto rounds = static_cast<uint32_t>(p.integer("rounds"));
      char* names = s.array<char>(size_t{rounds} * Server::kNameLen);
      for (uint32_t r = 0; r < rounds; ++r)
        std::snprintf(names + size_t{r} * Server::kNameLen, Server::kNameLen, "round%u", r + 1);
      std::vector<Program*> programs;
      for (uint32_t t = 0; t < static_cast<uint32_t>(p.integer("threads")); ++t)
        programs.push_back(s.make<Server>(p, seed, t, names));
      return programs;
    },
    [](const Params& p) -> size_t {
      return static_cast<size_t>(p.integer("threads")) * (sizeof(Server) + 64) +
             static_cast<size_t>(p.integer("rounds")) * Server::kNameLen + 4096;
    },
};
const Registrar kRegister{kServer};

}  // namespace
}  // namespace heapmark::workloads
