// large: blocks of 1-32 MiB (default), few live at a time. `live` slots are
// filled, then `count` times a random live block is freed and replaced by a
// new one, each touched by the executor (a write per page, so RSS follows).
// This is where allocators differ in mmap thresholds, huge-page alignment,
// and whether a freed large block goes back to the OS or is kept for reuse.
// align > 0 asks for aligned allocations (e.g. 2M: huge-page aligned buffers).
// Phases: "steady" (fill and replace), "drain" (free the rest).
#include <bit>

#include "workloads/catalog.h"
#include "workloads/rng.h"
#include "workloads/sizes.h"

namespace heapmark::workloads {
namespace {

class Large final : public Program {
 public:
  Large(const Params& p, uint64_t seed)
      : rng_(seed),
        sizes_(SizeDist::parse_or_throw(p.text("sizes"))),
        live_(static_cast<uint32_t>(p.integer("live"))),
        count_(static_cast<uint64_t>(p.integer("count"))),
        align_log2_(static_cast<uint8_t>(
            p.integer("align") ? std::countr_zero(static_cast<uint64_t>(p.integer("align"))) : 0)) {}

  uint32_t max_ids() const noexcept override { return live_; }
  uint32_t phase_count() const noexcept override { return 2; }
  const char* phase_name(uint32_t i) const noexcept override { return i == 0 ? "steady" : "drain"; }

  size_t next(Op* out, size_t cap) noexcept override {
    size_t n = 0;
    while (n + 2 <= cap) {  // a step emits at most 2 ops
      if (!started_) {
        out[n++] = Op{OpKind::kPhase, 0, 0, 0, 0};
        started_ = true;
      } else if (filled_ < live_ && filled_ < count_) {
        out[n++] = Op{OpKind::kAlloc, align_log2_, 0, filled_++, sizes_.sample(rng_)};
      } else if (replaced_ + filled_ < count_) {
        const auto victim = static_cast<uint32_t>(rng_.below(filled_));
        out[n++] = Op{OpKind::kFree, 0, 0, victim, 0};
        out[n++] = Op{OpKind::kAlloc, align_log2_, 0, victim, sizes_.sample(rng_)};
        ++replaced_;
      } else if (!drain_started_) {
        out[n++] = Op{OpKind::kPhase, 0, 0, 1, 0};
        drain_started_ = true;
      } else if (drained_ < filled_) {
        out[n++] = Op{OpKind::kFree, 0, 0, drained_++, 0};
      } else {
        break;
      }
    }
    return n;
  }

 private:
  Rng rng_;
  SizeDist sizes_;
  uint32_t live_;
  uint64_t count_;
  uint8_t align_log2_;
  uint32_t filled_ = 0, drained_ = 0;
  uint64_t replaced_ = 0;
  bool started_ = false, drain_started_ = false;
};

const WorkloadDef kLarge{
    "large",
    "blocks of 1-32 MiB, touched, few live at a time: mmap thresholds, return to the OS, huge-page alignment",
    {
        {"count",
         "96",
         "large blocks allocated in all (each touched page by page)",
         ParamType::kInt,
         1,
         100'000'000,
         {}},
        {"live",
         "4",
         "blocks live at a time; each step frees a random one and allocates its replacement",
         ParamType::kInt,
         1,
         100'000,
         {}},
        {"sizes", "uniform:1M-32M", "block size distribution", ParamType::kSizes, 0, 0, {}},
        {"align",
         "0",
         "0: malloc; else aligned allocation to this power of two (e.g. 2M)",
         ParamType::kInt,
         0,
         1 << 30,
         {}},
    },
    [](const Params& p, uint64_t seed, Scratch& s) -> std::vector<Program*> {
      const int64_t align = p.integer("align");
      if (align != 0 && (align < 16 || !std::has_single_bit(static_cast<uint64_t>(align))))
        throw InputError("workload 'large' parameter 'align': " + p.text("align") +
                         " is not 0 or a power of two >= 16");
      return {s.make<Large>(p, seed)};
    },
    [](const Params&) -> size_t { return sizeof(Large) + 4096; },
};
const Registrar kRegister{kLarge};

}  // namespace
}  // namespace heapmark::workloads
