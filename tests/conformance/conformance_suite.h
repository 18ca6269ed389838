// Conformance suite for every exported malloc-family function, typed over an
// API (api.h). Instantiated once per allocator by heapmark_add_allocator_tests()
// (tests/conformance/helpers.cmake); the same tests run against the preloaded .so.
#pragma once
#include <errno.h>
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>
#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <sys/mman.h>
#include <unistd.h>
#endif

#include <vector>

#include "core_api.h"

namespace heapmark::testing {

template <class Api>
class Conformance : public ::testing::Test {};

// Whether the API's allocator gives free pages back on malloc_trim (all but a
// test core that says it never does).
template <class A>
bool api_releases() {
  if constexpr (requires { A::releases(); }) return A::releases();
  if constexpr (requires { A::kReleases; }) return A::kReleases;
  return true;
}

#ifndef _WIN32
// Pages wholly inside [p, p + n) that are resident, by mincore (the kernel's
// view); `pages` grows by how many were looked at. An unmapped range counts as
// not resident.
inline size_t resident_interior_pages(void* p, size_t n, size_t* pages) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
  const uintptr_t hi = (reinterpret_cast<uintptr_t>(p) + n) & ~(page - 1);
  size_t resident = 0;
  for (uintptr_t a = lo; a < hi; a += page) {
    unsigned char in = 0;
    ++*pages;
    if (mincore(reinterpret_cast<void*>(a), page, &in) == 0 && (in & 1)) ++resident;
  }
  return resident;
}
#endif
TYPED_TEST_SUITE_P(Conformance);

inline bool aligned_to(const void* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }

// The page size as the system states it, not as the code under test computes it.
inline size_t system_page_size() {
#ifdef _WIN32
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwPageSize;
#else
  return static_cast<size_t>(sysconf(_SC_PAGESIZE));
#endif
}

// Sizes around every power of two up to 16 MiB plus every size up to 1 KiB:
// covers every size class / order boundary of the in-house allocators.
inline std::vector<size_t> interesting_sizes() {
  std::vector<size_t> v;
  for (size_t n = 1; n <= 1024; ++n) v.push_back(n);
  for (size_t p = 2048; p <= (size_t(16) << 20); p <<= 1)
    for (size_t d : {p - 17, p - 1, p, p + 1, p + p / 2}) v.push_back(d);
  return v;
}

TYPED_TEST_P(Conformance, MallocAlignmentAndUsableSizeEverySize) {
  using A = TypeParam;
  for (size_t n : interesting_sizes()) {
    unsigned char* p = static_cast<unsigned char*>(A::malloc(n));
    ASSERT_NE(p, nullptr) << n;
    ASSERT_TRUE(aligned_to(p, 16)) << n;
    size_t u = A::malloc_usable_size(p);
    ASSERT_GE(u, n) << n;
    ASSERT_TRUE(A::owns(p)) << n;
    p[0] = 1;
    p[u - 1] = 2;  // the whole usable size is writable
    A::free(p);
  }
}

TYPED_TEST_P(Conformance, LiveBlocksDoNotOverlap) {
  using A = TypeParam;
  std::vector<std::pair<unsigned char*, size_t>> live;
  for (int i = 0; i < 3000; ++i) {
    size_t n = 1 + (i * 7919u) % (i % 10 == 0 ? 70000 : 600);
    auto* p = static_cast<unsigned char*>(A::malloc(n));
    ASSERT_NE(p, nullptr);
    memset(p, i & 0xff, n);
    live.push_back({p, n});
  }
  for (size_t i = 0; i < live.size(); ++i) {
    auto [p, n] = live[i];
    for (size_t k = 0; k < n; k += 61) ASSERT_EQ(p[k], i & 0xff) << "block " << i << " overwritten";
    A::free(p);
  }
}

TYPED_TEST_P(Conformance, MallocZeroGivesUniqueBlocks) {
  using A = TypeParam;
  void* a = A::malloc(0);
  void* b = A::malloc(0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_GE(A::malloc_usable_size(a), 1u);
  A::free(a);
  A::free(b);
}

TYPED_TEST_P(Conformance, HugeRequestsFailWithEnomem) {
  using A = TypeParam;
  for (size_t n : {SIZE_MAX, SIZE_MAX / 2 + 1, size_t(1) << 52, (size_t(1) << 47) + 4096}) {
    errno = 0;
    EXPECT_EQ(A::malloc(n), nullptr) << n;
    EXPECT_EQ(errno, ENOMEM) << n;
  }
}

TYPED_TEST_P(Conformance, CallocOverflowAndZeroing) {
  using A = TypeParam;
  errno = 0;
  EXPECT_EQ(A::calloc(SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  for (size_t n : {size_t(24), size_t(4000), size_t(70000), size_t(3) << 20}) {
    // Dirty memory of the same size first so a recycled block would show.
    for (int r = 0; r < 4; ++r) {
      void* d = A::malloc(n);
      memset(d, 0xEE, n);
      A::free(d);
    }
    auto* p = static_cast<unsigned char*>(A::calloc(1, n));
    ASSERT_NE(p, nullptr);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(p[i], 0) << n << " at " << i;
    A::free(p);
  }
  void* z = A::calloc(0, 0);
  ASSERT_NE(z, nullptr);
  A::free(z);
}

TYPED_TEST_P(Conformance, ReallocSemantics) {
  using A = TypeParam;
  void* p = A::realloc(nullptr, 40);  // realloc(NULL, n) == malloc(n)
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(A::owns(p));
  EXPECT_EQ(A::realloc(p, 0), nullptr);  // frees p (glibc 2.36)
  // Grow and shrink through every class boundary, contents preserved.
  unsigned char* q = static_cast<unsigned char*>(A::malloc(1));
  q[0] = 0x5A;
  size_t have = 1;
  for (size_t n : {size_t(7), size_t(33), size_t(500), size_t(4097), size_t(70000), size_t(1) << 21, size_t(5) << 20,
                   size_t(3000), size_t(17)}) {
    unsigned char* r = static_cast<unsigned char*>(A::realloc(q, n));
    ASSERT_NE(r, nullptr) << n;
    size_t keep = have < n ? have : n;
    for (size_t i = 0; i < keep; ++i) ASSERT_EQ(r[i], static_cast<unsigned char>(i * 31 + 0x5A)) << n << " " << i;
    for (size_t i = 0; i < n; ++i) r[i] = static_cast<unsigned char>(i * 31 + 0x5A);
    ASSERT_GE(A::malloc_usable_size(r), n);
    q = r;
    have = n;
  }
  // A failed realloc leaves the block valid and unchanged.
  errno = 0;
  EXPECT_EQ(A::realloc(q, SIZE_MAX - 4096), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(q[0], 0x5A);
  A::free(q);
}

TYPED_TEST_P(Conformance, ReallocarrayOverflow) {
  using A = TypeParam;
  void* p = A::malloc(8);
  errno = 0;
  EXPECT_EQ(A::reallocarray(p, SIZE_MAX / 4, 8), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  void* q = A::reallocarray(p, 100, 8);
  ASSERT_NE(q, nullptr);
  EXPECT_GE(A::malloc_usable_size(q), 800u);
  A::free(q);
}

TYPED_TEST_P(Conformance, PosixMemalign) {
  using A = TypeParam;
  void* out = reinterpret_cast<void*>(1);
  EXPECT_EQ(A::posix_memalign(&out, 0, 8), EINVAL);
  EXPECT_EQ(A::posix_memalign(&out, 4, 8), EINVAL);
  EXPECT_EQ(A::posix_memalign(&out, 24, 8), EINVAL);
  EXPECT_EQ(out, reinterpret_cast<void*>(1));  // untouched on error
  for (size_t a = 8; a <= (size_t(4) << 20); a <<= 1)
    for (size_t n : {size_t(0), size_t(1), a - 1, a, a + 1, size_t(3) * a + 5}) {
      void* p = nullptr;
      ASSERT_EQ(A::posix_memalign(&p, a, n), 0) << a << " " << n;
      ASSERT_TRUE(aligned_to(p, a)) << a << " " << n;
      ASSERT_GE(A::malloc_usable_size(p), n);
      if (n) static_cast<char*>(p)[n - 1] = 1;
      A::free(p);
    }
  void* p = nullptr;
  EXPECT_EQ(A::posix_memalign(&p, 64, SIZE_MAX - 64), ENOMEM);
}

TYPED_TEST_P(Conformance, AlignedAllocAndMemalign) {
  using A = TypeParam;
  errno = 0;
  EXPECT_EQ(A::aligned_alloc(3, 8), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(A::memalign(48, 8), nullptr);
  EXPECT_EQ(errno, EINVAL);
  for (size_t a = 1; a <= (size_t(1) << 21); a <<= 1)
    for (size_t n : {size_t(1), a + 3, size_t(100)}) {
      void* p = A::aligned_alloc(a, n);
      void* q = A::memalign(a, n);
      ASSERT_NE(p, nullptr);
      ASSERT_NE(q, nullptr);
      ASSERT_TRUE(aligned_to(p, a < 16 ? 16 : a)) << a;
      ASSERT_TRUE(aligned_to(q, a < 16 ? 16 : a)) << a;
      ASSERT_GE(A::malloc_usable_size(p), n);
      ASSERT_TRUE(A::owns(p));
      A::free(p);
      A::free(q);
    }
}

TYPED_TEST_P(Conformance, VallocPvalloc) {
  using A = TypeParam;
  const size_t page = system_page_size();
  void* v = A::valloc(10);
  ASSERT_TRUE(aligned_to(v, page));
  void* pv = A::pvalloc(page + 1);
  ASSERT_TRUE(aligned_to(pv, page));
  EXPECT_GE(A::malloc_usable_size(pv), 2 * page);
  void* p0 = A::pvalloc(0);
  ASSERT_NE(p0, nullptr);
  EXPECT_GE(A::malloc_usable_size(p0), page);
  A::free(v);
  A::free(pv);
  A::free(p0);
  errno = 0;
  EXPECT_EQ(A::pvalloc(SIZE_MAX - 10), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TYPED_TEST_P(Conformance, NullPointers) {
  using A = TypeParam;
  EXPECT_EQ(A::malloc_usable_size(nullptr), 0u);
  A::free(nullptr);
  EXPECT_FALSE(A::owns(nullptr));
  static char not_heap[64] __attribute__((aligned(16)));
  EXPECT_FALSE(A::owns(not_heap + 32));
}

TYPED_TEST_P(Conformance, TrimStatsAndMallinfo) {
  using A = TypeParam;
  std::vector<void*> v;
  for (int i = 0; i < 64; ++i) v.push_back(A::malloc(64 << 10));
  for (void* p : v) memset(p, 3, 64 << 10);  // resident, so a trim has pages to give back
  struct mallinfo2 m = A::mallinfo2();
  EXPECT_GE(m.uordblks, size_t(64) * (64 << 10));
  heapmark_stat s[256];
  size_t n = A::stats(s, 256);
  EXPECT_GT(n, 0u);
  for (size_t i = 0; i < n; ++i) ASSERT_NE(s[i].name, nullptr);
  EXPECT_EQ(A::stats(s, 0), 0u);
  for (size_t i = 0; i < v.size(); i += 2) A::free(v[i]);
  // Trim gives the freed blocks' pages back and says so (glibc's contract: 1
  // when memory went back); the kernel's view of those pages is the proof.
  EXPECT_EQ(A::malloc_trim(0), api_releases<A>() ? 1 : 0);
#ifndef _WIN32
  if (api_releases<A>()) {
    // A free block's first bytes hold its allocator's links, which stay resident:
    // glibc keeps 32 bytes past the pointer (fd, bk and the large-bin links),
    // ptmalloc-style 48 (its decay tags too). The page holding them is not
    // counted; which blocks have one depends on where the heap began.
    constexpr size_t kFreeBlockLinks = 64;
    size_t resident = 0, pages = 0;
    for (size_t i = 0; i < v.size(); i += 2)
      resident +=
          resident_interior_pages(static_cast<char*>(v[i]) + kFreeBlockLinks, (64 << 10) - kFreeBlockLinks, &pages);
    EXPECT_GT(pages, 0u);
    EXPECT_EQ(resident, 0u) << "of " << pages << " interior pages of the freed blocks, after malloc_trim(0)";
  }
#endif
  for (size_t i = 1; i < v.size(); i += 2) {
    memset(v[i], 1, 64 << 10);  // survivors still usable after trim
    A::free(v[i]);
  }
}

TYPED_TEST_P(Conformance, DoubleFreeAborts) {
  using A = TypeParam;
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        void* p = A::malloc(48);
        void* keep = A::malloc(48);  // keeps the small block's slab/region alive
        A::free(p);
        A::free(p);
        A::free(keep);
      },
      "double free");
  EXPECT_DEATH(
      {
        void* p = A::malloc(100000);
        void* keep = A::malloc(100000);
        A::free(p);
        A::free(p);
        A::free(keep);
      },
      "double free");
}

TYPED_TEST_P(Conformance, InvalidFreeAborts) {
  using A = TypeParam;
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        char* p = static_cast<char*>(A::malloc(256));
        A::free(p + 16);
      },
      "invalid pointer");
  EXPECT_DEATH(
      {
        static char not_heap[64] __attribute__((aligned(16)));
        A::free(not_heap);
      },
      "invalid pointer");
}

REGISTER_TYPED_TEST_SUITE_P(Conformance, MallocAlignmentAndUsableSizeEverySize, LiveBlocksDoNotOverlap,
                            MallocZeroGivesUniqueBlocks, HugeRequestsFailWithEnomem, CallocOverflowAndZeroing,
                            ReallocSemantics, ReallocarrayOverflow, PosixMemalign, AlignedAllocAndMemalign,
                            VallocPvalloc, NullPointers, TrimStatsAndMallinfo, DoubleFreeAborts, InvalidFreeAborts);

}  // namespace heapmark::testing
