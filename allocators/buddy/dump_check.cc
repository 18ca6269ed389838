// BuddyHeap dump and check: a region's blocks in preorder, the text map of
// every region ("(off:size)" free, "[off:size]" used) and the full recount of
// every tree against its stored summaries.
#include <stddef.h>

#include "buddy/internal.h"
#include "shim/diag.h"

namespace heapmark::buddy {

using shim::TextOut;

size_t BuddyHeap::dump_region(size_t slot, BlockEntry* out, size_t max) noexcept {
  lock();
  Region* r = slot < nslots_ ? regions_[slot] : nullptr;
  size_t n = 0;
  if (r) {
    walk_tree(r, [&](size_t i, unsigned ord, uint8_t v) {
      if (n < max) out[n] = BlockEntry{node_offset(i, ord), ord, BlockState(st(v))};
      ++n;
      return st(v) == kSplit;
    });
  }
  unlock();
  return n;
}

namespace {
void dump_leaves(const Region* r, size_t i, unsigned ord, TextOut& o) {
  uint8_t v = ld(r, i);
  if (st(v) == kSplit) {
    dump_leaves(r, 2 * i, ord - 1, o);
    dump_leaves(r, 2 * i + 1, ord - 1, o);
    return;
  }
  bool used = st(v) == kUsed;
  o.put(used ? " [" : " (");
  o.num(node_offset(i, ord));
  o.put(":");
  o.num(size_t(1) << ord);
  o.put(used ? "]" : ")");
}

// Recounts the subtree at i; returns false (reason in o) on the first disagreement.
bool recount(const Region* r, size_t i, unsigned ord, unsigned min_order, size_t* used, size_t* freeb, TextOut& o) {
  uint8_t v = ld(r, i);
  unsigned want = 0;
  bool want_dirty = false;
  if (st(v) == kFree) {
    want = ord - min_order + 1;
    want_dirty = ord >= kPageOrder && any_dirty(r, node_offset(i, ord) >> kPageOrder, size_t(1) << (ord - kPageOrder));
    ++freeb[ord];
  } else if (st(v) == kUsed) {
    ++used[ord];
  } else if (st(v) == kSplit && ord > min_order) {
    if (!recount(r, 2 * i, ord - 1, min_order, used, freeb, o)) return false;
    if (!recount(r, 2 * i + 1, ord - 1, min_order, used, freeb, o)) return false;
    uint8_t a = ld(r, 2 * i), b = ld(r, 2 * i + 1);
    if (st(a) == kFree && st(b) == kFree) {
      o.put("free buddy pair not coalesced at offset ");
      o.num(node_offset(i, ord));
      return false;
    }
    want = umax(cd(a), cd(b));
    want_dirty = dirty_below(a) || dirty_below(b);
  } else {
    o.put("bad node state at offset ");
    o.num(node_offset(i, ord));
    return false;
  }
  if (cd(v) != want) {
    o.put("largest-free summary differs from recount at offset ");
    o.num(node_offset(i, ord));
    return false;
  }
  if (dirty_below(v) != want_dirty) {
    o.put("dirty-free summary differs from recount at offset ");
    o.num(node_offset(i, ord));
    return false;
  }
  return true;
}
}  // namespace

size_t BuddyHeap::dump_text(char* buf, size_t len) noexcept {
  TextOut o{buf, len};
  lock();
  for (size_t s = 0; s < nslots_; ++s) {
    const Region* r = regions_[s];
    if (!r) continue;
    o.put("region ");
    o.num(s);
    o.put(" ");
    o.hex(reinterpret_cast<uintptr_t>(r->base));
    o.put(":");
    dump_leaves(r, 1, kRegionOrder, o);
    o.put("\n");
  }
  unlock();
  o.finish();
  return o.pos + 1;
}

bool BuddyHeap::check(char* why, size_t why_len) noexcept {
  TextOut o{why, why_len};
  size_t used[kRegionOrder + 1] = {}, freeb[kRegionOrder + 1] = {};
  bool ok = true;
  lock();
  for (size_t s = 0; s < nslots_ && ok; ++s) {
    const Region* r = regions_[s];
    if (!r) continue;
    if (region_code_[s] != cd(ld(r, 1)) || region_dirty_[s] != dirty_below(ld(r, 1))) {
      o.put("region summary differs from its root");
      ok = false;
    } else {
      ok = recount(r, 1, kRegionOrder, min_order_, used, freeb, o);
    }
  }
  for (unsigned k = min_order_; k <= kRegionOrder && ok; ++k)
    if (used[k] != used_blocks_[k] || freeb[k] != free_blocks_[k]) {
      o.put("per-order block counts differ from recount at order ");
      o.num(k);
      ok = false;
    }
  unlock();
  if (ok) o.put("ok");
  o.finish();
  return ok;
}

}  // namespace heapmark::buddy
