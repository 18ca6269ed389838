// ring-buffer: a ring of `slots` messages; each step allocates a message and,
// once the ring is full, the oldest is freed first (FIFO lifetimes, a constant
// live set). mode=single runs on one thread, phases "steady" then "drain".
// mode=pc puts a producer (thread 0) and a consumer (thread 1) around the
// ring: every free is a cross-thread free. Each message id is handed to the
// consumer with kSend; after freeing it the consumer returns a token (id
// slots + k) so the producer reuses slot k only once it is empty: a bounded,
// lock-free SPSC queue. One phase, "steady".
#include "workloads/catalog.h"
#include "workloads/rng.h"
#include "workloads/sizes.h"

namespace heapmark::workloads {
namespace {

enum class Role { kSingle, kProducer, kConsumer };

class RingBuffer final : public Program {
 public:
  RingBuffer(const Params& p, uint64_t seed, Role role)
      : rng_(seed),
        sizes_(SizeDist::parse_or_throw(p.text("sizes"))),
        slots_(static_cast<uint32_t>(p.integer("slots"))),
        messages_(static_cast<uint64_t>(p.integer("messages"))),
        role_(role) {}

  uint32_t max_ids() const noexcept override { return role_ == Role::kSingle ? slots_ : 2 * slots_; }
  uint32_t phase_count() const noexcept override { return role_ == Role::kSingle ? 2 : 1; }
  const char* phase_name(uint32_t i) const noexcept override { return i == 0 ? "steady" : "drain"; }

  size_t next(Op* out, size_t cap) noexcept override {
    size_t n = 0;
    while (n + 4 <= cap) {  // a step emits at most 4 ops
      if (!started_) {
        out[n++] = Op{OpKind::kPhase, 0, 0, 0, 0};
        started_ = true;
        continue;
      }
      if (i_ < messages_) {
        const auto k = static_cast<uint32_t>(i_ % slots_);
        switch (role_) {
          case Role::kSingle:
            if (i_ >= slots_) out[n++] = Op{OpKind::kFree, 0, 0, k, 0};
            out[n++] = Op{OpKind::kAlloc, 0, 0, k, sizes_.sample(rng_)};
            break;
          case Role::kProducer:
            if (i_ >= slots_) out[n++] = Op{OpKind::kRecv, 0, 0, slots_ + k, 0};  // slot k is empty again
            out[n++] = Op{OpKind::kAlloc, 0, 0, k, sizes_.sample(rng_)};
            out[n++] = Op{OpKind::kSend, 0, 0, k, 1};
            break;
          case Role::kConsumer:
            out[n++] = Op{OpKind::kRecv, 0, 0, k, 0};
            out[n++] = Op{OpKind::kFree, 0, 0, k, 0};
            if (i_ + slots_ < messages_) out[n++] = Op{OpKind::kSend, 0, 0, slots_ + k, 0};  // token back
            break;
        }
        ++i_;
        continue;
      }
      if (role_ == Role::kSingle && drained_ == 0 && !drain_started_) {
        out[n++] = Op{OpKind::kPhase, 0, 0, 1, 0};
        drain_started_ = true;
        continue;
      }
      if (role_ == Role::kSingle && drained_ < std::min<uint64_t>(slots_, messages_)) {
        // Free what is left, oldest first.
        const uint64_t oldest = messages_ > slots_ ? messages_ - slots_ : 0;
        out[n++] = Op{OpKind::kFree, 0, 0, static_cast<uint32_t>((oldest + drained_) % slots_), 0};
        ++drained_;
        continue;
      }
      break;
    }
    return n;
  }

 private:
  Rng rng_;
  SizeDist sizes_;
  uint32_t slots_;
  uint64_t messages_;
  Role role_;
  uint64_t i_ = 0, drained_ = 0;
  bool started_ = false, drain_started_ = false;
};

const WorkloadDef kRingBuffer{
    "ring-buffer",
    "a ring of messages with FIFO lifetimes; mode=pc: producer/consumer threads, every free cross-thread",
    {
        {"slots", "4096", "messages live in the ring", ParamType::kInt, 1, 10'000'000, {}},
        {"messages", "2000000", "messages sent through the ring", ParamType::kInt, 1, 4'000'000'000, {}},
        {"sizes", "uniform:64-2048", "message size distribution", ParamType::kSizes, 0, 0, {}},
        {"mode",
         "single",
         "single: one thread; pc: producer and consumer threads",
         ParamType::kChoice,
         0,
         0,
         {"single", "pc"}},
    },
    [](const Params& p, uint64_t seed, Scratch& s) -> std::vector<Program*> {
      if (p.text("mode") == "single") return {s.make<RingBuffer>(p, seed, Role::kSingle)};
      return {s.make<RingBuffer>(p, seed, Role::kProducer), s.make<RingBuffer>(p, seed, Role::kConsumer)};
    },
    [](const Params&) -> size_t { return 2 * sizeof(RingBuffer) + 4096; },
};
const Registrar kRegister{kRingBuffer};

}  // namespace
}  // namespace heapmark::workloads
