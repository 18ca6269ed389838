// BuddyHeap setup: init, the block order of a request, and the life of a
// region (its reservation, metadata mapping and radix map entry).
#include <stddef.h>

#include "buddy/internal.h"
#include "shim/diag.h"

namespace heapmark::buddy {

namespace {
std::atomic<uintptr_t> g_next_heap_id{1};  // tags each heap's huge mappings in the radix map
}  // namespace

void BuddyHeap::fail(const char* check) const noexcept { shim::die(name_, check); }

void BuddyHeap::init(const char* name, unsigned min_order, Decommit policy, size_t threshold,
                     uint64_t decay_ms) noexcept {
  lock();
  if (!ready_.load(std::memory_order_relaxed)) {
    name_ = name;
    if (min_order < 4) min_order = 4;
    if (min_order > kPageOrder) min_order = kPageOrder;
    min_order_ = min_order;
    levels_ = kRegionOrder - min_order + 1;
    policy_ = policy;
    threshold_ = threshold;
    decay_ms_ = decay_ms < 1 ? 1 : decay_ms;
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
  region_dirty_[slot] = false;
  if (slot == nslots_) ++nslots_;
  ++live_regions_;
  ++free_blocks_[kRegionOrder];
  return r;
}

void BuddyHeap::note_root_locked(Region* r) noexcept {
  const uint8_t root = ld(r, 1);
  region_code_[r->slot] = uint8_t(cd(root));
  region_dirty_[r->slot] = dirty_below(root);
}

void BuddyHeap::release_region_locked(Region* r) noexcept {
  radix_slot(r->base, false)->store(0, std::memory_order_release);
  --free_blocks_[kRegionOrder];
  size_t d = size_t(r->dirty_pages) << kPageOrder;
  dirty_free_bytes_ = dirty_free_bytes_ > d ? dirty_free_bytes_ - d : 0;
  regions_[r->slot] = nullptr;
  region_code_[r->slot] = 0;
  region_dirty_[r->slot] = false;
  while (nslots_ && !regions_[nslots_ - 1]) --nslots_;
  --live_regions_;
  ++regions_released_;
  os::release(r->base, kRegionSize);
  os::release(r, meta_bytes_);
}

}  // namespace heapmark::buddy
