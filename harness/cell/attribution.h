// Who holds the resident memory at a phase end (heapmark-cell --attribute).
// Every live block's page range is laid over the heap's pages (the process's
// private anonymous mappings from /proc/self/maps, less the cell's own tables
// and thread stacks), with mincore telling which pages are resident:
//  - a resident page holding live blocks gives each block's bytes on it to the
//    block's site, and its other bytes ("pinned": the allocator cannot return
//    the page while any of them lives) in equal shares to the blocks on it;
//  - a resident page with no live block is the allocator's (retained, or
//    LazyFree where /proc/kpageflags can say so);
//  - a page that is not resident was released, or never touched.
// Memory is bounded by the sites and the slots, never by the ops: counters
// per site and a fixed page-map message, no per-block log. Runs outside every
// timed window, without the heap.
#pragma once
#include <cstddef>
#include <cstdint>

#include "harness/cell/protocol.h"
#include "harness/metrics/procfs.h"
#include "workloads/scratch.h"

namespace heapmark::cell {

struct LiveBlock {
  uint64_t addr, size;
  uint32_t site, born_ms;
};
static_assert(sizeof(LiveBlock) == 24);

class Attribution {
 public:
  // `sites`: the program's site count (ids 1..sites; 0 = none); `max_blocks`:
  // the executor's slots; `threads`: how many stack addresses exclude() takes.
  Attribution(uint32_t sites, size_t max_blocks, uint32_t threads, workloads::Scratch& scratch);
  // The executor fills blocks()[0..n) before run().
  LiveBlock* blocks() noexcept { return blocks_; }
  // The mapping holding `inside` is the cell's own (a thread's stack).
  void exclude_mapping_of(uintptr_t inside) noexcept;
  // So is [lo, hi) (the Scratch tables: the kernel may merge or split their mapping).
  void exclude_range(uintptr_t lo, uintptr_t hi) noexcept;
  // Sorts the blocks and walks the pages. Returns the resident bytes of the
  // pages holding at least one live block (PhaseEnd::live_page_bytes) and fills
  // `sites` and `map`. `lazy_free`: smaps_rollup's LazyFree now (0: no page to tell apart).
  uint64_t run(size_t n, uint64_t clock_ms, uint64_t lazy_free, SitesMsg& sites, PageMapMsg& map) noexcept;

 private:
  struct Counts {
    uint64_t live, blocks;
    double pinned;
  };
  bool heap_mapping(size_t i) const noexcept;
  bool excluded_page(uint64_t page) const noexcept;
  bool resident(uint64_t page) noexcept;
  bool lazy(uint64_t page) noexcept;
  int find_mapping(uint64_t page) const noexcept;
  void select_sites(uint64_t clock_ms, size_t n, SitesMsg& out) noexcept;

  uint32_t sites_;
  LiveBlock* blocks_;
  Counts* counts_;     // per site, 0..sites_
  uint32_t* order_;    // site ids, for choosing the ones that travel
  uint8_t* listed_;    // per site: its item index + 1 in SitesMsg, 0 = not listed
  uint32_t* ages_;     // per listed site (and site 0): age histogram
  uintptr_t* stacks_;  // addresses inside the cell's thread stacks
  uint32_t stack_count_ = 0, stack_cap_;
  uintptr_t range_lo_ = 0, range_hi_ = 0;  // the Scratch tables
  metrics::procfs::Mapping* maps_;
  uint8_t* heap_;  // per mapping: heap_mapping(), for this run
  size_t map_count_ = 0;
  // mincore over a window of one mapping at a time
  static constexpr size_t kWindow = 4096;
  unsigned char* window_;
  uint64_t window_lo_ = 0, window_hi_ = 0;
  // LazyFree from /proc/self/pagemap and /proc/kpageflags (readable by root only)
  int pagemap_fd_ = -2, kpageflags_fd_ = -2;
  bool lazy_known_ = false;
};

}  // namespace heapmark::cell
