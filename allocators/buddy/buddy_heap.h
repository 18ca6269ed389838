// BuddyHeap: a binary buddy allocator over 4 MiB regions reserved through the
// OS contract. Bookkeeping lives apart from the managed memory: each region has
// its own metadata mapping holding a complete binary tree (one byte per node)
// whose nodes record their state (free / split / used), the largest free
// order below them and whether a free block below holds a dirty page, so
// allocation descends without backtracking (to dirty free pages first, then
// best fit) and free walks one path up: O(log n) per call. Requests above the
// region size get their own mapping. Used by the buddy allocator (min block
// 16 B) and, with page-sized minimum blocks, by the slab allocator for its
// slabs and large objects.
#pragma once
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <atomic>

#include "shim/introspect.h"

namespace heapmark::buddy {

inline constexpr unsigned kRegionOrder = 22;  // 4 MiB regions = the largest order
inline constexpr size_t kRegionSize = size_t(1) << kRegionOrder;
inline constexpr unsigned kPageOrder = 12;
inline constexpr size_t kRegionPages = kRegionSize >> kPageOrder;
inline constexpr size_t kMaxRegions = size_t(1) << 14;  // 64 GiB of regions per heap
inline constexpr uint64_t kDefaultDecayMs = 1000;

// When free pages inside regions go back to the OS (HEAPMARK_*_DECOMMIT):
//   kEager: a free decommits the pages of the free page-or-larger block it leaves;
//   kThreshold: once dirty free pages exceed the threshold, a free decommits them all;
//   kNever: only release() does;
//   kDecay: a page that stayed free and dirty from one tick to the next goes
//     back at the second (so after between one and two periods free); ticks
//     come at most once a period, from calls that take the heap's lock (no thread).
enum class Decommit : uint8_t { kEager, kThreshold, kNever, kDecay };
// The settings' spelling of each policy, indexed by its value (shim::env_choice).
inline constexpr const char* kDecommitNames[] = {"eager", "threshold", "never", "decay"};
inline const char* decommit_name(Decommit d) noexcept { return kDecommitNames[static_cast<int>(d)]; }

// One entry of a region dump (preorder; children of a split node follow it).
enum class BlockState : uint8_t { kFree = 1, kSplit = 2, kUsed = 3 };
struct BlockEntry {
  size_t offset;
  unsigned order;
  BlockState state;
};

class BuddyHeap;

// Per-region metadata, in its own mapping (never inside the managed memory).
struct Region {
  BuddyHeap* heap;
  char* base;
  uint32_t slot;
  uint32_t dirty_pages;                          // pages written since last decommit
  uint64_t dirty[kRegionPages / 64];             // 1 bit per page
  uint64_t decommitted[kRegionPages / 64];       // decommitted, not yet recommitted
  uint64_t aging[kRegionPages / 64];             // Decommit::kDecay: dirty and free at the last tick, untouched since
  std::atomic<uintptr_t> pagemap[kRegionPages];  // free for the heap's user (slab: page -> slab)
  // The tree follows the struct: 2^levels bytes, heap-indexed from 1 (root).
  std::atomic<uint8_t>* tree() noexcept { return reinterpret_cast<std::atomic<uint8_t>*>(this + 1); }
  const std::atomic<uint8_t>* tree() const noexcept { return reinterpret_cast<const std::atomic<uint8_t>*>(this + 1); }
};

// The radix map (radix_map.cc): p >> kRegionOrder to its Region* (low bit 0)
// or, for a huge mapping's first chunk, (size | heap id << 1 | 1). Two levels
// over a 48-bit address space, shared by every heap. Here, not in internal.h,
// because region_of is on the slab's free path: inline, it is one load per level.
inline constexpr unsigned kLeafBits = 13;
inline constexpr size_t kTopEntries = size_t(1) << (48 - kRegionOrder - kLeafBits);
inline constexpr size_t kLeafEntries = size_t(1) << kLeafBits;
// Hidden: resolved inside the one link unit (the preload .so or a test executable).
#pragma GCC visibility push(hidden)
extern std::atomic<std::atomic<uintptr_t>*> g_radix[kTopEntries];
#pragma GCC visibility pop

// The map's entry for p, or 0. Lock-free.
inline uintptr_t radix_get(const void* p) noexcept {
  const uintptr_t k = reinterpret_cast<uintptr_t>(p) >> kRegionOrder;
  const size_t top = k >> kLeafBits;
  if (top >= kTopEntries) return 0;
  const std::atomic<uintptr_t>* leaf = g_radix[top].load(std::memory_order_acquire);
  return leaf ? leaf[k & (kLeafEntries - 1)].load(std::memory_order_acquire) : 0;
}

// Looks up the region holding p (any heap), or nullptr. Lock-free.
inline Region* region_of(const void* p) noexcept {
  const uintptr_t e = radix_get(p);
  return (e & 1) ? nullptr : reinterpret_cast<Region*>(e);
}

class BuddyHeap {
 public:
  constexpr BuddyHeap() = default;
  // Must be called once before use. min_order in [4, 12]; threshold in bytes of
  // dirty free pages that triggers a purge under Decommit::kThreshold; decay_ms
  // the period of Decommit::kDecay's ticks (at least 1).
  // `name` prefixes diagnostics ("buddy: free(): double free detected").
  void init(const char* name, unsigned min_order, Decommit policy, size_t threshold,
            uint64_t decay_ms = kDefaultDecayMs) noexcept;
  bool initialised() const noexcept { return ready_.load(std::memory_order_acquire); }

  void* alloc(size_t n) noexcept;                        // n > 0
  void* alloc_aligned(size_t align, size_t n) noexcept;  // align power of two
  // Aborts with a one-line diagnostic on a double or invalid free.
  void free(void* p) noexcept;
  size_t usable_size(const void* p) const noexcept;  // p must be live
  // The order of the live region block that starts at p, read without the lock
  // (a live block's ancestors stay split, and no node below it is marked
  // used), or 0 when p starts none (a huge block, another heap's, or not a
  // block start: free() then names what is wrong).
  unsigned block_order(const void* p) const noexcept;
  // `n` blocks of one order under one lock (a thread cache's refill); returns
  // how many it got. While the heap counts free blocks of that order, blocks
  // are taken one by one as alloc takes them (best fit in the first region
  // that can serve); the rest come from larger blocks split at once.
  size_t alloc_batch(unsigned order, void** out, size_t n) noexcept;
  // Frees `n` region blocks of `order` under one lock (a thread cache's flush); each is checked as free() checks it.
  void free_batch(unsigned order, void* const* blocks, size_t n) noexcept;
  bool owns(const void* p) const noexcept;  // p is a live block start of this heap
  // Decommits every dirty free page and releases every wholly free region.
  void release() noexcept;
  // Decommit::kDecay: a tick, if a period has passed, for a user of the heap
  // whose own fast paths seldom reach it (the slab's magazine refills and
  // flushes). Takes the lock only then.
  void tick() noexcept;
  size_t stats(heapmark_stat* out, size_t max) noexcept;
  // Decommit settings and return horizon, for the introspection ABI (the buddy
  // and slab Cores report their heap's).
  size_t config(heapmark_stat* out, size_t max) const noexcept;
  heapmark_horizon horizon() const noexcept;

  // Block dump of the region in slot `slot` (preorder). Returns the number of
  // entries in the region (may exceed max; only max are written).
  size_t dump_region(size_t slot, BlockEntry* out, size_t max) noexcept;
  // Text map of every region: "(off:size)" free, "[off:size]" used, one line per
  // region. Returns the length it needed (writes at most len-1 chars + NUL).
  size_t dump_text(char* buf, size_t len) noexcept;
  // Full recount of every region's tree against the stored summaries; false
  // (and a reason in why) on the first disagreement or an uncoalesced free pair.
  bool check(char* why, size_t why_len) noexcept;

  void lock() noexcept { pthread_mutex_lock(&mu_); }
  void unlock() noexcept { pthread_mutex_unlock(&mu_); }
  void reinit_lock_after_fork() noexcept;

  unsigned min_order() const noexcept { return min_order_; }
  Decommit policy() const noexcept { return policy_; }
  size_t threshold() const noexcept { return threshold_; }
  uint64_t decay_ms() const noexcept { return decay_ms_; }
  size_t decommitted_bytes() const noexcept { return decommitted_.load(std::memory_order_relaxed); }
  size_t in_use_bytes() const noexcept { return in_use_.load(std::memory_order_relaxed); }

  // Block order serving n bytes (n <= kRegionSize).
  unsigned order_for(size_t n) const noexcept;

 private:
  void* alloc_order_locked(unsigned order) noexcept;
  Region* new_region_locked() noexcept;
  void release_region_locked(Region* r) noexcept;
  void free_in_region_locked(Region* r, void* p) noexcept;
  void free_node_locked(Region* r, size_t node, unsigned order) noexcept;  // node: a used block's
  size_t carve_locked(unsigned order, unsigned run, void** out) noexcept;
  Region* region_with_locked(unsigned order) const noexcept;  // the first holding a free block of `order` or larger
  Region* region_for_locked(unsigned order) const noexcept;   // where alloc looks first (dirty pages first)
  // region_code_ and region_dirty_ from the region's root.
  void note_root_locked(Region* r) noexcept;
  size_t purge_range_locked(Region* r, size_t first_page, size_t npages) noexcept;
  bool recommit_locked(Region* r, size_t first_page, size_t npages) noexcept;
  void purge_all_locked() noexcept;
  // Decommit::kDecay: at most once a period, on a call that holds the lock anyway.
  void decay_tick_locked() noexcept;
  // Once per call of alloc, free and the batches (not per block): reads the clock, then ticks when a period has
  // passed. A clock read per block cost py-json 2.7% of its time under buddy.
  void maybe_decay_tick_locked() noexcept {
    if (policy_ == Decommit::kDecay && dirty_free_bytes_ != 0) decay_tick_locked();
  }
  // Up to n free blocks of exactly `order` (below a page), marked used, in one
  // pruned walk per region instead of a descent from the root per block.
  size_t take_free_locked(unsigned order, void** out, size_t n) noexcept;
  void age_block_locked(Region* r, size_t node, unsigned order) noexcept;  // a free block's pages
  void purge_block_locked(Region* r, size_t node, unsigned order) noexcept;
  void refresh_dirty_locked(Region* r, size_t node, unsigned order) noexcept;
  void* alloc_huge(size_t align, size_t n) noexcept;

  [[noreturn]] void fail(const char* check) const noexcept;

  pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
  const char* name_ = "buddy";
  uintptr_t id_ = 0;  // 1..7, tags this heap's huge mappings in the radix map
  std::atomic<bool> ready_{false};
  unsigned min_order_ = 4;
  unsigned levels_ = 0;  // kRegionOrder - min_order + 1
  Decommit policy_ = Decommit::kThreshold;
  size_t threshold_ = 0;
  uint64_t decay_ms_ = kDefaultDecayMs;
  std::atomic<uint64_t> next_tick_ms_{0};  // read without the lock by tick()
  size_t meta_bytes_ = 0;
  size_t nslots_ = 0;  // high-water mark of used region slots
  size_t live_regions_ = 0;
  size_t dirty_free_bytes_ = 0;  // dirty pages inside wholly free page-or-larger blocks
  Region* regions_[kMaxRegions] = {};
  uint8_t region_code_[kMaxRegions] = {};  // root summary per slot, scanned to pick a region
  bool region_dirty_[kMaxRegions] = {};    // the root's kDirtyBelow per slot
  size_t used_blocks_[kRegionOrder + 1] = {};
  size_t free_blocks_[kRegionOrder + 1] = {};
  size_t purges_ = 0;
  std::atomic<size_t> in_use_{0};
  std::atomic<size_t> huge_bytes_{0}, huge_count_{0};
  std::atomic<size_t> decommitted_{0};
  size_t regions_released_ = 0;
};

}  // namespace heapmark::buddy
