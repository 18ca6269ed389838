// End-to-end: the real heapmark binary, real cells, real preloaded allocators.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/results/schema.h"

namespace json = boost::json;
namespace fs = std::filesystem;

extern char** environ;

namespace {

struct Result {
  int status;
  std::string output;  // stdout and stderr
};

std::string quote(const std::string& s) { return "'" + s + "'"; }

Result run_heapmark(const std::vector<std::string>& args) {
  std::string cmd = quote(HEAPMARK_BIN);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " 2>&1";
  Result r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string temp_dir() {
  char tmpl[] = "/tmp/heapmark-it-XXXXXX";
  return mkdtemp(tmpl);
}

// The complete lines of dir/cells.jsonl: a runner may be writing the last one.
std::vector<json::object> cells(const std::string& dir) {
  std::vector<json::object> out;
  std::ifstream in(dir + "/cells.jsonl", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  for (size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1)
    out.push_back(json::parse(text.substr(pos, nl - pos)).as_object());
  return out;
}

std::map<std::string, json::object> by_allocator(const std::vector<json::object>& cs) {
  std::map<std::string, json::object> m;
  for (const auto& c : cs) m[std::string(c.at("allocator").as_string())] = c;
  return m;
}

double num(const json::value& v) { return v.to_number<double>(); }

}  // namespace

TEST(Run, ChurnOnTheFourAllocatorsIsMeasuredAndProvenIdentity) {
  const std::string out = temp_dir();
  const auto r = run_heapmark({"run", "--allocators", "glibc,jemalloc,mimalloc,tcmalloc", "--workloads", "churn", "-p",
                               "count=20000", "--reps", "1", "--out", out, "--run-id", "r"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Results: " + out + "/r"), std::string::npos) << r.output;
  const auto all = by_allocator(cells(out + "/r"));
  ASSERT_EQ(all.size(), 4u);
  const std::map<std::string, std::string> lib = {{"glibc", "libc.so.6"},
                                                  {"jemalloc", "libjemalloc.so.2"},
                                                  {"mimalloc", "libmimalloc.so.2"},
                                                  {"tcmalloc", "libtcmalloc_minimal.so.4"}};
  std::set<std::string> checksums;
  for (const auto& [name, c] : all) {
    SCOPED_TRACE(name);
    ASSERT_EQ(c.at("status").as_string(), "ok") << json::serialize(c.at("detail"));
    const auto& id = c.at("identity").as_object();
    EXPECT_TRUE(id.at("ok").as_bool());
    EXPECT_EQ(id.at("family").as_string(), name);
    EXPECT_NE(std::string(id.at("malloc_from").as_string()).find(lib.at(name)), std::string::npos)
        << id.at("malloc_from");
    EXPECT_FALSE(id.at("version").as_string().empty());
    // Every allocator call is one latency sample.
    const auto& ops = c.at("ops").as_object();
    const auto& lat = c.at("latency_ns").as_object();
    EXPECT_EQ(ops.at("alloc").as_int64(), 60000);
    EXPECT_EQ(ops.at("alloc").as_int64(), lat.at("alloc").at("count").as_int64());
    EXPECT_EQ(ops.at("free").as_int64(), lat.at("free").at("count").as_int64());
    EXPECT_LE(num(lat.at("alloc").at("p50")), num(lat.at("alloc").at("p99")));
    EXPECT_NEAR(num(c.at("throughput_ops_s")), 120000 / num(c.at("measured_s")), 1.0)
        << "throughput = timed calls / measured time";
    // An RSS timeline: parallel series, in time order, anonymous within total RSS.
    // (How many points depends on how fast the machine runs the cell.)
    const auto& tl = c.at("timeline").as_object();
    const auto& t_s = tl.at("t_s").as_array();
    ASSERT_GE(t_s.size(), 1u);
    EXPECT_EQ(t_s.size(), tl.at("rss").as_array().size());
    EXPECT_EQ(t_s.size(), tl.at("anon").as_array().size());
    EXPECT_GE(num(tl.at("samples")), static_cast<double>(t_s.size()));
    for (size_t i = 0; i < t_s.size(); ++i) {
      if (i > 0) {
        EXPECT_GE(num(t_s[i]), num(t_s[i - 1]));
      }
      EXPECT_LE(num(tl.at("anon").as_array()[i]), num(tl.at("rss").as_array()[i]));
    }
    EXPECT_EQ(c.at("phases").as_array().size(), 6u);
    // Resident memory can never be below what is live: pages are touched.
    const auto& mem = c.at("memory").as_object();
    EXPECT_GT(num(mem.at("live_peak")), 0);
    EXPECT_GE(num(mem.at("peak_r")), num(mem.at("live_peak")));
    EXPECT_GE(num(mem.at("vm_hwm")), num(mem.at("live_peak")) + num(mem.at("r0_rss")) / 2);
    EXPECT_GE(num(c.at("fragmentation").at("f4")), 0.0);
    checksums.insert(std::string(c.at("program").at("checksum").as_string()));
  }
  EXPECT_EQ(checksums.size(), 1u) << "every allocator ran the same program";
  const auto run = json::parse([&] {
                     std::ifstream in(out + "/r/run.json");
                     return std::string(std::istreambuf_iterator<char>(in), {});
                   }())
                       .as_object();
  EXPECT_EQ(run.at("schema_version").as_int64(), 1);
  EXPECT_EQ(run.at("allocators").as_array().size(), 4u);
  EXPECT_GT(num(run.at("machine").at("tsc").at("hz")), 1e8);
  fs::remove_all(out);
}

TEST(Run, UserAllocatorAndEnvironmentAreUsedAndRecorded) {
  const std::string out = temp_dir();
  const auto r = run_heapmark({"run", "--allocator", std::string("mine=") + HMTEST_FORWARD, "--allocators", "jemalloc",
                               "--workloads", "churn", "-p", "count=5000", "-p", "rounds=1", "--reps", "1", "--env",
                               "jemalloc:MALLOC_CONF=stats_print:true", "--out", out, "--run-id", "r"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto all = by_allocator(cells(out + "/r"));
  ASSERT_EQ(all.size(), 2u);
  const auto& mine = all.at("mine");
  ASSERT_EQ(mine.at("status").as_string(), "ok") << mine.at("detail");
  EXPECT_EQ(mine.at("identity").at("family").as_string(), "user");
  EXPECT_EQ(mine.at("identity").at("malloc_from").as_string(), HMTEST_FORWARD);
  const auto& je = all.at("jemalloc");
  EXPECT_EQ(je.at("env").at("MALLOC_CONF").as_string(), "stats_print:true");
  // jemalloc printed its statistics at exit: the configuration reached it.
  EXPECT_NE(std::string(je.at("stderr_tail").as_string()).find("jemalloc statistics"), std::string::npos);
  fs::remove_all(out);
}

TEST(Run, MicroRunsGoogleBenchmarkInsideTheCellUnderThePreloadedAllocator) {
  const std::string out = temp_dir();
  const auto r = run_heapmark({"run", "--allocators", "mimalloc", "--workloads", "micro", "-p", "min_time=0.05", "-p",
                               "filter=MallocFree", "--reps", "1", "--out", out, "--run-id", "r"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto all = cells(out + "/r");
  ASSERT_EQ(all.size(), 1u);
  const auto& c = all[0];
  ASSERT_EQ(c.at("status").as_string(), "ok") << c.at("detail");
  EXPECT_TRUE(c.at("identity").at("ok").as_bool());
  EXPECT_EQ(c.at("identity").at("family").as_string(), "mimalloc");
  const auto& micro = c.at("micro").as_array();
  ASSERT_EQ(micro.size(), 7u) << "BM_MallocFree over 16 B .. 64 KiB";
  for (const auto& b : micro) {
    EXPECT_EQ(std::string(b.at("name").as_string()).rfind("BM_MallocFree/", 0), 0u);
    EXPECT_GT(num(b.at("iterations")), 0);
    EXPECT_GT(num(b.at("cpu_time_ns")), 0);
    EXPECT_GT(num(b.at("calls_per_second")), 0);
  }
  EXPECT_NE(r.output.find("BM_MallocFree/64"), std::string::npos) << r.output;
  fs::remove_all(out);
}

// Each failure is the one event its cell can reach first: the hang has a short
// wall timeout and nothing else to end it; the hog (1 MiB touched per call)
// runs in a second run whose timeout is far beyond the time it needs to reach
// the cap even on a loaded machine, so "memory_cap" never races "timeout".
TEST(Run, CrashHangMemoryCapAndIdentityAreRecordedAndTheRunContinues) {
  const std::string out = temp_dir();
  const auto r = run_heapmark({"run",
                               "--allocator",
                               std::string("crash=") + HMTEST_CRASH,
                               "--allocator",
                               std::string("hang=") + HMTEST_HANG,
                               "--allocator",
                               std::string("impostor=") + HMTEST_NOT_AN_ALLOCATOR,
                               "--allocators",
                               "glibc",
                               "--workloads",
                               "churn",
                               "-p",
                               "count=100000",
                               "-p",
                               "rounds=1",
                               "--reps",
                               "1",
                               "--timeout",
                               "6",
                               "--jobs",
                               "2",
                               "--out",
                               out,
                               "--run-id",
                               "r"});
  ASSERT_EQ(r.status, 4) << "cells failed: exit status 4\n" << r.output;
  const auto all = by_allocator(cells(out + "/r"));
  ASSERT_EQ(all.size(), 4u) << r.output;
  auto cause = [&](const std::string& a) {
    return std::string(all.at(a).at("cause").is_null() ? "" : all.at(a).at("cause").as_string());
  };
  EXPECT_EQ(all.at("glibc").at("status").as_string(), "ok");
  EXPECT_EQ(cause("crash"), "signal");
  EXPECT_NE(std::string(all.at("crash").at("detail").as_string()).find("SIGSEGV"), std::string::npos);
  EXPECT_EQ(cause("hang"), "timeout");
  EXPECT_EQ(cause("impostor"), "identity");
  EXPECT_NE(std::string(all.at("impostor").at("detail").as_string()).find("malloc resolves to"), std::string::npos);
  for (const char* failed : {"crash", "hang", "impostor"}) EXPECT_EQ(all.at(failed).at("status").as_string(), "failed");
  EXPECT_NE(r.output.find("FAILED timeout"), std::string::npos) << r.output;

  const auto h = run_heapmark({"run", "--allocator", std::string("hog=") + HMTEST_HOG, "--workloads", "churn", "-p",
                               "count=100000", "-p", "rounds=1", "--reps", "1", "--timeout", "600", "--mem-cap", "400M",
                               "--out", out, "--run-id", "h"});
  ASSERT_EQ(h.status, 4) << h.output;
  const auto hog = by_allocator(cells(out + "/h"));
  ASSERT_EQ(hog.size(), 1u) << h.output;
  EXPECT_EQ(hog.at("hog").at("status").as_string(), "failed");
  EXPECT_EQ(hog.at("hog").at("cause").as_string(), "memory_cap") << hog.at("hog").at("detail");
  fs::remove_all(out);
}

TEST(Run, VerifyCatchesAnAllocatorThatHandsOutOverlappingBlocks) {
  const std::string out = temp_dir();
  const auto r = run_heapmark({"run", "--allocator", std::string("overlap=") + HMTEST_OVERLAP, "--allocators", "glibc",
                               "--workloads", "churn", "-p", "count=30000", "-p", "rounds=1", "--reps", "1", "--verify",
                               "--out", out, "--run-id", "r"});
  ASSERT_EQ(r.status, 4) << "a cell failed: exit status 4\n" << r.output;
  const auto all = by_allocator(cells(out + "/r"));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all.at("glibc").at("status").as_string(), "ok") << "a correct allocator passes --verify";
  const auto& bad = all.at("overlap");
  EXPECT_EQ(bad.at("status").as_string(), "failed");
  EXPECT_EQ(bad.at("cause").as_string(), "verify");
  EXPECT_NE(std::string(bad.at("detail").as_string()).find("overlapping blocks"), std::string::npos)
      << bad.at("detail");
  fs::remove_all(out);
}

TEST(Run, ResumeAfterKilledRunnerFinishesWithoutRepeatingCells) {
  const std::string out = temp_dir();
  const std::string dir = out + "/r";
  std::vector<std::string> args_s = {HEAPMARK_BIN,
                                     "run",
                                     "--allocators",
                                     "glibc,jemalloc",
                                     "--workloads",
                                     "churn",
                                     "-p",
                                     "count=200000",
                                     "--reps",
                                     "3",
                                     "--out",
                                     out,
                                     "--run-id",
                                     "r",
                                     "-q"};
  std::vector<char*> argv;
  for (auto& a : args_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, HEAPMARK_BIN, nullptr, nullptr, argv.data(), environ), 0);
  // Kill it hard as soon as the first cell has landed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (cells(dir).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);
  const size_t before = cells(dir).size();
  ASSERT_GE(before, 1u);
  ASSERT_LT(before, 6u) << "the runner finished before it could be killed; make the cells longer";

  // A killed run reports what it has, a torn last line included (a copy, so
  // the resume below still sees only whole lines).
  const std::string torn = out + "/torn";
  fs::copy(dir, torn);
  { std::ofstream(torn + "/cells.jsonl", std::ios::app) << R"({"schema_version":1,"key":"churn/)"; }
  const auto rep = run_heapmark({"report", torn, "-q"});
  ASSERT_EQ(rep.status, 0) << rep.output;
  EXPECT_NE(rep.output.find("incomplete line"), std::string::npos) << rep.output;
  std::ifstream md(torn + "/summary.md");
  const std::string summary((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(summary.find(std::to_string(before) + " of 6 planned"), std::string::npos) << summary.substr(0, 600);
  EXPECT_NE(summary.find("an incomplete last line of cells.jsonl was ignored"), std::string::npos);
  EXPECT_TRUE(fs::exists(torn + "/report.html"));

  const auto r = run_heapmark({"run", "--resume", dir});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto all = cells(dir);
  std::set<std::string> keys;
  for (const auto& c : all) keys.insert(std::string(c.at("key").as_string()));
  EXPECT_EQ(all.size(), 6u);
  EXPECT_EQ(keys.size(), 6u) << "no cell ran twice";
  fs::remove_all(out);
}

// Processes whose command line mentions `needle`.
// Processes come and go while /proc is listed (other tests run beside this
// one): the listing must not throw when an entry vanishes under it.
static int processes_mentioning(const std::string& needle, const std::string& also = "") {
  int n = 0;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    std::ifstream in(it->path() / "cmdline", std::ios::binary);
    const std::string cmd((std::istreambuf_iterator<char>(in)), {});
    if (cmd.find(needle) != std::string::npos && cmd.find(also) != std::string::npos) ++n;
  }
  return n;
}

TEST(Run, ACellDoesNotOutliveItsKilledRunner) {
  // A private copy of the hanging allocator gives the cell a command line no other test shares.
  const std::string out = temp_dir();
  const std::string lib = out + "/libhang-orphan-check.so";
  fs::copy_file(HMTEST_HANG, lib);
  std::vector<std::string> args_s = {HEAPMARK_BIN, "run", "--allocator",  "hang=" + lib, "--workloads",
                                     "churn",      "-p",  "count=100000", "--reps",      "1",
                                     "--out",      out,   "--run-id",     "r",           "-q"};
  std::vector<char*> argv;
  for (auto& a : args_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, HEAPMARK_BIN, nullptr, nullptr, argv.data(), environ), 0);
  const std::string cell_arg = std::string("--library") + '\0' + lib;  // in the cell's argv, not the runner's
  // The measuring cell, not the short-lived probe of the library the runner starts first (same --library).
  const std::string workload_arg = std::string("--workload") + '\0' + "churn";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (processes_mentioning(cell_arg, workload_arg) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const bool started = processes_mentioning(cell_arg, workload_arg) >= 1;
  kill(pid, SIGKILL);  // also when the cell never started: a runner left behind would hold ctest's pipe
  int st;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(started) << "the hanging cell never started";
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (processes_mentioning(cell_arg) > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(processes_mentioning(cell_arg), 0) << "the cell outlived its runner";
  fs::remove_all(out);
}

TEST(Run, BadInputGetsOneLineNamingTheValueExitTwoAndWritesNothing) {
  const std::string out = temp_dir() + "/never";
  const std::string bad_matrix = out + ".json";
  std::ofstream(bad_matrix) << R"({"allocators": ["glibc"], "workloads": ["churn"], "reps": "three"})";
  const std::string text_lib = out + ".so", corrupt_trace = out + ".hmt";
  std::ofstream(text_lib) << "not a library\n";
  std::ofstream(corrupt_trace) << "this is no heapmark trace, though it is long enough to hold a header";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--allocators", "glibc,nosuch", "--workloads", "churn"}, "unknown allocator 'nosuch' (valid: glibc, jemalloc"},
      {{"--allocators", "glibc", "--workloads", "nosuch"}, "unknown workload 'nosuch' (valid: churn"},
      {{"--allocators", "glibc", "--workloads", "churn", "-p", "colour=red"},
       "no selected workload has a parameter 'colour' (churn: count, sizes"},
      {{"--allocators", "glibc", "--workloads", "churn", "-p", "count=lots"},
       "parameter 'count': 'lots' is not a whole number"},
      {{"--allocators", "glibc", "--workloads", "churn", "-p", "order=up"},
       "'up' is not one of: fifo, lifo, random, keep-every-k"},
      {{"--allocator", "mine=/nonexistent/libmine.so", "--workloads", "churn"},
       "'/nonexistent/libmine.so' is not a readable file"},
      {{"--matrix", "/nonexistent/m.json"}, "/nonexistent/m.json: cannot read the matrix file"},
      {{"--matrix", bad_matrix}, "$.reps: expected an integer in [1, 1000]"},
      {{"--allocators", "glibc", "--workloads", "churn", "--env", "jemalloc:MALLOC_CONF=x"},
       "allocator 'jemalloc' is not in this run"},
      {{"--allocators", "glibc", "--workloads", "churn", "--touch", "some"}, "--touch"},
      {{"--allocators", "glibc", "--workloads", "trace", "-p", "path=/nonexistent/app.hmt"},
       "parameter 'path': '/nonexistent/app.hmt' is not a readable file"},
      {{"--allocators", "glibc", "--workloads", "trace:/nonexistent/app.hmt"},
       "parameter 'path': '/nonexistent/app.hmt' is not a readable file"},
      {{"--allocators", "glibc", "--workloads", "churn:5"}, "workload 'churn' takes no NAME:VALUE form"},
      {{"--resume", "no-such-run"}, "--resume 'no-such-run': no such results directory (nor "},
      {{"--resume", "/nonexistent/run"}, "--resume '/nonexistent/run': no such results directory"},
      {{"--allocators", "glibc", "--workloads", "churn", "--mem-cap", "0"}, "--mem-cap '0': expected a size above 0"},
      {{"--allocator", std::string("half=") + HMTEST_MALLOC_ONLY, "--workloads", "churn"}, "exports no 'free'"},
      {{"--allocator", "txt=" + text_lib, "--workloads", "churn"}, "'" + text_lib + "' is not an ELF file"},
      {{"--matrix", fs::path(out).parent_path().string()}, "is a directory: give one matrix file (there: never.json)"},
      {{"--allocators", "glibc", "--workloads", "trace:" + corrupt_trace}, "bad trace at byte 0"},
      {{"--allocators", "glibc", "--workloads", "churn", "--run-id", "../escape"},
       "may not be empty or contain '/' or '..'"},
      {{"--allocators", "glibc", "--workloads", "churn", "--run-id", "a/b"}, "may not be empty or contain '/' or '..'"},
      {{"--allocators", "glibc", "--workloads", "fork-cow", "-p", "touch_pct=101"}, "parameter 'touch_pct'"},
      {{"--allocators", "glibc", "--workloads", "false-sharing", "-p", "threads=1"}, "parameter 'threads'"},
      {{"--allocators", "glibc", "--workloads", "false-sharing", "-p", "mode=sideways"},
       "'sideways' is not one of: passive, active"},
      {{"--allocators", "glibc", "--workloads", "churn", "--timing", "fenced"},
       "--timing 'fenced': expected latency (each call timed on its own), batch (runs of 1024 calls per timestamp "
       "pair) or batch:K with K from 2 to 65536"},
      {{"--allocators", "glibc", "--workloads", "churn", "--timing", "batch:1"},
       "--timing 'batch:1': expected latency"},
      {{"--allocators", "glibc", "--workloads", "churn", "--timing", "batch:99999"},
       "--timing 'batch:99999': expected latency"},
      {{"--allocators", "glibc", "--workloads", "churn", "--timing", "batch:", "--verify"},
       "--timing 'batch:': expected latency"},
      {{"--allocators", "glibc", "--workloads", "churn", "--timing", "batch", "--verify"},
       "--verify checks every block between allocator calls and --timing batch:1024 runs them back to back"},
  };
  for (const auto& [args, expect] : cases) {
    std::vector<std::string> full{"run"};
    full.insert(full.end(), args.begin(), args.end());
    full.insert(full.end(), {"--out", out});
    const auto r = run_heapmark(full);
    SCOPED_TRACE(args.back());
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(expect), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_FALSE(fs::exists(out)) << "nothing may be written for bad input";
  }
  fs::remove_all(fs::path(out).parent_path());
}

TEST(Run, AnOutThatCannotHoldResultsIsBadInputNamingIt) {
  const std::string dir = temp_dir(), file = dir + "/a-file";
  std::ofstream(file) << "x";
  for (const std::string& out : {file, file + "/below"}) {
    const auto r = run_heapmark(
        {"run", "--allocators", "glibc", "--workloads", "churn", "-p", "count=1000", "--reps", "1", "--out", out});
    SCOPED_TRACE(out);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("--out '" + out + "': cannot create the results root there"), std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("filesystem error"), std::string::npos) << r.output;
  }
  fs::remove_all(dir);
}

TEST(Run, CommandLineConventions) {
  auto r = run_heapmark({"frobnicate"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("unknown subcommand 'frobnicate' (valid: list, run, plan"), std::string::npos) << r.output;
  r = run_heapmark({});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("a subcommand is required (valid: list, run"), std::string::npos) << r.output;
  r = run_heapmark({"--version"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.rfind("heapmark " HEAPMARK_VERSION " (commit ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find(" build"), std::string::npos) << r.output;
  // The commit is the one that built this binary (read at build time, not when CMake last configured).
  if (const char* src = std::getenv("HEAPMARK_SOURCE_DIR")) {
    std::string head;
    if (FILE* p = popen(("git -C '" + std::string(src) + "' rev-parse --short=12 HEAD 2>/dev/null").c_str(), "r")) {
      char buf[64] = "";
      if (fgets(buf, sizeof buf, p)) head = buf;
      pclose(p);
    }
    while (!head.empty() && head.back() == '\n') head.pop_back();
    if (!head.empty()) {
      EXPECT_NE(r.output.find("(commit " + head), std::string::npos) << head << ": " << r.output;
    }
  }
  r = run_heapmark({"run", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("--reps INT:in [1 to 1000]=3"), std::string::npos) << "--help shows defaults\n" << r.output;
  EXPECT_EQ(r.output.find("=[]"), std::string::npos) << "no empty defaults\n" << r.output;
  // Within a workload, the default and help columns line up however long a name or default is.
  r = run_heapmark({"list", "workloads"});
  ASSERT_EQ(r.status, 0);
  std::istringstream lines(r.output);
  std::string line, workload;
  std::map<std::string, std::set<size_t>> default_col, help_col;
  while (std::getline(lines, line)) {
    if (line.rfind("  ", 0) != 0) {
      workload = line.substr(0, line.find(' '));
      continue;
    }
    const size_t d = line.find(" default ");
    ASSERT_NE(d, std::string::npos) << line;
    default_col[workload].insert(d);
    help_col[workload].insert(line.find_first_not_of(' ', line.find(' ', line.find_first_not_of(' ', d + 9))));
  }
  ASSERT_TRUE(default_col.count("packets"));
  for (const auto& [w, cols] : default_col) EXPECT_EQ(cols.size(), 1u) << w << ": the default column moves";
  for (const auto& [w, cols] : help_col) EXPECT_EQ(cols.size(), 1u) << w << ": the help column moves";
}

TEST(Run, AnExistingRunIsNeverWrittenOver) {
  const std::string out = temp_dir();
  const std::vector<std::string> args{"run", "--allocators", "glibc",  "--workloads", "churn",
                                      "-p",  "count=2000",   "--reps", "1",           "--out",
                                      out,   "--run-id",     "keep",   "-q"};
  ASSERT_EQ(run_heapmark(args).status, 0);
  std::ifstream in(out + "/keep/run.json");
  const std::string before((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::string> again = args;
  again[4] = "fastpath";  // another matrix under the same id
  const auto r = run_heapmark(again);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("exists already"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--resume " + out + "/keep"), std::string::npos) << r.output;
  std::ifstream in2(out + "/keep/run.json");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in2)), {}), before) << "run.json was rewritten";
  EXPECT_EQ(cells(out + "/keep").size(), 1u) << "cells were appended to a finished run";
  fs::remove_all(out);
}

// What jemalloc sizes from the CPU mask at start-up: a cell must see what a
// process started here sees, whatever the runner pins itself to.
static std::string bare_narenas() {
  const std::string cmd = "LD_PRELOAD=" + std::string(JEMALLOC_LIB) + " " + quote(HMTEST_JEMALLOC_NARENAS);
  FILE* p = popen(cmd.c_str(), "r");
  char buf[64] = "";
  const size_t n = fread(buf, 1, sizeof buf - 1, p);
  pclose(p);
  std::string s(buf, n);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// --cpus N: a cell starts with N CPUs in its mask, and jemalloc sizes its arenas as a bare process started with
// that mask does (taskset); the cells of each count are a group of their own (params.cpus).
TEST(Run, CpusAxisStartsEachCellWithThatManyCpusAsTasksetWould) {
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (online < 2) GTEST_SKIP() << "one CPU online: no second count to compare";
  const std::string out = temp_dir();
  const auto r =
      run_heapmark({"run", "--allocators", "jemalloc", "--workloads", "churn", "-p", "churn.count=2000", "--cpus",
                    "1," + std::to_string(online), "--reps", "1", "--out", out, "--run-id", "r", "-q"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto all = cells(out + "/r");
  ASSERT_EQ(all.size(), 2u);
  std::set<std::string> narenas;
  for (const auto& c : all) {
    ASSERT_EQ(c.at("status"), "ok") << c.at("detail");
    const std::string mask(c.at("cpus").at("at_start").as_string());
    const std::string n(c.at("params").at("cpus").as_string());
    // "1" or "0-1": as many CPUs as asked for.
    const size_t dash = mask.find('-');
    const int count = dash == std::string::npos ? 1 : std::stoi(mask.substr(dash + 1)) - std::stoi(mask) + 1;
    EXPECT_EQ(std::to_string(count), n) << mask;
    const std::string cmd =
        "LD_PRELOAD=" + std::string(JEMALLOC_LIB) + " taskset -c " + mask + " " + quote(HMTEST_JEMALLOC_NARENAS);
    FILE* p = popen(cmd.c_str(), "r");
    char buf[64] = "";
    const size_t got = fread(buf, 1, sizeof buf - 1, p);
    pclose(p);
    std::string bare(buf, got);
    while (!bare.empty() && bare.back() == '\n') bare.pop_back();
    EXPECT_EQ(c.at("allocator_config").at("opt.narenas").as_string(), bare) << "cpus " << n << ", mask " << mask;
    narenas.insert(bare);
  }
  EXPECT_EQ(narenas.size(), 2u) << "jemalloc sizes its arenas from the mask: 1 CPU and " << online << " differ";
  // Bad counts are refused before anything is written.
  for (const std::string& bad : std::vector<std::string>{"0", std::to_string(online + 1), "2:visible=4", "1,1"}) {
    const auto b = run_heapmark(
        {"run", "--allocators", "glibc", "--workloads", "churn", "--cpus", bad, "--out", out, "--run-id", "bad", "-q"});
    EXPECT_EQ(b.status, 2) << bad << ": " << b.output;
    EXPECT_NE(b.output.find("--cpus"), std::string::npos) << b.output;
    EXPECT_FALSE(fs::exists(out + "/bad")) << bad;
  }
  fs::remove_all(out);
}

// --release-every on glibc's churn (fill, free, refill, three rounds): a schedule of malloc_trim(0) between the
// ops lowers the time-averaged R, and buys it with time inside the calls and the faults of pages that come back.
// The calls' own cost is what a bare program measures for malloc_trim(0) on the same heap.
TEST(Run, ReleaseScheduleBuysAverageRssWithTimeInsideTheCalls) {
  const std::string out = temp_dir();
  std::map<std::string, json::object> by;
  auto avg = [&](const char* e) { return by.at(e).at("memory").at("avg_r").to_number<double>(); };
  auto rel = [&](const char* e, const char* k) { return by.at(e).at("release_schedule").at(k).to_number<double>(); };
  auto faults = [&](const char* e) { return by.at(e).at("cpu").at("minflt").to_number<double>(); };
  // Average R is a time average: a cell descheduled for a while (ctest -j2 beside a test that stops processes
  // two hundred times) holds whatever R it had then, so one triple of cells can come out in any order. The
  // schedules' effect is asked of up to three triples in turn (the first that shows it ends the wait); a
  // schedule that returned nothing fails all three. Measured unloaded: 10 ms buys 10-20 % of avg R.
  // The longest call is compared with a bare program's malloc_trim(0) after the same frees, timed by itself
  // (tests/testlibs/trim_cost.c, its median of three). One call descheduled beside two busy cores (ctest -j2
  // with two `yes` loops: 57.7 ms against a bare 11.0 ms once) makes one cell's longest call anything, so the
  // shortest of the attempts' longest calls is what is compared, and an attempt out of bounds asks for another.
  FILE* p = popen(quote(HMTEST_TRIM_COST).c_str(), "r");
  std::vector<double> bare;
  double ms = 0;
  long returned = 0;
  while (p && fscanf(p, "%lf %ld", &ms, &returned) == 2) bare.push_back(ms);
  if (p) pclose(p);
  ASSERT_EQ(bare.size(), 3u);
  std::sort(bare.begin(), bare.end());
  double longest = std::numeric_limits<double>::infinity();
  std::string attempts;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    const std::string id = "r" + std::to_string(attempt);
    const auto r = run_heapmark({"run", "--allocators", "glibc", "--workloads", "churn", "--release-every",
                                 "off,100ms,10ms", "--reps", "1", "--out", out, "--run-id", id, "-q"});
    ASSERT_EQ(r.status, 0) << r.output;
    by.clear();
    for (const auto& c : cells(out + "/" + id)) by[std::string(c.at("params").at("release_every").as_string())] = c;
    ASSERT_EQ(by.size(), 3u);
    attempts += " off " + std::to_string(avg("off")) + ", 100ms " + std::to_string(avg("100ms")) + ", 10ms " +
                std::to_string(avg("10ms")) + ", longest call at 10ms " + std::to_string(rel("10ms", "max_ms")) +
                " ms;";
    longest = std::min(longest, rel("10ms", "max_ms"));
    const bool longest_in_bounds = longest > bare[1] / 4 && longest < bare[1] * 4;
    if (avg("10ms") < 0.95 * avg("off") && avg("100ms") <= 1.05 * avg("off") && longest_in_bounds) break;
  }
  EXPECT_FALSE(by.at("off").contains("release_schedule"));
  EXPECT_LT(avg("10ms"), 0.95 * avg("off"))
      << "trims every 10 ms return the freed pages between the waves:" << attempts;
  // 100 ms trims 4-5 times in a run of half a second: as often as not it lands between waves and buys nothing, and
  // two runs of the same cell differ by up to 1.5 % (measured: 49.2 against 48.5 MiB): 5 % is beyond that noise.
  EXPECT_LE(avg("100ms"), 1.05 * avg("off")) << "a slower schedule keeps no more than none:" << attempts;
  EXPECT_GT(rel("100ms", "calls"), 0);
  EXPECT_GT(rel("10ms", "calls"), rel("100ms", "calls"));
  EXPECT_GT(rel("10ms", "total_ms"), rel("100ms", "total_ms")) << "the price grows as the interval shortens";
  EXPECT_GT(faults("10ms"), faults("off")) << "pages given back are faulted in again by the refill";
  EXPECT_EQ(by.at("10ms").at("release_schedule").at("hook").as_string(), "malloc_trim(0)");
  EXPECT_DOUBLE_EQ(rel("10ms", "every_ms"), 10.0);

  EXPECT_GT(longest, bare[1] / 4) << "bare malloc_trim(0): " << bare[1] << " ms;" << attempts;
  EXPECT_LT(longest, bare[1] * 4) << "bare malloc_trim(0): " << bare[1] << " ms;" << attempts;

  // Bad schedules are refused in one line before anything is written.
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--workloads", "churn", "--release-every", "0.5ms"},
        std::vector<std::string>{"--workloads", "churn", "--release-every", "often"},
        std::vector<std::string>{"--workloads", "churn", "--release-every", "1s,1000ms"}}) {
    std::vector<std::string> args{"run", "--allocators", "glibc", "--out", out, "--run-id", "bad", "-q"};
    args.insert(args.end(), bad.begin(), bad.end());
    const auto b = run_heapmark(args);
    EXPECT_EQ(b.status, 2) << bad.back() << ": " << b.output;
    EXPECT_NE(b.output.find("--release-every"), std::string::npos) << b.output;
    EXPECT_FALSE(fs::exists(out + "/bad")) << bad.back();
  }
  fs::remove_all(out);
}

// --thp never,system with jemalloc asked for huge pages (thp:always madvises its extents): never keeps every phase
// end's AnonHugePages at 0 (the flag is on from the cell's first instruction), system gives huge pages where the
// machine's setting is madvise or always.
TEST(Run, ThpAxisNeverKeepsHugePagesAwayFromAnAllocatorThatAsksForThem) {
  std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string setting((std::istreambuf_iterator<char>(enabled)), {});
  if (setting.empty() || setting.find("[never]") != std::string::npos)
    GTEST_SKIP() << "transparent huge pages are off on this machine: " << setting;
  const std::string out = temp_dir();
  const auto r =
      run_heapmark({"run", "--allocators", "jemalloc", "--env", "jemalloc:MALLOC_CONF=thp:always", "--workloads",
                    "churn", "--thp", "never,system", "--reps", "1", "--out", out, "--run-id", "r", "-q"});
  ASSERT_EQ(r.status, 0) << r.output;
  std::map<std::string, double> huge;
  for (const auto& c : cells(out + "/r")) {
    ASSERT_EQ(c.at("status"), "ok") << c.at("detail");
    double most = 0;
    for (const auto& p : c.at("phases").as_array()) most = std::max(most, p.at("anon_huge_pages").to_number<double>());
    huge[std::string(c.at("params").at("thp").as_string())] = most;
    // The timeline's own reads (smaps_rollup at most every 100 ms) saw no more than the phase ends allow under never.
    const auto& h = c.at("huge_pages").as_object();
    EXPECT_GE(h.at("reads").to_number<double>(), 1);
    EXPECT_DOUBLE_EQ(h.at("min_interval_ms").to_number<double>(), 100);
    if (c.at("params").at("thp") == "never") {
      for (const auto& b : h.at("bytes").as_array()) EXPECT_EQ(b.to_number<double>(), 0);
    }
  }
  EXPECT_EQ(huge.at("never"), 0) << "a huge page in a cell started with THP disabled";
  EXPECT_GE(huge.at("system"), 2 << 20) << "jemalloc's thp:always under the machine's " << setting;
  const auto bad = run_heapmark({"run", "--allocators", "glibc", "--workloads", "churn", "--thp", "always", "--out",
                                 out, "--run-id", "bad", "-q"});
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("--thp 'always': expected never"), std::string::npos) << bad.output;
  // fork-cow has a thp parameter of its own: the axis would shadow it, so it is refused, naming the way to give it.
  const auto own = run_heapmark({"run", "--allocators", "glibc", "--workloads", "fork-cow", "--thp", "never", "--out",
                                 out, "--run-id", "bad", "-q"});
  EXPECT_EQ(own.status, 2) << own.output;
  EXPECT_NE(own.output.find("has a parameter 'thp' of its own, which the --thp axis would shadow: give it with -p "
                            "fork-cow.thp=VALUE"),
            std::string::npos)
      << own.output;
  fs::remove_all(out);
}

TEST(Run, CellsStartWithTheCpusADeployedProcessGetsAtEveryJobCount) {
  const std::string bare = bare_narenas();
  ASSERT_FALSE(bare.empty()) << "the bare jemalloc process printed nothing";
  for (const char* jobs : {"1", "2"}) {
    SCOPED_TRACE(std::string("--jobs ") + jobs);
    const std::string out = temp_dir();
    const auto r = run_heapmark({"run",
                                 "--allocators",
                                 "jemalloc",
                                 "--workloads",
                                 "churn,ring-buffer",
                                 "-p",
                                 "churn.count=2000",
                                 "-p",
                                 "ring-buffer.mode=pc",
                                 "-p",
                                 "ring-buffer.messages=2000",
                                 "--reps",
                                 "1",
                                 "--jobs",
                                 jobs,
                                 "--out",
                                 out,
                                 "--run-id",
                                 "r",
                                 "-q"});
    ASSERT_EQ(r.status, 0) << r.output;
    const auto all = cells(out + "/r");
    ASSERT_EQ(all.size(), 2u);
    for (const auto& c : all) {
      SCOPED_TRACE(std::string(c.at("workload").as_string()));
      ASSERT_EQ(c.at("status"), "ok") << c.at("detail");
      EXPECT_EQ(c.at("allocator_config").at("opt.narenas").as_string(), bare);
      EXPECT_EQ(c.at("cpus").at("online").to_number<int>(), sysconf(_SC_NPROCESSORS_ONLN));
      // Every thread's mask and where it ran are recorded; a single-thread cell
      // at --jobs 1 is pinned after start-up, never before.
      const auto& threads = c.at("cpus").at("threads").as_array();
      EXPECT_EQ(threads.size(), c.at("program").at("threads").to_number<size_t>());
      for (const auto& t : threads) EXPECT_FALSE(t.at("ran_on").as_string().empty());
    }
    fs::remove_all(out);
  }
}

// Every field a real run writes into cells.jsonl is documented in
// results/SCHEMA.md, and every figure path of harness/results/schema.h
// resolves in an ok cell: a field added to the cell result but not to the
// schema document fails here.
static void key_paths(const json::value& v, const std::string& prefix, std::set<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, e] : v.get_object()) {
      const std::string name = prefix + std::string(k);
      out.insert(name);
      // Maps keyed by data, not by schema: their keys are values.
      if (name == "env" || name == "params" || name == "allocator_config" || name == "latency_ns" ||
          name == "latency_histogram" || name == "ops" || name == "counters.events" || name == "phases.counters")
        for (const auto& [kk, ee] : e.get_object()) key_paths(ee, name + ".*.", out);
      else if (std::string(k) != "allocator_stats") key_paths(e, name + ".", out);
    }
  } else if (v.is_array()) {
    for (const auto& e : v.get_array()) key_paths(e, prefix, out);
  }
}

// A field is documented when SCHEMA.md names its dotted path (`a.b.c`, or as
// a container `a.b.c.`), or when one unit of the text names both its parent
// (path or own name) and the field (`c`, or `.c` in a list of siblings): a
// unit is a paragraph, or a table row together with the paragraph that heads
// its table ("`memory`:" then a table of its fields). A name that merely
// appears elsewhere in the file does not count. "[]" (a list) is ignored.
static bool documented(std::string doc, const std::string& path) {
  for (size_t p; (p = doc.find("[]")) != std::string::npos;) doc.erase(p, 2);
  std::string plain = path;  // without the .* of maps
  for (size_t p; (p = plain.find(".*")) != std::string::npos;) plain.erase(p, 2);
  if (doc.find("`" + plain + "`") != std::string::npos || doc.find("`" + plain + ".") != std::string::npos) return true;
  const size_t dot = plain.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string leaf = plain.substr(dot + 1), parent = plain.substr(0, dot);
  const size_t pdot = parent.rfind('.');
  const std::string parent_leaf = pdot == std::string::npos ? parent : parent.substr(pdot + 1);
  auto names = [](const std::string& unit, const std::string& name, bool as_prefix) {
    for (const std::string& t :
         {"`" + name + "`", "`." + name + "`", "`" + name + ".", "`." + name + ".", "`" + name + " "})
      if (unit.find(t) != std::string::npos) return true;
    return as_prefix && unit.find("`" + name) != std::string::npos;
  };
  auto holds = [&](const std::string& unit) {
    return (names(unit, parent, true) || names(unit, parent_leaf, false)) && names(unit, leaf, false);
  };
  std::istringstream lines(doc);
  std::string paragraph, heading;  // heading: the paragraph before the current table
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("## ", 0) == 0) {
      heading.clear();
    } else if (line.rfind("|", 0) == 0) {
      if (!paragraph.empty()) heading = paragraph, paragraph.clear();
      if (holds(heading + "\n" + line)) return true;
    } else if (line.empty()) {
      if (holds(paragraph)) return true;
      if (!paragraph.empty()) heading = paragraph;
      paragraph.clear();
    } else {
      paragraph += line + "\n";
    }
  }
  return holds(paragraph);
}

TEST(Run, EveryFieldACellWritesIsDocumentedInSchemaMd) {
  const std::string out = temp_dir();
  const auto r = run_heapmark({"run",
                               "--allocators",
                               "glibc,jemalloc",
                               "--allocator",
                               "crash=" + std::string(HMTEST_CRASH),
                               "--workloads",
                               "churn,repro,micro",
                               "-p",
                               "churn.count=20000",
                               "-p",
                               "repro.mib=8",
                               "-p",
                               "repro.idle_ms=20",
                               "-p",
                               "repro.activity_ms=30",
                               "-p",
                               "micro.min_time=0.05",
                               "-p",
                               "micro.filter=MallocFree",
                               "--reps",
                               "1",
                               "--out",
                               out,
                               "--run-id",
                               "r",
                               "-q"});
  ASSERT_EQ(r.status, 4) << "a cell failed: exit status 4\n" << r.output;
  std::ifstream in(std::string(HEAPMARK_SOURCE_DIR) + "/results/SCHEMA.md");
  const std::string doc((std::istreambuf_iterator<char>(in)), {});
  ASSERT_FALSE(doc.empty());
  std::set<std::string> keys;
  bool failed = false, waited = false, micro = false;
  for (const auto& c : cells(out + "/r")) {
    key_paths(json::value(c), "", keys);
    failed |= c.at("status") != "ok";
    micro |= c.contains("micro");
    for (const auto& p : c.contains("phases") ? c.at("phases").as_array() : json::array{})
      waited |= p.as_object().contains("wait");
    if (c.at("status") == "ok" && c.at("workload") == "churn")
      for (const char* path : heapmark::results::path::kAll) {
        const json::value whole = c;
        const json::value* v = &whole;
        for (size_t start = 0, dot;; start = dot + 1) {
          dot = std::string(path).find('.', start);
          v = v->as_object().if_contains(
              std::string(path).substr(start, dot == std::string::npos ? std::string::npos : dot - start));
          if (!v || dot == std::string::npos) break;
        }
        EXPECT_TRUE(v && v->is_number()) << path << " does not resolve to a number in a churn cell";
      }
  }
  EXPECT_TRUE(failed && waited && micro) << "the run must cover a failed cell, waits and a micro cell";
  // run.json likewise (its matrix's parameters and environments are data).
  std::ifstream rj(out + "/r/run.json");
  json::value run = json::parse(std::string((std::istreambuf_iterator<char>(rj)), {}));
  for (auto& w : run.at("matrix").at("workloads").as_array()) w.as_object().erase("params");
  for (auto& a : run.at("matrix").at("allocators").as_array()) a.as_object().erase("env");
  for (auto& a : run.at("allocators").as_array()) a.as_object().erase("env");
  run.at("fingerprint").at("allocators") = json::object{};  // keyed by allocator name: data
  std::set<std::string> run_keys;
  key_paths(run, "", run_keys);
  for (const auto& k : run_keys)
    EXPECT_TRUE(documented(doc, k)) << "run.json field '" << k << "' is not in results/SCHEMA.md";
  for (const auto& k : keys)
    EXPECT_TRUE(documented(doc, k)) << "cells.jsonl field '" << k << "' is not in results/SCHEMA.md";
  fs::remove_all(out);
}

// --resume compares a resumed cell's program with what its block recorded
// before the stop. Made deterministic: a finished run loses its last cell (as
// a kill would leave it) and the recorded cell's checksum is changed.
TEST(Run, ResumeComparesResumedCellsWithTheProgramTheirBlockRecorded) {
  const std::string out = temp_dir();
  const std::string dir = out + "/r";
  ASSERT_EQ(run_heapmark({"run", "--allocators", "glibc,jemalloc", "--workloads", "churn", "-p", "count=2000", "--reps",
                          "1", "--out", out, "--run-id", "r", "-q"})
                .status,
            0);
  auto all = cells(dir);
  ASSERT_EQ(all.size(), 2u);
  ASSERT_EQ(all[0].at("block"), all[1].at("block"));
  all[0].at("program").as_object()["checksum"] = "0000000000000000";
  std::ofstream(dir + "/cells.jsonl", std::ios::trunc) << json::serialize(all[0]) << "\n";
  const auto r = run_heapmark({"run", "--resume", dir, "-q"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("ran a different program"), std::string::npos) << r.output;
  const auto after = cells(dir);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1].at("program").at("matches_block"), json::value(false));
  fs::remove_all(out);
}

// A user library's identity rests on where malloc and free resolve. One that
// exports no malloc_usable_size must not borrow glibc's through its
// dependencies, and one whose malloc and free nothing binds to is not the
// process's allocator (one exporting no free is refused before any cell runs:
// BadInputGetsOneLineNamingTheValueExitTwoAndWritesNothing).
TEST(Run, UserLibraryIdentityIsProvenFromWhereMallocAndFreeResolve) {
  const std::string out = temp_dir();
  // The impostor defines malloc and free, at a symbol version nothing binds to:
  // it passes the up-front check, and only where they resolve tells.
  const auto r = run_heapmark({"run", "--allocator", std::string("fwd=") + HMTEST_FORWARD, "--allocator",
                               std::string("half=") + HMTEST_NOT_AN_ALLOCATOR, "--workloads", "churn", "-p",
                               "count=20000", "--reps", "1", "--out", out, "--run-id", "r", "-q"});
  ASSERT_EQ(r.status, 4) << "a failed cell: exit status 4, after running every cell\n" << r.output;
  const auto resumed = run_heapmark({"run", "--resume", out + "/r", "-q"});
  EXPECT_EQ(resumed.status, 4) << "nothing left to run, but a recorded cell failed\n" << resumed.output;
  const auto all = by_allocator(cells(out + "/r"));
  ASSERT_EQ(all.size(), 2u);
  const auto& fwd = all.at("fwd");
  ASSERT_EQ(fwd.at("status"), "ok") << fwd.at("detail");
  EXPECT_NE(std::string(fwd.at("identity").at("proof").as_string()).find("exports no malloc_usable_size"),
            std::string::npos)
      << fwd.at("identity").at("proof");
  EXPECT_TRUE(fwd.at("fragmentation").at("internal").is_null()) << "no usable size: no internal fragmentation figure";
  const auto& half = all.at("half");
  EXPECT_EQ(half.at("status"), "failed");
  EXPECT_EQ(half.at("cause"), "identity");
  EXPECT_NE(std::string(half.at("detail").as_string()).find("libc.so"), std::string::npos) << half.at("detail");
  fs::remove_all(out);
}

TEST(Run, ShardsOfAPlanHoldWholeBlocksAndMergeIntoExactlyThePlansCells) {
  const std::string out = temp_dir();
  const std::vector<std::string> matrix = {"--allocators", "glibc,jemalloc",  "--workloads", "churn",
                                           "-p",           "count=2000|4000", "--reps",      "2"};
  std::vector<std::string> plan_args = {"plan", "--shards", "3"};
  plan_args.insert(plan_args.end(), matrix.begin(), matrix.end());
  const auto p = run_heapmark(plan_args);
  ASSERT_EQ(p.status, 0) << p.output;
  const json::object plan = json::parse(p.output).as_object();
  EXPECT_EQ(plan.at("schema"), "heapmark-plan");
  std::map<std::string, int> shard_of;  // cell key -> its block's shard
  std::map<int64_t, std::set<std::string>> block_allocators;
  for (const auto& b : plan.at("blocks").as_array())
    for (const auto& c : b.at("cells").as_array()) {
      shard_of[std::string(c.at("key").as_string())] = static_cast<int>(b.at("shard").to_number<int64_t>());
      block_allocators[b.at("block").to_number<int64_t>()].insert(std::string(c.at("allocator").as_string()));
    }
  ASSERT_EQ(shard_of.size(), 8u);  // 2 allocators x 2 counts x 2 reps
  for (const auto& [b, allocs] : block_allocators)
    EXPECT_EQ(allocs.size(), 2u) << "block " << b << " holds every allocator";
  std::map<std::string, int> ran;
  for (int k = 1; k <= 3; ++k) {
    std::vector<std::string> args = {"run", "--shard",  std::to_string(k) + "/3", "--out",
                                     out,   "--run-id", "s" + std::to_string(k),  "-q"};
    args.insert(args.end(), matrix.begin(), matrix.end());
    const auto r = run_heapmark(args);
    ASSERT_EQ(r.status, 0) << r.output;
    std::ifstream in(out + "/s" + std::to_string(k) + "/run.json");
    const json::object run_json = json::parse(std::string((std::istreambuf_iterator<char>(in)), {})).as_object();
    EXPECT_EQ(run_json.at("plan").at("matrix_digest"), plan.at("matrix_digest"));
    EXPECT_EQ(std::string(run_json.at("options").at("shard").as_string()), std::to_string(k) + "/3");
    for (const auto& c : cells(out + "/s" + std::to_string(k))) {
      const std::string key(c.at("key").as_string());
      EXPECT_EQ(shard_of[key], k) << key << " ran in the wrong shard";
      ++ran[key];
    }
  }
  EXPECT_EQ(ran.size(), shard_of.size()) << "the shards together ran every cell of the plan";
  for (const auto& [key, n] : ran) EXPECT_EQ(n, 1) << key << " ran " << n << " times";
  // A retried shard (resume) adds nothing it already has.
  const auto again = run_heapmark({"run", "--resume", out + "/s1", "-q"});
  ASSERT_EQ(again.status, 0) << again.output;
  size_t s1 = 0;
  for (const auto& [key, k] : shard_of) s1 += k == 1;
  EXPECT_EQ(cells(out + "/s1").size(), s1);
  // Merged: exactly the plan's cells, once each, an exact duplicate (a shard given twice) dropped.
  const auto merged = run_heapmark({"merge", out + "/s1", out + "/s2", out + "/s3", out + "/s1", "-o", out + "/all"});
  ASSERT_EQ(merged.status, 0) << merged.output;
  std::set<std::string> merged_keys;
  for (const auto& c : cells(out + "/all"))
    EXPECT_TRUE(merged_keys.insert(std::string(c.at("key").as_string())).second);
  EXPECT_EQ(merged_keys.size(), shard_of.size());
  EXPECT_TRUE(fs::exists(out + "/all/report.html"));
  // A missing shard: refused with the missing blocks named, written only with --partial.
  const auto missing = run_heapmark({"merge", out + "/s1", out + "/s2", "-o", out + "/part"});
  EXPECT_EQ(missing.status, 2) << missing.output;
  EXPECT_NE(missing.output.find("blocks of the plan are missing"), std::string::npos) << missing.output;
  EXPECT_FALSE(fs::exists(out + "/part/cells.jsonl"));
  EXPECT_EQ(run_heapmark({"merge", out + "/s1", out + "/s2", "-o", out + "/part", "--partial"}).status, 0);
  // One block's cells from two machines: s1's first cell moved to a copy whose fingerprint says another machine.
  fs::copy(out + "/s1", out + "/s1b", fs::copy_options::recursive);
  std::ifstream in1(out + "/s1/cells.jsonl");
  std::string first_line, rest, line;
  std::getline(in1, first_line);
  while (std::getline(in1, line)) rest += line + "\n";
  std::ofstream(out + "/s1a.cells", std::ios::trunc) << rest;
  fs::rename(out + "/s1a.cells", out + "/s1/cells.jsonl");
  std::ofstream(out + "/s1b/cells.jsonl", std::ios::trunc) << first_line << "\n";
  {
    std::ifstream rj(out + "/s1b/run.json");
    json::object r = json::parse(std::string((std::istreambuf_iterator<char>(rj)), {})).as_object();
    r["fingerprint"].as_object()["cpu_model"] = "Other CPU 9000";
    r["fingerprint"].as_object()["digest"] = "0123456789abcdef";
    std::ofstream(out + "/s1b/run.json", std::ios::trunc) << json::serialize(r) << "\n";
  }
  for (const bool by_machine : {false, true}) {
    std::vector<std::string> args = {"merge",     out + "/s1", out + "/s1b",  out + "/s2",
                                     out + "/s3", "-o",        out + "/mixed"};
    if (by_machine) args.push_back("--by-machine");
    const auto mixed = run_heapmark(args);
    EXPECT_EQ(mixed.status, 2) << mixed.output;
    EXPECT_NE(mixed.output.find("ran on two machines"), std::string::npos) << mixed.output;
    EXPECT_NE(mixed.output.find("Other CPU 9000"), std::string::npos) << mixed.output;
    EXPECT_EQ(std::count(mixed.output.begin(), mixed.output.end(), '\n'), 1) << mixed.output;
  }
  EXPECT_EQ(run_heapmark({"merge", out + "/s1", "/tmp", "-o", out + "/x"}).status, 2);
  // Whole shards from two machine types: merged only --by-machine, each cell naming its machine, and the
  // report's rankings by machine type for the parameters both ran (count=4000: blocks of shards 1 and 3).
  fs::copy(out + "/s3", out + "/s3m", fs::copy_options::recursive);
  {
    std::ifstream rj(out + "/s3m/run.json");
    json::object r = json::parse(std::string((std::istreambuf_iterator<char>(rj)), {})).as_object();
    r["fingerprint"].as_object()["cpu_model"] = "Other CPU 9000";
    r["fingerprint"].as_object()["digest"] = "fedcba9876543210";
    std::ofstream(out + "/s3m/run.json", std::ios::trunc) << json::serialize(r) << "\n";
  }
  fs::copy(out + "/s1b/cells.jsonl", out + "/s1.first");  // s1 whole again for this merge
  {
    std::ifstream a(out + "/s1.first"), b(out + "/s1/cells.jsonl");
    const std::string whole =
        std::string((std::istreambuf_iterator<char>(a)), {}) + std::string((std::istreambuf_iterator<char>(b)), {});
    std::ofstream(out + "/s1/cells.jsonl", std::ios::trunc) << whole;
  }
  const auto two = run_heapmark({"merge", out + "/s1", out + "/s2", out + "/s3m", "-o", out + "/two"});
  EXPECT_EQ(two.status, 2) << two.output;
  EXPECT_NE(two.output.find("--by-machine"), std::string::npos) << two.output;
  const auto by = run_heapmark({"merge", out + "/s1", out + "/s2", out + "/s3m", "-o", out + "/two", "--by-machine"});
  ASSERT_EQ(by.status, 0) << by.output;
  std::set<std::string> machines;
  for (const auto& c : cells(out + "/two")) machines.insert(std::string(c.at("machine").as_string()));
  EXPECT_EQ(machines.size(), 2u);
  std::ifstream md(out + "/two/summary.md");
  const std::string summary((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(summary.find("Rankings by machine type"), std::string::npos) << summary.substr(0, 2000);
  EXPECT_NE(summary.find("Other CPU 9000 (fedcba)"), std::string::npos);
  // compare says when two runs come from different machines, and what differs.
  const auto cmp = run_heapmark({"compare", out + "/s1", out + "/s1b"});
  EXPECT_NE(cmp.output.find("the runs come from different machines: cpu_model: "), std::string::npos) << cmp.output;
  EXPECT_NE(cmp.output.find("Other CPU 9000"), std::string::npos) << cmp.output;
  // A run resumes only on a machine of its fingerprint (its blocks would mix machines).
  const auto moved = run_heapmark({"run", "--resume", out + "/s1b", "-q"});
  EXPECT_EQ(moved.status, 2) << moved.output;
  EXPECT_NE(moved.output.find("was started on another machine (cpu_model"), std::string::npos) << moved.output;
  for (const std::string bad : {"4/3", "0/0", "1/", "x", "2/1"}) {
    const auto r = run_heapmark({"run", "--workloads", "churn", "--shard", bad, "--out", out, "-q"});
    EXPECT_EQ(r.status, 2) << bad;
    EXPECT_NE(r.output.find("--shard '" + bad + "'"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  fs::remove_all(out);
}

// --timing batch: the cell reports ns per call from batches instead of
// per-call latencies, says which timer produced them, and its bookkeeping is
// the per-call run's (same program, same live bytes at every phase end).
TEST(Run, BatchTimingReportsNsPerCallAndKeepsTheProgramsFigures) {
  const std::string out = temp_dir();
  for (const char* timing : {"latency", "batch:64"}) {
    const auto r =
        run_heapmark({"run", "--allocators", "glibc,jemalloc", "--workloads", "churn", "-p", "count=20000", "--reps",
                      "1", "--timing", timing, "--out", out, "--run-id", timing[0] == 'l' ? "l" : "b", "-q"});
    ASSERT_EQ(r.status, 0) << r.output;
  }
  const auto lat = by_allocator(cells(out + "/l")), bat = by_allocator(cells(out + "/b"));
  for (const char* a : {"glibc", "jemalloc"}) {
    SCOPED_TRACE(a);
    const auto &l = lat.at(a), &b = bat.at(a);
    EXPECT_EQ(l.at("timing").at("timer"), "latency");
    EXPECT_EQ(b.at("timing").at("timer"), "batch");
    EXPECT_EQ(b.at("timing").at("batch_calls").to_number<int>(), 64);
    EXPECT_FALSE(b.at("timing").at("latency_net_of_timer_overhead").as_bool());
    EXPECT_TRUE(b.at("latency_ns").as_object().empty());
    EXPECT_FALSE(l.contains("batch_ns_per_call"));
    const auto& bn = b.at("batch_ns_per_call");
    const double calls = b.at("ops").at("alloc").to_number<double>() + b.at("ops").at("free").to_number<double>();
    EXPECT_EQ(bn.at("calls").to_number<double>(), calls) << "every call is timed in a batch";
    EXPECT_GE(bn.at("batches").to_number<double>(), calls / 64);
    EXPECT_GT(bn.at("mean").to_number<double>(), 0);
    EXPECT_LE(bn.at("min").to_number<double>(), bn.at("p50").to_number<double>());
    EXPECT_LE(bn.at("p50").to_number<double>(), bn.at("p99").to_number<double>());
    EXPECT_EQ(b.at("program").at("checksum"), l.at("program").at("checksum"));
    const auto &pl = l.at("phases").as_array(), &pb = b.at("phases").as_array();
    ASSERT_EQ(pl.size(), pb.size());
    for (size_t i = 0; i < pl.size(); ++i) {
      EXPECT_EQ(pb[i].at("live_bytes"), pl[i].at("live_bytes")) << "phase " << i;
      EXPECT_EQ(pb[i].at("live_blocks"), pl[i].at("live_blocks")) << "phase " << i;
    }
  }
  fs::remove_all(out);
}

// The counters: software events counted, each checked against what the
// kernel's getrusage says of the same cell (a superset: it covers the setup
// too); hardware events counted or unavailable with a reason, never 0; the
// phases' counts add up to the cell's; --no-counters leaves them out.
TEST(Run, EventCountersAgreeWithRusageAndSayWhyAnEventIsMissing) {
  const std::string out = temp_dir();
  auto r = run_heapmark({"run", "--allocators", "glibc", "--workloads", "churn", "-p", "count=100000", "--reps", "1",
                         "--out", out, "--run-id", "on", "-q"});
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_heapmark({"run", "--allocators", "glibc", "--workloads", "churn", "-p", "count=20000", "--reps", "1",
                    "--no-counters", "--out", out, "--run-id", "off", "-q"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto off = cells(out + "/off").at(0);
  EXPECT_FALSE(off.contains("counters"));
  for (const auto& p : off.at("phases").as_array()) EXPECT_FALSE(p.as_object().contains("counters"));

  const auto c = cells(out + "/on").at(0);
  const auto& ev = c.at("counters").at("events").as_object();
  ASSERT_EQ(ev.size(), 12u);
  const double calls = c.at("ops").at("alloc").to_number<double>() + c.at("ops").at("free").to_number<double>();
  for (const auto& [name, e] : ev) {
    SCOPED_TRACE(std::string(name));
    const auto& o = e.as_object();
    if (o.contains("unavailable")) {
      EXPECT_FALSE(o.contains("total")) << "an event that could not be counted has no number";
      EXPECT_GT(o.at("errno").to_number<int>(), 0);
      EXPECT_NE(std::string(o.at("reason").as_string()).find("perf_event_open: "), std::string::npos);
      continue;
    }
    double sum = 0;
    for (const auto& p : c.at("phases").as_array()) sum += p.at("counters").at(name).to_number<double>();
    EXPECT_NEAR(sum, o.at("total").to_number<double>(), 1e-6 * sum + 1e-9);
    EXPECT_NEAR(o.at("per_1k_calls").to_number<double>(), o.at("total").to_number<double>() * 1000 / calls,
                1e-9 * calls);
  }
  for (const char* sw : {"task-clock", "page-faults", "minor-faults", "major-faults"})
    ASSERT_TRUE(ev.at(sw).as_object().contains("total")) << sw << " is a software event: counted on every Linux";
  const double task_s = ev.at("task-clock").at("total").to_number<double>() * 1e-9;
  const double cpu_s = c.at("cpu").at("user_s").to_number<double>() + c.at("cpu").at("sys_s").to_number<double>();
  // The phases ran on a CPU (how much of the wall time depends on what else the machine runs: no bound on that).
  EXPECT_GT(task_s, 0) << "the phases ran on a CPU";
  EXPECT_LE(task_s, cpu_s * 1.05 + 0.01) << "the phases' CPU time is part of the process's";
  const double minflt = ev.at("minor-faults").at("total").to_number<double>();
  EXPECT_GT(minflt, 100) << "churn faults its heap in";
  EXPECT_LE(minflt, c.at("cpu").at("minflt").to_number<double>()) << "the phases' faults are part of the process's";
  EXPECT_FALSE(c.at("counters").as_object().contains("ipc") && !ev.at("cycles").as_object().contains("total"))
      << "no IPC without cycles";
  fs::remove_all(out);
}

// fork-cow and false-sharing through real cells under the four allocators:
// every cell ok with its own figures; the touch child copies exactly the
// pages it wrote whatever the allocator; and glibc's free, which writes a
// list link into the freed block, makes its alloc child copy far more of the
// inherited heap than jemalloc's, whose free lists live outside the blocks.
TEST(Run, ForkCowAndFalseSharingRunUnderEveryAllocator) {
  const std::string out = temp_dir();
  const auto r =
      run_heapmark({"run", "--allocators", "glibc,jemalloc,mimalloc,tcmalloc", "--workloads", "fork-cow,false-sharing",
                    "-p", "fork-cow.heap_mib=8", "-p", "fork-cow.child_ops=20000", "-p", "false-sharing.writes=100000",
                    "--reps", "1", "--out", out, "--run-id", "r", "-q"});
  ASSERT_EQ(r.status, 0) << r.output;
  std::map<std::string, double> alloc_net, shared;
  for (const auto& c : cells(out + "/r")) {
    const std::string who =
        std::string(c.at("allocator").as_string()) + " " + std::string(c.at("workload").as_string());
    SCOPED_TRACE(who);
    ASSERT_EQ(c.at("status"), "ok") << c.at("detail");
    EXPECT_NE(std::string(c.at("micro_source").as_string()).find(std::string(c.at("workload").as_string())),
              std::string::npos);
    std::set<std::string> rows;
    for (const auto& b : c.at("micro").as_array()) rows.insert(std::string(b.at("name").as_string()));
    // Every row the workload reports is there: a missing one fails here rather than skipping its checks.
    const std::set<std::string> want =
        c.at("workload") == "fork-cow"
            ? std::set<std::string>{"fork-cow/idle", "fork-cow/touch", "fork-cow/alloc", "fork-cow/both"}
            : std::set<std::string>{"false-sharing/passive"};
    for (const auto& w : want) EXPECT_TRUE(rows.count(w)) << "no row " << w;
    for (const auto& b : c.at("micro").as_array()) {
      const auto& k = b.at("counters").as_object();
      const std::string name(b.at("name").as_string());
      if (name == "fork-cow/touch") {
        const double net = k.at("net_private_dirty_bytes").to_number<double>(),
                     want = k.at("expected_touch_bytes").to_number<double>();
        EXPECT_GT(want, 0);
        EXPECT_NEAR(net, want, 4 * 4096 + 0.01 * want) << "the touch child copies the pages it wrote";
      }
      if (name == "fork-cow/alloc")
        alloc_net[std::string(c.at("allocator").as_string())] = k.at("net_private_dirty_bytes").to_number<double>();
      if (name.rfind("false-sharing/", 0) == 0) {
        EXPECT_EQ(k.at("total_writes").to_number<double>(), 2 * 100000.0);
        shared[std::string(c.at("allocator").as_string())] = k.at("shared_lines").to_number<double>();
      }
    }
  }
  ASSERT_EQ(alloc_net.size(), 4u);
  EXPECT_GT(alloc_net.at("glibc"), 4 * alloc_net.at("jemalloc"))
      << alloc_net.at("glibc") << " vs " << alloc_net.at("jemalloc");
  // Thread-owned memory never puts two threads' objects on one line (jemalloc's
  // per-thread arenas, mimalloc's thread-owned pages); tcmalloc's central free
  // lists hand the threads objects from one span (measured: 1 line in 6 of 6 runs).
  ASSERT_EQ(shared.size(), 4u);
  EXPECT_EQ(shared.at("jemalloc"), 0);
  EXPECT_EQ(shared.at("mimalloc"), 0);
  EXPECT_GE(shared.at("tcmalloc"), 1);
  fs::remove_all(out);
}

// heapmark export openmetrics: the run's figures as an exposition that Prometheus's own checker accepts, whose
// values are the cells' own (peak R per cell, R at each phase end), refused over an existing file without --force.
TEST(Export, OpenMetricsOfARunIsAcceptedByPromtoolAndCarriesTheCellsFigures) {
  ASSERT_TRUE(std::string(PROMTOOL).find("promtool") != std::string::npos && fs::exists(PROMTOOL))
      << "promtool not found: scripts/lib/deps.sh installs Debian's prometheus and python3-prometheus-client";
  const std::string out = temp_dir();
  const auto r = run_heapmark({"run", "--allocators", "glibc,jemalloc", "--workloads", "churn", "-p",
                               "churn.count=5000", "--reps", "1", "--out", out, "--run-id", "r", "-q"});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string file = out + "/run.om";
  const auto e = run_heapmark({"export", "openmetrics", out + "/r", "--out", file});
  ASSERT_EQ(e.status, 0) << e.output;
  FILE* p = popen((quote(PROMTOOL) + " check metrics < " + quote(file) + " 2>&1").c_str(), "r");
  std::string said;
  char buf[512];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) said.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << "promtool check metrics: " << said;
  // promtool 2.42 reads the Prometheus text format, where # UNIT and # EOF are comments: the OpenMetrics rules
  // (a unit the name ends with, # EOF last, no sample twice) are checked by the Python client's OpenMetrics parser,
  // in Debian's python3 where its package installs it (PATH may name another one first, as a pyenv shim does here).
  const std::string parse =
      "/usr/bin/python3 -c 'import sys; from prometheus_client.openmetrics.parser import "
      "text_string_to_metric_families as p; "
      "print(sum(len(f.samples) for f in p(open(sys.argv[1]).read())))' " +
      quote(file) + " 2>&1";
  FILE* py = popen(parse.c_str(), "r");
  std::string parsed;
  for (size_t n; (n = fread(buf, 1, sizeof buf, py)) > 0;) parsed.append(buf, n);
  EXPECT_EQ(pclose(py), 0) << "the OpenMetrics parser: " << parsed;
  std::ifstream in(file);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text.substr(text.size() - 6), "# EOF\n");
  std::ifstream beside(out + "/r/metrics.om");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(beside)), {}), text)
      << "every run's report writes the same exposition beside report.html";
  size_t sample_lines = 0;
  for (size_t at = 0; at < text.size(); at = text.find('\n', at) + 1) sample_lines += text[at] != '#';
  EXPECT_EQ(parsed, std::to_string(sample_lines) + "\n") << "every sample line parsed once";
  for (const auto& c : cells(out + "/r")) {
    const std::string a(c.at("allocator").as_string());
    const std::string labels = "{allocator=\"" + a + "\",workload=\"churn\",rep=\"1\",params=\"";
    // The value of the first sample of `family` for this cell whose labels contain `extra`; -1 when none.
    auto value = [&](const std::string& family, const std::string& extra) {
      for (size_t at = text.find(family + labels); at != std::string::npos; at = text.find(family + labels, at + 1)) {
        const std::string line = text.substr(at, text.find('\n', at) - at);
        if (line.find(extra) != std::string::npos) return std::stod(line.substr(line.rfind(' ') + 1));
      }
      return -1.0;
    };
    EXPECT_EQ(value("heapmark_peak_r_bytes", ""), c.at("memory").at("peak_r").to_number<double>()) << a;
    for (const auto& ph : c.at("phases").as_array()) {
      const std::string idx = "phase_index=\"" + std::to_string(ph.at("index").to_number<int>()) + "\"";
      EXPECT_EQ(value("heapmark_phase_r_bytes", idx), ph.at("r").to_number<double>()) << a << " " << idx;
    }
  }
  // An existing file is kept without --force; an unknown directory is one line, exit 2.
  const auto again = run_heapmark({"export", "openmetrics", out + "/r", "--out", file});
  EXPECT_EQ(again.status, 2) << again.output;
  EXPECT_NE(again.output.find("--force"), std::string::npos) << again.output;
  std::ifstream kept(file);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(kept)), {}), text);
  const auto missing = run_heapmark({"export", "openmetrics", out + "/nosuch"});
  EXPECT_EQ(missing.status, 2) << missing.output;
  fs::remove_all(out);
}
