// Program cells end to end: the real heapmark binary runs real programs under
// real preloaded allocators, and its figures are checked against what the
// kernel says of the same program run without heapmark.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "harness/results/schema.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

struct Result {
  int status;
  std::string output;  // stdout and stderr
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

Result shell(const std::string& cmd) {
  Result r{-1, ""};
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

Result run_heapmark(const std::vector<std::string>& args) {
  std::string cmd = quote(HEAPMARK_BIN);
  for (const auto& a : args) cmd += " " + quote(a);
  return shell(cmd);
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/heapmark-prog-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<json::object> cells(const std::string& dir) {
  std::vector<json::object> out;
  std::ifstream in(dir + "/cells.jsonl");
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line).as_object());
  return out;
}

std::map<std::string, json::object> by_allocator(const std::vector<json::object>& cs) {
  std::map<std::string, json::object> m;
  for (const auto& c : cs) m[std::string(c.at("allocator").as_string())] = c;
  return m;
}

std::string text(const json::value& v) { return std::string(v.as_string()); }
double num(const json::value& v) { return v.to_number<double>(); }

void write(const std::string& path, const std::string& content) { std::ofstream(path) << content; }

// The program's peak RSS as /usr/bin/time reports it (ru_maxrss of its child, KiB).
uint64_t time_peak_bytes(const std::string& cmd, const std::string& dir) {
  const std::string out = dir + "/time.out";
  shell("/usr/bin/time -o " + out + " -f %M " + cmd + " >/dev/null");
  std::ifstream in(out);
  uint64_t kib = 0;
  in >> kib;
  return kib * 1024;
}

}  // namespace

TEST(Program, PeakRssAgreesWithUsrBinTimeOfTheSameProgram) {
  TempDir out;
  const std::string prog = std::string(PHASED_CHURN) + " 96";
  const auto r = run_heapmark({"run", "--program", "churn=" + prog, "--allocators", "glibc,jemalloc", "--reps", "1",
                               "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto all = by_allocator(cells(out.path + "/r"));
  ASSERT_EQ(all.size(), 2u);
  for (const auto& [name, c] : all) {
    ASSERT_EQ(text(c.at("status")), "ok") << name << ": " << c.at("detail");
    EXPECT_EQ(text(c.at("program_run").at("vm_hwm_from")), "probe") << name;
    const double hwm = num(c.at("memory").at("vm_hwm"));
    const std::string preload = name == "glibc" ? "" : "env LD_PRELOAD=" + text(c.at("library")) + " ";
    const double bare = static_cast<double>(time_peak_bytes(preload + prog, out.path));
    ASSERT_GT(bare, 90.0 * (1 << 20)) << name;
    // The same program, the same allocator: the same peak, within noise.
    EXPECT_NEAR(hwm / bare, 1.0, 0.03) << name << ": cell " << hwm << " vs /usr/bin/time " << bare;
    // The heap is held for milliseconds: 1 kHz sampling sees its peak.
    EXPECT_NEAR(num(c.at("memory").at("peak_rss_sampled")) / hwm, 1.0, 0.05) << name;
    EXPECT_GT(num(c.at("cpu").at("minflt")), 90.0 * (1 << 20) / 4096 * 0.9)
        << name << ": every page of the heap faulted in";
  }
}

TEST(Program, PhasesMarkedOnThePhaseFdCarryTheirSmapsFigures) {
  TempDir out;
  const auto r = run_heapmark({"run", "--program", "churn=" + std::string(PHASED_CHURN) + " 64", "--allocators",
                               "glibc", "--reps", "1", "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto c = cells(out.path + "/r").at(0);
  ASSERT_EQ(text(c.at("status")), "ok") << c.at("detail");
  const auto& phases = c.at("phases").as_array();
  ASSERT_EQ(phases.size(), 4u) << "start (before the first mark), then build, free, end as the program marked them";
  EXPECT_EQ(text(phases[0].at("name")), "start");
  EXPECT_EQ(text(phases[1].at("name")), "build");
  EXPECT_EQ(text(phases[2].at("name")), "free");
  EXPECT_EQ(text(phases[3].at("name")), "end");
  const double built = num(phases[1].at("anonymous")), freed = num(phases[2].at("anonymous"));
  EXPECT_GT(built, 60.0 * (1 << 20)) << "the heap is resident when the build phase ends";
  // glibc coalesces the freed small blocks into top and trims it: measured
  // here, anonymous RSS falls to a few MiB when every block is freed.
  EXPECT_LT(freed, built / 4) << "freeing every block returns the heap (glibc trims top)";
  for (const auto& p : phases) EXPECT_LE(num(p.at("begin_s")), num(p.at("end_s")));
}

// A release schedule in a program cell: the probe's own thread calls the
// allocator's release hook every 10 ms while the program holds a heap it has
// mostly freed (every 64th block kept). The program execs itself first, as a
// wrapper script does: the image that runs reports, its exit line included.
TEST(Program, ReleaseScheduleRunsInTheProbesThreadThroughAnExec) {
  TempDir out;
  const auto r = run_heapmark(
      {"run", "--program", "hold=" + std::string(PHASED_CHURN) + " 64 --keep 64 --hold-ms 1500 --reexec",
       "--allocators", "glibc", "--release-every", "off,10ms", "--reps", "1", "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 0) << r.output;
  std::map<std::string, json::object> by;
  for (const auto& c : cells(out.path + "/r")) by[text(c.at("params").at("release_every"))] = c;
  ASSERT_EQ(by.size(), 2u);
  auto held = [&](const char* every) {  // anonymous RSS when the hold phase ends
    for (const auto& p : by.at(every).at("phases").as_array())
      if (text(p.at("name")) == "hold") return num(p.at("anonymous"));
    ADD_FAILURE() << "no hold phase at " << every;
    return 0.0;
  };
  for (const auto& [every, c] : by) {
    ASSERT_EQ(text(c.at("status")), "ok") << every << ": " << c.at("detail");
    EXPECT_EQ(text(c.at("program_run").at("vm_hwm_from")), "probe") << every << ": the exec'd image's exit line came";
  }
  EXPECT_FALSE(by.at("off").contains("release_schedule"));
  const auto& s = by.at("10ms").at("release_schedule").as_object();
  EXPECT_EQ(text(s.at("hook")), "malloc_trim(0)");
  EXPECT_EQ(text(s.at("called_in")), "own thread");
  EXPECT_FALSE(s.at("per_thread").as_bool());
  EXPECT_GE(num(s.at("calls")), 10) << "1.5 s of holding at 10 ms";
  EXPECT_GT(num(s.at("total_ms")), 0);
  EXPECT_GE(num(s.at("max_ms")) * num(s.at("calls")), num(s.at("total_ms")));
  // Measured: 64.6 MiB held without the schedule, 4.6 MiB with it.
  EXPECT_GT(held("off"), 48.0 * (1 << 20)) << "glibc keeps a heap whose every 64th block lives";
  EXPECT_LT(held("10ms"), held("off") / 4) << "malloc_trim(0) returns the free pages between the kept blocks";
  EXPECT_LT(num(by.at("10ms").at("memory").at("avg_r")), num(by.at("off").at("memory").at("avg_r")) / 2);
}

// A program cell records its allocator's configuration as a generator cell
// does (the probe has the registry's library write it at exit): under --cpus
// the program's jemalloc sizes its arenas from the mask it started with, as
// the generator cell's jemalloc does in the same run.
TEST(Program, AllocatorConfigurationFollowsTheCpusAxisAsAGeneratorCellsDoes) {
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (online < 2) GTEST_SKIP() << "one CPU online: no second count to compare";
  TempDir out;
  const auto r = run_heapmark({"run", "--program", "p=" + std::string(PHASED_CHURN) + " 8", "--workloads", "churn",
                               "-p", "churn.count=2000", "--allocators", "jemalloc", "--cpus",
                               "1," + std::to_string(online), "--reps", "1", "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 0) << r.output;
  std::map<std::string, std::map<std::string, std::string>> narenas;  // cpus -> workload -> opt.narenas
  for (const auto& c : cells(out.path + "/r")) {
    ASSERT_EQ(text(c.at("status")), "ok") << c.at("detail");
    const auto& config = c.at("allocator_config").as_object();
    ASSERT_TRUE(config.contains("opt.narenas")) << text(c.at("workload")) << ": " << json::serialize(config);
    narenas[text(c.at("params").at("cpus"))][text(c.at("workload"))] = text(config.at("opt.narenas"));
  }
  ASSERT_EQ(narenas.size(), 2u);
  for (const auto& [cpus, by] : narenas) EXPECT_EQ(by.at("p"), by.at("churn")) << "--cpus " << cpus;
  EXPECT_EQ(narenas.at("1").at("p"), "1") << "jemalloc 5.3 makes one arena on one CPU";
  EXPECT_NE(narenas.at("1").at("p"), narenas.at(std::to_string(online)).at("p"));
}

// --thp in a program cell: the program starts with huge pages disabled (never)
// or under the machine's setting (system), and jemalloc's thp:always madvises
// its extents. The program reads its own AnonHugePages from smaps_rollup after
// its build: heapmark's figure at that phase's end is the same.
TEST(Program, ThpNeverKeepsAProgramsHeapInSmallPagesAsItsOwnSmapsSays) {
  std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
  const std::string setting((std::istreambuf_iterator<char>(enabled)), {});
  if (setting.empty() || setting.find("[never]") != std::string::npos)
    GTEST_SKIP() << "transparent huge pages are off on this machine: " << setting;
  TempDir out;
  const auto r = run_heapmark({"run", "--program", "huge=" + std::string(PHASED_CHURN) + " 64 --huge", "--allocators",
                               "jemalloc", "--env", "jemalloc:MALLOC_CONF=thp:always", "--thp", "never,system",
                               "--reps", "1", "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 0) << r.output;
  std::map<std::string, std::pair<double, double>> huge;  // thp -> (heapmark's, the program's own) after the build
  for (const auto& c : cells(out.path + "/r")) {
    ASSERT_EQ(text(c.at("status")), "ok") << c.at("detail");
    double measured = -1;
    for (const auto& p : c.at("phases").as_array())
      if (text(p.at("name")) == "build") measured = num(p.at("anon_huge_pages"));
    const std::string tail = text(c.at("stderr_tail"));
    const size_t at = tail.find("anon_huge_pages_kb ");
    ASSERT_NE(at, std::string::npos) << tail;
    huge[text(c.at("params").at("thp"))] = {measured, std::stod(tail.substr(at + 19)) * 1024};
    // Along the run too, at the sampler's own rate, with what its reads cost.
    const auto& h = c.at("huge_pages").as_object();
    EXPECT_GE(num(h.at("reads")), 1);
    EXPECT_EQ(h.at("t_s").as_array().size(), h.at("bytes").as_array().size());
    EXPECT_GT(num(h.at("read_us_mean")), 0);
    EXPECT_GE(num(h.at("read_us_max")), num(h.at("read_us_mean")));
    double most = 0;
    for (const auto& b : h.at("bytes").as_array()) most = std::max(most, num(b));
    if (text(c.at("params").at("thp")) == "never") {
      EXPECT_EQ(most, 0) << "a huge page along a never run";
    }
  }
  ASSERT_EQ(huge.size(), 2u);
  EXPECT_EQ(huge.at("never").first, 0);
  EXPECT_EQ(huge.at("never").second, 0) << "the program itself saw a huge page";
  EXPECT_GE(huge.at("system").second, 2 << 20) << "jemalloc's thp:always under the machine's " << setting;
  EXPECT_NEAR(huge.at("system").first, huge.at("system").second, 2 << 20);
}

// A program cell's counters are opened on the program before its main runs
// (the probe waits for them): its minor faults agree with what wait4 says of
// the whole process, and the build phase's with the pages it faulted in.
TEST(Program, EventCountersOfARealProgramAgreeWithItsRusage) {
  TempDir out;
  const auto r = run_heapmark({"run", "--program", "churn=" + std::string(PHASED_CHURN) + " 64", "--allocators",
                               "glibc,jemalloc", "--reps", "1", "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 0) << r.output;
  for (const auto& [name, c] : by_allocator(cells(out.path + "/r"))) {
    SCOPED_TRACE(name);
    ASSERT_EQ(text(c.at("status")), "ok") << c.at("detail");
    const auto& k = c.at("counters").as_object();
    EXPECT_EQ(num(k.at("threads_at_attach")), 1) << "attached before the program made threads";
    const double counted = num(k.at("events").at("minor-faults").at("total"));
    const double rusage = num(c.at("cpu").at("minflt"));
    // Only the loader's start-up before the probe's constructor goes uncounted.
    EXPECT_LE(counted, rusage);
    EXPECT_GT(counted, 0.97 * rusage) << counted << " counted, " << rusage << " in wait4's rusage";
    EXPECT_TRUE(k.at("events").at("minor-faults").at("per_1k_calls").is_null()) << "a program's calls are not counted";
    const auto& phases = c.at("phases").as_array();
    ASSERT_EQ(phases.size(), 4u);
    const double grown = num(phases[1].at("anonymous")) - num(phases[0].at("anonymous"));
    const double build_faults = num(phases[1].at("counters").at("minor-faults"));
    EXPECT_GT(build_faults, 0.9 * grown / 4096) << "the build phase faults its heap in page by page";
    EXPECT_LT(build_faults, 1.2 * grown / 4096 + 100);
  }
}

TEST(Program, ANonPieExecutableIsProvenByWhereItsCallsBind) {
  // Debian's python3 is not PIE and takes malloc's address: dlsym returns
  // its canonical PLT entry inside the executable, which defines nothing.
  TempDir out;
  const auto r = run_heapmark({"run", "--program", "py=/usr/bin/python3 -c 'print(sum(range(1000)))'", "--allocators",
                               "glibc,mimalloc", "--reps", "1", "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto all = by_allocator(cells(out.path + "/r"));
  ASSERT_EQ(all.size(), 2u);
  for (const auto& [name, c] : all) ASSERT_EQ(text(c.at("status")), "ok") << name << ": " << c.at("detail");
  EXPECT_NE(text(all.at("glibc").at("identity").at("malloc_from")).find("libc.so"), std::string::npos);
  EXPECT_NE(text(all.at("mimalloc").at("identity").at("malloc_from")).find("libmimalloc"), std::string::npos);
}

TEST(Program, AStaticProgramFailsIdentityInsteadOfBeingMeasuredAsTheAllocator) {
  TempDir out;
  const auto r = run_heapmark({"run", "--program", std::string("static=") + STATIC_PROGRAM + " 4", "--allocators",
                               "mimalloc", "--reps", "1", "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 4) << "a cell failed: exit status 4\n" << r.output;
  const auto c = cells(out.path + "/r").at(0);
  EXPECT_EQ(text(c.at("status")), "failed");
  EXPECT_EQ(text(c.at("cause")), "identity");
  EXPECT_NE(text(c.at("detail")).find("statically linked"), std::string::npos) << c.at("detail");
}

TEST(Program, AProgramWithItsOwnMallocFailsIdentity) {
  TempDir out;
  const auto r = run_heapmark({"run", "--program", std::string("own=") + OWN_MALLOC, "--allocators", "glibc,jemalloc",
                               "--reps", "1", "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 4) << "a cell failed: exit status 4\n" << r.output;
  for (const auto& [name, c] : by_allocator(cells(out.path + "/r"))) {
    EXPECT_EQ(text(c.at("cause")), "identity") << name;
    EXPECT_NE(text(c.at("detail")).find("its own allocator"), std::string::npos) << c.at("detail");
    EXPECT_NE(text(c.at("identity").at("malloc_from")).find("hmprog_own_malloc"), std::string::npos)
        << c.at("identity");
  }
}

TEST(Program, OutputThatDependsOnTheAllocatorFailsWithOutputMismatch) {
  TempDir out;
  // Prints where malloc resolves: the reference run (nothing preloaded) and
  // the glibc cell print libc, the jemalloc cell prints libjemalloc.
  const auto r = run_heapmark({"run", "--program", "who=" + std::string(PHASED_CHURN) + " 2 --print-allocator",
                               "--allocators", "glibc,jemalloc", "--reps", "1", "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 4) << "a cell failed: exit status 4\n" << r.output;
  const auto all = by_allocator(cells(out.path + "/r"));
  EXPECT_EQ(text(all.at("glibc").at("status")), "ok") << all.at("glibc").at("detail");
  EXPECT_EQ(text(all.at("jemalloc").at("cause")), "output_mismatch");
  EXPECT_NE(text(all.at("jemalloc").at("detail")).find("nothing preloaded"), std::string::npos)
      << all.at("jemalloc").at("detail");
}

TEST(Program, ServerFailuresAndAMissingMetricAreRecordedAndTheRunGoesOn) {
  TempDir out;
  const std::string matrix = out.path + "/m.json";
  write(matrix, R"J({"allocators": ["glibc"], "reps": 1, "programs": [
    {"name": "never-ready", "server": {"command": ["sleep", "30"], "ready": {"port": "{port}"}, "ready_timeout_s": 1,
                                       "steps": [{"phase": "x", "idle_ms": 10}]}},
    {"name": "bad-client", "server": {"command": ["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "{port}"],
                                      "ready": {"port": "{port}"}, "steps": [{"phase": "x", "command": ["false"]}]}},
    {"name": "no-number", "command": [")J" PHASED_CHURN
                R"J(", "1"], "metric": {"name": "n", "regex": "nothing ([0-9]+)"}},
    {"name": "fine", "command": [")J" PHASED_CHURN
                R"J(", "1"], "metric": {"name": "blocks", "regex": "blocks ([0-9]+)"}}]})J");
  const auto r = run_heapmark({"run", "--matrix", matrix, "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 4) << "a cell failed: exit status 4\n" << r.output;
  std::map<std::string, json::object> by_workload;
  for (const auto& c : cells(out.path + "/r")) by_workload[text(c.at("workload"))] = c;
  ASSERT_EQ(by_workload.size(), 4u) << r.output;
  EXPECT_EQ(text(by_workload.at("never-ready").at("cause")), "not_ready");
  EXPECT_EQ(text(by_workload.at("bad-client").at("cause")), "client");
  EXPECT_EQ(text(by_workload.at("no-number").at("cause")), "no_metric");
  const auto& fine = by_workload.at("fine");
  ASSERT_EQ(text(fine.at("status")), "ok") << fine.at("detail");
  EXPECT_GT(num(fine.at("program_run").at("metric")), 100) << "phased_churn 1 builds 1 MiB of blocks of 16..4095 bytes";
  // Every figure the report and compare read for programs is in the cell.
  for (const char* path : heapmark::results::path::kProgram) {
    const json::value* v = &fine.at(std::string(path).substr(0, std::string(path).find('.')));
    if (const size_t dot = std::string(path).find('.'); dot != std::string::npos)
      v = &v->at(std::string(path).substr(dot + 1));
    EXPECT_TRUE(v->is_number()) << path;
  }
}

TEST(Program, BadInputIsOneLineAndExitStatus2BeforeAnyCell) {
  TempDir out;
  write(out.path + "/suite.json", R"({"suite": "s", "programs": [{"name": "a", "command": ["true"], "comand": 1}]})");
  write(out.path + "/m.json", R"({"allocators": ["glibc"], "suites": ["nowhere.json"]})");
  write(out.path + "/only.json", R"({"allocators": ["glibc"], "suites": [{"file": ")" HEAPMARK_SOURCE_DIR
                                 R"(/workloads/programs/debian.json", "only": ["sqlite", "sqlit"]}]})");
  const struct {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"--program", "x=/nonexistent/prog --flag"}, "/nonexistent/prog"},
      {{"--program", "x"}, "NAME='COMMAND ARGS'"},
      {{"--program", "x='unterminated"}, "unterminated"},
      {{"--suite", out.path + "/suite.json"}, "suite.json: $.programs[0].comand: unknown field"},
      {{"--suite", HEAPMARK_SOURCE_DIR "/workloads/programs/mimalloc-bench.json"}, "--suite-dir"},
      {{"--matrix", out.path + "/m.json"}, "nowhere.json"},
      {{"--matrix", out.path + "/only.json"}, "$.suites[0].only: 'sqlit' is not a program of"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"run", "--allocators", "glibc", "--reps", "1", "--out", out.path, "--run-id", "r"};
    if (c.args[0] == "--matrix") args = {"run", "--out", out.path, "--run-id", "r"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const auto r = run_heapmark(args);
    EXPECT_EQ(r.status, 2) << c.args[1] << ": " << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out.path + "/r/cells.jsonl")) << c.args[1] << ": no cell ran";
    fs::remove_all(out.path + "/r");
  }
}

TEST(Program, MimallocBenchSuiteRunsFromTheNamedDirectory) {
  TempDir out;
  const auto r = run_heapmark({"run", "--suite", HEAPMARK_SOURCE_DIR "/workloads/programs/mimalloc-bench.json",
                               "--suite-dir", MIMALLOC_BENCH_DIR, "--allocators", "glibc,mimalloc", "--reps", "1",
                               "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto all = cells(out.path + "/r");
  ASSERT_EQ(all.size(), 2u * 15u) << "15 benchmarks of the suite file, 2 allocators";
  std::map<std::string, double> metric;
  for (const auto& c : all) {
    EXPECT_EQ(text(c.at("status")), "ok") << text(c.at("key")) << ": " << c.at("detail");
    const auto& run = c.at("program_run").as_object();
    if (!run.at("metric").is_null()) metric[text(c.at("workload"))] = num(run.at("metric"));
  }
  // The stand-ins print what the real programs print; the suite's regexes read it.
  EXPECT_EQ(metric["larsonN"], 1234567);
  EXPECT_EQ(metric["xmalloc-testN"], 40);
  EXPECT_EQ(metric["rptestN"], 5000000);
  EXPECT_EQ(metric["glibc-thread"], 777);
  EXPECT_EQ(metric.size(), 4u);
}

TEST(Program, RedisServerWithItsClientRecordsRssAndRedisOwnFigures) {
  TempDir out;
  const std::string matrix = out.path + "/m.json";
  write(matrix, R"J({"allocators": ["glibc", "jemalloc", "mimalloc"], "reps": 1, "programs": [
    {"name": "redis", "check": "none",
     "server": {"command": ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                            "--daemonize", "no", "--logfile", ""],
                "ready": {"port": "{port}"},
                "figures": ["redis-cli", "-p", "{port}", "INFO", "memory"], "show": ["used_memory", "used_memory_rss"],
                "steps": [{"phase": "load", "command": ["redis-benchmark", "-p", "{port}", "-t", "set", "-n", "40000", "-r", "40000",
                                                        "-d", "512", "-q", "-P", "16"]},
                          {"phase": "flush", "command": ["redis-cli", "-p", "{port}", "FLUSHALL"]}]},
     "metric": {"name": "set_rps", "regex": "SET: ([0-9.]+) requests per second"}}]})J");
  const auto r = run_heapmark({"run", "--matrix", matrix, "--out", out.path, "--run-id", "r"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto all = by_allocator(cells(out.path + "/r"));
  // Debian's redis-server links libjemalloc.so.2: its glibc cell preloads the
  // C library, whose malloc then comes first in lookup; the probe proves it.
  EXPECT_NE(text(all.at("glibc").at("identity").at("malloc_from")).find("/libc.so"), std::string::npos)
      << all.at("glibc").at("identity");
  EXPECT_NE(text(all.at("jemalloc").at("identity").at("malloc_from")).find("libjemalloc"), std::string::npos);
  EXPECT_NE(text(all.at("mimalloc").at("identity").at("malloc_from")).find("libmimalloc"), std::string::npos);
  for (const char* name : {"glibc", "jemalloc", "mimalloc"}) {
    const auto& c = all.at(name);
    ASSERT_EQ(text(c.at("status")), "ok") << name << ": " << c.at("detail");
    const auto& phases = c.at("phases").as_array();
    ASSERT_EQ(phases.size(), 2u);
    const auto& load = phases[0].at("reported").as_object();
    const auto& flush = phases[1].at("reported").as_object();
    const double used_load = std::stod(text(load.at("used_memory"))),
                 used_flush = std::stod(text(flush.at("used_memory")));
    // 40000 keys of 512 bytes (about 19 MB as Redis counts them), then gone.
    EXPECT_GT(used_load, 15e6) << name;
    EXPECT_LT(used_flush, used_load / 4) << name;
    EXPECT_GT(num(phases[0].at("rss")), 15e6) << name;
    EXPECT_GT(num(c.at("program_run").at("metric")), 0) << name;
  }
  // The report puts Redis's own figures beside the RSS heapmark read.
  std::ifstream in(out.path + "/r/summary.md");
  const std::string md((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(md.find("# Real programs"), std::string::npos);
  EXPECT_NE(md.find("| allocator | redis (set_rps, higher is better) |"), std::string::npos) << md;
  EXPECT_NE(md.find("### redis\n"), std::string::npos) << md;
  EXPECT_NE(md.find("RSS at each phase end, read by the runner"), std::string::npos) << md;
  EXPECT_NE(md.find("The server's own figures at each phase end beside the RSS heapmark read"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| used_memory | used_memory_rss |"), std::string::npos) << md;
}
