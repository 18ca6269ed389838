// realloc-growth: buffers that grow by a factor until a cap, then are freed,
// as vectors, string builders and read buffers do. `buffers` slots grow
// interleaved (each step picks a random slot), so a growing buffer usually has
// neighbours and realloc must often move it. A slot's life: allocate `start`
// bytes; grow to min(cap, size x growth%) per step; once at its cap (drawn
// per buffer from `cap`), the next step that picks it frees it. Phases:
// "grow" (until `count` buffers have been started), "drain" (free the rest).
#include <algorithm>

#include "workloads/catalog.h"
#include "workloads/rng.h"
#include "workloads/sizes.h"

namespace heapmark::workloads {
namespace {

class ReallocGrowth final : public Program {
 public:
  ReallocGrowth(const Params& p, uint64_t seed, Scratch& scratch)
      : rng_(seed),
        caps_(SizeDist::parse_or_throw(p.text("cap"))),
        buffers_(static_cast<uint32_t>(p.integer("buffers"))),
        count_(static_cast<uint64_t>(p.integer("count"))),
        start_(static_cast<uint64_t>(p.integer("start"))),
        growth_(static_cast<uint64_t>(p.integer("growth"))) {
    size_ = scratch.array<uint64_t>(buffers_);
    cap_ = scratch.array<uint64_t>(buffers_);
  }

  uint32_t max_ids() const noexcept override { return buffers_; }
  uint32_t phase_count() const noexcept override { return 2; }
  const char* phase_name(uint32_t i) const noexcept override { return i == 0 ? "grow" : "drain"; }

  size_t next(Op* out, size_t cap) noexcept override {
    size_t n = 0;
    while (n < cap) {
      if (!started_) {
        out[n++] = Op{OpKind::kPhase, 0, 0, 0, 0};
        started_ = true;
      } else if (begun_ < count_) {
        const auto k = static_cast<uint32_t>(rng_.below(buffers_));
        if (size_[k] == 0) {
          cap_[k] = caps_.sample(rng_);
          size_[k] = std::min(start_, cap_[k]);
          out[n++] = Op{OpKind::kAlloc, 0, 0, k, size_[k]};
          ++begun_;
        } else if (size_[k] == cap_[k]) {
          out[n++] = Op{OpKind::kFree, 0, 0, k, 0};
          size_[k] = 0;
        } else {
          const uint64_t grown = size_[k] * growth_ / 100;
          size_[k] = std::min(cap_[k], std::max(size_[k] + 1, grown));
          out[n++] = Op{OpKind::kRealloc, 0, 0, k, size_[k]};
        }
      } else if (!drain_started_) {
        out[n++] = Op{OpKind::kPhase, 0, 0, 1, 0};
        drain_started_ = true;
      } else if (drained_ < buffers_) {
        const uint32_t k = drained_++;
        if (size_[k] != 0) {
          out[n++] = Op{OpKind::kFree, 0, 0, k, 0};
          size_[k] = 0;
        }
      } else {
        break;
      }
    }
    return n;
  }

 private:
  Rng rng_;
  SizeDist caps_;
  uint32_t buffers_;
  uint64_t count_, start_, growth_;
  uint64_t* size_ = nullptr;  // 0: slot empty
  uint64_t* cap_ = nullptr;
  uint64_t begun_ = 0;
  uint32_t drained_ = 0;
  bool started_ = false, drain_started_ = false;
};

const WorkloadDef kReallocGrowth{
    "realloc-growth",
    "buffers grown with realloc by a factor until a cap, then freed; many grow interleaved",
    {
        {"count", "6000", "buffers started in all", ParamType::kInt, 1, 1'000'000'000, {}},
        {"buffers", "32", "buffers growing at the same time (interleaved)", ParamType::kInt, 1, 10'000'000, {}},
        {"start", "64", "initial size in bytes", ParamType::kInt, 1, int64_t{1} << 30, {}},
        {"growth",
         "150",
         "growth factor in percent per step (150: x1.5, 200: doubling)",
         ParamType::kInt,
         101,
         1000,
         {}},
        {"cap", "uniform:64K-1M", "size distribution of each buffer's final size", ParamType::kSizes, 0, 0, {}},
    },
    [](const Params& p, uint64_t seed, Scratch& s) -> std::vector<Program*> {
      return {s.make<ReallocGrowth>(p, seed, s)};
    },
    [](const Params& p) -> size_t {
      return sizeof(ReallocGrowth) + static_cast<size_t>(p.integer("buffers")) * 16 + 4096;
    },
};
const Registrar kRegister{kReallocGrowth};

}  // namespace
}  // namespace heapmark::workloads
