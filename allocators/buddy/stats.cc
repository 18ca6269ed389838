// BuddyHeap statistics: stats() with one used and free block count per order,
// and the decommit settings and return horizon of the introspection ABI.
#include <stddef.h>

#include "buddy/internal.h"

namespace heapmark::buddy {

namespace {
struct OrderNames {
  char used[kRegionOrder + 1][16];
  char free[kRegionOrder + 1][16];
};
constexpr void put_name(char* dst, const char* prefix, unsigned order) {
  int n = 0;
  while (*prefix) dst[n++] = *prefix++;
  if (order >= 10) dst[n++] = char('0' + order / 10);
  dst[n++] = char('0' + order % 10);
  dst[n] = 0;
}
constexpr OrderNames make_names() {
  OrderNames names{};
  for (unsigned o = 0; o <= kRegionOrder; ++o) {
    put_name(names.used[o], "used_order_", o);
    put_name(names.free[o], "free_order_", o);
  }
  return names;
}
constexpr OrderNames kNames = make_names();
}  // namespace

size_t BuddyHeap::stats(heapmark_stat* out, size_t max) noexcept {
  size_t n = 0;
  auto add = [&](const char* name, unsigned long long v) {
    if (n < max) out[n++] = heapmark_stat{name, v};
  };
  lock();
  size_t free_bytes = 0;
  for (unsigned o = min_order_; o <= kRegionOrder; ++o) free_bytes += free_blocks_[o] << o;
  add("in_use_bytes", in_use_.load(std::memory_order_relaxed));
  add("live_bytes", in_use_.load(std::memory_order_relaxed));  // huge blocks are in in_use_ already
  add("free_bytes", free_bytes);
  add("committed_bytes", live_regions_ * kRegionSize + huge_bytes_.load(std::memory_order_relaxed));
  add("mapped_bytes", huge_bytes_.load(std::memory_order_relaxed));
  add("mapped_count", huge_count_.load(std::memory_order_relaxed));
  add("regions", live_regions_);
  add("regions_released", regions_released_);
  add("decommitted_bytes", decommitted_.load(std::memory_order_relaxed));
  add("dirty_free_bytes", dirty_free_bytes_);
  add("releasable_bytes", dirty_free_bytes_);  // release() decommits exactly these
  add("purges", purges_);
  add("min_block_bytes", size_t(1) << min_order_);
  for (unsigned o = min_order_; o <= kRegionOrder; ++o) {
    add(kNames.used[o], used_blocks_[o]);
    add(kNames.free[o], free_blocks_[o]);
  }
  unlock();
  return n;
}

size_t BuddyHeap::config(heapmark_stat* out, size_t max) const noexcept {
  const heapmark_stat items[] = {{"decommit_eager", policy_ == Decommit::kEager},
                                 {"decommit_never", policy_ == Decommit::kNever},
                                 {"decommit_threshold_bytes", threshold_},
                                 {"decommit_decay_ms", policy_ == Decommit::kDecay ? decay_ms_ : 0},
                                 {"min_block_bytes", size_t(1) << min_order_}};
  size_t n = 0;
  for (const auto& it : items)
    if (n < max) out[n++] = it;
  return n;
}

heapmark_horizon BuddyHeap::horizon() const noexcept {
  switch (policy_) {
    case Decommit::kEager: return {0, 0, "none needed: free() decommits every free page run at once"};
    case Decommit::kThreshold: return {0, 0, "no timer: free() decommits once dirty free pages exceed the threshold"};
    case Decommit::kNever: return {~0ull, 0, "never: only the release hook decommits"};
    case Decommit::kDecay:
      // Free for one to two periods, then the next call that takes the heap's lock.
      return {2 * decay_ms_, 0, "decay: free pages go back after one to two periods, at a later allocator call"};
  }
  return {0, 0, "?"};
}

}  // namespace heapmark::buddy
