// fastpath: the allocator's hot path through the op executor. `count` times:
// allocate `batch` blocks, then free them in allocation order. batch=1 is the
// malloc+free pair that thread caches serve; a larger batch walks the cache
// down and back up. One phase, a constant small live set.
#include "workloads/catalog.h"
#include "workloads/rng.h"
#include "workloads/sizes.h"

namespace heapmark::workloads {
namespace {

class FastPath final : public Program {
 public:
  FastPath(const Params& p, uint64_t seed)
      : rng_(seed),
        sizes_(SizeDist::parse_or_throw(p.text("sizes"))),
        count_(static_cast<uint64_t>(p.integer("count"))),
        batch_(static_cast<uint32_t>(p.integer("batch"))) {}

  uint32_t max_ids() const noexcept override { return batch_; }
  uint32_t phase_count() const noexcept override { return 1; }
  const char* phase_name(uint32_t) const noexcept override { return "pairs"; }

  size_t next(Op* out, size_t cap) noexcept override {
    size_t n = 0;
    if (!started_ && cap > 0) {
      out[n++] = Op{OpKind::kPhase, 0, 0, 0, 0};
      started_ = true;
    }
    while (n < cap && round_ < count_) {
      if (pos_ < batch_) {
        out[n++] = Op{OpKind::kAlloc, 0, 0, pos_, sizes_.sample(rng_)};
      } else {
        out[n++] = Op{OpKind::kFree, 0, 0, pos_ - batch_, 0};
      }
      if (++pos_ == 2 * batch_) {
        pos_ = 0;
        ++round_;
      }
    }
    return n;
  }

 private:
  Rng rng_;
  SizeDist sizes_;
  uint64_t count_;
  uint32_t batch_;
  uint64_t round_ = 0;
  uint32_t pos_ = 0;
  bool started_ = false;
};

const WorkloadDef kFastPath{
    "fastpath",
    "count x (batch allocations, then their frees): thread-cache hot paths; batch=1 is malloc+free pairs",
    {
        {"count", "1000000", "rounds of batch allocations and frees", ParamType::kInt, 1, 1'000'000'000, {}},
        {"sizes", "fixed:64", "block size distribution", ParamType::kSizes, 0, 0, {}},
        {"batch", "1", "allocations per round before they are freed", ParamType::kInt, 1, 1'000'000, {}},
    },
    [](const Params& p, uint64_t seed, Scratch& s) -> std::vector<Program*> { return {s.make<FastPath>(p, seed)}; },
    [](const Params&) -> size_t { return sizeof(FastPath) + 4096; },
};
const Registrar kRegister{kFastPath};

}  // namespace
}  // namespace heapmark::workloads
