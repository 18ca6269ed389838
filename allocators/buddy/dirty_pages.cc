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
      r->aging[q >> 6] &= ~(uint64_t(1) << (q & 63));
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

// Calls f(node, order) for each free page-or-larger block of r holding a dirty
// page, visiting only subtrees that hold one. f may change the dirty summaries
// of the block and its ancestors (already visited), not the tree's shape.
template <class F>
void for_each_dirty_free_block(const Region* r, unsigned min_order, F&& f) {
  const unsigned page_code = kPageOrder - min_order + 1;
  walk_tree(r, [&](size_t i, unsigned ord, uint8_t v) {
    if (cd(v) < page_code || !dirty_below(v)) return false;
    if (st(v) == kFree) {
      f(i, ord);
      return false;
    }
    return st(v) == kSplit && ord > kPageOrder;
  });
}

// After pages of the free block at node i were decommitted: its dirty summary and its ancestors'.
void BuddyHeap::refresh_dirty_locked(Region* r, size_t i, unsigned ord) noexcept {
  sto(r, i, free_node(r, i, ord, min_order_));
  fix_codes_above(r, i, i / 2);
  note_root_locked(r);
}

void BuddyHeap::purge_block_locked(Region* r, size_t i, unsigned ord) noexcept {
  purge_range_locked(r, node_offset(i, ord) >> kPageOrder, size_t(1) << (ord - kPageOrder));
  refresh_dirty_locked(r, i, ord);
}

void BuddyHeap::purge_all_locked() noexcept {
  const unsigned page_code = kPageOrder - min_order_ + 1;
  for (size_t s = 0; s < nslots_; ++s) {
    Region* r = regions_[s];
    if (!r || r->dirty_pages == 0 || region_code_[s] < page_code) continue;
    for_each_dirty_free_block(r, min_order_, [&](size_t i, unsigned ord) { purge_block_locked(r, i, ord); });
  }
  dirty_free_bytes_ = 0;
  ++purges_;
}

// Pages dirty at the previous tick and free since (an allocation clears their
// aging bit: mark_dirty) go back; the other dirty pages start aging.
void BuddyHeap::age_block_locked(Region* r, size_t i, unsigned ord) noexcept {
  const size_t first = node_offset(i, ord) >> kPageOrder;
  size_t p = first;
  const size_t end = first + (size_t(1) << (ord - kPageOrder));
  bool purged = false;
  while (p < end) {
    const uint64_t bit = uint64_t(1) << (p & 63);
    if (!(r->dirty[p >> 6] & bit)) {
      ++p;
    } else if (!(r->aging[p >> 6] & bit)) {
      r->aging[p >> 6] |= bit;
      ++p;
    } else {
      size_t q = p + 1;
      while (q < end && ((r->dirty[q >> 6] & r->aging[q >> 6]) >> (q & 63) & 1)) ++q;
      purge_range_locked(r, p, q - p);
      purged = true;
      p = q;
    }
  }
  if (purged) refresh_dirty_locked(r, i, ord);
}

void BuddyHeap::tick() noexcept {
  if (policy_ != Decommit::kDecay || os::monotonic_ms() < next_tick_ms_.load(std::memory_order_relaxed)) return;
  lock();
  maybe_decay_tick_locked();
  unlock();
}

void BuddyHeap::decay_tick_locked() noexcept {
  const uint64_t now = os::monotonic_ms();
  if (now < next_tick_ms_.load(std::memory_order_relaxed)) return;
  next_tick_ms_.store(now + decay_ms_, std::memory_order_relaxed);
  const unsigned page_code = kPageOrder - min_order_ + 1;
  const size_t before = decommitted_.load(std::memory_order_relaxed);
  for (size_t s = 0; s < nslots_; ++s) {
    Region* r = regions_[s];
    if (!r || r->dirty_pages == 0 || region_code_[s] < page_code) continue;
    for_each_dirty_free_block(r, min_order_, [&](size_t i, unsigned ord) { age_block_locked(r, i, ord); });
    // A region free since the previous tick has no dirty page left: it goes, as free() lets one go under the
    // other policies (one region is kept).
    if (r->dirty_pages == 0 && st(ld(r, 1)) == kFree && live_regions_ > 1) release_region_locked(r);
  }
  if (decommitted_.load(std::memory_order_relaxed) != before) ++purges_;
}

}  // namespace heapmark::buddy
