// Unit test of the OS contract (allocators/os): alignment of reservations,
// commit making memory usable, decommit dropping residency and zeroing, and the
// byte counters moving by exactly what each call was given.
#include <gtest/gtest.h>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <fstream>
#include <sys/mman.h>
#include <stdint.h>
#include <string.h>

#include <thread>
#include <vector>

#include "os/os.h"

namespace os = heapmark::os;

namespace {
// Number of resident pages in [p, p+n), from mincore (the test may ask the kernel directly).
size_t resident_pages(void* p, size_t n) {
  const size_t page = os::page_size();
  std::vector<unsigned char> v(n / page);
  if (mincore(p, n, v.data()) != 0) return SIZE_MAX;
  size_t r = 0;
  for (unsigned char c : v) r += c & 1;
  return r;
}
}  // namespace

TEST(Os, PageSizeIsCachedPowerOfTwo) {
  size_t p = os::page_size();
  EXPECT_EQ(p, os::page_size());
  EXPECT_EQ(p & (p - 1), 0u);
  EXPECT_GE(p, 4096u);
}

TEST(Os, ReserveRejectsBadSizes) {
  EXPECT_EQ(os::reserve(0), nullptr);
  EXPECT_EQ(os::reserve(os::page_size() + 1), nullptr);
}

TEST(Os, CountersTrackEveryCall) {
  const size_t page = os::page_size();
  const size_t n = 64 * page;
  os::Counters c0 = os::counters();
  void* p = os::reserve(n);
  ASSERT_NE(p, nullptr);
  os::Counters c1 = os::counters();
  EXPECT_EQ(c1.reserved - c0.reserved, n);
  EXPECT_EQ(c1.committed, c0.committed);

  ASSERT_TRUE(os::commit(p, 16 * page));
  os::Counters c2 = os::counters();
  EXPECT_EQ(c2.committed - c1.committed, 16 * page);

  os::decommit(p, 4 * page);
  os::decommit_lazy(static_cast<char*>(p) + 4 * page, 2 * page);
  os::Counters c3 = os::counters();
  EXPECT_EQ(c3.decommitted - c2.decommitted, 6 * page);

  os::release(p, n);
  os::Counters c4 = os::counters();
  EXPECT_EQ(c4.released - c3.released, n);
}

TEST(Os, AlignedReservation) {
  const size_t page = os::page_size();
  for (size_t align : {page, 2 * page, size_t(1) << 20, size_t(1) << 22}) {
    void* p = os::reserve(8 * page, align);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align;
    os::release(p, 8 * page);
  }
}

TEST(Os, CommitWriteDecommitZeroesAndDropsRss) {
  const size_t page = os::page_size();
  const size_t n = 32 * page;
  char* p = static_cast<char*>(os::reserve_committed(n));
  ASSERT_NE(p, nullptr);
  memset(p, 0xAB, n);
  EXPECT_EQ(resident_pages(p, n), n / page);
  os::decommit(p, n / 2);
  EXPECT_EQ(resident_pages(p, n), n / page / 2);
  for (size_t i = 0; i < n / 2; i += 512) ASSERT_EQ(p[i], 0) << i;
  EXPECT_EQ(static_cast<unsigned char>(p[n / 2]), 0xABu);
  // Linux keeps the range readable and writable; the contract still asks for
  // recommit() before reuse (Windows needs it), which costs no system call here.
  os::Counters c0 = os::counters();
  const size_t resident = resident_pages(p, n);
  ASSERT_TRUE(os::recommit(p, n / 2));
  EXPECT_EQ(os::counters().committed - c0.committed, n / 2);
  EXPECT_EQ(resident_pages(p, n), resident);  // recommit touches nothing
  p[0] = 1;
  EXPECT_EQ(p[0], 1);
  os::release(p, n);
}

TEST(Os, ReserveCommittedIsUsableAtOnceAndCountedAsBoth) {
  const size_t page = os::page_size();
  os::Counters c0 = os::counters();
  for (size_t align : {size_t(0), size_t(1) << 21}) {
    char* p = static_cast<char*>(os::reserve_committed(8 * page, align));
    ASSERT_NE(p, nullptr);
    if (align) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u);
    }
    memset(p, 0x11, 8 * page);
    EXPECT_EQ(resident_pages(p, 8 * page), 8u);
    os::release(p, 8 * page);
  }
  os::Counters c1 = os::counters();
  EXPECT_EQ(c1.reserved - c0.reserved, 16 * page);
  EXPECT_EQ(c1.committed - c0.committed, 16 * page);
}

// What glibc's realloc does with a mmapped chunk: the pages move, their
// contents with them, and the pages added read zero.
TEST(Os, RemapMovesAReservationWithItsPages) {
  const size_t page = os::page_size();
  char* p = static_cast<char*>(os::reserve_committed(16 * page));
  ASSERT_NE(p, nullptr);
  for (size_t i = 0; i < 16; ++i) p[i * page] = char(i + 1);
  os::Counters c0 = os::counters();
  char* q = static_cast<char*>(os::remap(p, 16 * page, 64 * page));
  ASSERT_NE(q, nullptr);
  os::Counters c1 = os::counters();
  EXPECT_EQ(c1.released - c0.released, 16 * page);
  EXPECT_EQ(c1.reserved - c0.reserved, 64 * page);
  EXPECT_EQ(c1.committed - c0.committed, 64 * page);
  EXPECT_EQ(resident_pages(q, 64 * page), 16u) << "the 16 written pages moved; the 48 added are untouched";
  for (size_t i = 0; i < 16; ++i) ASSERT_EQ(q[i * page], char(i + 1)) << i;
  for (size_t i = 16; i < 64; ++i) ASSERT_EQ(q[i * page], 0) << i;
  q[63 * page] = 7;
  char* r = static_cast<char*>(os::remap(q, 64 * page, 4 * page));
  ASSERT_NE(r, nullptr);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(r[i * page], char(i + 1)) << i;
  os::release(r, 4 * page);
}

TEST(Os, PurgeDropsResidencyAndZeroesKeepingTheRangeUsable) {
  const size_t page = os::page_size();
  const size_t n = 16 * page;
  char* p = static_cast<char*>(os::reserve_committed(n));
  ASSERT_NE(p, nullptr);
  memset(p, 0x5A, n);
  os::Counters c0 = os::counters();
  os::purge(p + 4 * page, 8 * page);
  EXPECT_EQ(os::counters().decommitted - c0.decommitted, 8 * page);
  EXPECT_EQ(resident_pages(p, n), n / page - 8);
  for (size_t i = 4 * page; i < 12 * page; i += 256) ASSERT_EQ(p[i], 0) << i;
  EXPECT_EQ(p[0], 0x5A);
  p[5 * page] = 3;  // usable without another call
  EXPECT_EQ(p[5 * page], 3);
  os::release(p, n);
}

TEST(Os, PlatformHelpers) {
  EXPECT_GE(os::online_cpus(), 1u);
  EXPECT_LE(os::online_cpus(), std::thread::hardware_concurrency());  // the affinity mask, not more
  EXPECT_NE(os::entropy(), os::entropy());
  const uint64_t t0 = os::monotonic_ms();
  os::sleep_ms(30);
  EXPECT_GE(os::monotonic_ms() - t0, 20u);  // CLOCK_MONOTONIC_COARSE: a 4 ms tick at most
  EXPECT_EQ(os::allocation_granularity(), os::page_size());
}

// LazyFree of the mapping holding `p`, in bytes, from /proc/self/smaps (the kernel's view).
static size_t lazy_free_bytes_of(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      inside = a >= lo && a < hi;
    } else if (inside && line.rfind("LazyFree:", 0) == 0) {
      return std::strtoull(line.c_str() + 9, nullptr, 10) * 1024;
    }
  }
  return 0;
}

// decommit_lazy is MADV_FREE: the kernel counts the pages as LazyFree (it may
// take them without a write-back) and the range stays usable; where MADV_FREE
// is refused, the DONTNEED fallback drops them at once (mincore: not resident).
// The kernel moves pages to the lazy-free list in per-CPU batches (at most 31
// folios wait in one), so 4 MiB is used and the last batch's pages are allowed for.
TEST(Os, LazyDecommitKeepsRangeUsable) {
  const size_t page = os::page_size();
  const size_t pages = 1024, n = pages * page;
  char* p = static_cast<char*>(os::reserve_committed(n));
  ASSERT_NE(p, nullptr);
  memset(p, 1, n);
  const size_t lazy0 = lazy_free_bytes_of(p);
  os::decommit_lazy(p, n);
  std::vector<unsigned char> in(pages);
  ASSERT_EQ(mincore(p, n, in.data()), 0);
  size_t resident = 0;
  for (unsigned char r : in) resident += r & 1;
  EXPECT_TRUE(lazy_free_bytes_of(p) >= lazy0 + n - 32 * page || resident == 0)
      << "LazyFree " << lazy_free_bytes_of(p) << " B (before " << lazy0 << "), " << resident << " of " << pages
      << " pages resident";
  p[0] = 7;
  EXPECT_EQ(p[0], 7);
  os::release(p, n);
}
