// `heapmark attach PID` on a real process: its outside view adds up, finds the
// fixture's brk heap, arenas and thread stacks where they are, agrees with
// /proc read by the test itself, and every process attach cannot look at is
// refused in one line with exit status 2, the process left running.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/attach/fixture.h"
#include "tests/support/heapmark_command.h"

namespace json = boost::json;
extern char** environ;

namespace {

using heapmark::test::Preloaded;
using heapmark::test::Target;

heapmark::test::CommandResult heapmark_cmd(const std::string& args) {
  return heapmark::test::run_heapmark_command(HEAPMARK_BIN, args);
}

uint64_t kb(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stoull(line.substr(key.size() + 1)) * 1024;
  return 0;
}

}  // namespace

TEST(Attach, TheOutsideViewAddsUpAndFindsTheHeapsAndStacks) {
  Target t(4, 16, 24);
  ASSERT_TRUE(t.ready());
  const auto r = heapmark_cmd("attach " + std::to_string(t.pid) + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto v = json::parse(r.out).as_object();
  const auto& parts = v.at("parts").as_object();
  uint64_t sum = 0;
  for (const auto& [name, bytes] : parts) sum += bytes.to_number<uint64_t>();
  const uint64_t resident = v.at("resident").to_number<uint64_t>();
  EXPECT_EQ(sum, resident) << "every resident byte is in exactly one part";
  // The process's own figures, read here: the view is within a few pages of them.
  const std::string proc = "/proc/" + std::to_string(t.pid);
  const double rollup = double(kb(proc + "/smaps_rollup", "Rss")), status = double(kb(proc + "/status", "VmRSS"));
  EXPECT_NEAR(double(resident), rollup, 0.02 * rollup);
  EXPECT_NEAR(double(resident), status, 0.02 * status);
  // 24 MiB kept live in 64 KiB blocks, each written but for its last 64 bytes: the brk heap.
  EXPECT_GE(parts.at("brk heap").to_number<double>(), 384.0 * (65536 - 64));
  // Four threads filled 16 MiB each in their own arenas and freed 31 of 32 blocks: glibc keeps the freed
  // chunks between live ones resident, so the arena heaps hold most of the 64 MiB.
  EXPECT_GE(v.at("arena_heaps").to_number<int>(), 2);
  EXPECT_GE(parts.at("arena heaps").to_number<double>(), 0.5 * 64 * (1 << 20));
  EXPECT_GE(v.at("thread_stacks").to_number<int>(), 5) << "the main stack and four thread stacks";
  EXPECT_GT(parts.at("file").to_number<double>(), 0);
  EXPECT_EQ(v.at("threads").to_number<int>(), 5);
  EXPECT_EQ(kill(t.pid, 0), 0) << "the process runs on";
  EXPECT_TRUE(v.at("allocator_libraries").as_array().empty()) << "glibc's malloc: none of the registry's libraries";
}

// Under a preloaded allocator its library is named, once (je-bg shares jemalloc's).
TEST(Attach, APreloadedAllocatorsLibraryIsNamedOnce) {
  Preloaded t(JEMALLOC_LIB, 2, 4, 4);
  ASSERT_TRUE(t.ready());
  const auto r = heapmark_cmd("attach " + std::to_string(t.pid) + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto libs = json::parse(r.out).at("allocator_libraries").as_array();
  ASSERT_EQ(libs.size(), 1u) << json::serialize(libs);
  EXPECT_NE(std::string(libs[0].as_string()).find("libjemalloc"), std::string::npos);
}

TEST(Attach, WhatCannotBeLookedAtIsRefusedInOneLine) {
  auto refused = [](const std::string& args, const std::string& fragment) {
    const auto r = heapmark_cmd(args);
    EXPECT_EQ(r.status, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find(fragment), std::string::npos) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  };
  refused("attach 0", "a whole number above 0");
  refused("attach -5", "a whole number above 0");
  refused("attach abc", "a whole number above 0");
  std::ifstream pm("/proc/sys/kernel/pid_max");
  long pid_max = 0;
  pm >> pid_max;
  refused("attach " + std::to_string(pid_max), "no such process");  // pids stay below pid_max
  refused("attach 2", "a kernel thread");                           // kthreadd
  // A zombie: a child that exited and is not reaped yet.
  const pid_t z = fork();
  if (z == 0) _exit(0);
  ASSERT_GT(z, 0);
  for (int i = 0; i < 2000; ++i) {  // until the kernel shows it as a zombie (a deadline, not a wait)
    std::ifstream st("/proc/" + std::to_string(z) + "/stat");
    std::string pid, comm, state;
    st >> pid >> comm >> state;
    if (state == "Z") break;
    usleep(1000);
  }
  refused("attach " + std::to_string(z), "has exited");
  waitpid(z, nullptr, 0);
  // heapmark itself: the shell's pid is heapmark's once it execs.
  const auto self = heapmark::test::run_heapmark_command("sh -c 'exec \"$0\" attach $$'", HEAPMARK_BIN);
  EXPECT_EQ(self.status, 2) << self.err;
  EXPECT_NE(self.err.find("this heapmark itself"), std::string::npos) << self.err;
}

// A user who may not trace the process is told what to change; the process is untouched.
TEST(Attach, AUserWhoMayNotTraceItIsToldWhatToChange) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  Target t(1, 1, 1);
  ASSERT_TRUE(t.ready());
  int err[2];
  ASSERT_EQ(pipe(err), 0);
  const pid_t child = fork();
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(10);  // nobody
    const int null = ::open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(err[1], 2);
    execl(HEAPMARK_BIN, HEAPMARK_BIN, "attach", std::to_string(t.pid).c_str(), static_cast<char*>(nullptr));
    _exit(11);
  }
  close(err[1]);
  std::string said;
  char buf[512];
  for (ssize_t n; (n = read(err[0], buf, sizeof buf)) > 0;) said.append(buf, static_cast<size_t>(n));
  close(err[0]);
  int st = 0;
  waitpid(child, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  if (WEXITSTATUS(st) == 11) GTEST_SKIP() << "user nobody cannot run " << HEAPMARK_BIN << " from where it was built";
  EXPECT_EQ(WEXITSTATUS(st), 2) << said;
  EXPECT_NE(said.find("not allowed to read its memory maps"), std::string::npos) << said;
  EXPECT_NE(said.find("CAP_SYS_PTRACE"), std::string::npos) << said;
  EXPECT_EQ(kill(t.pid, 0), 0);
}
