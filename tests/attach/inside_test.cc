// `heapmark attach PID`, the inside view, on real processes under the real
// allocators: the helper gdb loads names the allocator that serves malloc,
// its live bytes agree with the fixture's own count, the release hook's
// predicted return agrees with what --apply then measures from outside, the
// process survives 200 attaches while four threads hammer malloc/free (its
// blocks intact), and python3 and redis-server get a verdict their --apply
// bears out. What attach cannot enter is refused in one line, exit 2, with the
// outside view still printed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/attach/fixture.h"
#include "tests/support/heapmark_command.h"

namespace json = boost::json;
using heapmark::test::Preloaded;
using heapmark::test::Target;

namespace {

heapmark::test::CommandResult heapmark_cmd(const std::string& args) {
  return heapmark::test::run_heapmark_command(HEAPMARK_BIN, args);
}

double number(const json::value& v) { return v.is_null() ? -1.0 : v.to_number<double>(); }

struct Case {
  const char* name;
  const char* library;  // preloaded; "" for glibc
  const char* family;
  bool live_counted;     // mimalloc 2.0 counts committed memory only
  bool predicts;         // a release prediction is made
  const char* verdicts;  // the verdicts this state may get ('|'-separated)
};

// Test names and failure messages show the case by its name.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

const std::string kLibDir = SYSTEM_LIBDIR;
const std::string kJemalloc = kLibDir + "/libjemalloc.so.2", kTcmalloc = kLibDir + "/libtcmalloc.so.4",
                  kMimalloc = kLibDir + "/libmimalloc.so.2";

class InsideView : public ::testing::TestWithParam<Case> {};

// Four threads fill 16 MiB each in their own arenas (or thread caches, heaps)
// and free 31 of 32 blocks; the main thread keeps 16 MiB live.
TEST_P(InsideView, AccountingAgreesWithTheFixtureAndApplyWithThePrediction) {
  const Case c = GetParam();
  Preloaded t(c.library, 4, 16, 16);
  ASSERT_TRUE(t.ready());
  const auto r = heapmark_cmd("attach " + std::to_string(t.pid) + " --json --apply release");
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  const auto v = json::parse(r.out).as_object();
  const auto& in = v.at("inside").as_object();
  ASSERT_TRUE(in.at("injection").at("ok").as_bool()) << json::serialize(in.at("injection"));
  EXPECT_EQ(in.at("family").as_string(), c.family);
  EXPECT_TRUE(in.at("identity_ok").as_bool()) << in.at("proof").as_string();
  EXPECT_GT(number(in.at("injection").at("stopped_ms")), 0.0) << "the stop is measured from outside";
  const auto& acc = in.at("accounting").as_object();
  if (c.live_counted) {
    const double live = number(acc.at("live"));
    if (c.library[0] == 0) {
      // glibc: its own mallinfo2, read by the fixture, against the helper's (which adds its probe and dlopen's blocks).
      EXPECT_NEAR(live, double(t.in_use), 1.0 * (1 << 20)) << "fixture's mallinfo2 " << t.in_use;
      // The heap walk counts the same chunks in use.
      const auto& walk = in.at("walk").as_object();
      EXPECT_NEAR(number(walk.at("in_use_bytes")), live, 0.01 * live);
      // Its page map puts every resident page in one state: the main thread's 64 KiB blocks fill their pages
      // (dense), the arenas keep one 1 KiB block in 32 (sparse pages between retained ones).
      const auto& pages = walk.at("page_map").at("pages").as_array();
      EXPECT_EQ(number(pages[0]) + number(pages[1]) + number(pages[2]), number(walk.at("resident")) / 4096);
      EXPECT_GE(number(pages[0]) * 4096, 15.0 * (1 << 20)) << "dense: the 16 MiB the main thread keeps";
      EXPECT_GT(number(pages[1]), 0) << "sparse";
      EXPECT_GE(number(pages[2]) * 4096, 32.0 * (1 << 20)) << "retained: most of the arenas";
    }
    // The fixture's own count of what it holds: the allocator's live bytes round each block up to a size class.
    EXPECT_GE(live, 0.99 * double(t.live)) << "fixture holds " << t.live;
    EXPECT_LE(live, 1.10 * double(t.live) + (1 << 20)) << "fixture holds " << t.live;
  } else {
    EXPECT_TRUE(acc.at("live").is_null());
    EXPECT_EQ(v.at("assessment").at("verdict").as_string(), "unknown");
  }
  const auto& apply = v.at("apply").as_object();
  ASSERT_TRUE(apply.at("ok").as_bool()) << json::serialize(apply);
  const double returned = number(apply.at("returned")), predicted = number(apply.at("predicted"));
  // The outside view's own figures before and after: the returned bytes are their difference.
  EXPECT_EQ(returned, std::max(0.0, number(apply.at("rss_before")) - number(apply.at("rss_after"))));
  if (c.predicts) {
    ASSERT_GT(predicted, 4.0 * (1 << 20)) << "the freed blocks leave whole free pages: " << json::serialize(apply);
    EXPECT_NEAR(returned, predicted, 0.05 * predicted) << json::serialize(apply);
    // Whether the hook reaches most of what is kept depends on where the frees left it: tcmalloc's thread
    // and central caches (which ReleaseFreeMemory does not empty) hold more or less of it from run to run.
    const std::string verdict(v.at("assessment").at("verdict").as_string());
    EXPECT_NE(("|" + std::string(c.verdicts) + "|").find("|" + verdict + "|"), std::string::npos)
        << json::serialize(v.at("assessment"));
  } else {
    EXPECT_TRUE(apply.at("predicted").is_null());
  }
  EXPECT_EQ(kill(t.pid, 0), 0) << "the process runs on";
  const auto [rest, status] = t.finish();
  EXPECT_EQ(status, 0) << rest;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

const std::string kPtmalloc = PTMALLOC_LIB;
INSTANTIATE_TEST_SUITE_P(
    Allocators, InsideView,
    ::testing::Values(Case{"glibc", "", "glibc", true, true, "retained-until-release"},
                      Case{"jemalloc", kJemalloc.c_str(), "jemalloc", true, true, "retained-until-release"},
                      Case{"tcmalloc", kTcmalloc.c_str(), "tcmalloc", true, true,
                           "retained-until-release|not-returned"},
                      Case{"mimalloc", kMimalloc.c_str(), "mimalloc", false, false, "unknown"},
                      Case{"ptmalloc_style", kPtmalloc.c_str(), "in-house", true, true, "retained-until-release"}),
    case_name);

// Attached 200 times while four threads malloc and free in a tight loop: every
// snapshot complete (the threads were stepped out of malloc first, the walk
// reached each heap's end), nothing hangs, the fixture's blocks are intact.
TEST(InsideViewStress, TwoHundredAttachesWhileFourThreadsHammerMalloc) {
  const int rounds = std::getenv("HEAPMARK_ATTACH_ROUNDS") ? std::atoi(std::getenv("HEAPMARK_ATTACH_ROUNDS")) : 200;
  Target t(4, 2, 2, true);
  ASSERT_TRUE(t.ready());
  int stepped = 0;
  for (int i = 0; i < rounds; ++i) {
    const auto r = heapmark_cmd("attach " + std::to_string(t.pid) + " --json");
    ASSERT_EQ(r.status, 0) << "attach " << i << ": " << r.err;
    const auto v = json::parse(r.out).as_object();
    const auto& in = v.at("inside").as_object();
    ASSERT_TRUE(in.at("injection").at("ok").as_bool()) << "attach " << i << ": " << json::serialize(in.at("injection"));
    ASSERT_TRUE(in.at("walk").at("ok").as_bool()) << "attach " << i << ": " << json::serialize(in.at("walk"));
    stepped += in.at("injection").at("stepped_out").to_number<int>();
  }
  EXPECT_GT(stepped, 0) << "threads caught inside malloc were stepped out before the helper ran";
  const auto [rest, status] = t.finish();
  EXPECT_EQ(status, 0) << rest;
  EXPECT_NE(rest.find("checked "), std::string::npos) << rest;
}

// The same with one arena for all four threads (arena_max 1): threads stopped
// while they wait for its lock must be stepped out after the one holding it.
TEST(InsideViewStress, FiftyAttachesWhileFourThreadsFightForOneArenaLock) {
  setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=1", 1);
  Target t(4, 2, 2, true);
  unsetenv("GLIBC_TUNABLES");
  ASSERT_TRUE(t.ready());
  for (int i = 0; i < 50; ++i) {
    const auto r = heapmark_cmd("attach " + std::to_string(t.pid) + " --json");
    ASSERT_EQ(r.status, 0) << "attach " << i << ": " << r.err;
    const auto in = json::parse(r.out).at("inside").as_object();
    ASSERT_TRUE(in.at("injection").at("ok").as_bool()) << "attach " << i << ": " << json::serialize(in.at("injection"));
    ASSERT_TRUE(in.at("walk").at("ok").as_bool()) << "attach " << i << ": " << json::serialize(in.at("walk"));
    ASSERT_EQ(in.at("walk").at("heaps").to_number<int>(), 1) << "one arena: the brk heap only";
  }
  const auto [rest, status] = t.finish();
  EXPECT_EQ(status, 0) << rest;
  EXPECT_NE(rest.find("checked "), std::string::npos) << rest;
}

TEST(InsideViewRefusals, AStaticBinaryGetsTheOutsideViewAndOneLine) {
  Target t(1, 1, 1, false, ATTACH_TARGET_STATIC);
  ASSERT_TRUE(t.ready());
  const auto r = heapmark_cmd("attach " + std::to_string(t.pid));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("static binary"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.out.find("where RES is, from outside"), std::string::npos) << r.out;
  EXPECT_EQ(kill(t.pid, 0), 0);
  EXPECT_EQ(t.finish().second, 0);
}

TEST(InsideViewRefusals, AnAllocatorHeapmarkDoesNotKnowGetsTheOutsideViewAndOneLine) {
  Preloaded t(FORWARD_LIB, 1, 1, 1);  // malloc and free from a library no family claims
  ASSERT_TRUE(t.ready());
  const auto r = heapmark_cmd("attach " + std::to_string(t.pid) + " --json");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("an allocator heapmark does not know"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  const auto v = json::parse(r.out).as_object();
  EXPECT_GT(v.at("resident").to_number<double>(), 0) << "the outside view is there";
  EXPECT_EQ(v.at("inside").at("family").as_string(), "user") << "none of the known families";
  EXPECT_EQ(v.at("assessment").at("verdict").as_string(), "unknown");
  EXPECT_EQ(t.finish().second, 0);
}

TEST(InsideViewRefusals, ApplyWithoutTheInsideViewIsBadInput) {
  Target t(1, 1, 1);
  ASSERT_TRUE(t.ready());
  const auto r = heapmark_cmd("attach " + std::to_string(t.pid) + " --outside-only --apply release");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--apply needs the inside view"), std::string::npos) << r.err;
  const auto bad = heapmark_cmd("attach " + std::to_string(t.pid) + " --apply purge-everything");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("release"), std::string::npos) << "names the valid choice: " << bad.err;
}

// Some heapmark process has /proc/PID/statm open: its --watch is sampling.
bool statm_open_by_heapmark(pid_t pid) {
  const std::string statm = "/proc/" + std::to_string(pid) + "/statm";
  std::error_code ec;
  for (const auto& proc : std::filesystem::directory_iterator("/proc", ec)) {
    std::ifstream comm(proc.path() / "comm");
    std::string name;
    if (!std::getline(comm, name) || name != "heapmark") continue;
    for (const auto& fd : std::filesystem::directory_iterator(proc.path() / "fd", ec))
      if (std::filesystem::read_symlink(fd.path(), ec) == statm) return true;
  }
  return false;
}

// --watch: RSS from outside at the rate asked, the allocator's accounting at
// its interval, into --out DIR (attach.json, report.html); a process that ends
// during the watch ends it.
TEST(InsideViewWatch, SamplesRssAndAccountingIntoTheOutDirectory) {
  Target t(2, 4, 8);
  ASSERT_TRUE(t.ready());
  const std::string dir = ::testing::TempDir() + "attach_watch_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  const std::string out = dir + "/attach.json";
  const auto r =
      heapmark_cmd("attach " + std::to_string(t.pid) + " --json --watch 2 --hz 200 --accounting-every 1 --out " + dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto v = json::parse(r.out).as_object();
  const auto& w = v.at("watch").as_object();
  // 400 samples planned; a busy machine delays some (and each accounting stop pauses sampling).
  EXPECT_GE(w.at("samples").to_number<int>(), 100);
  EXPECT_LE(w.at("samples").to_number<int>(), 401);
  const auto& tl = w.at("timeline").as_object();
  EXPECT_EQ(tl.at("t_s").as_array().size(), tl.at("rss").as_array().size());
  EXPECT_FALSE(w.at("exited").as_bool());
  // statm against VmRSS read here (the helper, once loaded, adds its own pages and libstdc++'s to the snapshot's RES).
  uint64_t vm_rss = 0;
  std::ifstream status("/proc/" + std::to_string(t.pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) vm_rss = std::stoull(line.substr(6)) * 1024;
  EXPECT_NEAR(w.at("peak_rss").to_number<double>(), double(vm_rss), 0.05 * double(vm_rss));
  const auto& acc = w.at("accounting").as_array();
  ASSERT_GE(acc.size(), 1u);
  for (const auto& a : acc) {
    EXPECT_TRUE(a.at("ok").as_bool()) << json::serialize(a);
    EXPECT_NEAR(number(a.at("live")), double(t.in_use), 1.0 * (1 << 20)) << json::serialize(a);
    EXPECT_GT(number(a.at("stopped_ms")), 0.0);
  }
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(json::parse(ss.str()), json::parse(r.out)) << "--out holds the same document";
  // report.html: the verdict in its words, the RES chart and the watch chart.
  std::ifstream h(dir + "/report.html");
  std::stringstream html;
  html << h.rdbuf();
  const std::string page = html.str();
  EXPECT_NE(page.find("Verdict: " + std::string(v.at("assessment").at("label").as_string())), std::string::npos);
  size_t charts = 0;
  for (size_t at = page.find("<svg"); at != std::string::npos; at = page.find("<svg", at + 1)) ++charts;
  EXPECT_EQ(charts, 3u) << "where RES is, the heap's page map, and the watch";
  const auto again = heapmark_cmd("attach " + std::to_string(t.pid) + " --outside-only --out " + dir);
  EXPECT_EQ(again.status, 2) << "files in an existing --out need --force";
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
  EXPECT_EQ(heapmark_cmd("attach " + std::to_string(t.pid) + " --outside-only --force --out " + dir).status, 0);
  // The process ends while watched: the watch stops there, and says so. It is
  // ended once heapmark holds its statm open (the watch has begun), not after a delay.
  const pid_t pid = t.pid;
  std::thread closer([&t, pid] {
    for (int i = 0; i < 6000 && !statm_open_by_heapmark(pid); ++i) usleep(10000);  // a deadline, not a wait
    t.finish();
  });
  const auto ended = heapmark_cmd("attach " + std::to_string(pid) + " --outside-only --json --watch 30 --hz 100");
  closer.join();
  ASSERT_EQ(ended.status, 0) << ended.err;
  const auto e = json::parse(ended.out).at("watch").as_object();
  EXPECT_TRUE(e.at("exited").as_bool());
  EXPECT_TRUE(e.at("accounting").as_array().empty()) << "--outside-only never enters the process";
  std::filesystem::remove_all(dir);
}

// The output of `command` (stderr too), and its exit status.
std::pair<int, std::string> shell(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  std::string said;
  char buf[512];
  for (size_t n; p && (n = fread(buf, 1, sizeof buf, p)) > 0;) said.append(buf, n);
  const int status = p ? pclose(p) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, said};
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// --watch --openmetrics DIR: a file per window that promtool check metrics
// and the Python client's OpenMetrics parser read, and watch.om with every
// window timestamped, which Prometheus' own backfill takes in (promtool tsdb
// create-blocks-from openmetrics); the values read back from its TSDB are the
// windows' in attach.json, and the live bytes the fixture's own count.
TEST(InsideViewWatch, OpenMetricsPerWindowAndABackfillOfTheWholeWatch) {
  ASSERT_TRUE(std::string(PROMTOOL).find("promtool") != std::string::npos && std::filesystem::exists(PROMTOOL))
      << "promtool not found: scripts/lib/deps.sh installs Debian's prometheus";
  Target t(2, 4, 8);
  ASSERT_TRUE(t.ready());
  const std::string dir = ::testing::TempDir() + "attach_om_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  const std::string om = dir + "/om";
  const auto r = heapmark_cmd("attach " + std::to_string(t.pid) +
                              " --json --watch 3 --hz 200 --accounting-every 1 --openmetrics " + om);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto w = json::parse(r.out).at("watch").as_object();
  const auto& windows = w.at("windows").as_array();
  EXPECT_EQ(w.at("window_s").to_number<double>(), 1.0) << "the accounting interval by default";
  ASSERT_GE(windows.size(), 2u) << json::serialize(w);
  size_t files = 0, top = 0;
  for (const auto& e : std::filesystem::directory_iterator(om + "/windows")) files += e.path().extension() == ".prom";
  for (const auto& e : std::filesystem::directory_iterator(om)) top += e.path().extension() == ".prom";
  EXPECT_EQ(files, windows.size()) << "windows/window-NNNNNN.prom per window";
  EXPECT_EQ(top, 1u) << "latest.prom alone where a textfile collector reads";
  char last[40];
  std::snprintf(last, sizeof last, "/windows/window-%06zu.prom", windows.size());
  EXPECT_EQ(slurp(om + "/latest.prom"), slurp(om + last));
  for (size_t i = 1; i <= windows.size(); ++i) {
    char name[40];
    std::snprintf(name, sizeof name, "/windows/window-%06zu.prom", i);
    const auto [status, said] = shell(std::string(PROMTOOL) + " check metrics < " + om + name);
    EXPECT_EQ(status, 0) << name << ": " << said;
    const auto [pstatus, parsed] = shell(
        "/usr/bin/python3 -c 'import sys; from prometheus_client.openmetrics.parser import "
        "text_string_to_metric_families as p; print(sum(len(f.samples) for f in p(open(sys.argv[1]).read())))' " +
        om + name);
    EXPECT_EQ(pstatus, 0) << name << ": " << parsed;
  }
  // The whole watch into a Prometheus TSDB, and back out. (The Python parser is not used here: its
  // Timestamp comparison in Debian's 0.16 takes 396.571 for later than 397.066.)
  const std::string tsdb = dir + "/tsdb";
  const auto [bstatus, backfill] =
      shell(std::string(PROMTOOL) + " tsdb create-blocks-from openmetrics " + om + "/watch.om " + tsdb);
  ASSERT_EQ(bstatus, 0) << backfill;
  std::filesystem::create_directories(tsdb + "/wal");  // dump opens the (empty) write-ahead log too
  const auto [dstatus, dump] = shell(std::string(PROMTOOL) + " tsdb dump " + tsdb);
  ASSERT_EQ(dstatus, 0) << dump;
  // "{__name__="NAME", allocator="glibc", pid="..", program=".."} VALUE MS" per sample.
  auto series = [&dump](const std::string& name) {
    std::vector<std::pair<double, int64_t>> out;
    std::istringstream in(dump);
    for (std::string line; std::getline(in, line);) {
      if (line.find("{__name__=\"" + name + "\"") != 0) continue;
      std::istringstream fields(line.substr(line.find('}') + 1));
      double v = 0;
      int64_t ms = 0;
      fields >> v >> ms;
      out.emplace_back(v, ms);
    }
    return out;
  };
  const auto rss = series("heapmark_attach_rss_bytes"), live = series("heapmark_attach_live_bytes");
  ASSERT_EQ(rss.size(), windows.size()) << dump;
  for (size_t i = 0; i < windows.size(); ++i) {
    const auto& x = windows[i].as_object();
    EXPECT_EQ(rss[i].first, x.at("rss_last").to_number<double>());
    EXPECT_NEAR(double(rss[i].second), 1000 * x.at("end_unix_s").to_number<double>(), 1.0);
    EXPECT_LE(x.at("rss_min").to_number<double>(), x.at("rss_peak").to_number<double>());
  }
  ASSERT_GE(live.size(), 2u) << "an accounting every second: most windows hold one";
  for (const auto& [v, ms] : live) EXPECT_NEAR(v, double(t.in_use), 1.0 * (1 << 20)) << "at " << ms;
  EXPECT_NE(dump.find("allocator=\"glibc\""), std::string::npos);
  EXPECT_NE(dump.find("pid=\"" + std::to_string(t.pid) + "\""), std::string::npos);
  // What is there is kept without --force; --window alone is refused.
  const std::string before = slurp(om + "/watch.om");
  const auto again = heapmark_cmd("attach " + std::to_string(t.pid) + " --outside-only --watch 1 --openmetrics " + om);
  EXPECT_EQ(again.status, 2) << again.err;
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
  EXPECT_EQ(slurp(om + "/watch.om"), before);
  const auto lone = heapmark_cmd("attach " + std::to_string(t.pid) + " --window 5");
  EXPECT_EQ(lone.status, 2) << lone.err;
  std::filesystem::remove_all(dir);
}

// jemalloc's decay set to 0 in the running process: the dirty pages go at
// once, as predicted; glibc has no such setting and says so.
TEST(InsideViewDecay, JemallocsDecayOfZeroPurgesWhatWasPredicted) {
  Preloaded t(kJemalloc.c_str(), 4, 16, 16);
  ASSERT_TRUE(t.ready());
  const auto r = heapmark_cmd("attach " + std::to_string(t.pid) + " --json --apply decay:0");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto v = json::parse(r.out).as_object();
  EXPECT_NE(std::string(v.at("assessment").at("remedy").as_string()).find("--apply decay:0"), std::string::npos);
  const auto& apply = v.at("apply").as_object();
  ASSERT_TRUE(apply.at("ok").as_bool()) << json::serialize(apply);
  const double returned = number(apply.at("returned")), predicted = number(apply.at("predicted"));
  ASSERT_GT(predicted, 16.0 * (1 << 20)) << json::serialize(apply);
  EXPECT_NEAR(returned, predicted, 0.05 * predicted) << json::serialize(apply);
  EXPECT_EQ(t.finish().second, 0);

  Target g(1, 1, 1);
  ASSERT_TRUE(g.ready());
  const auto refused = heapmark_cmd("attach " + std::to_string(g.pid) + " --apply decay:0");
  EXPECT_EQ(refused.status, 2) << refused.err;
  EXPECT_NE(refused.err.find("glibc has no decay setting"), std::string::npos) << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
}

// ---------------------------------------------------------------- real programs

// A child with its stdout on a pipe, its stdin held open.
struct Program {
  pid_t pid = -1;
  int in = -1;
  FILE* out = nullptr;
  Program(std::vector<std::string> args, const std::vector<std::string>& env) {
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> e(env);
    for (char** p = environ; *p; ++p) e.emplace_back(*p);
    for (auto& x : e) envp.push_back(x.data());
    envp.push_back(nullptr);
    pid = heapmark::test::spawn_piped(argv.data(), envp.data(), in, out);
  }
  std::string line() {
    char buf[512] = "";
    return out && fgets(buf, sizeof buf, out) ? buf : "";
  }
  ~Program() {
    if (in >= 0) close(in);
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
    if (out) fclose(out);
  }
};

// What the snapshot's verdict says the release hook does, --apply shows:
// retained until release, and it returns what was predicted; or returned,
// and it finds little to return.
void verdict_matches_apply(pid_t pid, const std::string& expected) {
  const auto r = heapmark_cmd("attach " + std::to_string(pid) + " --json --apply release");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto v = json::parse(r.out).as_object();
  const auto& a = v.at("assessment").as_object();
  const auto& apply = v.at("apply").as_object();
  ASSERT_TRUE(apply.at("ok").as_bool()) << json::serialize(apply);
  // Measured in the stop: redis's jemalloc background thread purges by itself between attaches.
  EXPECT_EQ(apply.at("measured_in").as_string(), "stop") << json::serialize(apply);
  const double returned = number(apply.at("returned")), predicted = number(apply.at("predicted"));
  ASSERT_EQ(a.at("verdict").as_string(), expected) << json::serialize(a);
  if (expected == "returned" || expected == "fragmentation") {
    EXPECT_LT(returned, 4.0 * (1 << 20)) << json::serialize(apply);
  } else {
    ASSERT_GT(predicted, 16.0 * (1 << 20)) << json::serialize(apply);
    EXPECT_NEAR(returned, predicted, 0.05 * predicted) << json::serialize(apply);
  }
  EXPECT_EQ(kill(pid, 0), 0);
}

// python3 on glibc's malloc drops 7 of every 8 strings of a 400 000-string
// list: the freed chunks between the kept ones hold whole free pages.
TEST(InsideViewPrograms, Python3AfterDroppingMostOfALargeList) {
  Program py({"/usr/bin/python3", "-c",
              "import sys\n"
              "keep, junk = [], []\n"
              "for i in range(400000):\n"
              "    (keep if i % 64 == 0 else junk).append(('x' * 200) + str(i))\n"
              "del junk\n"
              "print('ready', flush=True)\n"
              "sys.stdin.read()\n"},
             {"PYTHONMALLOC=malloc"});
  ASSERT_EQ(py.line(), "ready\n");
  const auto r = heapmark_cmd("attach " + std::to_string(py.pid) + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).at("inside").at("family").as_string(), "glibc");
  verdict_matches_apply(py.pid, "retained-until-release");
}

int free_port() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 0;
  close(s);
  return ntohs(a.sin_port);
}

std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[256];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  if (p) pclose(p);
  return out;
}

// redis-server (linked with Debian's jemalloc), three states: after deleting
// the first two thirds of its keys, whole slabs are empty, dirty pages until
// jemalloc's decay (or the purge) returns them; after deleting 7 of every 8
// of the rest, every slab keeps a live object (fragmentation: the purge finds
// little); after FLUSHALL redis purges by itself (Redis 7): returned.
TEST(InsideViewPrograms, RedisServerAfterDeletesAndAfterFlushall) {
  const int port = free_port();
  ASSERT_GT(port, 0);
  const std::string p = std::to_string(port);
  Program redis({"/usr/bin/redis-server", "--port", p, "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
                 "--enable-debug-command", "yes", "--daemonize", "no", "--loglevel", "warning"},
                {});
  const std::string cli = "/usr/bin/redis-cli -p " + p + " ";
  bool up = false;
  for (int i = 0; i < 600 && !up; ++i) {  // until it answers (a deadline, not a wait)
    up = sh(cli + "ping 2>/dev/null") == "PONG\n";
    if (!up) usleep(50000);
  }
  ASSERT_TRUE(up) << "redis-server did not answer on port " << p;
  ASSERT_EQ(sh(cli + "debug populate 300000 key 256"), "OK\n");
  ASSERT_EQ(sh(cli + "eval \"for i = 0, 199999 do redis.call('DEL', 'key:' .. i) end return 1\" 0"), "1\n");
  const auto r = heapmark_cmd("attach " + std::to_string(redis.pid) + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto v = json::parse(r.out).as_object();
  EXPECT_EQ(v.at("inside").at("family").as_string(), "jemalloc");
  verdict_matches_apply(redis.pid, "retained-until-release");
  ASSERT_EQ(
      sh(cli +
         "eval \"for i = 200000, 299999 do if i % 8 ~= 0 then redis.call('DEL', 'key:' .. i) end end return 1\" 0"),
      "1\n");
  verdict_matches_apply(redis.pid, "fragmentation");
  ASSERT_EQ(sh(cli + "flushall sync"), "OK\n");
  verdict_matches_apply(redis.pid, "returned");
  EXPECT_EQ(sh(cli + "ping"), "PONG\n") << "redis answers after the attaches";
}

}  // namespace
