// BuddyHeap's dirty pages: decommitting the written pages of free blocks (one
// range, or every free page-or-larger block under the policy); alloc.cc
// recommits them before they are handed out again. The per-page bits are in
// internal.h.
#include <stddef.h>

#include "buddy/internal.h"

namespace heapmark::buddy {

size_t BuddyHeap::purge_range_locked(Region* r, size_t first, size_t n) noexcept {
  size_t total = 0, p = first, end = first + n;
  while (p < end) {
    if (!((r->dirty[p >> 6] >> (p & 63)) & 1)) {
      ++p;
      continue;
    }
    size_t q = p;
    while (q < end && ((r->dirty[q >> 6] >> (q & 63)) & 1)) {
      r->dirty[q >> 6] &= ~(uint64_t(1) << (q & 63));
      r->decommitted[q >> 6] |= uint64_t(1) << (q & 63);
      ++q;
    }
    os::decommit(r->base + (p << kPageOrder), (q - p) << kPageOrder);
    total += q - p;
    p = q;
  }
  r->dirty_pages -= uint32_t(total);
  size_t bytes = total << kPageOrder;
  dirty_free_bytes_ = dirty_free_bytes_ > bytes ? dirty_free_bytes_ - bytes : 0;
  decommitted_.fetch_add(bytes, std::memory_order_relaxed);
  return bytes;
}

void BuddyHeap::purge_all_locked() noexcept {
  const unsigned page_code = kPageOrder - min_order_ + 1;
  for (size_t s = 0; s < nslots_; ++s) {
    Region* r = regions_[s];
    if (!r || r->dirty_pages == 0 || region_code_[s] < page_code) continue;
    // Visits only subtrees holding a free page-or-larger block.
    walk_tree(r, [&](size_t i, unsigned ord, uint8_t v) {
      if (cd(v) < page_code) return false;
      if (st(v) == kFree) {
        purge_range_locked(r, node_offset(i, ord) >> kPageOrder, size_t(1) << (ord - kPageOrder));
        return false;
      }
      return st(v) == kSplit && ord > kPageOrder;
    });
  }
  dirty_free_bytes_ = 0;
  ++purges_;
}

}  // namespace heapmark::buddy
