// Unit tests of the slab allocator: the size-class waste bound and slab
// geometry, the census invariant (every object on exactly one of: a magazine, a
// slab free list, allocated) under single- and multi-threaded use with
// cross-thread frees, the empty-slab reserve, the large path and hardening.
#include <gtest/gtest.h>
#include <string.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "buddy/buddy_heap.h"
#include "os/os.h"
#include "slab/slab_core.h"
#include "fork_check.h"

using namespace heapmark::slab;

namespace {
unsigned long long stat(const char* name) {
  heapmark_stat s[256];
  size_t n = Core::stats(s, 256);
  for (size_t i = 0; i < n; ++i)
    if (strcmp(s[i].name, name) == 0) return s[i].value;
  ADD_FAILURE() << "no stat " << name;
  return 0;
}
void expect_census(const std::vector<void*>& live) {
  char why[256];
  EXPECT_TRUE(census(live.data(), live.size(), why, sizeof why)) << why;
}
}  // namespace

TEST(SlabClasses, WasteBoundForEverySize) {
  for (size_t n = 1; n <= kMaxClass; ++n) {
    unsigned c = class_of(n);
    ASSERT_LT(c, kClasses) << n;
    size_t size = class_size(c);
    ASSERT_GE(size, n);
    ASSERT_LT(size - n, std::max<size_t>(16, n / 8)) << "waste bound broken at " << n;
    if (n > 1024 && n <= 2048) {  // sixteen classes there: sqlite's 1,032 B objects
      ASSERT_LT(size - n, n / 16) << "waste bound for (1 KiB, 2 KiB] broken at " << n;
    }
    if (c > 0) {
      ASSERT_LT(class_size(c - 1), n) << "not the smallest class for " << n;
    }
    ASSERT_EQ(size % 16, 0u);
  }
  EXPECT_EQ(class_size(kClasses - 1), kMaxClass);
}

TEST(SlabClasses, GeometryAndFastIndex) {
  for (unsigned c = 0; c < kClasses; ++c) {
    Geometry g = geometry(c);
    size_t size = class_size(c);
    EXPECT_GE(g.capacity, 8u) << size;
    EXPECT_LE(g.capacity, kMaxObjectsPerSlab);
    EXPECT_LE(g.capacity * size + g.header_bytes, g.slab_bytes);
    EXPECT_GE(g.header_bytes, kSlabFixedHeaderBytes + g.capacity);  // a state byte per object
    EXPECT_EQ(g.header_bytes % 16, 0u);
    if (g.slab_bytes < (size_t(1) << 18)) {  // the largest slab is the fallback
      EXPECT_LE((g.slab_bytes - g.capacity * size - g.header_bytes) * 16, g.slab_bytes) << size;
    }
    if (g.slab_bytes > (size_t(1) << 14)) {  // and a smaller slab would not have done
      EXPECT_FALSE(slab_fits(g.slab_bytes / 2, size)) << size;
    }
    size_t bad = 0;  // the multiply-shift index is exact for every offset in the slab
    for (size_t off = 0; off < g.slab_bytes; ++off) bad += ((uint64_t(off) * g.inv) >> 40) != off / size;
    EXPECT_EQ(bad, 0u) << size;
  }
}

TEST(Slab, CensusSingleThread) {
  std::mt19937 rng(7);
  std::vector<void*> live;
  for (int step = 0; step < 30000; ++step) {
    if (live.empty() || rng() % 100 < 55) {
      size_t n = 1 + rng() % (rng() % 16 == 0 ? 40000 : 700);
      void* p = Core::alloc(n);
      ASSERT_NE(p, nullptr);
      ASSERT_GE(Core::usable_size(p), n);
      memset(p, 0xA5, n);
      live.push_back(p);
    } else {
      size_t k = rng() % live.size();
      Core::free(live[k]);
      live[k] = live.back();
      live.pop_back();
    }
    if (step % 5000 == 0) expect_census(live);
  }
  expect_census(live);
  for (void* p : live) Core::free(p);
  live.clear();
  expect_census(live);
  flush_thread_cache();
  expect_census(live);
}

TEST(Slab, CensusAfterThreadsWithCrossThreadFrees) {
  constexpr int kThreads = 4;
  std::vector<void*> survivors;
  std::mutex mu;
  std::vector<std::vector<void*>> inbox(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      std::vector<void*> mine;
      for (int i = 0; i < 20000; ++i) {
        if (mine.size() < 300 || rng() % 2) {
          mine.push_back(Core::alloc(1 + rng() % 2000));
        } else {
          size_t k = rng() % mine.size();
          void* p = mine[k];
          mine[k] = mine.back();
          mine.pop_back();
          if (rng() % 3 == 0) {  // hand it to the next thread to free
            std::lock_guard<std::mutex> g(mu);
            inbox[(t + 1) % kThreads].push_back(p);
          } else {
            Core::free(p);
          }
        }
        if (i % 1000 == 0) {
          std::vector<void*> got;
          {
            std::lock_guard<std::mutex> g(mu);
            got.swap(inbox[t]);
          }
          for (void* p : got) Core::free(p);
        }
      }
      std::lock_guard<std::mutex> g(mu);
      survivors.insert(survivors.end(), mine.begin(), mine.end());
    });
  for (auto& th : ts) th.join();  // exiting threads flush their magazines
  for (auto& box : inbox) survivors.insert(survivors.end(), box.begin(), box.end());
  expect_census(survivors);
  for (void* p : survivors) Core::free(p);
  flush_thread_cache();
  expect_census({});
}

TEST(Slab, EmptySlabsBeyondReserveGoBackToBuddy) {
  flush_thread_cache();
  size_t returned0 = stat("slabs_returned");
  std::vector<void*> v;
  for (int i = 0; i < 5000; ++i) v.push_back(Core::alloc(200));  // class 208: several slabs
  EXPECT_GE(stat("live_class_208"), 5000u);
  size_t slabs_full = stat("slabs_class_208");
  EXPECT_GE(slabs_full, 5000u * 208 / (32 << 10));
  for (void* p : v) Core::free(p);
  flush_thread_cache();
  EXPECT_EQ(stat("live_class_208"), 0u);
  EXPECT_LE(stat("slabs_class_208"), 1u) << "one empty slab kept in reserve";
  EXPECT_GE(stat("slabs_returned") - returned0, slabs_full - 1);
  size_t dec0 = stat("decommitted_bytes");
  Core::release();
  EXPECT_EQ(stat("slabs_class_208"), 0u);
  EXPECT_GT(stat("decommitted_bytes"), dec0);
  expect_census({});
}

// A magazine holds about kMagazineBytes of its class, so a thread that frees
// many large objects keeps only a few of them where no other thread can reuse
// them; small classes keep 64 objects.
TEST(Slab, MagazinesHoldAboutSixteenKiBOfAClass) {
  std::thread([] {
    std::vector<void*> v;
    for (int i = 0; i < 200; ++i) v.push_back(Core::alloc(4000));
    for (void* p : v) Core::free(p);
    EXPECT_GE(thread_cache_bytes(), 4096u) << "the thread keeps a few of its freed objects";
    EXPECT_LE(thread_cache_bytes(), 16384u) << "200 freed objects of 4 KiB";
    flush_thread_cache();
    EXPECT_EQ(thread_cache_bytes(), 0u);
    v.clear();
    for (int i = 0; i < 1000; ++i) v.push_back(Core::alloc(64));
    for (void* p : v) Core::free(p);
    EXPECT_EQ(magazine_cap(class_of(64)), 64u);
    EXPECT_GT(thread_cache_bytes(), 32u * 64) << "a full magazine flushes half and keeps the rest";
    EXPECT_LE(thread_cache_bytes(), 64u * 64);
  }).join();
  expect_census({});
}

// Slabs emptied by frees go back to the page heap, whose pages decay: a period
// or more later they are decommitted, though the program meanwhile only takes
// from and gives to its magazines (which offer the page heap a tick every
// kAllocsPerTick mallocs; without that, nothing would reach it).
TEST(Slab, FreedSlabsDecayWhileTheProgramUsesOnlyItsMagazines) {
  const heapmark_horizon hz = Core::horizon();
  ASSERT_GT(hz.ms, 0u) << "the default policy is decay: " << hz.what;
  flush_thread_cache();
  std::vector<void*> v;
  for (int i = 0; i < 100000; ++i) {  // 20 MiB of class 208
    v.push_back(Core::alloc(200));
    memset(v.back(), 1, 200);
  }
  const uint64_t freed_ms = heapmark::os::monotonic_ms();
  for (void* p : v) Core::free(p);
  flush_thread_cache();
  const unsigned long long dec0 = stat("decommitted_bytes");
  const uint64_t deadline = freed_ms + 30000;
  unsigned long long dec = dec0;
  for (int round = 0; dec - dec0 < (15u << 20) && heapmark::os::monotonic_ms() < deadline; ++round) {
    for (int k = 0; k < 10000; ++k) Core::free(Core::alloc(64));
    dec = stat("decommitted_bytes");
  }
  EXPECT_GE(dec - dec0, 15u << 20) << "the freed slabs' pages were not decommitted within 30 s of activity";
  EXPECT_GE(heapmark::os::monotonic_ms() - freed_ms, hz.ms / 2) << "no earlier than a period after the frees";
}

TEST(Slab, LargeSizesGoToBuddyThenOwnMapping) {
  void* a = Core::alloc(kMaxClass + 1);
  EXPECT_EQ(Core::usable_size(a), 32768u);
  EXPECT_TRUE(Core::owns(a));
  EXPECT_TRUE(page_heap().owns(a));
  void* b = Core::alloc(size_t(5) << 20);
  EXPECT_GE(Core::usable_size(b), size_t(5) << 20);
  EXPECT_GE(stat("mapped_count"), 1u);
  void* c = Core::realloc(a, 3 << 20);
  EXPECT_EQ(Core::usable_size(c), size_t(4) << 20);
  Core::free(b);
  Core::free(c);
}

TEST(Slab, AlignedObjects) {
  for (size_t align : {32, 64, 128, 256, 1024, 4096, 8192, 16384, 65536})
    for (size_t n : {size_t(24), align / 2 + 8, align, align + 8}) {
      std::vector<void*> v;  // several, so the objects past a slab's first are checked too
      for (int k = 0; k < 20; ++k) {
        void* p = Core::alloc_aligned(align, n);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align << " " << n;
        EXPECT_TRUE(Core::owns(p));
        EXPECT_GE(Core::usable_size(p), n);
        memset(p, 0x5a, n);
        v.push_back(p);
      }
      for (void* p : v) Core::free(p);
    }
  expect_census({});
}

TEST(SlabDeath, DiagnosticsNameTheCheck) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        void* p = Core::alloc(40);
        Core::free(p);  // sits in this thread's magazine
        Core::free(p);
      },
      "^slab: free\\(\\): double free detected");
  EXPECT_DEATH(
      {
        void* p = Core::alloc(40);
        std::thread([p] { Core::free(p); }).join();  // the first free from another thread
        Core::free(p);
      },
      "slab: free\\(\\): double free detected");
  EXPECT_DEATH(Core::free(static_cast<char*>(Core::alloc(64)) + 16), "slab: free\\(\\): invalid pointer");
  EXPECT_DEATH(
      {
        static char x[32] __attribute__((aligned(16)));
        Core::free(x);
      },
      "slab: free\\(\\): invalid pointer");
}

TEST(Slab, ForkWhileThreadsAllocate) { EXPECT_EQ(heapmark::testing::fork_while_threads_allocate<Core>(20), 20); }
