// fork-cow and false-sharing on a real allocator (glibc, or whatever LD_PRELOAD
// puts first), run in this process or, where a fresh process matters, in a
// spawned native_workload_run; their JSON is parsed the way the runner reads
// it. Figures that depend on the allocator's design are checked only under
// glibc, with the mechanism that produces them named beside the bound; the
// rest holds for any allocator.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <signal.h>

#include "workloads/catalog.h"

extern char** environ;

using namespace heapmark;
using namespace heapmark::workloads;
namespace json = boost::json;

namespace {

constexpr double kPage = 4096;

json::object run(const std::string& name, const std::map<std::string, std::string>& given) {
  const WorkloadDef& def = find_workload(name);
  EXPECT_TRUE(def.run_native) << name << " should measure itself";
  const json::value doc = json::parse(def.run_native(Params::resolve(name, def.params, given)));
  return doc.as_object();
}

const json::object& bench(const json::object& doc, const std::string& name) {
  for (const auto& b : doc.at("benchmarks").as_array())
    if (b.as_object().at("name").as_string() == name) return b.as_object();
  throw std::runtime_error("no benchmark " + name);
}

double fig(const json::object& b, const char* key) { return b.at(key).to_number<double>(); }

// glibc's malloc serves this process unless another allocator is preloaded.
bool glibc_malloc() {
  const char* preload = std::getenv("LD_PRELOAD");
  return !preload || !*preload;
}
#define GLIBC_ONLY() \
  if (!glibc_malloc()) GTEST_SKIP() << "checks glibc's malloc; LD_PRELOAD=" << std::getenv("LD_PRELOAD")

TEST(ForkCow, ReportsOneGoogleBenchmarkObjectPerChild) {
  const auto doc = run("fork-cow", {{"heap_mib", "4"}, {"child_ops", "2000"}});
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(thp, mode);
  if (!mode.empty()) {
    EXPECT_EQ(doc.at("thp_enabled").as_string(), mode);
  }
  EXPECT_NE(std::string(doc.at("source").as_string()).find("THP system mode: "), std::string::npos);
  const auto& list = doc.at("benchmarks").as_array();
  ASSERT_EQ(list.size(), 4u);
  const char* names[] = {"fork-cow/idle", "fork-cow/touch", "fork-cow/alloc", "fork-cow/both"};
  for (size_t i = 0; i < 4; ++i) {
    const auto& b = list[i].as_object();
    EXPECT_EQ(b.at("name").as_string(), names[i]);
    EXPECT_EQ(b.at("time_unit").as_string(), "ns");
    EXPECT_EQ(fig(b, "iterations"), i >= 2 ? 2000 : 1);
    EXPECT_GE(fig(b, "heap_bytes"), 4 << 20);
    EXPECT_GT(fig(b, "rss_bytes"), fig(b, "heap_bytes"));  // the inherited heap is resident (shared)
    EXPECT_GT(fig(b, "private_dirty_bytes"), 0);
  }
  EXPECT_EQ(fig(bench(doc, "fork-cow/idle"), "net_private_dirty_bytes"), 0);
}

// The touch child writes one byte into each touched block and otherwise runs
// the idle child's path, so its net dirty is the touched pages, each copied
// once. Measured equal to the byte under glibc, jemalloc, mimalloc and
// tcmalloc (e.g. 4784128 = 1168 pages for 1611 blocks of an 8 MiB heap); the
// slack (4 pages + 1%) only allows for a deeper stack than the idle child's.
TEST(ForkCow, TouchChildCopiesExactlyTheTouchedPages) {
  const auto doc = run("fork-cow", {{"heap_mib", "8"}, {"child_ops", "20000"}});
  const auto& touch = bench(doc, "fork-cow/touch");
  const double expected = fig(touch, "expected_touch_bytes");
  EXPECT_EQ(fig(touch, "touched_blocks"), std::floor(fig(touch, "heap_blocks") * 10 / 100));
  ASSERT_GT(expected, 100 * kPage);
  EXPECT_NEAR(fig(touch, "net_private_dirty_bytes"), expected, 4 * kPage + 0.01 * expected);
  // both = touches, then the calls: at least what the touches copy.
  EXPECT_GE(fig(bench(doc, "fork-cow/both"), "net_private_dirty_bytes"), expected - 4 * kPage);
}

TEST(ForkCow, NoTouchesCopyNothing) {
  const auto doc = run("fork-cow", {{"heap_mib", "8"}, {"child_ops", "2000"}, {"touch_pct", "0"}});
  const auto& touch = bench(doc, "fork-cow/touch");
  EXPECT_EQ(fig(touch, "touched_blocks"), 0);
  EXPECT_EQ(fig(touch, "expected_touch_bytes"), 0);
  EXPECT_LE(std::abs(fig(touch, "net_private_dirty_bytes")), 4 * kPage);  // measured 0
}

// The alloc child writes into no block, so what it dirties is the allocator's
// own writes: more than nothing, less than the heap it inherited.
TEST(ForkCow, AllocChildCopiesOnlyWhatTheAllocatorWrites) {
  const auto doc = run("fork-cow", {{"heap_mib", "8"}, {"child_ops", "2000"}});
  const auto& alloc = bench(doc, "fork-cow/alloc");
  const double net = fig(alloc, "net_private_dirty_bytes");
  EXPECT_EQ(fig(alloc, "child_ops"), 2000);
  EXPECT_EQ(fig(alloc, "inherited_frees"), 500);  // every 4th call
  EXPECT_GT(net, 0);
  EXPECT_LT(net, fig(alloc, "heap_bytes"));
}

// glibc writes a free-list link into every chunk it frees (tcache next+key,
// fastbin fd, bin fd/bk) and may clear PREV_INUSE in the next chunk's header,
// so each freed inherited block copies its page and at most one more; the
// child's 1000 mallocs of <= 1 KiB add at most their own bytes of new pages.
// 500 random frees in an 8 MiB heap of ~16K blocks fall on ~440 distinct
// pages: measured 1970176 bytes (481 pages). jemalloc keeps its free state
// out of line and copies ~50 pages here instead.
TEST(ForkCow, GlibcCopiesThePageOfEveryFreedInheritedBlock) {
  GLIBC_ONLY();
  const auto doc = run("fork-cow", {{"heap_mib", "8"}, {"child_ops", "2000"}});
  const auto& alloc = bench(doc, "fork-cow/alloc");
  const double net = fig(alloc, "net_private_dirty_bytes"), frees = fig(alloc, "inherited_frees");
  EXPECT_GE(net, frees / 2 * kPage);
  EXPECT_LE(net, (2 * frees + 16) * kPage + 1000 * 1024);
}

// fragmented leaves a freed hole after every live block; glibc keeps the
// holes above the fastbin sizes in its unsorted bin, and the child's first
// mallocs that miss the tcache sort that bin, writing fd/bk links into every
// hole: the whole heap is copied (measured 17.3 MB of 17.8 MB anonymous after
// 2000 calls), against 2.0 MB for the same calls on the dense heap.
TEST(ForkCow, GlibcCopiesAFragmentedHeapWhole) {
  GLIBC_ONLY();
  const std::map<std::string, std::string> p = {{"heap_mib", "8"}, {"child_ops", "5000"}};
  auto frag_p = p;
  frag_p["pattern"] = "fragmented";
  const auto dense = run("fork-cow", p), frag = run("fork-cow", frag_p);
  const auto& d = bench(dense, "fork-cow/alloc");
  const auto& f = bench(frag, "fork-cow/alloc");
  EXPECT_EQ(fig(f, "heap_bytes"), fig(d, "heap_bytes"));  // the same live blocks, holes apart
  EXPECT_EQ(fig(f, "heap_blocks"), fig(d, "heap_blocks"));
  EXPECT_GT(fig(f, "net_private_dirty_bytes"), 1.5 * fig(f, "heap_bytes"));  // holes' pages too
  EXPECT_LT(fig(d, "net_private_dirty_bytes"), 0.75 * fig(d, "heap_bytes"));
  // The same blocks are touched, spread over more pages by the holes between them.
  EXPECT_GT(fig(bench(frag, "fork-cow/touch"), "expected_touch_bytes"),
            fig(bench(dense, "fork-cow/touch"), "expected_touch_bytes"));
}

// Runs a workload in a fresh native_workload_run process (as a cell runs it),
// handing each stderr line to on_line as soon as it arrives; returns its JSON.
json::object run_fresh(const std::vector<std::string>& args,
                       const std::function<void(const std::string&)>& on_line = nullptr) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
  std::vector<std::string> argv_text = {NATIVE_WORKLOAD_RUN};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  const int spawned = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(err[1]);
  if (spawned != 0) throw std::runtime_error("posix_spawn " NATIVE_WORKLOAD_RUN " failed");

  // stderr first (the JSON comes last, and is far below a pipe's capacity).
  std::string pending, stderr_text, stdout_text;
  char buf[4096];
  for (ssize_t n; (n = read(err[0], buf, sizeof buf)) > 0;) {
    pending.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
      stderr_text += pending.substr(0, nl + 1);
      if (on_line) on_line(pending.substr(0, nl));
    }
  }
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) stdout_text.append(buf, static_cast<size_t>(n));
  close(out[0]);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("native_workload_run failed: " + stderr_text);
  return json::parse(stdout_text).as_object();
}

// Sums Private_Dirty over every mapping of /proc/PID/smaps (the per-mapping
// file, not the smaps_rollup the workload reads).
double smaps_private_dirty(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/smaps");
  std::string line;
  double kb = 0;
  bool any = false;
  while (std::getline(in, line))
    if (line.rfind("Private_Dirty:", 0) == 0) {
      kb += std::stod(line.substr(14));
      any = true;
    }
  return any ? kb * 1024 : -1;
}

// The goal of fork-cow: its figures agree with an independent smaps reading of
// the child within 5%. With hold_ms each child announces itself on stderr once
// the parent has measured it, and waits; the test reads its smaps, then lets it go.
// Measured equal to the page: the parent's reader buffer and results are
// MADV_DONTFORK, since its writes into pages it still shared with the child
// would have moved them into the child's Private_Dirty after the parent's
// reading (2 pages, +25% for the idle child, before that).
TEST(ForkCow, AgreesWithAnIndependentSmapsReadingOfEachHeldChild) {
  std::map<std::string, double> outside;  // child name -> smaps Private_Dirty
  // Each child holds until the test has read it (SIGUSR1); 60 s is only the deadline.
  const auto doc =
      run_fresh({"fork-cow", "heap_mib=8", "child_ops=20000", "hold_ms=60000"}, [&](const std::string& line) {
        std::istringstream words(line);
        std::string w1, w2, w3, child_pid, name;
        words >> w1 >> w2 >> w3 >> child_pid >> name;
        if (w1 + " " + w2 + " " + w3 != "heapmark fork-cow: child") return;
        outside[name] = smaps_private_dirty(child_pid);
        kill(static_cast<pid_t>(std::stol(child_pid)), SIGUSR1);
      });
  ASSERT_EQ(outside.size(), 4u);
  for (const char* name : {"idle", "touch", "alloc", "both"}) {
    const double inside = fig(bench(doc, std::string("fork-cow/") + name), "private_dirty_bytes");
    ASSERT_GT(outside[name], 0) << name << ": its smaps was not readable while it held";
    EXPECT_NEAR(outside[name], inside, 0.05 * inside) << name;
  }
}

// These two run in a fresh process, as a cell does: in one with a history
// (this test binary after other tests), glibc's malloc(8) can return a larger
// free chunk whose remainder would be too small to split, which free then
// files in another tcache bin, so the thread's malloc does not get it back.
//
// Four 8-byte objects allocated back to back from fresh memory are 32-byte
// glibc chunks spanning 128 bytes, so one or two 64-byte lines hold two of
// them, and the tcache hands each thread the chunk it has just freed.
TEST(FalseSharing, GlibcPassiveGivesThreadsNeighbouringObjects) {
  GLIBC_ONLY();
  const auto doc = run_fresh({"false-sharing", "mode=passive", "threads=4", "writes=100000"});
  const auto& b = bench(doc, "false-sharing/passive");
  EXPECT_EQ(fig(b, "reused_blocks"), 4);
  EXPECT_GE(fig(b, "shared_lines"), 1);
  EXPECT_LE(fig(b, "shared_lines"), 2);
}

// glibc gives every new thread an arena of its own (up to 8 per core), so
// objects the threads allocate themselves are in different heaps. tcmalloc,
// which hands threads batches from one central list, measured 2 shared lines.
TEST(FalseSharing, GlibcActiveKeepsThreadsApart) {
  GLIBC_ONLY();
  for (const char* size : {"8", "64"}) {
    const auto doc =
        run_fresh({"false-sharing", "mode=active", "threads=4", std::string("object_size=") + size, "writes=100000"});
    const auto& b = bench(doc, "false-sharing/active");
    EXPECT_EQ(fig(b, "shared_lines"), 0) << "object_size " << size;
    EXPECT_EQ(fig(b, "reused_blocks"), 0);
  }
}

TEST(FalseSharing, CountsEveryWrite) {
  for (const char* mode : {"passive", "active"}) {
    const auto one = bench(run("false-sharing", {{"mode", mode}, {"threads", "3"}, {"writes", "12345"}}),
                           std::string("false-sharing/") + mode);
    EXPECT_EQ(fig(one, "total_writes"), 12345 * 3);
    EXPECT_EQ(fig(one, "iterations"), 12345 * 3);
    EXPECT_EQ(fig(one, "threads"), 3);
    EXPECT_EQ(fig(one, "objects"), 3);
    EXPECT_EQ(fig(one, "object_size"), 8);
    EXPECT_GT(fig(one, "real_time"), 0);
    EXPECT_NEAR(fig(one, "items_per_second"), fig(one, "total_writes") * 1e9 / fig(one, "wall_ns"),
                1e-6 * fig(one, "items_per_second"));

    const auto rounds =
        bench(run("false-sharing",
                  {{"mode", mode}, {"threads", "2"}, {"writes", "1000"}, {"rounds", "3"}, {"object_size", "100"}}),
              std::string("false-sharing/") + mode);
    EXPECT_EQ(fig(rounds, "total_writes"), 1000 * 2 * 3);
    EXPECT_EQ(fig(rounds, "writes_per_thread"), 3000);
    EXPECT_EQ(fig(rounds, "objects"), 6);
  }
}

// Out-of-range values are refused by the parameter specs, naming the parameter.
TEST(NativeWorkloadParams, RefuseOutOfRangeValuesNamingTheParameter) {
  const std::vector<std::pair<std::string, std::pair<std::string, std::string>>> bad = {
      {"fork-cow", {"heap_mib", "0"}},
      {"fork-cow", {"heap_mib", "4097"}},
      {"fork-cow", {"touch_pct", "101"}},
      {"fork-cow", {"hold_ms", "60001"}},
      {"fork-cow", {"child_ops", "0"}},
      {"fork-cow", {"pattern", "sparse"}},
      {"fork-cow", {"thp", "always"}},
      {"fork-cow", {"sizes", "uniform:0-9"}},
      {"false-sharing", {"threads", "1"}},
      {"false-sharing", {"threads", "65"}},
      {"false-sharing", {"object_size", "4097"}},
      {"false-sharing", {"writes", "0"}},
      {"false-sharing", {"rounds", "1001"}},
      {"false-sharing", {"mode", "both"}},
  };
  for (const auto& [workload, kv] : bad) {
    const WorkloadDef& def = find_workload(workload);
    try {
      Params::resolve(workload, def.params, {{kv.first, kv.second}});
      ADD_FAILURE() << workload << " accepted " << kv.first << "=" << kv.second;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("parameter '" + kv.first + "'"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
