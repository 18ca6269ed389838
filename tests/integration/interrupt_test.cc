// Interruptions, one per point a long command can be stopped at: SIGINT in a
// run and in a repro catalogue, a second writer while a run holds its
// directory, a disk that fills under cells.jsonl and under a recording. Each
// is finished with the command heapmark printed, nothing redone or duplicated.
// Every wait is for an observable state (a file, a line), with a generous deadline.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/heapmark_command.h"

namespace fs = std::filesystem;
namespace json = boost::json;

extern char** environ;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/heapmark-interrupt-XXXXXX";
  return mkdtemp(tmpl);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// heapmark in the background, stdout and stderr to `log`.
pid_t start(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> all{HEAPMARK_BIN};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  posix_spawn(&pid, HEAPMARK_BIN, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

int wait_status(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool wait_for(const std::function<bool()>& cond, int seconds = 120) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The complete lines of cells.jsonl; every one must parse (no torn line in the middle).
std::vector<json::object> cells(const std::string& dir) {
  std::vector<json::object> out;
  const std::string text = slurp(dir + "/cells.jsonl");
  for (size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1)
    out.push_back(json::parse(text.substr(pos, nl - pos)).as_object());
  return out;
}

size_t complete_lines(const std::string& dir) {
  const std::string text = slurp(dir + "/cells.jsonl");
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

void expect_each_key_once(const std::vector<json::object>& cs, size_t n) {
  std::set<std::string> keys;
  for (const auto& c : cs) keys.insert(std::string(c.at("key").as_string()));
  EXPECT_EQ(cs.size(), n);
  EXPECT_EQ(keys.size(), n) << "no cell recorded twice";
}

heapmark::test::CommandResult heapmark_cmd(const std::string& args) {
  return heapmark::test::run_heapmark_command(HEAPMARK_BIN, args);
}

// A run of 8 cells long enough to be caught running, started in the background into out/r.
pid_t start_slow_run(const std::string& out, const std::string& log) {
  return start({"run", "--allocators", "glibc,jemalloc", "--workloads", "churn", "-p", "count=200000", "--reps", "4",
                "-q", "--out", out, "--run-id", "r"},
               log);
}

}  // namespace

TEST(Interrupt, SigintStopsARunWithStatus130AndTheCommandItPrintsFinishesIt) {
  const std::string out = temp_dir(), dir = out + "/r", log = out + "/log";
  const pid_t pid = start_slow_run(out, log);
  ASSERT_TRUE(wait_for([&] { return complete_lines(dir) >= 1; })) << slurp(log);
  kill(pid, SIGINT);
  EXPECT_EQ(wait_status(pid), 130) << slurp(log);
  const std::string said = slurp(log);
  EXPECT_NE(said.find("finish with: heapmark run --resume " + dir), std::string::npos) << said;
  const size_t before = cells(dir).size();
  ASSERT_GE(before, 1u);
  ASSERT_LT(before, 8u) << "the run ended before the signal: make its cells longer";

  const auto r = heapmark_cmd("run --resume " + dir + " -q");
  EXPECT_EQ(r.status, 0) << r.err;
  expect_each_key_once(cells(dir), 8);
  fs::remove_all(out);
}

TEST(Interrupt, ASecondWriterIsRefusedNamingTheHolderAndTheRunIsUntouched) {
  const std::string out = temp_dir(), dir = out + "/r", log = out + "/log";
  const pid_t pid = start_slow_run(out, log);
  // run.json is written after the directory is locked: from then on the lock is held.
  ASSERT_TRUE(wait_for([&] { return fs::exists(dir + "/run.json"); })) << slurp(log);
  const auto second = heapmark_cmd("run --resume " + dir + " -q");
  EXPECT_EQ(second.status, 2) << second.err;
  EXPECT_NE(second.err.find("is being written by another heapmark (pid " + std::to_string(pid) + ")"),
            std::string::npos)
      << second.err;
  EXPECT_EQ(wait_status(pid), 0) << slurp(log);
  expect_each_key_once(cells(dir), 8);
  // Once the writer is gone (a kill -9 too: the kernel drops the lock), a resume is let in.
  const auto after = heapmark_cmd("run --resume " + dir + " -q");
  EXPECT_EQ(after.status, 0) << after.err;
  expect_each_key_once(cells(dir), 8);
  fs::remove_all(out);
}

TEST(Interrupt, SigintInAReproCatalogueIsFinishedByReproResume) {
  const std::string out = temp_dir(), root = out + "/c", log = out + "/log";
  const pid_t pid = start({"repro", "2", "3", "--allocators", "glibc", "--remedies", "none", "--reps", "2", "--mib",
                           "16", "--idle-ms", "100", "--out", out, "--run-id", "c", "-q"},
                          log);
  ASSERT_TRUE(wait_for([&] { return complete_lines(root + "/02-top-pinned") >= 1; })) << slurp(log);
  kill(pid, SIGINT);
  EXPECT_EQ(wait_status(pid), 130) << slurp(log);
  EXPECT_NE(slurp(log).find("finish with: heapmark repro --resume " + root), std::string::npos) << slurp(log);
  EXPECT_EQ(heapmark_cmd("repro 2 3 --allocators glibc --remedies none --out " + out + " --run-id c -q").status, 2)
      << "the same command again is refused (the directory exists): --resume finishes it";

  const auto r = heapmark_cmd("repro --resume " + root + " -q");
  EXPECT_EQ(r.status, 0) << r.err;
  expect_each_key_once(cells(root + "/02-top-pinned"), 2);
  expect_each_key_once(cells(root + "/03-fastbins"), 2);
  const auto cat = json::parse(slurp(root + "/repro.json")).as_object();
  EXPECT_TRUE(cat.at("complete").as_bool()) << json::serialize(cat.at("complete"));
  EXPECT_EQ(cat.at("scenarios").as_array().size(), 2u);
  fs::remove_all(out);
}

// A small tmpfs as a full disk (root only: mount). No shared state is touched:
// the mount point is this test's own directory, unmounted at the end.
class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir();
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs as a full disk";
    if (mount("heapmark-test", dir_.c_str(), "tmpfs", 0, "size=64k") != 0)
      GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
    fs::remove_all(dir_);
  }
  void grow() {
    ASSERT_EQ(mount("heapmark-test", dir_.c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0) << std::strerror(errno);
  }
  void read_only(bool ro) {
    ASSERT_EQ(mount("heapmark-test", dir_.c_str(), "tmpfs", MS_REMOUNT | (ro ? MS_RDONLY : 0), "size=64m"), 0)
        << std::strerror(errno);
  }
  std::string dir_;
  bool mounted_ = false;
};

TEST_F(FullDisk, ARunStopsWithStatus5NoTornLineAndResumeFinishesIt) {
  const std::string dir = dir_ + "/r";
  const auto r = heapmark_cmd("run --allocators glibc --workloads churn -p count=2000 -p rounds=1 --reps 12 -q --out " +
                              dir_ + " --run-id r");
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("heapmark run --resume " + dir), std::string::npos) << r.err;
  const std::string text = slurp(dir + "/cells.jsonl");
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "a refused append is taken back: no torn last line";
  const size_t kept = cells(dir).size();  // every line parses
  EXPECT_LT(kept, 12u);
  grow();
  const auto again = heapmark_cmd("run --resume " + dir + " -q");
  EXPECT_EQ(again.status, 0) << again.err;
  expect_each_key_once(cells(dir), 12);
}

TEST_F(FullDisk, ARecordingThatDoesNotFitKeepsTheEarlierTrace) {
  const std::string trace = dir_ + "/app.hmt";
  { std::ofstream(trace) << "an earlier trace"; }
  // PYTHONMALLOC=malloc: every object a malloc call, so the trace outgrows the 64 KiB disk.
  const auto r = heapmark_cmd("record --force -o " + trace +
                              " -- env PYTHONMALLOC=malloc python3 -c 'x = [bytes(64) for _ in range(200000)]'");
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_TRUE(slurp(trace) == "an earlier trace") << "the earlier trace is kept as it was";
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir_)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"app.hmt"}) << "no partial recording left behind";
}

TEST_F(FullDisk, AResumeOnAReadOnlyFilesystemSaysSoAndChangesNothing) {
  grow();
  const std::string dir = dir_ + "/r";
  ASSERT_EQ(heapmark_cmd("run --allocators glibc --workloads churn -p count=2000 -p rounds=1 --reps 1 -q --out " +
                         dir_ + " --run-id r")
                .status,
            0);
  const std::string before = slurp(dir + "/cells.jsonl");
  read_only(true);
  const auto r = heapmark_cmd("run --resume " + dir + " -q");
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  read_only(false);
  EXPECT_TRUE(slurp(dir + "/cells.jsonl") == before);
}
