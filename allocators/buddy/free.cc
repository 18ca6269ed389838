// BuddyHeap free: validating the pointer, coalescing with the buddy as far as
// possible, and the decommit policy's reaction to the pages it freed.
#include <stddef.h>

#include "buddy/internal.h"

namespace heapmark::buddy {

void BuddyHeap::free(void* p) noexcept {
  std::atomic<uintptr_t>* rs = radix_slot(p, false);
  uintptr_t e = rs ? rs->load(std::memory_order_acquire) : 0;
  if (e == 0) fail("free(): invalid pointer (not in any region or mapping)");
  if (e & 1) {
    if ((reinterpret_cast<uintptr_t>(p) & (kRegionSize - 1)) != 0 || ((e >> 1) & 7) != id_)
      fail("free(): invalid pointer (inside a huge mapping)");
    // The exchange makes two racing frees of one huge block detectable.
    if (!rs->compare_exchange_strong(e, 0, std::memory_order_acq_rel)) fail("free(): double free detected (huge)");
    size_t size = e & ~uintptr_t(4095);
    huge_bytes_.fetch_sub(size, std::memory_order_relaxed);
    huge_count_.fetch_sub(1, std::memory_order_relaxed);
    in_use_.fetch_sub(size, std::memory_order_relaxed);
    os::release(p, size);
    return;
  }
  Region* r = reinterpret_cast<Region*>(e);
  if (r->heap != this) fail("free(): invalid pointer (block of another heap)");
  lock();
  free_in_region_locked(r, p);
  maybe_decay_tick_locked();
  unlock();
}

void BuddyHeap::free_batch(unsigned order, void* const* blocks, size_t n) noexcept {
  lock();
  for (size_t k = 0; k < n; ++k) {
    const uintptr_t e = radix_get(blocks[k]);
    Region* r = reinterpret_cast<Region*>(e);
    if (e == 0 || (e & 1) || r->heap != this) {
      unlock();
      fail("free(): invalid pointer (a thread cache held a block of no region of this heap)");
    }
    // The cache knows each block's order: its node is found without the descent (free() checks the rest).
    const size_t off = static_cast<char*>(blocks[k]) - r->base;
    const size_t i = node_index(off, order);
    if ((off & ((size_t(1) << order) - 1)) != 0 || st(ld(r, i)) != kUsed) {
      unlock();
      fail("free(): double free detected (a block freed twice, through two threads' caches)");
    }
    free_node_locked(r, i, order);
  }
  maybe_decay_tick_locked();
  unlock();
}

void BuddyHeap::free_in_region_locked(Region* r, void* p) noexcept {
  const size_t off = static_cast<char*>(p) - r->base;
  size_t i = 1;
  unsigned ord = kRegionOrder;
  for (;;) {
    uint8_t v = ld(r, i);
    if (st(v) == kUsed) break;
    if (st(v) == kFree) {
      unlock();
      fail("free(): double free detected (block is already free)");
    }
    if (st(v) != kSplit || ord == min_order_) {
      unlock();
      fail("free(): corrupted buddy tree");
    }
    --ord;
    i = 2 * i + ((off >> ord) & 1);
  }
  if (node_offset(i, ord) != off) {
    unlock();
    fail("free(): invalid pointer (not the start of a block)");
  }
  free_node_locked(r, i, ord);
}

void BuddyHeap::free_node_locked(Region* r, size_t i, unsigned ord) noexcept {
  const size_t off = node_offset(i, ord);
  const size_t freed_first = off >> kPageOrder;
  const size_t freed_pages = ord >= kPageOrder ? size_t(1) << (ord - kPageOrder) : 1;
  in_use_.fetch_sub(size_t(1) << ord, std::memory_order_relaxed);
  --used_blocks_[ord];
  ++free_blocks_[ord];
  // A block of a page or more is dirty if one of its pages is; below a page, a block counts once it has
  // coalesced into a free page-or-larger block.
  const size_t dirty = count_dirty(r, freed_first, freed_pages);
  bool dirty_flag = ord >= kPageOrder && dirty != 0;
  sto(r, i, enc(kFree, ord - min_order_ + 1, dirty_flag));
  // Coalesce with the buddy as far as possible.
  while (i > 1 && st(ld(r, i ^ 1)) == kFree) {
    dirty_flag = dirty_flag || dirty_below(ld(r, i ^ 1));
    free_blocks_[ord] -= 2;
    ++ord;
    ++free_blocks_[ord];
    i /= 2;
    if (ord == kPageOrder) dirty_flag = dirty != 0;  // the sub-page block's page is wholly free now
    sto(r, i, enc(kFree, ord - min_order_ + 1, dirty_flag));
  }
  fix_codes_above(r, i, i / 2);
  note_root_locked(r);

  if (ord >= kPageOrder) {
    // The freed block's pages now lie in a wholly free page-or-larger block.
    dirty_free_bytes_ += dirty << kPageOrder;
    if (policy_ == Decommit::kEager) {
      purge_block_locked(r, i, ord);
    } else if (policy_ == Decommit::kThreshold && dirty_free_bytes_ > threshold_) {
      purge_all_locked();
    }
  }
  // Under decay a wholly free region stays until its pages have decayed (decay_tick_locked lets it go).
  if (policy_ == Decommit::kDecay) return;
  // A wholly free region is released; one is kept (pages decommitted per the
  // policy) so a single alloc/free cycle does not map and unmap a region each time.
  if (i == 1 && policy_ != Decommit::kNever && live_regions_ > 1) release_region_locked(r);
}

}  // namespace heapmark::buddy
