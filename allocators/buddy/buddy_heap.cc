// BuddyHeap implementation: region tree bookkeeping, coalescing, decommit
// policy, huge mappings, dump and invariant check (see buddy_heap.h).
#include "buddy_heap.h"

#include <stddef.h>
#include <string.h>

#include "os/os.h"
#include "shim/diag.h"

namespace heapmark::buddy {

using shim::TextOut;

void BuddyHeap::fail(const char* check) const noexcept { shim::die(name_, check); }

// ---------------------------------------------------------------- radix map
// Maps p >> kRegionOrder to its Region* (low bit 0) or, for a huge mapping's
// first chunk, (size | heap id << 1 | 1). Two levels over a 48-bit address space.
namespace {
constexpr unsigned kLeafBits = 13;
constexpr size_t kTopEntries = size_t(1) << (48 - kRegionOrder - kLeafBits);
constexpr size_t kLeafEntries = size_t(1) << kLeafBits;
std::atomic<std::atomic<uintptr_t>*> g_radix[kTopEntries];
std::atomic<uintptr_t> g_next_heap_id{1};

std::atomic<uintptr_t>* radix_slot(const void* p, bool create) noexcept {
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
uintptr_t radix_get(const void* p) noexcept {
  std::atomic<uintptr_t>* s = radix_slot(p, false);
  return s ? s->load(std::memory_order_acquire) : 0;
}

// Tree node byte: state in bits 5-6, largest free order code (order - min + 1, 0 = none) in bits 0-4.
constexpr uint8_t kFree = 1, kSplit = 2, kUsed = 3;
inline uint8_t enc(uint8_t state, unsigned code) { return uint8_t(state << 5 | code); }
inline uint8_t st(uint8_t v) { return v >> 5; }
inline unsigned cd(uint8_t v) { return v & 31; }
inline uint8_t ld(const Region* r, size_t i) { return r->tree()[i].load(std::memory_order_relaxed); }
inline void sto(Region* r, size_t i, uint8_t v) { r->tree()[i].store(v, std::memory_order_relaxed); }
inline size_t node_offset(size_t i, unsigned ord) {
  unsigned depth = kRegionOrder - ord;
  return (i - (size_t(1) << depth)) << ord;
}
inline unsigned umax(unsigned a, unsigned b) { return a > b ? a : b; }
}  // namespace

Region* region_of(const void* p) noexcept {
  uintptr_t e = radix_get(p);
  return (e & 1) ? nullptr : reinterpret_cast<Region*>(e);
}

// ---------------------------------------------------------------- setup
void BuddyHeap::init(const char* name, unsigned min_order, Decommit policy, size_t threshold) noexcept {
  lock();
  if (!ready_.load(std::memory_order_relaxed)) {
    name_ = name;
    if (min_order < 4) min_order = 4;
    if (min_order > kPageOrder) min_order = kPageOrder;
    min_order_ = min_order;
    levels_ = kRegionOrder - min_order + 1;
    policy_ = policy;
    threshold_ = threshold;
    const size_t page = os::page_size();
    meta_bytes_ = (sizeof(Region) + (size_t(1) << levels_) + page - 1) & ~(page - 1);
    id_ = g_next_heap_id.fetch_add(1) & 7;
    ready_.store(true, std::memory_order_release);
  }
  unlock();
}

void BuddyHeap::reinit_lock_after_fork() noexcept { pthread_mutex_init(&mu_, nullptr); }

unsigned BuddyHeap::order_for(size_t n) const noexcept {
  unsigned o = n <= 1 ? 0 : 64 - __builtin_clzll(n - 1);
  return o < min_order_ ? min_order_ : o;
}

Region* BuddyHeap::new_region_locked() noexcept {
  size_t slot = 0;
  while (slot < nslots_ && regions_[slot]) ++slot;
  if (slot == kMaxRegions) return nullptr;
  char* base = static_cast<char*>(os::reserve_committed(kRegionSize, kRegionSize));
  if (!base) return nullptr;
  Region* r = static_cast<Region*>(os::reserve_committed(meta_bytes_));
  std::atomic<uintptr_t>* rs = r ? radix_slot(base, true) : nullptr;
  if (!rs) {
    if (r) os::release(r, meta_bytes_);
    os::release(base, kRegionSize);
    return nullptr;
  }
  r->heap = this;
  r->base = base;
  r->slot = uint32_t(slot);
  sto(r, 1, enc(kFree, levels_));
  rs->store(reinterpret_cast<uintptr_t>(r), std::memory_order_release);
  regions_[slot] = r;
  region_code_[slot] = uint8_t(levels_);
  if (slot == nslots_) ++nslots_;
  ++live_regions_;
  ++free_blocks_[kRegionOrder];
  return r;
}

void BuddyHeap::release_region_locked(Region* r) noexcept {
  radix_slot(r->base, false)->store(0, std::memory_order_release);
  --free_blocks_[kRegionOrder];
  size_t d = size_t(r->dirty_pages) << kPageOrder;
  dirty_free_bytes_ = dirty_free_bytes_ > d ? dirty_free_bytes_ - d : 0;
  regions_[r->slot] = nullptr;
  region_code_[r->slot] = 0;
  while (nslots_ && !regions_[nslots_ - 1]) --nslots_;
  --live_regions_;
  ++regions_released_;
  os::release(r->base, kRegionSize);
  os::release(r, meta_bytes_);
}

// ---------------------------------------------------------------- dirty pages
namespace {
size_t count_dirty(const Region* r, size_t first, size_t n) {
  size_t c = 0;
  for (size_t p = first; p < first + n; ++p) c += (r->dirty[p >> 6] >> (p & 63)) & 1;
  return c;
}
void mark_dirty(Region* r, size_t first, size_t n) {
  for (size_t p = first; p < first + n; ++p) {
    uint64_t bit = uint64_t(1) << (p & 63);
    if (!(r->dirty[p >> 6] & bit)) {
      r->dirty[p >> 6] |= bit;
      ++r->dirty_pages;
    }
  }
}
}  // namespace

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
    // Iterative preorder walk visiting only subtrees holding a free page-or-larger block.
    size_t stack[2 * kRegionOrder + 2];
    unsigned ords[2 * kRegionOrder + 2];
    int sp = 0;
    stack[sp] = 1;
    ords[sp++] = kRegionOrder;
    while (sp) {
      --sp;
      size_t i = stack[sp];
      unsigned ord = ords[sp];
      uint8_t v = ld(r, i);
      if (cd(v) < page_code) continue;
      if (st(v) == kFree) {
        purge_range_locked(r, node_offset(i, ord) >> kPageOrder, size_t(1) << (ord - kPageOrder));
      } else if (st(v) == kSplit && ord > kPageOrder) {
        stack[sp] = 2 * i;
        ords[sp++] = ord - 1;
        stack[sp] = 2 * i + 1;
        ords[sp++] = ord - 1;
      }
    }
  }
  dirty_free_bytes_ = 0;
  ++purges_;
}

// ---------------------------------------------------------------- alloc
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

// ---------------------------------------------------------------- free
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
  const size_t freed_first = off >> kPageOrder;
  const size_t freed_pages = ord >= kPageOrder ? size_t(1) << (ord - kPageOrder) : 1;
  in_use_.fetch_sub(size_t(1) << ord, std::memory_order_relaxed);
  --used_blocks_[ord];
  ++free_blocks_[ord];
  sto(r, i, enc(kFree, ord - min_order_ + 1));
  // Coalesce with the buddy as far as possible.
  while (i > 1 && st(ld(r, i ^ 1)) == kFree) {
    free_blocks_[ord] -= 2;
    ++ord;
    ++free_blocks_[ord];
    i /= 2;
    sto(r, i, enc(kFree, ord - min_order_ + 1));
  }
  for (size_t j = i / 2; j; j /= 2) {
    uint8_t nv = enc(kSplit, umax(cd(ld(r, 2 * j)), cd(ld(r, 2 * j + 1))));
    if (ld(r, j) == nv) break;
    sto(r, j, nv);
  }
  region_code_[r->slot] = uint8_t(cd(ld(r, 1)));

  if (ord >= kPageOrder) {
    // The freed block's pages now lie in a wholly free page-or-larger block.
    dirty_free_bytes_ += count_dirty(r, freed_first, freed_pages) << kPageOrder;
    if (policy_ == Decommit::kEager) {
      purge_range_locked(r, node_offset(i, ord) >> kPageOrder, size_t(1) << (ord - kPageOrder));
    } else if (policy_ == Decommit::kThreshold && dirty_free_bytes_ > threshold_) {
      purge_all_locked();
    }
  }
  // A wholly free region is released; one is kept (pages decommitted per the
  // policy) so a single alloc/free cycle does not map and unmap a region each time.
  if (i == 1 && policy_ != Decommit::kNever && live_regions_ > 1) release_region_locked(r);
}

// ---------------------------------------------------------------- queries
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

// ---------------------------------------------------------------- stats
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
  }
  return {0, 0, "?"};
}

// ---------------------------------------------------------------- dump and check
size_t BuddyHeap::dump_region(size_t slot, BlockEntry* out, size_t max) noexcept {
  lock();
  Region* r = slot < nslots_ ? regions_[slot] : nullptr;
  size_t n = 0;
  if (r) {
    size_t stack[2 * kRegionOrder + 2];
    unsigned ords[2 * kRegionOrder + 2];
    int sp = 0;
    stack[sp] = 1;
    ords[sp++] = kRegionOrder;
    while (sp) {
      --sp;
      size_t i = stack[sp];
      unsigned ord = ords[sp];
      uint8_t v = ld(r, i);
      if (n < max) out[n] = BlockEntry{node_offset(i, ord), ord, BlockState(st(v))};
      ++n;
      if (st(v) == kSplit) {  // right pushed first so the left half comes out first
        stack[sp] = 2 * i + 1;
        ords[sp++] = ord - 1;
        stack[sp] = 2 * i;
        ords[sp++] = ord - 1;
      }
    }
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
  if (st(v) == kFree) {
    want = ord - min_order + 1;
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
    if (region_code_[s] != cd(ld(r, 1))) {
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
