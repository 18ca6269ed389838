// The OS contract's Windows implementation (allocators/os/os_windows.cc),
// checked against what VirtualQuery and GetProcessMemoryInfo say of the pages:
// reserve leaves them reserved, commit commits them, decommit returns them to
// reserved (the reservation stays), recommit and purge leave them committed
// and zero, release frees the range. Runs under wine64 (tests/windows).
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// After windows.h: psapi.h needs its types.
#include <gtest/gtest.h>
#include <psapi.h>
#include <stdint.h>
#include <string.h>

#include "os/os.h"

namespace os = heapmark::os;

namespace {

MEMORY_BASIC_INFORMATION query(const void* p) {
  MEMORY_BASIC_INFORMATION m;
  memset(&m, 0, sizeof m);
  EXPECT_EQ(VirtualQuery(p, &m, sizeof m), sizeof m);
  return m;
}

// Bytes of [p, p+n) in each state, walking VirtualQuery's regions.
struct States {
  size_t committed = 0, reserved = 0, free = 0;
};
States states(const void* p, size_t n) {
  States s;
  const char* a = static_cast<const char*>(p);
  const char* end = a + n;
  while (a < end) {
    MEMORY_BASIC_INFORMATION m = query(a);
    const char* region_end = static_cast<const char*>(m.BaseAddress) + m.RegionSize;
    size_t bytes = size_t((region_end < end ? region_end : end) - a);
    if (m.State == MEM_COMMIT) s.committed += bytes;
    if (m.State == MEM_RESERVE) s.reserved += bytes;
    if (m.State == MEM_FREE) s.free += bytes;
    a += bytes;
  }
  return s;
}

size_t working_set() {
  PROCESS_MEMORY_COUNTERS c;
  memset(&c, 0, sizeof c);
  c.cb = sizeof c;
  EXPECT_TRUE(GetProcessMemoryInfo(GetCurrentProcess(), &c, sizeof c));
  return c.WorkingSetSize;
}

bool all_zero(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

}  // namespace

TEST(OsWindows, PageSizeAndGranularityAreTheSystems) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  EXPECT_EQ(os::page_size(), si.dwPageSize);
  EXPECT_EQ(os::allocation_granularity(), si.dwAllocationGranularity);
  EXPECT_EQ(os::allocation_granularity(), 65536u);
  void* p = os::reserve(os::page_size());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % os::allocation_granularity(), 0u);
  os::release(p, os::page_size());
}

TEST(OsWindows, ReserveCommitDecommitRecommitRelease) {
  const size_t page = os::page_size(), n = 64 * page;
  os::Counters c0 = os::counters();
  char* p = static_cast<char*>(os::reserve(n));
  ASSERT_NE(p, nullptr);
  MEMORY_BASIC_INFORMATION m = query(p);
  EXPECT_EQ(m.State, MEM_RESERVE);
  EXPECT_EQ(m.Type, MEM_PRIVATE);
  EXPECT_EQ(states(p, n).reserved, n);

  ASSERT_TRUE(os::commit(p, 32 * page));
  EXPECT_EQ(states(p, n).committed, 32 * page);
  memset(p, 0xAB, 32 * page);

  // Decommit: the pages go back to reserved, not to free: the range stays ours.
  os::decommit(p + 8 * page, 16 * page);
  States s = states(p, n);
  EXPECT_EQ(s.committed, 16 * page);
  EXPECT_EQ(s.reserved, n - 16 * page);
  EXPECT_EQ(s.free, 0u);
  EXPECT_EQ(query(p + 8 * page).AllocationBase, p);

  // Recommit: usable again, and zero.
  ASSERT_TRUE(os::recommit(p + 8 * page, 16 * page));
  EXPECT_EQ(states(p, n).committed, 32 * page);
  EXPECT_TRUE(all_zero(p + 8 * page, 16 * page));
  EXPECT_EQ(static_cast<unsigned char>(p[0]), 0xAB);  // neighbours kept their contents

  os::Counters c1 = os::counters();
  EXPECT_EQ(c1.reserved - c0.reserved, n);
  EXPECT_EQ(c1.committed - c0.committed, 48 * page);
  EXPECT_EQ(c1.decommitted - c0.decommitted, 16 * page);

  os::release(p, n);
  EXPECT_EQ(states(p, n).free, n);
  EXPECT_EQ(os::counters().released - c1.released, n);
}

TEST(OsWindows, PurgeKeepsTheRangeCommittedAndZeroes) {
  const size_t page = os::page_size(), n = 16 * page;
  char* p = static_cast<char*>(os::reserve_committed(n));
  ASSERT_NE(p, nullptr);
  memset(p, 0x5A, n);
  os::purge(p + 4 * page, 8 * page);
  EXPECT_EQ(states(p, n).committed, n);  // a usable page is a committed page
  EXPECT_TRUE(all_zero(p + 4 * page, 8 * page));
  EXPECT_EQ(p[0], 0x5A);
  memset(p + 4 * page, 1, 8 * page);  // writable without another call
  os::release(p, n);
}

TEST(OsWindows, LazyDecommitKeepsTheRangeUsable) {
  const size_t page = os::page_size(), n = 16 * page;
  char* p = static_cast<char*>(os::reserve_committed(n));
  ASSERT_NE(p, nullptr);
  memset(p, 0x33, n);
  os::decommit_lazy(p, n);
  EXPECT_EQ(states(p, n).committed, n);
  memset(p, 0x44, n);  // contents undefined, but the pages stay writable
  EXPECT_EQ(p[n - 1], 0x44);
  os::release(p, n);
}

TEST(OsWindows, DecommitLowersTheWorkingSet) {
  const size_t n = size_t(32) << 20;
  char* p = static_cast<char*>(os::reserve_committed(n));
  ASSERT_NE(p, nullptr);
  memset(p, 1, n);
  const size_t touched = working_set();
  os::decommit(p, n);
  const size_t after = working_set();
  EXPECT_LT(after + (n * 3) / 4, touched) << "working set " << touched << " -> " << after;
  os::release(p, n);
}

TEST(OsWindows, AlignedReservations) {
  const size_t page = os::page_size();
  for (size_t align : {size_t(1) << 16, size_t(1) << 20, size_t(1) << 22, size_t(1) << 26}) {
    void* p = os::reserve(16 * page, align);
    ASSERT_NE(p, nullptr) << align;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align;
    EXPECT_EQ(states(p, 16 * page).reserved, 16 * page);
    os::release(p, 16 * page);
    EXPECT_EQ(states(p, 16 * page).free, 16 * page);
  }
  EXPECT_EQ(os::reserve(16 * page, 3 * page), nullptr);  // not a power of two
  EXPECT_EQ(os::reserve(0), nullptr);
  EXPECT_EQ(os::reserve(page + 1), nullptr);
}

TEST(OsWindows, PlatformHelpers) {
  EXPECT_GE(os::online_cpus(), 1u);
  EXPECT_NE(os::entropy(), os::entropy());
  const uint64_t t0 = os::monotonic_ms();
  os::sleep_ms(30);
  EXPECT_GE(os::monotonic_ms() - t0, 10u);  // GetTickCount64 advances in steps of up to 16 ms
}
