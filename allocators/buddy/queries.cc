// BuddyHeap queries: a block's usable size, ownership, and release() (every
// dirty free page decommitted, every wholly free region released).
#include <stddef.h>

#include "buddy/internal.h"

namespace heapmark::buddy {

size_t BuddyHeap::usable_size(const void* p) const noexcept {
  uintptr_t e = radix_get(p);
  if (e & 1) return e & ~uintptr_t(4095);
  const Region* r = reinterpret_cast<const Region*>(e);
  if (!r) return 0;
  // Lock-free: the ancestors of a live block stay split while it lives.
  const size_t off = static_cast<const char*>(p) - r->base;
  size_t i = 1;
  for (unsigned ord = kRegionOrder;; --ord) {
    uint8_t v = ld(r, i);
    if (st(v) == kUsed) return size_t(1) << ord;
    if (st(v) != kSplit || ord == min_order_) return 0;
    i = 2 * i + ((off >> (ord - 1)) & 1);
  }
}

unsigned BuddyHeap::block_order(const void* p) const noexcept {
  const uintptr_t e = radix_get(p);
  const Region* r = reinterpret_cast<const Region*>(e);
  if (e == 0 || (e & 1) || r->heap != this) return 0;
  // Bottom-up: the first node marked used on p's path, from the smallest order,
  // is p's block when p starts it. Nodes below a live block keep what they were
  // last set to when it formed (free, or split), never used.
  const size_t off = static_cast<const char*>(p) - r->base;
  for (unsigned ord = min_order_; ord <= kRegionOrder && (off & ((size_t(1) << ord) - 1)) == 0; ++ord)
    if (st(ld(r, node_index(off, ord))) == kUsed) return ord;
  return 0;
}

bool BuddyHeap::owns(const void* p) const noexcept {
  uintptr_t e = radix_get(p);
  if (e & 1) return ((e >> 1) & 7) == id_ && (reinterpret_cast<uintptr_t>(p) & (kRegionSize - 1)) == 0;
  const Region* r = reinterpret_cast<const Region*>(e);
  if (!r || r->heap != this) return false;
  BuddyHeap* self = const_cast<BuddyHeap*>(this);
  self->lock();
  const size_t off = static_cast<const char*>(p) - r->base;
  size_t i = 1;
  bool found = false;
  for (unsigned ord = kRegionOrder;; --ord) {
    uint8_t v = ld(r, i);
    if (st(v) == kUsed) {
      found = node_offset(i, ord) == off;
      break;
    }
    if (st(v) != kSplit || ord == min_order_) break;
    i = 2 * i + ((off >> (ord - 1)) & 1);
  }
  self->unlock();
  return found;
}

void BuddyHeap::release() noexcept {
  if (!initialised()) return;
  lock();
  purge_all_locked();
  for (size_t s = 0; s < nslots_; ++s) {
    Region* r = regions_[s];
    if (r && st(ld(r, 1)) == kFree) release_region_locked(r);
  }
  unlock();
}

}  // namespace heapmark::buddy
