// The kernel event counters: what opens, what is refused and why, and that a
// refused event is never read as a zero.
#include "harness/metrics/perf.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

using namespace heapmark::metrics;

namespace {

int paranoid() {
  std::ifstream in("/proc/sys/kernel/perf_event_paranoid");
  int v = -99;
  in >> v;
  return v;
}

// Touches `pages` fresh anonymous pages; returns the counters' minor faults meanwhile.
double minor_faults_touching(const perf::Counters& c, size_t pages) {
  perf::Reading a, b;
  c.read(a);
  auto* p = static_cast<volatile char*>(
      mmap(nullptr, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  for (size_t i = 0; i < pages; ++i) p[i * 4096] = 1;
  c.read(b);
  munmap(const_cast<char*>(p), pages * 4096);
  return perf::delta(a, b, 2, nullptr);
}

}  // namespace

TEST(PerfCounters, EveryEventIsCountedOrUnavailableWithItsReason) {
  perf::Counters c;
  c.open();
  ASSERT_TRUE(c.any()) << "software events open wherever perf_event_open exists";
  for (size_t i = 0; i < perf::kEvents; ++i) {
    const auto& a = c.availability(i);
    const auto& e = perf::event_info(i);
    if (a.error == 0) continue;
    char buf[256];
    const std::string why = perf::unavailable_reason(i, a, buf, sizeof buf);
    EXPECT_NE(why.find("errno " + std::to_string(a.error)), std::string::npos) << e.name << ": " << why;
    // This VM has no PMU: its hardware events say so (elsewhere they open and are not checked here).
    if (e.hardware && a.error == ENOENT) {
      EXPECT_NE(why.find("no hardware PMU"), std::string::npos) << why;
    }
  }
  EXPECT_EQ(c.availability(2).error, 0) << "minor-faults";
  EXPECT_NEAR(minor_faults_touching(c, 2048), 2048, 2048 * 0.05);
}

TEST(PerfCounters, HardwareEventsWithoutAPmuAreUnavailableNotZero) {
  perf::Counters c;
  c.open();
  for (size_t i = 0; i < perf::kEvents; ++i) {
    if (!perf::event_info(i).hardware) continue;
    perf::Reading a, b;
    c.read(a);
    volatile uint64_t x = 0;
    for (int k = 0; k < 1000000; ++k) x = x + static_cast<uint64_t>(k);
    c.read(b);
    // Either the machine counts it (cycles, instructions and branch misses of
    // a million-iteration loop are not zero) or it is marked unavailable.
    if (c.availability(i).error == 0 && (i == 6 || i == 7)) {
      EXPECT_GT(perf::delta(a, b, i, nullptr), 0) << perf::event_info(i).name;
    } else if (c.availability(i).error != 0) {
      // Unavailable: the results get a reason naming errno, never a number (the
      // cell's JSON then has no "total": Run.EventCountersAgreeWithRusage... checks that end).
      char buf[256];
      const std::string why = perf::unavailable_reason(i, c.availability(i), buf, sizeof buf);
      EXPECT_NE(why.find("perf_event_open: "), std::string::npos) << perf::event_info(i).name << ": " << why;
    }
  }
}

// Where perf_event_paranoid is 2 or more, an unprivileged user may count only
// user space: page faults are still counted (their registers are the user's)
// and marked user_only; context switches happen only in the kernel, so they
// are unavailable with EACCES instead of a misleading 0.
TEST(PerfCounters, AnUnprivilegedUserUnderParanoid2CountsUserSpaceOnly) {
  if (paranoid() < 2) GTEST_SKIP() << "perf_event_paranoid is " << paranoid() << ": nothing is refused";
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become an unprivileged user";
  int pipe_fd[2];
  ASSERT_EQ(pipe(pipe_fd), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fd[0]);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(10);  // nobody
    perf::Counters c;
    c.open();
    char line[512];
    char reason[256];
    const double faults = c.availability(2).error == 0 ? minor_faults_touching(c, 512) : -1;
    std::snprintf(line, sizeof line, "%d %d %d %d %.0f %s", c.availability(2).error,
                  c.availability(2).user_only ? 1 : 0, c.availability(4).error, c.availability(5).error, faults,
                  perf::unavailable_reason(4, c.availability(4), reason, sizeof reason));
    if (write(pipe_fd[1], line, std::strlen(line)) < 0) _exit(11);
    _exit(0);
  }
  close(pipe_fd[1]);
  char buf[512] = {};
  ssize_t n = read(pipe_fd[0], buf, sizeof buf - 1);
  close(pipe_fd[0]);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  ASSERT_GT(n, 0);
  int minor_err = -1, minor_user = -1, cs_err = -1, mig_err = -1;
  double faults = 0;
  int used = 0;
  ASSERT_EQ(std::sscanf(buf, "%d %d %d %d %lf %n", &minor_err, &minor_user, &cs_err, &mig_err, &faults, &used), 5)
      << buf;
  const std::string reason = buf + used;
  EXPECT_EQ(minor_err, 0);
  EXPECT_EQ(minor_user, 1) << "counted with exclude_kernel";
  EXPECT_NEAR(faults, 512, 512 * 0.05) << "user-space faults are still counted";
  EXPECT_EQ(cs_err, EACCES);
  EXPECT_EQ(mig_err, EACCES);
  EXPECT_NE(reason.find("perf_event_paranoid=" + std::to_string(paranoid())), std::string::npos) << reason;
  EXPECT_NE(reason.find("only in the kernel"), std::string::npos) << reason;
}
