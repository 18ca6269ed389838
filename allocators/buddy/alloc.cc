// BuddyHeap allocation: descending a region's tree to dirty free pages first,
// then to a best-fit block, splitting on the way, recommitting its pages, and
// huge requests with their own mapping.
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

Region* BuddyHeap::region_with_locked(unsigned order) const noexcept {
  const unsigned c = order - min_order_ + 1;
  for (size_t s = 0; s < nslots_; ++s)
    if (region_code_[s] >= c) return regions_[s];
  return nullptr;
}

// A page or more: the first region whose dirty free pages may serve it (its tree holds a large enough block
// and a dirty free page), else the first that can; one scan.
Region* BuddyHeap::region_for_locked(unsigned order) const noexcept {
  if (order < kPageOrder || dirty_free_bytes_ == 0) return region_with_locked(order);
  const unsigned c = order - min_order_ + 1;
  Region* first = nullptr;
  for (size_t s = 0; s < nslots_; ++s) {
    if (region_code_[s] < c) continue;
    if (region_dirty_[s]) return regions_[s];
    if (!first) first = regions_[s];
  }
  return first;
}

void* BuddyHeap::alloc_order_locked(unsigned order) noexcept {
  const unsigned c = order - min_order_ + 1;
  Region* r = region_for_locked(order);
  if (!r && !(r = new_region_locked())) return nullptr;

  size_t i = 1, first_split = 0;
  bool page_was_free = false;  // the page holding a sub-page block was wholly free before
  for (unsigned ord = kRegionOrder; ord > order; --ord) {
    uint8_t v = ld(r, i);
    if (ord == kPageOrder && st(v) == kFree) page_was_free = true;
    if (st(v) == kFree) {  // split: both halves become free blocks (dirty only if the block was)
      if (!first_split) first_split = i;
      const uint8_t clean = enc(kFree, ord - min_order_);
      sto(r, 2 * i, dirty_below(v) ? free_node(r, 2 * i, ord - 1, min_order_) : clean);
      sto(r, 2 * i + 1, dirty_below(v) ? free_node(r, 2 * i + 1, ord - 1, min_order_) : clean);
      sto(r, i, enc(kSplit, ord - min_order_, dirty_below(v)));
      --free_blocks_[ord];
      free_blocks_[ord - 1] += 2;
    }
    // Between two children that can both serve: for a page or more, the one holding dirty free pages when
    // only one does (jemalloc reuses dirty extents before clean ones: a clean page costs a fault and adds
    // to the resident set while freed pages stay resident unused); otherwise best fit, the smaller
    // sufficient one, left on a tie.
    const uint8_t vl = ld(r, 2 * i), vr = ld(r, 2 * i + 1);
    const unsigned cl = cd(vl), cr = cd(vr);
    bool left;
    if (cl < c || cr < c) left = cl >= c;
    else if (order >= kPageOrder && dirty_below(vl) != dirty_below(vr)) left = dirty_below(vl);
    else left = cl <= cr;
    i = left ? 2 * i : 2 * i + 1;
  }
  if (order == kPageOrder && st(ld(r, i)) == kFree) page_was_free = true;
  sto(r, i, enc(kUsed, 0));
  --free_blocks_[order];
  ++used_blocks_[order];
  // Up the path, each node's largest free order below. Up to the parent of
  // the topmost node split here every node is stored (a split changed that
  // node's code, and its parent still describes the unsplit block); above it
  // the first node whose code stays the same ends the walk, as free's does.
  fix_codes_above(r, i, first_split ? first_split / 2 : i / 2);
  note_root_locked(r);

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
  maybe_decay_tick_locked();
  unlock();
  return p;
}

// One block of order `run` split into 2^(run - order) used blocks of `order`
// in one pass over its subtree, instead of as many descents from the root.
// The run's ancestors already hold code 0 for it (used), which a split node
// with nothing free below it also has.
size_t BuddyHeap::carve_locked(unsigned order, unsigned run, void** out) noexcept {
  char* base = static_cast<char*>(alloc_order_locked(run));
  if (!base) return 0;
  Region* r = reinterpret_cast<Region*>(radix_get(base));
  const size_t off = base - r->base;
  size_t first = node_index(off, run), count = 1;
  for (unsigned ord = run; ord > order; --ord, first *= 2, count *= 2)
    for (size_t k = first; k < first + count; ++k) sto(r, k, enc(kSplit, 0));
  for (size_t k = first; k < first + count; ++k) sto(r, k, enc(kUsed, 0));
  --used_blocks_[run];
  used_blocks_[order] += count;
  for (size_t k = 0; k < count; ++k) out[k] = base + (k << order);
  return count;
}

size_t BuddyHeap::take_free_locked(unsigned order, void** out, size_t n) noexcept {
  const unsigned c = order - min_order_ + 1;
  size_t got = 0, budget = n * (kRegionOrder - order);
  for (size_t s = 0; s < nslots_ && got < n && budget != 0; ++s) {
    Region* r = regions_[s];
    if (!r || region_code_[s] < c) continue;
    const size_t first_taken = got;
    // Only split nodes lead to a free block of exactly `order` (a larger free block holds none: splitting it is
    // the run's job; a node whose code is below c holds nothing large enough). But a split node whose largest
    // free block is larger may hold none either, and in a fragmented region the walk could visit most of the
    // tree (py-dict took 1.8x its time in a bench-inhouse run): it stops after as many nodes as n descents from the
    // root would read, and the rest of the batch comes from a run.
    walk_tree(r, [&](size_t i, unsigned ord, uint8_t v) {
      if (got == n || budget == 0 || cd(v) < c) return false;
      --budget;
      if (ord > order) return st(v) == kSplit;
      if (st(v) == kFree) {
        sto(r, i, enc(kUsed, 0));
        const size_t off = node_offset(i, order);
        mark_dirty(r, off >> kPageOrder, 1);  // its page holds other blocks: not a free page before
        out[got++] = r->base + off;
      }
      return false;
    });
    // The codes above the taken blocks, each path up to its first unchanged node (the walk read none of them
    // after it changed a block below them).
    for (size_t k = first_taken; k < got; ++k) {
      const size_t i = node_index(static_cast<char*>(out[k]) - r->base, order);
      fix_codes_above(r, i, i / 2);
    }
    note_root_locked(r);
  }
  free_blocks_[order] -= got;
  used_blocks_[order] += got;
  in_use_.fetch_add(got << order, std::memory_order_relaxed);
  return got;
}

size_t BuddyHeap::alloc_batch(unsigned order, void** out, size_t n) noexcept {
  size_t got = 0;
  lock();
  if (order < kPageOrder && free_blocks_[order] > 0) got = take_free_locked(order, out, n);
  // The rest as one run: the largest power of two it needs, within a region.
  while (got < n) {
    unsigned run = order;
    while (run < kRegionOrder && (size_t(2) << (run - order)) <= n - got) ++run;
    // Never a new region for a run while a smaller free block could serve (alloc would split that first).
    while (run > order && !region_with_locked(run)) --run;
    const size_t carved = run > order ? carve_locked(order, run, out + got) : 0;
    if (carved == 0) {
      if ((out[got] = alloc_order_locked(order)) == nullptr) break;
      ++got;
    } else {
      got += carved;
    }
  }
  maybe_decay_tick_locked();
  unlock();
  return got;
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
