#include "harness/metrics/procfs.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace pf = heapmark::metrics::procfs;

TEST(Procfs, ParsesStatmInPages) {
  const std::string text = "2000 300 100 50 0 400 0\n";
  pf::Statm s;
  ASSERT_TRUE(pf::parse_statm(text.data(), text.size(), 4096, s));
  EXPECT_EQ(s.size, 2000u * 4096);
  EXPECT_EQ(s.resident, 300u * 4096);
  EXPECT_EQ(s.shared, 100u * 4096);
  EXPECT_EQ(s.anon(), 200u * 4096);
  const std::string bad = "x 1 2";
  EXPECT_FALSE(pf::parse_statm(bad.data(), bad.size(), 4096, s));
}

TEST(Procfs, ParsesSmapsRollupIncludingTheHeaderLine) {
  // The first line holds "00:00", a colon that is not a field.
  const std::string text =
      "5648597fc000-7ffda82f1000 ---p 00000000 00:00 0                          [rollup]\n"
      "Rss:                1744 kB\nPss:                 545 kB\nAnonymous:           112 kB\n"
      "LazyFree:             8 kB\nAnonHugePages:      2048 kB\nSwap:                  0 kB\n";
  pf::SmapsRollup r;
  ASSERT_TRUE(pf::parse_smaps_rollup(text.data(), text.size(), r));
  EXPECT_EQ(r.rss, 1744u * 1024);
  EXPECT_EQ(r.anonymous, 112u * 1024);
  EXPECT_EQ(r.lazy_free, 8u * 1024);
  EXPECT_EQ(r.anon_huge_pages, 2048u * 1024);
  const std::string missing = "Rss: 1 kB\n";
  EXPECT_FALSE(pf::parse_smaps_rollup(missing.data(), missing.size(), r));
}

TEST(Procfs, ParsesMapsLines) {
  pf::Mapping m;
  const std::string heap = "55d0c3a5e000-55d0c3a7f000 rw-p 00000000 00:00 0                          [heap]";
  ASSERT_TRUE(pf::parse_maps_line(heap.data(), heap.size(), m));
  EXPECT_EQ(m.lo, 0x55d0c3a5e000u);
  EXPECT_EQ(m.hi, 0x55d0c3a7f000u);
  EXPECT_TRUE(m.readable && m.writable && !m.shared && m.anonymous);
  EXPECT_STREQ(m.name, "[heap]");
  const std::string anon = "7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 ";
  ASSERT_TRUE(pf::parse_maps_line(anon.data(), anon.size(), m));
  EXPECT_TRUE(m.anonymous);
  EXPECT_STREQ(m.name, "");
  const std::string file = "7f1c2b000000-7f1c2b022000 r-xp 00002000 fe:01 1234567  /usr/lib/x86_64-linux-gnu/libc.so.6";
  ASSERT_TRUE(pf::parse_maps_line(file.data(), file.size(), m));
  EXPECT_FALSE(m.anonymous);
  EXPECT_FALSE(m.writable);
  const std::string shared = "7f1c2c000000-7f1c2c001000 rw-s 00000000 00:01 99 /dev/zero (deleted)";
  ASSERT_TRUE(pf::parse_maps_line(shared.data(), shared.size(), m));
  EXPECT_TRUE(m.shared);
  const std::string bad = "not a mapping";
  EXPECT_FALSE(pf::parse_maps_line(bad.data(), bad.size(), m));
  // And this process's own: at least its stack and one anonymous mapping.
  static pf::Mapping maps[4096];
  const size_t n = pf::read_maps(maps, 4096);
  ASSERT_GT(n, 4u);
  bool stack = false;
  for (size_t i = 0; i < n; ++i) stack |= std::strcmp(maps[i].name, "[stack]") == 0;
  EXPECT_TRUE(stack);
  for (size_t i = 1; i < n; ++i) EXPECT_LE(maps[i - 1].hi, maps[i].lo);
}

TEST(Procfs, SeesItsOwnAnonymousMemoryGrow) {
  pf::SmapsRollup before, after;
  ASSERT_TRUE(pf::read_smaps_rollup("/proc/self/smaps_rollup", before));
  const size_t len = 64 << 20;
  char* p = static_cast<char*>(mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  std::memset(p, 1, len);
  ASSERT_TRUE(pf::read_smaps_rollup("/proc/self/smaps_rollup", after));
  EXPECT_GE(after.anonymous, before.anonymous + len - (1 << 20));

  const int fd = open("/proc/self/statm", O_RDONLY);
  pf::Statm st;
  ASSERT_TRUE(pf::read_statm(fd, static_cast<uint64_t>(sysconf(_SC_PAGESIZE)), st));
  EXPECT_GE(st.anon(), len);
  close(fd);
  pf::Status status;
  ASSERT_TRUE(pf::read_status("/proc/self/status", status));
  EXPECT_GE(status.vm_hwm, status.vm_rss);
  EXPECT_GE(status.vm_rss, len);
  munmap(p, len);
}
