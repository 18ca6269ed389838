// The attribution's arithmetic on memory whose layout the test controls: a
// private anonymous mapping with some pages touched (resident) and others not,
// and "live blocks" placed at known addresses, as the executor would pass them.
#include "harness/cell/attribution.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>

using namespace heapmark;
using cell::LiveBlock;
using cell::PageState;

namespace {

constexpr uint64_t kPage = 4096;

struct Heap {
  explicit Heap(size_t pages) : pages(pages) {
    void* m = mmap(nullptr, pages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(m, MAP_FAILED);
    base = static_cast<char*>(m);
  }
  ~Heap() { munmap(base, pages * kPage); }
  void touch(size_t page) { base[page * kPage] = 1; }
  uint64_t at(size_t page, size_t offset = 0) const {
    return reinterpret_cast<uintptr_t>(base) + page * kPage + offset;
  }
  char* base;
  size_t pages;
};

const cell::SiteFigures* find(const cell::SitesMsg& m, uint32_t site) {
  for (uint32_t i = 0; i < m.count; ++i)
    if (m.items[i].site == site) return &m.items[i];
  return nullptr;
}

TEST(Attribution, SplitsPagesIntoLivePinnedAndTheAllocatorsOwn) {
  workloads::Scratch scratch(size_t{64} << 20);
  cell::Attribution a(3, 16, 1, scratch);
  a.exclude_range(scratch.begin(), scratch.end());
  Heap h(8);
  for (size_t p : {0, 1, 2, 3, 5}) h.touch(p);  // 4, 6, 7 never touched; 5 resident, holding no block
  LiveBlock* b = a.blocks();
  size_t n = 0;
  b[n++] = LiveBlock{h.at(0, 0), 64, 1, 10};  // page 0: two 64-byte blocks of sites 1 and 2
  b[n++] = LiveBlock{h.at(0, 2048), 64, 2, 20};
  b[n++] = LiveBlock{h.at(1, 0), 2 * kPage, 3, 30};  // pages 1-2: one dense block of site 3
  b[n++] = LiveBlock{h.at(3, 100), 16, 1, 40};       // page 3: one 16-byte block of site 1
  cell::SitesMsg sites;
  cell::PageMapMsg map;
  const uint64_t live_pages = a.run(n, 1000, 0, sites, map);
  EXPECT_EQ(live_pages, 4 * kPage);  // pages 0-3 hold live blocks and are resident
  const auto* s1 = find(sites, 1);
  const auto* s2 = find(sites, 2);
  const auto* s3 = find(sites, 3);
  ASSERT_TRUE(s1 && s2 && s3);
  // Page 0: 4096 - 128 pinned, halved between its two blocks; page 3: 4096 - 16 to site 1 alone.
  EXPECT_DOUBLE_EQ(s1->pinned, (kPage - 128) / 2.0 + (kPage - 16));
  EXPECT_DOUBLE_EQ(s2->pinned, (kPage - 128) / 2.0);
  EXPECT_DOUBLE_EQ(s3->pinned, 0);
  EXPECT_EQ(s1->live, 80u);
  EXPECT_EQ(s1->blocks, 2u);
  EXPECT_EQ(s3->live, 2 * kPage);
  // Sites sorted by pinned bytes first: site 1 leads.
  EXPECT_EQ(sites.items[0].site, 1u);
  // Ages on the program's clock: site 3's one block is 1000 - 30 ms old (to the histogram's resolution).
  EXPECT_NEAR(static_cast<double>(s3->median_age_ms), 970.0, 970.0 * 0.2);
  // Pages by state over the whole process: only this mapping holds live blocks, so exactly 2
  // dense (the big block) and 2 sparse pages; its other pages add to the rest of the heap's.
  EXPECT_EQ(map.pages[static_cast<int>(PageState::kDense)], 2u);
  EXPECT_EQ(map.pages[static_cast<int>(PageState::kSparse)], 2u);
  EXPECT_GE(map.pages[static_cast<int>(PageState::kRetained)], 1u);
  EXPECT_GE(map.pages[static_cast<int>(PageState::kReleased)], 3u);
  EXPECT_GE(map.mappings, 1u);
}

TEST(Attribution, LeavesTheCellsOwnTablesOutOfTheHeap) {
  workloads::Scratch scratch(size_t{64} << 20);
  cell::Attribution a(0, 4, 1, scratch);
  a.exclude_range(scratch.begin(), scratch.end());
  auto* mine = static_cast<char*>(scratch.allocate(size_t{1} << 20));  // resident, in the excluded range
  std::memset(mine, 1, size_t{1} << 20);
  cell::SitesMsg sites;
  cell::PageMapMsg with;
  a.run(0, 0, 0, sites, with);
  cell::Attribution b(0, 4, 1, scratch);  // the same process, nothing excluded: the tables count as heap
  cell::PageMapMsg without;
  b.run(0, 0, 0, sites, without);
  EXPECT_GE(without.pages[static_cast<int>(PageState::kRetained)],
            with.pages[static_cast<int>(PageState::kRetained)] + 256);
  EXPECT_EQ(sites.unknown.blocks, 0u);
  EXPECT_EQ(sites.clock_ms, 0u);
}

TEST(Attribution, ShowsLongReleasedRunsShortened) {
  workloads::Scratch scratch(size_t{64} << 20);
  cell::Attribution a(0, 4, 1, scratch);
  a.exclude_range(scratch.begin(), scratch.end());
  cell::SitesMsg sites;
  cell::PageMapMsg before;
  a.run(0, 0, 0, sites, before);
  Heap h(4096);  // 16 MiB never touched
  cell::PageMapMsg after;
  a.run(0, 0, 0, sites, after);
  EXPECT_GE(after.pages[static_cast<int>(PageState::kReleased)],
            before.pages[static_cast<int>(PageState::kReleased)] + 4096);
  EXPECT_LE(after.shown_pages, before.shown_pages + 64);  // a 4096-page run is shown as 64 pages
  EXPECT_LE(after.buckets, cell::PageMapMsg::kBuckets);
}

}  // namespace
