// BuddyHeap's dirty pages: decommitting the written pages of free blocks (one
// range, or every free page-or-larger block under the policy), and recommitting
// decommitted pages before they are handed out again. The per-page bits are in
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

// Recommits the decommitted pages among [first, first+n) before they are handed
// out (os.h: a no-op on Linux, MEM_COMMIT on Windows). False if the OS refused.
bool BuddyHeap::recommit_locked(Region* r, size_t first, size_t n) noexcept {
  const size_t end = first + n;
  for (size_t p = first; p < end;) {
    if (!((r->decommitted[p >> 6] >> (p & 63)) & 1)) {
      ++p;
      continue;
    }
    size_t q = p;
    while (q < end && ((r->decommitted[q >> 6] >> (q & 63)) & 1)) ++q;
    if (!os::recommit(r->base + (p << kPageOrder), (q - p) << kPageOrder)) return false;
    for (size_t k = p; k < q; ++k) r->decommitted[k >> 6] &= ~(uint64_t(1) << (k & 63));
    p = q;
  }
  return true;
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
