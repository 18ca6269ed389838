// BuddyHeap allocation: descending a region's tree to a best-fit block,
// splitting on the way, recommitting its pages, and huge requests with their
// own mapping.
#include <stddef.h>

#include "buddy/internal.h"

namespace heapmark::buddy {

// Recommits the decommitted pages among [first, first+n) before alloc hands
// them out (os.h: a no-op on Linux, MEM_COMMIT on Windows); here, beside its
// only caller, on every allocation's path. False if the OS refused.
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

void* BuddyHeap::alloc_order_locked(unsigned order) noexcept {
  const unsigned c = order - min_order_ + 1;
  Region* r = nullptr;
  for (size_t s = 0; s < nslots_; ++s)
    if (region_code_[s] >= c) {
      r = regions_[s];
      break;
    }
  if (!r && !(r = new_region_locked())) return nullptr;

  size_t i = 1;
  bool page_was_free = false;  // the page holding a sub-page block was wholly free before
  for (unsigned ord = kRegionOrder; ord > order; --ord) {
    uint8_t v = ld(r, i);
    if (ord == kPageOrder && st(v) == kFree) page_was_free = true;
    if (st(v) == kFree) {  // split: both halves become free blocks
      uint8_t half = enc(kFree, ord - min_order_);
      sto(r, 2 * i, half);
      sto(r, 2 * i + 1, half);
      sto(r, i, enc(kSplit, ord - min_order_));
      --free_blocks_[ord];
      free_blocks_[ord - 1] += 2;
    }
    // Best fit between the two children: the smaller sufficient one, left on a tie.
    unsigned cl = cd(ld(r, 2 * i)), cr = cd(ld(r, 2 * i + 1));
    i = (cl >= c && (cr < c || cl <= cr)) ? 2 * i : 2 * i + 1;
  }
  if (order == kPageOrder && st(ld(r, i)) == kFree) page_was_free = true;
  sto(r, i, enc(kUsed, 0));
  --free_blocks_[order];
  ++used_blocks_[order];
  // No early exit here: the splits above stored provisional codes whose
  // ancestors still describe the unsplit block.
  for (size_t j = i / 2; j; j /= 2) sto(r, j, enc(kSplit, umax(cd(ld(r, 2 * j)), cd(ld(r, 2 * j + 1)))));
  region_code_[r->slot] = uint8_t(cd(ld(r, 1)));

  const size_t off = node_offset(i, order);
  size_t first = off >> kPageOrder, n = order >= kPageOrder ? size_t(1) << (order - kPageOrder) : 1;
  if (order >= kPageOrder || page_was_free) {
    size_t d = count_dirty(r, first, n) << kPageOrder;
    dirty_free_bytes_ = dirty_free_bytes_ > d ? dirty_free_bytes_ - d : 0;
  }
  mark_dirty(r, first, n);
  in_use_.fetch_add(size_t(1) << order, std::memory_order_relaxed);
  if (!recommit_locked(r, first, n)) {  // out of commit: the block goes back
    free_in_region_locked(r, r->base + off);
    return nullptr;
  }
  return r->base + off;
}

void* BuddyHeap::alloc(size_t n) noexcept {
  if (n > kRegionSize) return alloc_huge(0, n);
  unsigned order = order_for(n);
  lock();
  void* p = alloc_order_locked(order);
  unlock();
  return p;
}

void* BuddyHeap::alloc_aligned(size_t align, size_t n) noexcept {
  // Blocks are naturally aligned (regions are aligned to their size), so an
  // aligned request is a request for a block at least `align` bytes long.
  if (align > kRegionSize || n > kRegionSize) return alloc_huge(align, n);
  return alloc(n > align ? n : align);
}

void* BuddyHeap::alloc_huge(size_t align, size_t n) noexcept {
  const size_t page = os::page_size();
  if (n > (size_t(1) << 47)) return nullptr;
  size_t size = (n + page - 1) & ~(page - 1);
  size_t a = align > kRegionSize ? align : kRegionSize;
  void* p = os::reserve(size, a);
  if (!p) return nullptr;
  std::atomic<uintptr_t>* rs = radix_slot(p, true);
  if (!rs || !os::commit(p, size)) {
    os::release(p, size);
    return nullptr;
  }
  rs->store(size | id_ << 1 | 1, std::memory_order_release);
  huge_bytes_.fetch_add(size, std::memory_order_relaxed);
  huge_count_.fetch_add(1, std::memory_order_relaxed);
  in_use_.fetch_add(size, std::memory_order_relaxed);
  return p;
}

}  // namespace heapmark::buddy
