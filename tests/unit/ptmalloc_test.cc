// Unit tests of the ptmalloc-style core through its prefixed API: heap
// invariants after random operation sequences (Core::check_heap walks every
// chunk and bin), trimming, each release policy measured with the OS contract
// counters and mincore, thresholds, arenas, stats, fork, and the hardening
// checks as death tests. Labelled "core": they also run under ASan+UBSan and TSan.
#include <gtest/gtest.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "os/os.h"
#include "ptmalloc_style/core.h"

using heapmark::pt::Core;
using heapmark::pt::ReleasePolicy;

namespace {

struct Block {
  unsigned char* p;
  size_t n;
  uint8_t seed;
};

void fill(const Block& b) {
  for (size_t i = 0; i < b.n; i += (i < 64 || b.n - i < 64) ? 1 : 97) b.p[i] = (uint8_t)(b.seed + i * 31);
}
// Checks the bytes fill() wrote, up to `upto` (a realloc keeps only a prefix).
bool intact(const Block& b, size_t upto = ~size_t(0)) {
  for (size_t i = 0; i < b.n && i < upto; i += (i < 64 || b.n - i < 64) ? 1 : 97)
    if (b.p[i] != (uint8_t)(b.seed + i * 31)) return false;
  return true;
}

size_t pick_size(std::mt19937_64& rng) {
  switch (rng() % 8) {
    case 0:
    case 1:
    case 2: return 1 + rng() % 128;  // tcache / fastbins
    case 3:
    case 4: return 129 + rng() % 900;         // tcache / small bins
    case 5: return 1024 + rng() % 16384;      // large bins
    case 6: return 16384 + rng() % 100000;    // large bins, page-sized interiors
    default: return 120000 + rng() % 400000;  // around the mmap threshold
  }
}

// One random op sequence: alloc / aligned alloc / realloc / free, contents checked.
void random_ops(uint64_t seed, int ops, int check_every, std::vector<Block>* leftover = nullptr) {
  std::mt19937_64 rng(seed);
  std::vector<Block> live;
  for (int i = 0; i < ops; ++i) {
    unsigned r = rng() % 10;
    if (live.empty() || r < 4) {
      size_t n = pick_size(rng);
      Block b{static_cast<unsigned char*>(Core::alloc(n)), n, (uint8_t)rng()};
      ASSERT_NE(b.p, nullptr);
      ASSERT_EQ(reinterpret_cast<uintptr_t>(b.p) % 16, 0u);
      ASSERT_GE(Core::usable_size(b.p), n);
      fill(b);
      live.push_back(b);
    } else if (r == 4) {
      size_t align = size_t(32) << (rng() % 12);
      size_t n = pick_size(rng);
      Block b{static_cast<unsigned char*>(Core::alloc_aligned(align, n)), n, (uint8_t)rng()};
      ASSERT_NE(b.p, nullptr);
      ASSERT_EQ(reinterpret_cast<uintptr_t>(b.p) % align, 0u) << align;
      ASSERT_GE(Core::usable_size(b.p), n);
      fill(b);
      live.push_back(b);
    } else if (r == 5) {
      Block& b = live[rng() % live.size()];
      ASSERT_TRUE(intact(b));
      size_t n = pick_size(rng);
      auto* q = static_cast<unsigned char*>(Core::realloc(b.p, n));
      ASSERT_NE(q, nullptr);
      Block moved = b;
      moved.p = q;
      ASSERT_TRUE(intact(moved, n)) << "realloc lost contents";
      b = Block{q, n, (uint8_t)rng()};
      fill(b);
    } else {
      size_t k = rng() % live.size();
      ASSERT_TRUE(intact(live[k])) << "block overwritten";
      ASSERT_TRUE(Core::owns(live[k].p));
      Core::free(live[k].p);
      live[k] = live.back();
      live.pop_back();
    }
    if (check_every && i % check_every == 0) {
      const char* err = Core::check_heap();
      ASSERT_EQ(err, nullptr) << err << " after op " << i;
    }
  }
  if (leftover) {
    *leftover = live;
    return;
  }
  for (auto& b : live) {
    ASSERT_TRUE(intact(b));
    Core::free(b.p);
  }
}

// Residency of the whole pages strictly inside [p, p+n).
size_t resident_pages(void* p, size_t n, size_t* total) {
  const size_t page = heapmark::os::page_size();
  uintptr_t lo = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
  uintptr_t hi = (reinterpret_cast<uintptr_t>(p) + n) & ~(page - 1);
  unsigned char vec[1024];
  size_t pages = (hi - lo) / page;
  if (pages > sizeof vec) pages = sizeof vec;
  *total = pages;
  if (mincore(reinterpret_cast<void*>(lo), pages * page, vec) != 0) return ~size_t(0);
  size_t r = 0;
  for (size_t i = 0; i < pages; ++i) r += vec[i] & 1;
  return r;
}

}  // namespace

// The settings a ctest entry asked for (tests/unit/ptmalloc.cmake sets
// HEAPMARK_PT_*), read here by the test itself: the core's defaults for what
// the entry left alone, the entry's values for the rest. Expectations come
// from this, never from Core::settings() alone, so a core that ignored its
// variable fails the observations (pages, mappings, arenas) below.
heapmark::pt::Settings stated() {
  heapmark::pt::Settings s = Core::settings();
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
  };
  auto bytes = [](const char* v) {
    char* end = nullptr;
    size_t n = std::strtoull(v, &end, 10);
    if (*end == 'k' || *end == 'K') n <<= 10;
    if (*end == 'm' || *end == 'M') n <<= 20;
    return n;
  };
  if (const char* v = env("HEAPMARK_PT_RELEASE"))
    s.release = std::strcmp(v, "eager") == 0   ? ReleasePolicy::eager
                : std::strcmp(v, "decay") == 0 ? ReleasePolicy::decay
                                               : ReleasePolicy::glibc;
  if (const char* v = env("HEAPMARK_PT_DECAY_MS")) s.decay_ms = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
  if (s.release == ReleasePolicy::decay)
    s.decay_thread = !(env("HEAPMARK_PT_DECAY_THREAD") && std::strcmp(env("HEAPMARK_PT_DECAY_THREAD"), "0") == 0);
  if (const char* v = env("HEAPMARK_PT_TRIM_THRESHOLD")) s.trim_threshold = bytes(v), s.mmap_dynamic = false;
  if (const char* v = env("HEAPMARK_PT_MMAP_THRESHOLD")) s.mmap_threshold = bytes(v), s.mmap_dynamic = false;
  if (const char* v = env("HEAPMARK_PT_ARENA_MAX")) s.arena_max = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
  if (const char* v = env("HEAPMARK_PT_TCACHE_COUNT"))
    s.tcache_count = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
  return s;
}

TEST(PtHeap, RandomOpsKeepBoundaryTagsAndBinsConsistent) {
  random_ops(1, 4000, 25);
  ASSERT_EQ(Core::check_heap(), nullptr);
  Core::flush_thread_cache();
  ASSERT_EQ(Core::check_heap(), nullptr);
  Core::release();
  const char* err = Core::check_heap();
  ASSERT_EQ(err, nullptr) << err;
}

TEST(PtHeap, RandomOpsInThreadsWithCrossThreadFrees) {
  Core::free(Core::alloc(1));  // the main thread keeps the main arena, as in a real program
  constexpr int kThreads = 4;
  std::vector<std::vector<Block>> left(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([t, &left] {
      random_ops(100 + t, 1500, 100, &left[t]);
      const char* err = Core::check_heap();
      EXPECT_EQ(err, nullptr) << err;
    });
  for (auto& t : ts) t.join();
  EXPECT_GT(Core::stat("arenas"), 1u);
  // Free every thread's leftovers from other threads, then walk again.
  ts.clear();
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([t, &left] {
      for (auto& b : left[(t + 1) % kThreads]) {
        EXPECT_TRUE(intact(b));
        Core::free(b.p);
      }
    });
  for (auto& t : ts) t.join();
  const char* err = Core::check_heap();
  ASSERT_EQ(err, nullptr) << err;
}

TEST(PtHeap, ChecksCatchACorruptedHeader) {
  // The walker itself must fail on a broken boundary tag (else it proves nothing).
  auto* a = static_cast<unsigned char*>(Core::alloc(3000));
  auto* b = static_cast<unsigned char*>(Core::alloc(3000));
  auto* guard = Core::alloc(3000);
  Core::free(a);  // free: b's PREV_INUSE is clear and b->prev_size is a's foot
  ASSERT_EQ(Core::check_heap(), nullptr);
  size_t* foot = reinterpret_cast<size_t*>(b - 16);
  size_t saved = *foot;
  *foot = saved + 16;
  EXPECT_NE(Core::check_heap(), nullptr);
  *foot = saved;
  ASSERT_EQ(Core::check_heap(), nullptr);
  Core::free(b);
  Core::free(guard);
}

TEST(PtHeap, LargeBinsBestFitAndConsolidation) {
  // Free chunks of many large sizes separated by guards; the next requests must
  // be served best-fit from them (no heap growth), and fastbin chunks must be
  // consolidated before a large request.
  std::vector<void*> keep, holes;
  for (size_t i = 0; i < 40; ++i) {
    holes.push_back(Core::alloc(1200 + i * 700));
    keep.push_back(Core::alloc(64));
  }
  for (void* h : holes) Core::free(h);
  ASSERT_EQ(Core::check_heap(), nullptr);
  size_t committed = Core::stat("committed_bytes");
  std::vector<void*> again;
  for (size_t i = 0; i < 40; ++i) again.push_back(Core::alloc(1200 + (39 - i) * 700));
  // No growth; under decay (2 ms in release_decay_random) the tick may have given
  // pages back in between, so the heap may also be smaller than it was.
  EXPECT_LE(Core::stat("committed_bytes"), committed);
  ASSERT_EQ(Core::check_heap(), nullptr);
  for (void* p : again) Core::free(p);
  for (void* p : keep) Core::free(p);
  // Fill the tcache for 64-byte chunks, then 20 more go to the fastbin.
  Core::release();  // empties every arena's fastbins: the count below is ours alone
  std::vector<void*> small;
  for (int i = 0; i < 27; ++i) small.push_back(Core::alloc(56));
  void* guard = Core::alloc(56);
  size_t fast0 = Core::stat("fastbin_count");  // other arenas' figures stay as they are
  for (void* p : small) Core::free(p);
  // A decay thread's tick consolidates the fastbins too (every 2 ms in the
  // release_decay_random run), so only without one must they still hold the 20.
  if (!stated().decay_thread) {
    EXPECT_GE(Core::stat("fastbin_count"), fast0 + 20);
  }
  void* big = Core::alloc(5000);  // a large request consolidates the fastbins first
  if (stated().decay_thread) {
    EXPECT_LE(Core::stat("fastbin_count"), fast0);  // a tick may have emptied other arenas' fastbins too
  } else {
    EXPECT_EQ(Core::stat("fastbin_count"), fast0);
  }
  ASSERT_EQ(Core::check_heap(), nullptr);
  Core::free(big);
  Core::free(guard);
}

TEST(PtTrim, FreeingTheTopReturnsMemory) {
  Core::free(Core::alloc(1));  // attach to an arena before measuring
  size_t committed0 = Core::stat("committed_bytes");
  std::vector<void*> v;
  for (int i = 0; i < 4000; ++i) {
    v.push_back(Core::alloc(1000));
    memset(v.back(), 1, 1000);
  }
  size_t committed = Core::stat("committed_bytes");
  ASSERT_GT(committed, committed0 + 3 * (size_t(1) << 20));
  auto before = heapmark::os::counters();
  for (auto it = v.rbegin(); it != v.rend(); ++it) Core::free(*it);
  Core::flush_thread_cache();
  Core::free(Core::alloc(70000));  // a big free runs the trim check, as in glibc
  auto after = heapmark::os::counters();
  EXPECT_GE(after.decommitted - before.decommitted, size_t(3) << 20);
  EXPECT_LE(Core::stat("committed_bytes"), committed0 + Core::trim_threshold() + stated().top_pad + 4096);
  ASSERT_EQ(Core::check_heap(), nullptr);
}

TEST(PtTrim, ReleaseDecommitsFreePagesInsideTheHeap) {
  const size_t kN = std::min<size_t>(100000, Core::mmap_threshold() - 8192);  // heap chunks
  std::vector<unsigned char*> b;
  for (int i = 0; i < 8; ++i) {
    b.push_back(static_cast<unsigned char*>(Core::alloc(kN)));
    memset(b.back(), 7, kN);
  }
  auto before = heapmark::os::counters();
  for (int i = 1; i < 8; i += 2) Core::free(b[i]);  // holes between live blocks
  Core::release();
  auto after = heapmark::os::counters();
  EXPECT_GE(after.decommitted - before.decommitted, 3 * (kN - 2 * 4096));
  size_t total;
  EXPECT_EQ(resident_pages(b[3] + 4096, kN - 8192, &total), 0u);
  for (int i = 0; i < 8; i += 2) {
    for (size_t k = 0; k < kN; k += 4096) ASSERT_EQ(b[i][k], 7) << "live block lost by release()";
    Core::free(b[i]);
  }
  ASSERT_EQ(Core::check_heap(), nullptr);
}

// Decay returns pages DECAY_MS/2..DECAY_MS after they became free, ticked by
// its thread or (without it) by arena activity: waits for `done` with
// reallocs in place as that activity, up to a deadline that no loaded machine
// reaches (the property is "eventually, with no release call", not a speed).
template <class Done>
bool decays(const heapmark::pt::Settings& s, void* ticker, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(s.decay_ms / 4 + 1));
    if (!s.decay_thread)
      for (int k = 0; k < 200; ++k)
        if (Core::realloc(ticker, 3000) != ticker) return false;
  }
  return true;
}

// Whether less than half the decay delay has passed since `t0`: only then must
// decay still hold the pages (a preempted test may look later than that).
bool too_early_for_decay(const heapmark::pt::Settings& s, std::chrono::steady_clock::time_point t0) {
  return std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(s.decay_ms / 2);
}

// Run once per policy (ctest sets HEAPMARK_PT_RELEASE): asserts what that policy must do.
TEST(PtPolicy, FreePagesFollowTheReleasePolicy) {
  const heapmark::pt::Settings s = stated();
  const size_t kN = std::min<size_t>(100000, Core::mmap_threshold() - 8192);  // heap chunks
  auto* a = static_cast<unsigned char*>(Core::alloc(kN));
  auto* b = static_cast<unsigned char*>(Core::alloc(kN));
  auto* c = static_cast<unsigned char*>(Core::alloc(kN));
  auto* ticker = Core::alloc(3000);
  memset(a, 1, kN);
  memset(b, 2, kN);
  memset(c, 3, kN);
  size_t total;
  ASSERT_EQ(resident_pages(b, kN, &total), total);
  auto before = heapmark::os::counters();
  const auto freed_at = std::chrono::steady_clock::now();
  Core::free(b);  // between two live blocks: not adjacent to the top
  auto after = heapmark::os::counters();
  size_t now_resident = resident_pages(b + 64, kN - 64, &total);
  const bool early = too_early_for_decay(s, freed_at);
  ASSERT_GT(total, 8u);
  switch (s.release) {
    case ReleasePolicy::glibc: EXPECT_EQ(now_resident, total) << "glibc keeps free pages inside the heap"; break;
    case ReleasePolicy::eager:
      EXPECT_EQ(now_resident, 0u);
      EXPECT_GE(after.decommitted - before.decommitted, total * 4096);
      break;
    case ReleasePolicy::decay: {
      if (early) {
        EXPECT_EQ(now_resident, total) << "decay must not return pages at once";
      }
      // The background thread ticks an idle process; without it arena activity
      // (reallocs in place) drives the clock. No release() call either way.
      const bool returned = decays(s, ticker, [&] { return resident_pages(b + 64, kN - 64, &total) == 0; });
      EXPECT_TRUE(returned) << "decay never returned the free pages";
      EXPECT_GE(heapmark::os::counters().decommitted - before.decommitted, total * 4096);
      break;
    }
  }
  for (size_t k = 0; k < kN; k += 512) {
    ASSERT_EQ(a[k], 1);
    ASSERT_EQ(c[k], 3);
  }
  ASSERT_EQ(Core::check_heap(), nullptr);
  // Reusing the freed chunk works whatever its pages' state.
  auto* d = static_cast<unsigned char*>(Core::alloc(kN));
  memset(d, 4, kN);
  Core::free(a);
  Core::free(c);
  Core::free(d);
  Core::free(ticker);
  ASSERT_EQ(Core::check_heap(), nullptr);
}

// Fastbin-sized chunks look in use until a consolidation, which glibc runs only
// before a large request (repro scenario 3): decay's tick consolidates them so
// their pages decay too; glibc and eager keep them resident.
TEST(PtPolicy, FastbinChunksDecayLikeOtherFreePages) {
  const heapmark::pt::Settings s = stated();
  void* ticker = Core::alloc(3000);
  std::vector<unsigned char*> v;
  for (int i = 0; i < 65536; ++i) v.push_back(static_cast<unsigned char*>(Core::alloc(64)));  // ~5 MiB
  void* guard = Core::alloc(64);  // keeps the blocks away from the top
  for (auto* p : v) memset(p, 7, 64);
  auto* lo = v[16];
  const size_t span = v[v.size() - 16] - lo;
  for (auto* p : v) Core::free(p);
  size_t total;
  const size_t resident = resident_pages(lo, span, &total);
  ASSERT_GT(total, 1000u);
  if (s.release != ReleasePolicy::decay) {
    EXPECT_EQ(resident, total) << "fastbin chunks keep their pages until a consolidation";
  } else {
    const bool returned = decays(s, ticker, [&] { return resident_pages(lo, span, &total) < total / 10; });
    EXPECT_TRUE(returned) << "decay never returned the fastbin chunks' pages";
  }
  Core::free(guard);
  Core::free(ticker);
  ASSERT_EQ(Core::check_heap(), nullptr);
}

// A freed block next to the top: glibc keeps the top below the trim threshold,
// eager trims it to the pad at once, decay at its next tick.
TEST(PtPolicy, TopAboveThePadFollowsTheReleasePolicy) {
  const heapmark::pt::Settings s = stated();
  const size_t kN = std::min<size_t>(100000, Core::mmap_threshold() - 8192);
  void* ticker = Core::alloc(3000);
  Core::release();  // the top starts at its minimum
  size_t c0 = Core::stat("committed_bytes");
  void* x = Core::alloc(kN);
  memset(x, 5, kN);
  ASSERT_GE(Core::stat("committed_bytes"), c0 + kN);
  const auto freed_at = std::chrono::steady_clock::now();
  Core::free(x);
  size_t c1 = Core::stat("committed_bytes");
  const bool early = too_early_for_decay(s, freed_at);
  const size_t pad_bound = c0 + s.top_pad + 2 * 4096;
  switch (s.release) {
    case ReleasePolicy::glibc:
      if (Core::trim_threshold() > 2 * (kN + s.top_pad)) {
        EXPECT_GE(c1, c0 + kN) << "glibc keeps a top below the trim threshold";
      } else {
        EXPECT_LE(c1, pad_bound);
      }
      break;
    case ReleasePolicy::eager: EXPECT_LE(c1, pad_bound); break;
    case ReleasePolicy::decay: {
      if (early && Core::trim_threshold() > 2 * (kN + s.top_pad)) {
        EXPECT_GE(c1, c0 + kN) << "decay must wait";
      }
      const bool trimmed = decays(s, ticker, [&] { return Core::stat("committed_bytes") <= pad_bound; });
      EXPECT_TRUE(trimmed) << "decay never trimmed the top";
      break;
    }
  }
  Core::free(ticker);
  ASSERT_EQ(Core::check_heap(), nullptr);
}

// Whole pages inside free chunks (past the 64 bytes of links and tags) that are resident.
size_t resident_free_interior_pages(size_t* checked) {
  struct Ctx {
    size_t resident = 0, checked = 0;
  } ctx;
  Core::for_each_free_chunk(
      [](void* c, size_t size, void* vp) {
        auto* x = static_cast<Ctx*>(vp);
        const uintptr_t page = 4096;
        uintptr_t lo = (reinterpret_cast<uintptr_t>(c) + 64 + page - 1) & ~(page - 1);
        uintptr_t hi = (reinterpret_cast<uintptr_t>(c) + size) & ~(page - 1);
        unsigned char vec[256];
        for (; lo < hi; lo += sizeof vec * page) {
          size_t n = std::min<size_t>((hi - lo) / page, sizeof vec);
          if (mincore(reinterpret_cast<void*>(lo), n * page, vec) != 0) {
            x->resident += n;  // counted as a failure: free chunks lie in committed memory
            continue;
          }
          for (size_t i = 0; i < n; ++i) x->resident += vec[i] & 1;
          x->checked += n;
        }
      },
      &ctx);
  *checked = ctx.checked;
  return ctx.resident;
}

// eager keeps every free chunk's interior decommitted; release() leaves none
// resident under every policy.
TEST(PtPolicy, FreeChunkInteriorsAfterFreesAndRelease) {
  std::vector<Block> left;
  random_ops(77, 3000, 0, &left);
  for (size_t i = 0; i < left.size(); i += 2) Core::free(left[i].p);  // holes between live blocks
  size_t checked = 0;
  if (stated().release == ReleasePolicy::eager) {
    EXPECT_EQ(resident_free_interior_pages(&checked), 0u);
    EXPECT_GT(checked, 0u);
  }
  Core::release();
  EXPECT_EQ(resident_free_interior_pages(&checked), 0u);
  EXPECT_GT(checked, 0u);
  for (size_t i = 1; i < left.size(); i += 2) {
    ASSERT_TRUE(intact(left[i]));
    Core::free(left[i].p);
  }
  ASSERT_EQ(Core::check_heap(), nullptr);
}

TEST(PtThreshold, MmapThresholdAndDynamicRule) {
  const heapmark::pt::Settings s = stated();
  size_t t0 = Core::mmap_threshold();
  size_t mapped0 = Core::stat("mapped_count");
  if (!s.mmap_dynamic && s.mmap_threshold) {
    EXPECT_EQ(t0, s.mmap_threshold);
  }
  void* big = Core::alloc(t0 * 4);
  EXPECT_EQ(Core::stat("mapped_count"), mapped0 + 1);
  EXPECT_GE(Core::stat("mapped_bytes"), t0 * 4);
  EXPECT_TRUE(Core::owns(big));
  Core::free(big);
  EXPECT_EQ(Core::stat("mapped_count"), mapped0);
  if (s.mmap_dynamic) {
    EXPECT_GT(Core::mmap_threshold(), t0 * 4);
    EXPECT_EQ(Core::trim_threshold(), 2 * Core::mmap_threshold());
    void* again = Core::alloc(t0 * 4);  // now served from the heap
    EXPECT_EQ(Core::stat("mapped_count"), mapped0);
    Core::free(again);
  } else {
    // Where the block lands again: a fixed threshold did not move, so it is
    // mapped again (a dynamic one would now serve it from the heap).
    EXPECT_EQ(Core::mmap_threshold(), t0);
    void* again = Core::alloc(t0 * 4);
    EXPECT_EQ(Core::stat("mapped_count"), mapped0 + 1) << "under a fixed threshold the same request is mapped again";
    Core::free(again);
  }
  ASSERT_EQ(Core::check_heap(), nullptr);
}

// glibc's realloc of a mmapped chunk (mremap_chunk): the mapping is resized and
// moved if need be, its pages with it, so growing faults none of the old pages
// again (a malloc, copy and free would fault every page of the copy); keeping
// the page count keeps the pointer; shrinking gives pages back.
TEST(PtRealloc, MappedChunkMovesItsPagesInsteadOfCopyingThem) {
  const size_t page = heapmark::os::page_size();
  const size_t n = std::max<size_t>(Core::mmap_threshold() * 2, 4 << 20);
  const size_t mapped0 = Core::stat("mapped_count");
  auto* p = static_cast<unsigned char*>(Core::alloc(n));
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(Core::stat("mapped_count"), mapped0 + 1) << "a request of " << n << " bytes should be mapped";
  for (size_t i = 0; i < n; i += page) p[i] = (unsigned char)(i / page * 7 + 1);
  auto minor_faults = [] {
    rusage u;
    getrusage(RUSAGE_THREAD, &u);
    return u.ru_minflt;
  };
  const long f0 = minor_faults();
  auto* q = static_cast<unsigned char*>(Core::realloc(p, 2 * n));
  const long faults = minor_faults() - f0;
  ASSERT_NE(q, nullptr);
  EXPECT_LT(faults, long(n / page / 8)) << "a copy would fault " << n / page << " pages";
  EXPECT_EQ(Core::stat("mapped_count"), mapped0 + 1);
  EXPECT_GE(Core::usable_size(q), 2 * n);
  for (size_t i = 0; i < n; i += page) ASSERT_EQ(q[i], (unsigned char)(i / page * 7 + 1)) << i;

  EXPECT_EQ(Core::realloc(q, Core::usable_size(q) - 200), q) << "the same number of pages: the same pointer";

  const size_t mapped_bytes = Core::stat("mapped_bytes");
  auto* r = static_cast<unsigned char*>(Core::realloc(q, n / 2));
  ASSERT_NE(r, nullptr);
  EXPECT_LE(Core::stat("mapped_bytes"), mapped_bytes - n) << "shrinking unmaps the tail";
  EXPECT_GE(Core::usable_size(r), n / 2);
  for (size_t i = 0; i < n / 2; i += page) ASSERT_EQ(r[i], (unsigned char)(i / page * 7 + 1)) << i;
  Core::free(r);
  EXPECT_EQ(Core::stat("mapped_count"), mapped0);
  ASSERT_EQ(Core::check_heap(), nullptr);
}

TEST(PtArenas, BoundedByArenaMaxAndReusedAfterThreadExit) {
  Core::free(Core::alloc(1));  // the main thread keeps the main arena, as in a real program
  const unsigned max = stated().arena_max;
  std::vector<std::thread> ts;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  for (unsigned t = 0; t < max + 4; ++t)
    ts.emplace_back([&] {
      void* p = Core::alloc(100);
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      Core::free(p);
    });
  while (ready.load() < (int)ts.size()) std::this_thread::yield();
  size_t arenas = Core::stat("arenas");
  EXPECT_LE(arenas, max);
  EXPECT_GT(arenas, 1u);
  go = true;
  for (auto& t : ts) t.join();
  // Exited threads' arenas go to the free list: new threads create none.
  for (int i = 0; i < 3; ++i) std::thread([] { Core::free(Core::alloc(200)); }).join();
  EXPECT_EQ(Core::stat("arenas"), arenas);
  ASSERT_EQ(Core::check_heap(), nullptr);
}

TEST(PtArenas, NonMainArenaGrowsNewHeapsAndDeletesThem) {
  Core::free(Core::alloc(1));  // this thread takes the main arena, the next one a new arena
  size_t heaps0 = 0;
  std::thread([&] {
    std::vector<void*> v{Core::alloc(100000)};  // attaches this thread to a non-main arena
    heaps0 = Core::stat("heaps");
    for (int i = 0; i < 800; ++i) v.push_back(Core::alloc(100000));  // ~80 MiB, never touched
    EXPECT_GE(Core::stat("heaps"), heaps0 + 1);
    const char* err = Core::check_heap();
    EXPECT_EQ(err, nullptr) << err;
    for (auto it = v.rbegin(); it != v.rend(); ++it) Core::free(*it);
    err = Core::check_heap();
    EXPECT_EQ(err, nullptr) << err;
  }).join();
  // Counted after the thread's exit: a heap's leftover top small enough for the
  // tcache stays there (as in glibc) and pins the heaps below until the exit
  // flushes it (see the next test). Where the top was when the arena grew
  // depends on the arena's earlier use (arena_max=2 reuses one).
  EXPECT_EQ(Core::stat("heaps"), heaps0);
  const char* err = Core::check_heap();
  EXPECT_EQ(err, nullptr) << err;
}

// repro scenario 10, as glibc 2.36 does it (measured with a plain C program):
// a producer fills several heaps of its arena and another thread frees every
// block. Each heap's leftover top went to the producer's tcache when the arena
// grew, so while the producer lives those chunks pin the heaps below the last
// one; its exit flushes the tcache and the heaps go.
TEST(PtArenas, HeapLeftoversInTheProducersTcachePinItsHeapsUntilItExits) {
  Core::free(Core::alloc(1));  // this thread takes the main arena, the producer a new one
  std::vector<void*> blocks;
  std::atomic<int> stage{0};
  size_t heaps_before = 0;
  std::thread producer([&] {
    Core::free(Core::alloc(256));  // attach to a non-main arena first
    heaps_before = Core::stat("heaps");
    for (int i = 0; i < 600000; ++i) blocks.push_back(Core::alloc(256));  // ~160 MiB: three heaps or more
    stage = 1;
    while (stage.load() != 2) std::this_thread::yield();
  });
  while (stage.load() != 1) std::this_thread::yield();
  const size_t grown = Core::stat("heaps");
  ASSERT_GE(grown, heaps_before + 2);
  for (void* p : blocks) Core::free(p);   // in allocation order, from another thread
  EXPECT_EQ(Core::stat("heaps"), grown);  // pinned by the leftovers in the producer's tcache
  const char* err = Core::check_heap();
  EXPECT_EQ(err, nullptr) << err;
  stage = 2;
  producer.join();
  EXPECT_LT(Core::stat("heaps"), grown);  // its exit flushed the tcache: the heaps went
  err = Core::check_heap();
  EXPECT_EQ(err, nullptr) << err;
}

TEST(PtStats, FiguresAreConsistent) {
  std::vector<void*> v;
  for (int i = 0; i < 12; ++i) v.push_back(Core::alloc(40));  // 48-byte chunks
  void* guard = Core::alloc(40);
  for (void* p : v) Core::free(p);  // 7 to the tcache, 5 to fastbin_48
  EXPECT_EQ(Core::stat("tcache_count_this_thread"), 7u);
  EXPECT_EQ(Core::stat("fastbin_48_count"), 5u);
  EXPECT_EQ(Core::stat("fastbin_bytes"), 5u * 48);
  void* big = Core::alloc(1 << 20);
  EXPECT_GE(Core::stat("mapped_bytes"), size_t(1) << 20);
  EXPECT_EQ(Core::stat("in_use_bytes") + Core::stat("free_bytes"), Core::stat("committed_bytes"));
  EXPECT_GT(Core::stat("top_bytes"), 0u);
  heapmark_stat s[256];
  size_t n = Core::stats(s, 256);
  EXPECT_GT(n, 100u);
  EXPECT_EQ(Core::stats(s, 3), 3u);
  Core::release();
  EXPECT_EQ(Core::stat("fastbin_count"), 0u);
  EXPECT_EQ(Core::stat("tcache_count_this_thread"), 0u);
  Core::free(big);
  Core::free(guard);
}

TEST(PtFork, ChildAllocatesWhileParentThreadsRun) {
  pthread_atfork(&Core::prefork, &Core::postfork_parent, &Core::postfork_child);
  Core::free(Core::alloc(1));
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; ++t)
    ts.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      while (!stop.load()) Core::free(Core::alloc(pick_size(rng)));
    });
  for (int i = 0; i < 5; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      std::vector<void*> v;
      for (int k = 0; k < 2000; ++k) v.push_back(Core::alloc(16 + k % 3000));
      for (void* p : v) Core::free(p);
      _exit(Core::check_heap() == nullptr ? 0 : 1);
    }
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  stop = true;
  for (auto& t : ts) t.join();
  ASSERT_EQ(Core::check_heap(), nullptr);
}

// ---------------------------------------------------------------- hardening
class PtHardeningDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(PtHardeningDeathTest, DoubleFreeInTcache) {
  EXPECT_DEATH(
      {
        void* p = Core::alloc(40);
        Core::free(p);
        Core::free(p);
      },
      "free\\(\\): double free detected in tcache");
}

TEST_F(PtHardeningDeathTest, DoubleFreeInFastbin) {
  EXPECT_DEATH(
      {
        void* v[9];
        for (auto& p : v) p = Core::alloc(40);
        for (int i = 0; i < 8; ++i) Core::free(v[i]);  // the 8th goes to the fastbin
        Core::free(v[8]);
        Core::free(v[7]);
      },
      "double free detected in fastbin");
}

TEST_F(PtHardeningDeathTest, DoubleFreeOfAFreeChunk) {
  EXPECT_DEATH(
      {
        void* p = Core::alloc(3000);
        Core::alloc(3000);
        Core::free(p);
        Core::free(p);
      },
      "double free or corruption \\(!prev\\)");
}

TEST_F(PtHardeningDeathTest, DoubleFreeOfABinnedChunkWhileTheTcacheHasRoom) {
  EXPECT_DEATH(
      {
        void* v[8];
        for (auto& p : v) p = Core::alloc(1000);
        Core::alloc(1000);                // keeps v[7] away from the top
        for (void* p : v) Core::free(p);  // 7 to the tcache, v[7] to the unsorted bin
        Core::alloc(1000);                // the tcache has room again
        Core::free(v[7]);
      },
      "double free or corruption \\(!prev\\)");
}

TEST_F(PtHardeningDeathTest, DoubleFreeOfAMapping) {
  EXPECT_DEATH(
      {
        void* p = Core::alloc(4 << 20);
        Core::free(p);
        Core::free(p);
      },
      "free\\(\\): invalid pointer|munmap_chunk\\(\\): invalid pointer");
}

TEST_F(PtHardeningDeathTest, FreeOfAPointerNeverReturned) {
  EXPECT_DEATH(
      {
        Core::free(Core::alloc(10));
        alignas(16) static char buf[64];
        Core::free(buf + 16);
      },
      "free\\(\\): invalid pointer");
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(Core::alloc(3000));
        memset(p, 0, 3000);
        Core::free(p + 64);  // interior pointer: its "header" is zeroed user data
      },
      "free\\(\\): invalid pointer \\(invalid size\\)");
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(Core::alloc(3000));
        Core::free(p + 8);
      },
      "free\\(\\): invalid pointer");
}

TEST_F(PtHardeningDeathTest, CorruptedNextHeader) {
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(Core::alloc(3000));
        Core::alloc(3000);
        size_t u = Core::usable_size(p);
        memset(p, 'A', u + 8);  // overflow into the next chunk's size field
        Core::free(p);
      },
      "free\\(\\): invalid next size \\(normal\\)");
}

TEST_F(PtHardeningDeathTest, CorruptedPrevSize) {
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(Core::alloc(3000));
        auto* q = static_cast<char*>(Core::alloc(3000));
        Core::alloc(3000);
        Core::free(p);
        *reinterpret_cast<size_t*>(q - 16) = 0x200;  // q's prev_size no longer matches p
        Core::free(q);
      },
      "corrupted size vs. prev_size");
}

TEST_F(PtHardeningDeathTest, CorruptedTcacheLink) {
  EXPECT_DEATH(
      {
        void* a = Core::alloc(40);
        void* b = Core::alloc(40);
        Core::free(a);
        Core::free(b);
        *static_cast<uintptr_t*>(b) ^= 0x9;  // a use-after-free write into the link
        Core::alloc(40);
        Core::alloc(40);
      },
      "malloc\\(\\): unaligned tcache chunk detected");
}
