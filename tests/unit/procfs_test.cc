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
