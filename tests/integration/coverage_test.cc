// Real cells for what the other suites only reached as generators or not at
// all: the allocator variants (each shown to differ from its base where the
// variant is meant to), the workloads packets, server, large, realloc-growth
// and fastpath, repro scenarios 7, 8 and 12, diagnose --at a phase mark, and
// the shipped matrix of real programs.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "harness/results/diagnose_result.h"
#include "tests/support/heapmark_command.h"

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/heapmark-coverage-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

heapmark::test::CommandResult heapmark_cmd(const std::string& args) {
  return heapmark::test::run_heapmark_command(HEAPMARK_BIN, args);
}

std::vector<json::object> cells(const std::string& dir) {
  std::vector<json::object> out;
  std::ifstream in(dir + "/cells.jsonl");
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line).as_object());
  return out;
}

std::string text(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : json::serialize(v); }

// Anonymous RSS above the cell's baseline at the end of the phase `name`.
double r_at(const json::object& cell, const std::string& name) {
  for (const auto& p : cell.at("phases").as_array())
    if (p.at("name").as_string() == name) return p.at("r").to_number<double>();
  ADD_FAILURE() << "no phase " << name << " in " << text(cell.at("key"));
  return 0;
}

}  // namespace

TEST(Coverage, EveryWorkloadRunsAsARealCell) {
  TempDir out;
  const std::map<std::string, std::string> small = {
      {"packets", "-p packets.packets=20000 -p packets.bursts=2 -p packets.idle-ms=0"},
      {"server", "-p server.threads=2 -p server.slots=200 -p server.steps=2000 -p server.rounds=2"},
      {"large", "-p large.count=8 -p large.live=2 -p large.sizes=uniform:1M-4M"},
      {"realloc-growth", "-p realloc-growth.count=200 -p realloc-growth.cap=uniform:64K-256K"},
      {"fastpath", "-p fastpath.count=20000 -p fastpath.batch=8"}};
  std::string workloads, params;
  for (const auto& [w, p] : small) workloads += (workloads.empty() ? "" : ",") + w, params += " " + p;
  const auto r = heapmark_cmd("run --allocators glibc,jemalloc --workloads " + workloads + params +
                              " --reps 1 -q --out " + out.path + " --run-id r");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto all = cells(out.path + "/r");
  ASSERT_EQ(all.size(), 2 * small.size());
  for (const auto& c : all) {
    SCOPED_TRACE(text(c.at("key")));
    EXPECT_EQ(text(c.at("status")), "ok") << text(c.at("detail"));
    EXPECT_GT(c.at("ops").at("alloc").to_number<double>(), 0);
    EXPECT_TRUE(c.at("identity").at("ok").as_bool());
  }
}

// A variant is its base with a setting; each must run, and the eager ones
// must keep less resident after the frees than their base (smaps, read by the
// cell at the phase end: an observation from outside the allocator's own books).
TEST(Coverage, VariantsRunAndTheEagerOnesReturnMoreThanTheirBase) {
  TempDir out;
  const auto r = heapmark_cmd(
      "run --allocators ptmalloc-style,ptmalloc-decay,ptmalloc-eager,buddy,buddy-eager,slab,slab-eager,jemalloc,je-bg "
      "--workloads churn -p count=200000 -p rounds=1 -p keep=64 -p order=random --reps 1 -q --out " +
      out.path + " --run-id r");
  ASSERT_EQ(r.status, 0) << r.err;
  std::map<std::string, json::object> by;
  for (const auto& c : cells(out.path + "/r")) by[text(c.at("allocator"))] = c;
  ASSERT_EQ(by.size(), 9u);
  for (const auto& [name, c] : by) EXPECT_EQ(text(c.at("status")), "ok") << name << ": " << text(c.at("detail"));
  for (const auto& [eager, base] : std::map<std::string, std::string>{
           {"ptmalloc-eager", "ptmalloc-style"}, {"buddy-eager", "buddy"}, {"slab-eager", "slab"}}) {
    const std::string last = "free";
    EXPECT_LT(r_at(by.at(eager), last), r_at(by.at(base), last))
        << eager << " keeps " << r_at(by.at(eager), last) << " B resident after the frees, its base " << base << " "
        << r_at(by.at(base), last);
  }
  // je-bg: jemalloc with its background purging thread, which the cell's process then has.
  EXPECT_NE(text(by.at("je-bg").at("allocator_config")).find("background_thread"), std::string::npos)
      << text(by.at("je-bg").at("allocator_config"));
}

TEST(Coverage, ReproScenarios7And8And12GiveVerdicts) {
  TempDir out;
  const auto r = heapmark_cmd(
      "repro 7 8 12 --allocators glibc,jemalloc --remedies none --reps 1 --mib 16 --idle-ms 200 -q "
      "--format json --out " +
      out.path + " --run-id c");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto cat = json::parse(r.out).as_object();
  EXPECT_TRUE(cat.at("complete").as_bool());
  ASSERT_EQ(cat.at("scenarios").as_array().size(), 3u);
  for (const auto& s : cat.at("scenarios").as_array()) {
    SCOPED_TRACE(text(s.at("dir")));
    const auto& rows = s.at("rows").as_array();
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& row : rows) EXPECT_NE(text(row.at("verdict")), "unknown") << text(row);
  }
}

TEST(Coverage, DiagnoseAtAPhaseMarkPutsFThere) {
  TempDir out;
  const std::string trace = out.path + "/app.hmt";
  // A program that builds, marks "half", frees half, marks "done", frees the rest.
  // --at takes the mark's time, and the trace's clock ticks in milliseconds: the
  // program pauses around "done" so no free shares its millisecond.
  const std::string prog = out.path + "/p.py";
  std::ofstream(prog) << "import os, time\nfd = int(os.environ['HEAPMARK_PHASE_FD'])\n"
                         "x = [bytes(200) for _ in range(100000)]\nos.write(fd, b'phase half\\n')\n"
                         "del x[:50000]\ntime.sleep(0.1)\nos.write(fd, b'phase done\\n')\ntime.sleep(0.1)\ndel x\n";
  const auto rec = heapmark_cmd("record -o " + trace + " -- env PYTHONMALLOC=malloc python3 " + prog);
  ASSERT_EQ(rec.status, 0) << rec.err;
  const auto d = heapmark_cmd("diagnose " + trace + " --at done --allocators glibc --remedies none --reps 1 -q --out " +
                              out.path + " --run-id d");
  ASSERT_EQ(d.status, 0) << d.err;
  std::ifstream in(out.path + "/d/diagnose.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const auto dj = json::parse(ss.str()).as_object();
  EXPECT_EQ(text(dj.at("at")), "done");
  // F is where "done" was marked: about half of the peak still live (50000 of 100000 blocks).
  const double peak = dj.at("peak_live").to_number<double>(), fin = dj.at("final_live").to_number<double>();
  EXPECT_GT(fin, 0.35 * peak) << fin << " of " << peak;
  EXPECT_LT(fin, 0.65 * peak) << fin << " of " << peak;
  // diagnose.json's one reader reads what its one writer wrote, field for field.
  const auto typed = heapmark::results::read_diagnose_result(out.path + "/d");
  EXPECT_EQ(json::serialize(heapmark::results::to_json(typed)), json::serialize(dj));
  EXPECT_TRUE(typed.self_check.checked) << typed.self_check.not_checked;
  EXPECT_EQ(typed.self_check.phase_ends.size(), 2u);
  EXPECT_EQ(typed.summary.rows.size(), 1u);
}

// The shipped matrix of real programs (the Debian suite on every allocator it
// lists) succeeds as shipped: every cell ok, redis's glibc cell included.
TEST(Coverage, TheShippedProgramsMatrixRunsOnEveryAllocatorItLists) {
  TempDir out;
  const auto r = heapmark_cmd("run --matrix programs --reps 1 -q --out " + out.path + " --run-id r");
  EXPECT_EQ(r.status, 0) << r.err;
  const auto all = cells(out.path + "/r");
  EXPECT_EQ(all.size(), 63u) << "7 programs x 9 allocators";
  for (const auto& c : all) EXPECT_EQ(text(c.at("status")), "ok") << text(c.at("key")) << ": " << text(c.at("detail"));
}
