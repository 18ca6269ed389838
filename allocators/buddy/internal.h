// Internals of BuddyHeap, shared by its files (see README.md for which file
// holds what): the radix map from addresses to regions, the encoding of a tree
// node, the dirty-page bits and the one walk over a region's tree. The alloc
// and free paths use these on every call, so they stay inline here.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <atomic>

#include "buddy/buddy_heap.h"
#include "os/os.h"

// Hidden: everything here is resolved inside one link unit (the preload .so or
// a test executable), so -fPIC code reaches it without the GOT or PLT, as when
// it was all file-local.
#pragma GCC visibility push(hidden)

namespace heapmark::buddy {

// ---------------------------------------------------------------- radix map
// The map and its lookups are in buddy_heap.h; this is the slot for p, made when
// `create` (a region or huge mapping being registered).
inline std::atomic<uintptr_t>* radix_slot(const void* p, bool create) noexcept {
  uintptr_t k = reinterpret_cast<uintptr_t>(p) >> kRegionOrder;
  size_t top = k >> kLeafBits;
  if (top >= kTopEntries) return nullptr;
  std::atomic<uintptr_t>* leaf = g_radix[top].load(std::memory_order_acquire);
  if (!leaf) {
    if (!create) return nullptr;
    auto* fresh = static_cast<std::atomic<uintptr_t>*>(os::reserve_committed(kLeafEntries * sizeof(uintptr_t)));
    if (!fresh) return nullptr;
    if (!g_radix[top].compare_exchange_strong(leaf, fresh, std::memory_order_acq_rel)) {
      os::release(fresh, kLeafEntries * sizeof(uintptr_t));
    } else {
      leaf = fresh;
    }
  }
  return &leaf[k & (kLeafEntries - 1)];
}

// ---------------------------------------------------------------- tree nodes
// Tree node byte: state in bits 5-6, largest free order code (order - min + 1, 0 = none) in bits 0-4, and in
// bit 7 whether a free page-or-larger block at or below the node holds a dirty page (kDirtyBelow), so an
// allocation can go where memory is already resident before it touches a clean page.
constexpr uint8_t kFree = 1, kSplit = 2, kUsed = 3;
constexpr uint8_t kDirtyBelow = 0x80;
inline uint8_t enc(uint8_t state, unsigned code, bool dirty = false) {
  return uint8_t(state << 5 | code | (dirty ? kDirtyBelow : 0));
}
inline uint8_t st(uint8_t v) { return (v >> 5) & 3; }
inline unsigned cd(uint8_t v) { return v & 31; }
inline bool dirty_below(uint8_t v) { return (v & kDirtyBelow) != 0; }
inline uint8_t ld(const Region* r, size_t i) { return r->tree()[i].load(std::memory_order_relaxed); }
inline void sto(Region* r, size_t i, uint8_t v) { r->tree()[i].store(v, std::memory_order_relaxed); }
// The node of the block of order `ord` at offset `off` in its region, and back.
inline size_t node_index(size_t off, unsigned ord) { return (size_t(1) << (kRegionOrder - ord)) + (off >> ord); }
inline size_t node_offset(size_t i, unsigned ord) {
  unsigned depth = kRegionOrder - ord;
  return (i - (size_t(1) << depth)) << ord;
}
inline unsigned umax(unsigned a, unsigned b) { return a > b ? a : b; }

// Recomputes each node's largest free order below (and whether a dirty free page lies below), from node i's
// parent up.
// The walk ends at the first node whose code stays the same, but only at or
// above `must`: below it a node may still describe what the call changed (an
// allocation's splits) while its code happens to match. Free and the refill's
// walk pass i / 2 (stop anywhere).
inline void fix_codes_above(Region* r, size_t i, size_t must) {
  for (size_t j = i / 2; j; j /= 2) {
    const uint8_t a = ld(r, 2 * j), b = ld(r, 2 * j + 1);
    const uint8_t nv = enc(kSplit, umax(cd(a), cd(b)), dirty_below(a | b));
    if (j <= must && ld(r, j) == nv) break;
    sto(r, j, nv);
  }
}

// Iterative preorder walk of a region's tree, left half first: visit(i, ord, v)
// sees node i of order ord holding v and returns whether to descend into its
// halves. Used by the purge (dirty_pages.cc) and the region dump (dump_check.cc).
template <class Visit>
inline void walk_tree(const Region* r, Visit&& visit) {
  size_t stack[2 * kRegionOrder + 2];
  unsigned ords[2 * kRegionOrder + 2];
  int sp = 0;
  stack[sp] = 1;
  ords[sp++] = kRegionOrder;
  while (sp) {
    --sp;
    size_t i = stack[sp];
    unsigned ord = ords[sp];
    if (visit(i, ord, ld(r, i))) {  // right pushed first so the left half comes out first
      stack[sp] = 2 * i + 1;
      ords[sp++] = ord - 1;
      stack[sp] = 2 * i;
      ords[sp++] = ord - 1;
    }
  }
}

// ---------------------------------------------------------------- dirty pages
// One bit per page written since its last decommit (Region::dirty).
inline size_t count_dirty(const Region* r, size_t first, size_t n) {
  size_t c = 0;
  for (size_t p = first; p < first + n; ++p) c += (r->dirty[p >> 6] >> (p & 63)) & 1;
  return c;
}
// Whether any page of [first, first+n) is dirty: a free block's kDirtyBelow.
inline bool any_dirty(const Region* r, size_t first, size_t n) {
  for (size_t p = first; p < first + n;) {
    const size_t bit = p & 63, take = (n - (p - first)) < 64 - bit ? n - (p - first) : 64 - bit;
    const uint64_t mask = take == 64 ? ~uint64_t(0) : ((uint64_t(1) << take) - 1) << bit;
    if (r->dirty[p >> 6] & mask) return true;
    p += take;
  }
  return false;
}
// The node byte of a free block of order ord at node i: its code, and whether one of its pages is dirty (a
// block below a page never counts: its page is another block's too).
inline uint8_t free_node(const Region* r, size_t i, unsigned ord, unsigned min_order) {
  const bool dirty =
      ord >= kPageOrder && any_dirty(r, node_offset(i, ord) >> kPageOrder, size_t(1) << (ord - kPageOrder));
  return enc(kFree, ord - min_order + 1, dirty);
}

// Pages handed out: written from now on, and no longer aging (Region::aging).
inline void mark_dirty(Region* r, size_t first, size_t n) {
  for (size_t p = first; p < first + n; ++p) {
    uint64_t bit = uint64_t(1) << (p & 63);
    r->aging[p >> 6] &= ~bit;
    if (!(r->dirty[p >> 6] & bit)) {
      r->dirty[p >> 6] |= bit;
      ++r->dirty_pages;
    }
  }
}

}  // namespace heapmark::buddy

#pragma GCC visibility pop
