// churn: rounds of fill -> free -> refill ("free-after-free churn").
//
// Round r allocates `count` blocks with sizes from `sizes`, then frees them in
// the chosen order. keep-every-k frees all but every k-th block, which stays
// live to the end and pins the pages around it, as long-lived objects do in
// real heaps. Phases: fill, free, refill2, free2, ... so "RSS after frees" is
// the anonymous RSS at the end of phase "free".
// realloc-class ("free then reallocate a different size class") frees in
// random order, and rounds alternate between two disjoint sets of size
// classes: the power-of-two bands (2^k, 2^(k+1)] with k even, then k odd. A
// sample in the other set's band is doubled (so sizes reach up to 2x the
// distribution's). The freed bins cannot serve the next round, so its memory
// must be coalesced and reused, or returned to the OS.
#include <bit>
#include <cstdio>
#include <cstring>

#include "workloads/catalog.h"
#include "workloads/rng.h"
#include "workloads/sizes.h"

namespace heapmark::workloads {
namespace {

enum class Order { kFifo, kLifo, kRandom, kKeepEveryK, kReallocClass };

class Churn final : public Program {
 public:
  Churn(const Params& p, uint64_t seed, Scratch& scratch)
      : rng_(seed),
        sizes_(SizeDist::parse_or_throw(p.text("sizes"))),
        count_(static_cast<uint32_t>(p.integer("count"))),
        rounds_(static_cast<uint32_t>(p.integer("rounds"))),
        keep_(static_cast<uint32_t>(p.integer("keep"))) {
    const std::string& o = p.text("order");
    order_ = o == "fifo"            ? Order::kFifo
             : o == "lifo"          ? Order::kLifo
             : o == "random"        ? Order::kRandom
             : o == "realloc-class" ? Order::kReallocClass
                                    : Order::kKeepEveryK;
    if (order_ == Order::kRandom || order_ == Order::kReallocClass) {
      perm_ = scratch.array<uint32_t>(count_);
      for (uint32_t i = 0; i < count_; ++i) perm_[i] = i;
    }
    names_ = scratch.array<char>(size_t{rounds_} * 2 * kNameLen);
    for (uint32_t r = 0; r < rounds_; ++r) {
      if (r == 0) {
        std::strcpy(name(0), "fill");
        std::strcpy(name(1), "free");
      } else {
        std::snprintf(name(2 * r), kNameLen, "refill%u", r + 1);
        std::snprintf(name(2 * r + 1), kNameLen, "free%u", r + 1);
      }
    }
  }

  uint32_t max_ids() const noexcept override { return count_ * rounds_; }
  uint32_t phase_count() const noexcept override { return rounds_ * 2; }
  const char* phase_name(uint32_t i) const noexcept override { return names_ + size_t{i} * kNameLen; }

  size_t next(Op* out, size_t cap) noexcept override {
    size_t n = 0;
    while (n < cap && phase_ < phase_count()) {
      if (!phase_started_) {
        out[n++] = Op{OpKind::kPhase, 0, 0, phase_, 0};
        phase_started_ = true;
        pos_ = 0;
        continue;
      }
      const uint32_t base = (phase_ / 2) * count_;  // ids of this round
      if (pos_ == count_) {
        ++phase_;
        phase_started_ = false;
        continue;
      }
      const uint32_t i = pos_++;
      if (phase_ % 2 == 0) {
        uint64_t size = sizes_.sample(rng_);
        if (order_ == Order::kReallocClass && size_band(size) % 2 != (phase_ / 2) % 2) size *= 2;
        out[n++] = Op{OpKind::kAlloc, 0, 0, base + i, size};
        continue;
      }
      switch (order_) {
        case Order::kFifo: out[n++] = Op{OpKind::kFree, 0, 0, base + i, 0}; break;
        case Order::kLifo: out[n++] = Op{OpKind::kFree, 0, 0, base + count_ - 1 - i, 0}; break;
        case Order::kRandom:
        case Order::kReallocClass: {
          // Incremental Fisher-Yates: one element of a fresh permutation per op,
          // so no phase starts with an O(count) shuffle.
          const uint32_t j = i + static_cast<uint32_t>(rng_.below(count_ - i));
          std::swap(perm_[i], perm_[j]);
          out[n++] = Op{OpKind::kFree, 0, 0, base + perm_[i], 0};
          break;
        }
        case Order::kKeepEveryK:
          if (i % keep_ != keep_ - 1) out[n++] = Op{OpKind::kFree, 0, 0, base + i, 0};
          break;
      }
    }
    return n;
  }

 private:
  static constexpr size_t kNameLen = 24;  // "refill" + up to 10 digits
  // k such that size is in (2^k, 2^(k+1)]: allocators' size classes nest in these bands.
  // Size 1 is band -1 (odd), so doubling it lands in band 0, the other parity.
  static uint32_t size_band(uint64_t size) {
    return size <= 1 ? UINT32_MAX : static_cast<uint32_t>(std::bit_width(size - 1) - 1);
  }
  char* name(uint32_t i) { return names_ + size_t{i} * kNameLen; }

  Rng rng_;
  SizeDist sizes_;
  uint32_t count_, rounds_, keep_;
  Order order_;
  uint32_t* perm_ = nullptr;
  char* names_ = nullptr;
  uint32_t phase_ = 0, pos_ = 0;
  bool phase_started_ = false;
};

const WorkloadDef kChurn{
    "churn",
    "rounds of fill -> free (fifo|lifo|random|keep-every-k|realloc-class) -> refill; RSS after frees and reuse",
    {
        {"count", "100000", "blocks allocated per fill", ParamType::kInt, 1, 50'000'000, {}},
        {"sizes", "uniform:16-1024", "block size distribution", ParamType::kSizes, 0, 0, {}},
        {"order",
         "random",
         "order of the frees",
         ParamType::kChoice,
         0,
         0,
         {"fifo", "lifo", "random", "keep-every-k", "realloc-class"}},
        {"keep", "16", "keep-every-k: every k-th block stays live", ParamType::kInt, 2, 1'000'000, {}},
        {"rounds", "3", "fill/free rounds", ParamType::kInt, 1, 1000, {}},
    },
    [](const Params& p, uint64_t seed, Scratch& s) -> std::vector<Program*> {
      if (p.integer("count") * p.integer("rounds") > INT32_MAX)
        throw InputError("workload 'churn': count x rounds must stay below 2^31 blocks");
      return {s.make<Churn>(p, seed, s)};
    },
    [](const Params& p) -> size_t {
      return static_cast<size_t>(p.integer("count")) * sizeof(uint32_t) +
             static_cast<size_t>(p.integer("rounds")) * 64 + 4096;
    },
};
const Registrar kRegister{kChurn};

}  // namespace
}  // namespace heapmark::workloads
