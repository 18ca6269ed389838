// Unit tests of the buddy engine and Core: coalescing (a freed pair always
// coalesces), the tree summary against a full recount, decommit policies,
// region release, the region dump, huge mappings, hardening and threads.
#include <gtest/gtest.h>

#include <cerrno>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "buddy/buddy_core.h"
#include "buddy/buddy_heap.h"
#include "os/os.h"
#include "shim/env.h"
#include "fork_check.h"

using namespace heapmark::buddy;

namespace {
unsigned long long stat(BuddyHeap& h, const char* name) {
  heapmark_stat s[128];
  size_t n = h.stats(s, 128);
  for (size_t i = 0; i < n; ++i)
    if (strcmp(s[i].name, name) == 0) return s[i].value;
  ADD_FAILURE() << "no stat " << name;
  return 0;
}
void expect_check(BuddyHeap& h) {
  char why[200];
  EXPECT_TRUE(h.check(why, sizeof why)) << why;
}
size_t resident(void* p, size_t n) {
  std::vector<unsigned char> v(n / 4096);
  EXPECT_EQ(mincore(p, n, v.data()), 0) << "mincore(" << p << ", " << n << "): " << strerror(errno);
  size_t r = 0;
  for (auto c : v) r += c & 1;
  return r;
}
// Each test gets a fresh heap (the engine is instantiable; the Core uses one
// global), released and deleted at the end of the test.
struct Fresh {
  Fresh() = default;
  Fresh(Fresh&&) = default;
  std::unique_ptr<BuddyHeap> h = std::make_unique<BuddyHeap>();
  BuddyHeap* operator->() { return h.get(); }
  BuddyHeap& operator*() { return *h; }
  ~Fresh() {
    if (h) h->release();
  }
};
Fresh fresh(Decommit d, size_t threshold = 0) {
  Fresh f;
  f->init("buddy", 4, d, threshold);
  return f;
}
}  // namespace

TEST(BuddyHeap, OrderRounding) {
  Fresh h = fresh(Decommit::kNever);
  EXPECT_EQ(h->order_for(1), 4u);
  EXPECT_EQ(h->order_for(16), 4u);
  EXPECT_EQ(h->order_for(17), 5u);
  EXPECT_EQ(h->order_for(4096), 12u);
  EXPECT_EQ(h->order_for(4097), 13u);
  for (size_t n : {1, 17, 100, 4095, 70000, 1 << 20}) {
    void* p = h->alloc(n);
    EXPECT_EQ(h->usable_size(p), size_t(1) << h->order_for(n));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (size_t(1) << h->order_for(n)), 0u) << "natural alignment";
    h->free(p);
  }
}

TEST(BuddyHeap, FreedPairAlwaysCoalescesAndSummaryMatchesRecount) {
  Fresh h = fresh(Decommit::kThreshold, 1 << 20);
  std::mt19937 rng(42);
  std::vector<void*> live;
  for (int step = 0; step < 20000; ++step) {
    if (live.empty() || rng() % 100 < 55) {
      size_t n = size_t(1) << (rng() % 17);
      n += rng() % n;
      void* p = h->alloc(n);
      ASSERT_NE(p, nullptr);
      live.push_back(p);
    } else {
      size_t k = rng() % live.size();
      h->free(live[k]);
      live[k] = live.back();
      live.pop_back();
    }
    if (step % 997 == 0) expect_check(*h);  // check() fails on any uncoalesced free pair
  }
  expect_check(*h);
  for (void* p : live) h->free(p);
  expect_check(*h);
  // Everything free again: one whole free region (whichever was kept), no used block, nothing split.
  EXPECT_EQ(stat(*h, "free_order_22"), 1u);
  EXPECT_EQ(stat(*h, "in_use_bytes"), 0u);
  EXPECT_EQ(stat(*h, "regions"), 1u);
  size_t blocks = 0;
  BlockEntry e[4];
  for (size_t slot = 0; slot < 64; ++slot)
    if (size_t n = h->dump_region(slot, e, 4)) {
      blocks += n;
      EXPECT_EQ(e[0].state, BlockState::kFree);
    }
  EXPECT_EQ(blocks, 1u);
}

// The thread caches' paths: batches taken (free blocks of the order first,
// then runs split at once) and given back by order, mixed with single calls;
// block_order agrees with usable_size on every live block; the summaries and
// coalescing stay right after every step (check() recounts every node, so an
// ascent that stopped early on a stale code fails here), and everything
// coalesces back to one free region.
TEST(BuddyHeap, BatchesAndRunsKeepTheTreeRight) {
  Fresh h = fresh(Decommit::kThreshold, 1 << 20);
  std::mt19937 rng(7);
  std::vector<std::pair<void*, unsigned>> live;
  void* batch[128];
  for (int step = 0; step < 6000; ++step) {
    const unsigned op = rng() % 100;
    if (live.empty() || op < 35) {
      const unsigned order = 4 + rng() % 8;
      const size_t want = 1 + rng() % 128;
      const size_t got = h->alloc_batch(order, batch, want);
      ASSERT_EQ(got, want) << "order " << order;
      for (size_t k = 0; k < got; ++k) live.emplace_back(batch[k], order);
    } else if (op < 55) {
      const size_t n = 1 + rng() % 5000;
      void* p = h->alloc(n);
      ASSERT_NE(p, nullptr);
      live.emplace_back(p, h->order_for(n));
    } else if (op < 80) {
      // A batch of one order, as a cache flush gives it.
      const unsigned order = live[rng() % live.size()].second;
      size_t n = 0;
      for (size_t k = 0; k < live.size() && n < 128;)
        if (live[k].second == order && rng() % 2) {
          batch[n++] = live[k].first;
          live[k] = live.back();
          live.pop_back();
        } else {
          ++k;
        }
      h->free_batch(order, batch, n);
    } else {
      const size_t k = rng() % live.size();
      ASSERT_EQ(h->block_order(live[k].first), live[k].second);
      ASSERT_EQ(h->usable_size(live[k].first), size_t(1) << live[k].second);
      h->free(live[k].first);
      live[k] = live.back();
      live.pop_back();
    }
    if (step % 61 == 0) expect_check(*h);
  }
  expect_check(*h);
  for (const auto& [p, order] : live) EXPECT_EQ(h->block_order(p), order);
  EXPECT_EQ(h->block_order(static_cast<char*>(live[0].first) + 8), 0u) << "not a block start";
  for (const auto& [p, order] : live) h->free(p);
  expect_check(*h);
  EXPECT_EQ(stat(*h, "in_use_bytes"), 0u);
  EXPECT_EQ(stat(*h, "free_order_22"), 1u) << "everything coalesced back into one free region";
}

TEST(BuddyHeap, PairCoalescesStepByStep) {
  Fresh h = fresh(Decommit::kNever);
  char* a = static_cast<char*>(h->alloc(16));
  char* b = static_cast<char*>(h->alloc(16));
  EXPECT_EQ(b, a + 16) << "buddies are adjacent";
  EXPECT_EQ(stat(*h, "used_order_4"), 2u);
  h->free(a);
  EXPECT_EQ(stat(*h, "free_order_4"), 1u);  // a's buddy b is used: no merge yet
  h->free(b);
  EXPECT_EQ(stat(*h, "free_order_4"), 0u);
  EXPECT_EQ(stat(*h, "free_order_22"), 1u);  // merged all the way up
  expect_check(*h);
}

TEST(BuddyHeap, DumpShowsBlocks) {
  Fresh h = fresh(Decommit::kNever);
  void* p = h->alloc(16);
  void* q = h->alloc(4096);
  char buf[4096];
  size_t need = h->dump_text(buf, sizeof buf);
  EXPECT_LT(need, sizeof buf);
  std::string s(buf);
  EXPECT_NE(s.find("region 0 "), std::string::npos) << s;
  EXPECT_NE(s.find(" [0:16] (16:16) (32:32)"), std::string::npos) << s;
  EXPECT_NE(s.find(" [4096:4096]"), std::string::npos) << s;
  EXPECT_NE(s.find(" (2097152:2097152)"), std::string::npos) << s;
  BlockEntry e[64];
  size_t n = h->dump_region(0, e, 64);
  ASSERT_GT(n, 3u);
  EXPECT_EQ(e[0].state, BlockState::kSplit);
  EXPECT_EQ(e[0].order, kRegionOrder);
  char tiny[8];
  EXPECT_EQ(h->dump_text(tiny, sizeof tiny), need);  // truncation reports the full length
  EXPECT_EQ(strlen(tiny), 7u);
  h->free(p);
  h->free(q);
}

TEST(BuddyHeap, EagerDecommitsAtOnce) {
  Fresh h = fresh(Decommit::kEager);
  std::vector<char*> v;
  for (int i = 0; i < 32; ++i) {
    char* p = static_cast<char*>(h->alloc(64 << 10));
    memset(p, 1, 64 << 10);
    v.push_back(p);
  }
  size_t before = h->decommitted_bytes();
  h->free(v[3]);
  EXPECT_EQ(h->decommitted_bytes() - before, size_t(64) << 10);
  EXPECT_EQ(resident(v[3], 64 << 10), 0u);
  // Small blocks: the page is decommitted when its last block goes.
  char* s1 = static_cast<char*>(h->alloc(100));
  char* s2 = static_cast<char*>(h->alloc(100));
  memset(s1, 1, 100);
  memset(s2, 1, 100);
  size_t mid = h->decommitted_bytes();
  h->free(s1);
  EXPECT_EQ(h->decommitted_bytes(), mid);
  h->free(s2);
  EXPECT_GE(h->decommitted_bytes() - mid, 4096u);
  for (size_t i = 0; i < v.size(); ++i)
    if (i != 3) h->free(v[i]);
  EXPECT_EQ(stat(*h, "dirty_free_bytes"), 0u);
  expect_check(*h);
}

TEST(BuddyHeap, ThresholdBatchesDecommit) {
  Fresh h = fresh(Decommit::kThreshold, 1 << 20);
  std::vector<char*> v;
  for (int i = 0; i < 48; ++i) {
    char* p = static_cast<char*>(h->alloc(64 << 10));
    memset(p, 1, 64 << 10);
    v.push_back(p);
  }
  size_t before = h->decommitted_bytes();
  for (int i = 0; i < 16; ++i) h->free(v[2 * i]);  // 1 MiB free, at the threshold: kept
  EXPECT_EQ(h->decommitted_bytes(), before);
  EXPECT_EQ(stat(*h, "dirty_free_bytes"), size_t(1) << 20);
  h->free(v[33]);  // crosses it: everything dirty and free is purged in one pass
  EXPECT_GE(h->decommitted_bytes() - before, (size_t(1) << 20) + (64 << 10));
  EXPECT_EQ(stat(*h, "dirty_free_bytes"), 0u);
  EXPECT_EQ(stat(*h, "purges"), 1u);
  // Reusing a purged block and freeing it again counts it dirty again.
  char* p = static_cast<char*>(h->alloc(64 << 10));
  memset(p, 2, 64 << 10);
  h->free(p);
  EXPECT_EQ(stat(*h, "dirty_free_bytes"), size_t(64) << 10);
  expect_check(*h);
}

// Decay: a page goes back only once it has stayed free from one tick to the
// next (ticks at most once a period, inside calls that take the lock), so no
// earlier than a period after its free; a page written again before that is
// not touched, however many ticks pass.
TEST(BuddyHeap, DecayReturnsPagesLeftFreeAndSparesPagesReused) {
  constexpr uint64_t kPeriodMs = 20;
  Fresh h;
  h->init("buddy", 4, Decommit::kDecay, 0, kPeriodMs);
  char* keep = static_cast<char*>(h->alloc(100));  // the region is never wholly free
  char* hot = static_cast<char*>(h->alloc(64 << 10));
  char* cold = static_cast<char*>(h->alloc(64 << 10));
  memset(hot, 1, 64 << 10);
  memset(cold, 1, 64 << 10);
  const uint64_t freed_ms = heapmark::os::monotonic_ms();  // before: a tick inside the free starts its age
  h->free(cold);
  EXPECT_EQ(h->decommitted_bytes(), 0u);
  EXPECT_EQ(stat(*h, "dirty_free_bytes"), size_t(64) << 10);
  // The hot block is freed and taken again (best fit: the same block), the
  // calls ticking as they go, until the cold one has gone back.
  const uint64_t deadline = freed_ms + 30000;
  while (h->decommitted_bytes() == 0 && heapmark::os::monotonic_ms() < deadline) {
    h->free(hot);
    ASSERT_EQ(h->alloc(64 << 10), hot);
    memset(hot, 2, 64 << 10);
  }
  const uint64_t took_ms = heapmark::os::monotonic_ms() - freed_ms;
  ASSERT_EQ(h->decommitted_bytes(), size_t(64) << 10) << "the cold block's pages, and only them";
  EXPECT_GE(took_ms, kPeriodMs) << "a page goes back no earlier than a period after its free";
  EXPECT_EQ(resident(cold, 64 << 10), 0u);
  EXPECT_EQ(resident(hot, 64 << 10), 16u);
  EXPECT_EQ(stat(*h, "dirty_free_bytes"), 0u);
  // Many more periods of reuse: the hot block's pages stay.
  const uint64_t until = heapmark::os::monotonic_ms() + 10 * kPeriodMs;
  while (heapmark::os::monotonic_ms() < until) {
    h->free(hot);
    ASSERT_EQ(h->alloc(64 << 10), hot);
  }
  EXPECT_EQ(h->decommitted_bytes(), size_t(64) << 10);
  EXPECT_EQ(resident(hot, 64 << 10), 16u);
  // The cold block is taken again: its pages are dirty again, and decay again once freed.
  char* again = static_cast<char*>(h->alloc(64 << 10));
  EXPECT_EQ(again, cold);
  memset(again, 3, 64 << 10);
  h->free(again);
  EXPECT_EQ(stat(*h, "dirty_free_bytes"), size_t(64) << 10);
  heapmark_horizon hz = h->horizon();
  EXPECT_EQ(hz.ms, 2 * kPeriodMs);
  EXPECT_EQ(hz.background, 0);
  h->free(hot);
  h->free(keep);
  expect_check(*h);
}

// A request of a page or more goes where freed pages are still resident before
// it touches clean ones, even when best fit would pick a clean block of exactly
// its size: a clean page costs a fault and grows the resident set while the
// dirty ones sit unused (sqlite under slab peaked 0.3 MiB higher that way).
TEST(BuddyHeap, AllocationReusesDirtyFreePagesBeforeCleanOnes) {
  Fresh h;
  h->init("buddy", 12, Decommit::kNever, 0);
  char* big = static_cast<char*>(h->alloc(kRegionSize / 2));  // the left half
  memset(big, 1, kRegionSize / 2);
  char* small = static_cast<char*>(h->alloc(64 << 10));  // splits the right half: a clean 64 KiB buddy beside it
  ASSERT_EQ(size_t(small - big), kRegionSize / 2);
  h->free(big);
  EXPECT_EQ(stat(*h, "dirty_free_bytes"), kRegionSize / 2);
  char* p = static_cast<char*>(h->alloc(64 << 10));
  EXPECT_LT(size_t(p - big), kRegionSize / 2) << "took the clean buddy of the small block, not the freed pages";
  EXPECT_EQ(resident(p, 64 << 10), 16u) << "its pages were resident before it was handed out";
  EXPECT_EQ(stat(*h, "dirty_free_bytes"), kRegionSize / 2 - (64 << 10));
  expect_check(*h);  // the dirty summaries match a recount from the page bits
  // Once the freed pages are decommitted, best fit again: the exact clean block beside the small one.
  h->release();
  h->free(p);
  h->release();
  EXPECT_EQ(stat(*h, "dirty_free_bytes"), 0u);
  char* q = static_cast<char*>(h->alloc(64 << 10));
  EXPECT_EQ(size_t(q - small), size_t(64) << 10);
  expect_check(*h);
  h->free(q);
  h->free(small);
}

// Decay keeps a wholly free region until its pages have gone (one region is
// kept, as under the other policies), so a region freed and taken again within
// a period is not unmapped and mapped again.
TEST(BuddyHeap, DecayReleasesAWhollyFreeRegionOnceItsPagesHaveGone) {
  Fresh h;
  h->init("buddy", 4, Decommit::kDecay, 0, 5);
  char* b = static_cast<char*>(h->alloc(kRegionSize / 2));  // the first region: the calls below take from it
  char* a = static_cast<char*>(h->alloc(kRegionSize));
  memset(a, 1, 1 << 20);
  memset(b, 1, 1 << 20);
  // The first region holds dirty free pages too (allocations go to the first region with dirty free pages).
  char* warm = static_cast<char*>(h->alloc(kRegionSize / 4));
  ASSERT_LT(size_t(warm - b), kRegionSize);
  memset(warm, 1, 64 << 10);
  h->free(warm);
  h->free(a);
  EXPECT_EQ(stat(*h, "regions"), 2u) << "a region freed now is kept until its pages decay";
  const uint64_t deadline = heapmark::os::monotonic_ms() + 30000;
  while (stat(*h, "regions") == 2u && heapmark::os::monotonic_ms() < deadline) {
    char* p = static_cast<char*>(h->alloc(64 << 10));
    ASSERT_LT(size_t(p - b), kRegionSize) << "activity in the first region";
    memset(p, 1, 64 << 10);
    h->free(p);
  }
  EXPECT_EQ(stat(*h, "regions"), 1u);
  EXPECT_EQ(stat(*h, "regions_released"), 1u);
  h->free(b);
  expect_check(*h);
}

TEST(BuddyHeap, NeverKeepsPagesUntilRelease) {
  Fresh h = fresh(Decommit::kNever);
  std::vector<char*> v;
  for (int i = 0; i < 96; ++i) {  // 1.5 regions of 64 KiB blocks
    char* p = static_cast<char*>(h->alloc(64 << 10));
    memset(p, 1, 64 << 10);
    v.push_back(p);
  }
  EXPECT_EQ(stat(*h, "regions"), 2u);
  for (char* p : v) h->free(p);
  EXPECT_EQ(h->decommitted_bytes(), 0u);
  EXPECT_EQ(stat(*h, "regions"), 2u);
  h->release();
  EXPECT_EQ(stat(*h, "regions"), 0u);
  EXPECT_EQ(stat(*h, "regions_released"), 2u);
}

TEST(BuddyHeap, WhollyFreeRegionReleasedKeepingOne) {
  Fresh h = fresh(Decommit::kEager);
  auto c0 = heapmark::os::counters();
  void* a = h->alloc(kRegionSize);
  void* b = h->alloc(kRegionSize);
  void* c = h->alloc(kRegionSize);
  EXPECT_EQ(stat(*h, "regions"), 3u);
  h->free(a);
  h->free(b);
  EXPECT_EQ(stat(*h, "regions"), 1u);
  h->free(c);
  EXPECT_EQ(stat(*h, "regions"), 1u) << "the last free region is kept";
  h->release();
  EXPECT_EQ(stat(*h, "regions"), 0u);
  auto c1 = heapmark::os::counters();
  EXPECT_GE(c1.released - c0.released, 3 * kRegionSize);
}

TEST(BuddyHeap, HugeRequestsGetTheirOwnMapping) {
  Fresh h = fresh(Decommit::kEager);
  auto c0 = heapmark::os::counters();
  char* p = static_cast<char*>(h->alloc(kRegionSize + 1));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(h->usable_size(p), kRegionSize + 4096);
  EXPECT_TRUE(h->owns(p));
  EXPECT_FALSE(h->owns(p + 4096));
  EXPECT_EQ(stat(*h, "mapped_count"), 1u);
  EXPECT_EQ(stat(*h, "regions"), 0u);
  p[kRegionSize] = 1;
  void* q = h->alloc_aligned(size_t(16) << 20, 100);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % (size_t(16) << 20), 0u);
  h->free(q);
  h->free(p);
  EXPECT_EQ(stat(*h, "mapped_bytes"), 0u);
  EXPECT_GE(heapmark::os::counters().released - c0.released, kRegionSize + 4096);
}

TEST(BuddyHeap, AlignedBlocks) {
  Fresh h = fresh(Decommit::kNever);
  for (size_t a = 32; a <= kRegionSize; a <<= 1) {
    void* p = h->alloc_aligned(a, 24);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % a, 0u) << a;
    h->free(p);
  }
  expect_check(*h);
}

TEST(BuddyDeath, DiagnosticsNameTheCheck) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Fresh h = fresh(Decommit::kNever);
  EXPECT_DEATH(
      {
        void* p = h->alloc(64);
        h->free(p);
        h->free(p);
      },
      "^buddy: free\\(\\): double free detected");
  EXPECT_DEATH(h->free(static_cast<char*>(h->alloc(64)) + 16), "buddy: free\\(\\): invalid pointer \\(not the start");
  EXPECT_DEATH(
      {
        int x;
        h->free(&x);
      },
      "buddy: free\\(\\): invalid pointer \\(not in any region");
  EXPECT_DEATH(h->free(static_cast<char*>(h->alloc(kRegionSize * 2)) + 64), "invalid pointer \\(inside a huge");
  Fresh other = fresh(Decommit::kNever);
  EXPECT_DEATH(other->free(h->alloc(64)), "another heap");
}

// The Core's thread caches: freed small blocks wait in the thread's lists,
// counted as thread_cache_bytes (among the first items, so a caller asking
// for few gets it) and not as live; release() and the thread's exit return
// them; a second free of a cached block aborts.
TEST(BuddyCore, ThreadCacheBytesAreCountedApartAndReturned) {
  auto stat_of = [](const char* name, size_t max = 64) -> long long {
    heapmark_stat items[64];
    const size_t n = Core::stats(items, max);
    for (size_t i = 0; i < n; ++i)
      if (strcmp(items[i].name, name) == 0) return static_cast<long long>(items[i].value);
    return -1;
  };
  std::thread([&] {
    Core::release();
    const long long live0 = stat_of("live_bytes");
    std::vector<void*> blocks;
    for (int i = 0; i < 100; ++i) blocks.push_back(Core::alloc(64));
    EXPECT_EQ(stat_of("live_bytes"), live0 + 100 * 64);
    const long long refilled = stat_of("thread_cache_bytes");  // a refill takes half a list at once
    EXPECT_GE(refilled, 0);
    for (void* p : blocks) Core::free(p);
    EXPECT_EQ(stat_of("thread_cache_bytes", 8), refilled + 100 * 64) << "beside live_bytes, within 8 items";
    EXPECT_EQ(stat_of("live_bytes"), live0) << "cached blocks are not live";
    void* again = Core::alloc(64);
    EXPECT_EQ(stat_of("thread_cache_bytes"), refilled + 99 * 64) << "a malloc of the size takes a cached block";
    Core::free(again);
    Core::release();
    EXPECT_EQ(stat_of("thread_cache_bytes"), 0) << "release() flushes the calling thread's cache";
    for (int i = 0; i < 10; ++i) blocks[i] = Core::alloc(32);
    for (int i = 0; i < 10; ++i) Core::free(blocks[i]);
  }).join();
  EXPECT_EQ(stat_of("thread_cache_bytes"), 0) << "a thread's exit flushes its cache";
  void* p = Core::alloc(48);
  Core::free(p);
  EXPECT_DEATH(Core::free(p), "double free detected");
  Core::release();
}

TEST(BuddyCore, ThreadsWithCrossThreadFrees) {
  constexpr int kThreads = 4;
  std::vector<std::vector<void*>> handoff(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([t, &handoff] {
      std::mt19937 rng(t);
      std::vector<std::pair<unsigned char*, size_t>> live;
      for (int i = 0; i < 20000; ++i) {
        if (live.size() < 200 && rng() % 2) {
          size_t n = 1 + rng() % (rng() % 8 == 0 ? 100000 : 500);
          auto* p = static_cast<unsigned char*>(Core::alloc(n));
          ASSERT_NE(p, nullptr);
          memset(p, (t * 31 + n) & 0xff, n);
          live.push_back({p, n});
        } else if (!live.empty()) {
          auto [p, n] = live.back();
          live.pop_back();
          ASSERT_EQ(p[n - 1], (t * 31 + n) & 0xff);
          ASSERT_EQ(p[0], (t * 31 + n) & 0xff);
          Core::free(p);
        }
      }
      for (auto& [p, n] : live) handoff[t].push_back(p);
    });
  for (auto& th : ts) th.join();
  for (int t = 0; t < kThreads; ++t)  // freed by another thread than the one that allocated
    for (void* p : handoff[t]) Core::free(p);
  char why[200];
  EXPECT_TRUE(global_heap().check(why, sizeof why)) << why;
}

// The policy names through the shared strict parser (shim/env.h; its own
// tests are tests/unit/core_contract_test.cc): an unknown name is an error, not a default.
TEST(BuddyCore, ParseSettings) {
  using heapmark::shim::parse_choice;
  using heapmark::shim::parse_size;
  constexpr size_t n = std::size(kDecommitNames);
  EXPECT_EQ(parse_choice("eager", kDecommitNames, n), int(Decommit::kEager));
  EXPECT_EQ(parse_choice("threshold", kDecommitNames, n), int(Decommit::kThreshold));
  EXPECT_EQ(parse_choice("never", kDecommitNames, n), int(Decommit::kNever));
  EXPECT_EQ(parse_choice("decay", kDecommitNames, n), int(Decommit::kDecay));
  EXPECT_EQ(parse_choice("bogus", kDecommitNames, n), -1);
  EXPECT_EQ(parse_choice(nullptr, kDecommitNames, n), -1);
  EXPECT_STREQ(decommit_name(Decommit::kNever), "never");
  size_t v = 0;
  EXPECT_TRUE(parse_size("8m", &v));
  EXPECT_EQ(v, size_t(8) << 20);
  EXPECT_TRUE(parse_size("123", &v));
  EXPECT_EQ(v, 123u);
  EXPECT_FALSE(parse_size("12x", &v));
  EXPECT_EQ(v, 123u);
}

// The Core's settings come from the environment at its first call; each check
// runs in a fresh process (threadsafe death-test style re-executes the test),
// so the global heap is initialised there with the variable set.
TEST(BuddyEnv, DecommitThresholdAcceptsEverySizeSpelling) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::pair<const char*, const char*> cases[] = {
      {"8MiB", "8388608"}, {"3MiB", "3145728"},  {"3M", "3145728"},      {"3m", "3145728"},
      {"3MB", "3145728"},  {"3072k", "3145728"}, {"3145728", "3145728"}, {"1GiB", "1073741824"}};
  for (auto [value, bytes] : cases)
    EXPECT_EXIT(
        {
          setenv("HEAPMARK_BUDDY_DECOMMIT_THRESHOLD", value, 1);
          fprintf(stderr, "threshold=%zu\n", global_heap().threshold());
          _exit(0);
        },
        ::testing::ExitedWithCode(0), std::string("threshold=") + bytes + "\n")
        << value;
}

TEST(BuddyEnvDeath, MalformedSettingsAbortNamingTheVariable) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        setenv("HEAPMARK_BUDDY_DECOMMIT_THRESHOLD", "8XB", 1);
        Core::free(Core::alloc(64));
      },
      "heapmark buddy: HEAPMARK_BUDDY_DECOMMIT_THRESHOLD='8XB' is not a size \\(e\\.g\\. 8M, 8MiB, 8388608\\)\n");
  EXPECT_DEATH(
      {
        setenv("HEAPMARK_BUDDY_DECOMMIT", "lazy", 1);
        Core::free(Core::alloc(64));
      },
      "heapmark buddy: HEAPMARK_BUDDY_DECOMMIT='lazy' is not one of eager\\|threshold\\|never\\|decay\n");
  EXPECT_DEATH(
      {
        setenv("HEAPMARK_BUDDY_MIN_BLOCK", "", 1);
        Core::free(Core::alloc(64));
      },
      "heapmark buddy: HEAPMARK_BUDDY_MIN_BLOCK='' is not a size");
}

TEST(BuddyCore, ForkWhileThreadsAllocate) {
  EXPECT_EQ(heapmark::testing::fork_while_threads_allocate<Core>(20), 20);
  char why[200];
  EXPECT_TRUE(global_heap().check(why, sizeof why)) << why;
}
