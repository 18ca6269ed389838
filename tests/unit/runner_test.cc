// Matrix expansion, matrix file errors, the timeline's bounded storage and
// integrals, and the fragmentation formulas.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <set>

#include "common/input_error.h"
#include "harness/metrics/fragmentation.h"
#include "harness/runner/matrix.h"
#include "harness/runner/timeline.h"

using namespace heapmark;
using namespace heapmark::runner;
namespace json = boost::json;

namespace {

std::vector<registry::Allocator> known() {
  const auto* glibc = registry::find_family("glibc");
  const auto* jemalloc = registry::find_family("jemalloc");
  const auto* mimalloc = registry::find_family("mimalloc");
  return {{"glibc", glibc, "", {}, "", true, "", ""},
          {"jemalloc", jemalloc, "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", {}, "", true, "", ""},
          {"mimalloc", mimalloc, "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", {}, "", true, "", ""},
          {"gone", jemalloc, "/nonexistent/lib.so", {}, "", false, "apt-get install gone", ""}};
}

std::string error_of(const std::string& text) {
  try {
    Matrix::from_json(json::parse(text), known(), "m.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Matrix, ExpandsTheGridIntoBlocksWithOneCellPerAllocator) {
  const Matrix m = Matrix::from_json(json::parse(R"({"allocators": ["glibc", "jemalloc", "mimalloc"],
      "workloads": [{"name": "churn", "params": {"order": ["fifo", "random"], "count": 1000}}], "reps": 4, "seed": 9})"),
                                     known(), "m.json");
  const auto cells = expand(m);
  ASSERT_EQ(cells.size(), 3u * 2 * 4);
  std::set<std::string> keys;
  std::map<size_t, std::set<std::string>> per_block;
  std::map<size_t, std::set<uint64_t>> seeds;
  std::set<std::vector<std::string>> orders;
  for (size_t i = 0; i < cells.size(); ++i) {
    EXPECT_EQ(cells[i].index, i);
    keys.insert(cells[i].key);
    per_block[cells[i].block].insert(cells[i].allocator->name);
    seeds[cells[i].block].insert(cells[i].seed);
    EXPECT_EQ(cells[i].params.at("count"), "1000");
    EXPECT_EQ(cells[i].params.at("rounds"), "3");  // defaults filled in
  }
  EXPECT_EQ(keys.size(), cells.size());
  ASSERT_EQ(per_block.size(), 8u);
  for (const auto& [b, allocs] : per_block) EXPECT_EQ(allocs.size(), 3u) << "block " << b;
  for (const auto& [b, s] : seeds) EXPECT_EQ(s.size(), 1u) << "every allocator in a block runs the same program";
  std::set<uint64_t> distinct;
  for (const auto& [b, s] : seeds) distinct.insert(*s.begin());
  EXPECT_EQ(distinct.size(), 8u) << "blocks differ in seed";
  for (size_t b = 0; b < 8; ++b) {
    std::vector<std::string> order;
    for (const auto& c : cells)
      if (c.block == b) order.push_back(c.allocator->name);
    orders.insert(order);
  }
  EXPECT_GT(orders.size(), 1u) << "the allocator order is shuffled per block";
  // Deterministic: the same matrix expands to the same cells.
  const auto again = expand(m);
  for (size_t i = 0; i < cells.size(); ++i) EXPECT_EQ(cells[i].key, again[i].key);
}

TEST(Matrix, ErrorsNameTheFileAndJsonPath) {
  EXPECT_EQ(error_of(R"({"allocators": ["glibc", "nosuch"], "workloads": ["churn"]})"),
            "m.json: $.allocators[1]: unknown allocator 'nosuch' (valid: glibc, jemalloc, mimalloc, gone, or "
            "--allocator NAME=/path/lib.so)");
  EXPECT_EQ(
      error_of(R"({"allocators": ["glibc"], "workloads": [{"name": "churn", "params": {"order": ["fifo", 7]}}]})")
          .rfind("m.json: $.workloads[0]: workload 'churn' parameter 'order': '7' is not one of: fifo, lifo, random",
                 0),
      0u);
  EXPECT_EQ(error_of(R"({"allocators": ["glibc"], "workloads": ["churn"], "reps": 0})"),
            "m.json: $.reps: expected an integer in [1, 1000]");
  EXPECT_EQ(error_of(R"({"allocators": ["glibc"], "workloads": ["churn"], "rpes": 3})"),
            "m.json: $.rpes: unknown field (valid: allocators, workloads, programs, suites, reps, seed, baseline, "
            "description, cpus, release_every, thp)");
  EXPECT_EQ(error_of(R"({"allocators": ["glibc"], "workloads": ["churn"], "cpus": [1, 0]})"),
            "m.json: $.cpus[1]: expected a CPU count of at least 1");
  EXPECT_EQ(error_of(R"({"allocators": ["glibc"], "workloads": ["churn"], "release_every": ["off", "0.1ms"]})"),
            "m.json: $.release_every[1] '0.1ms': at least 1ms (a release call costs from microseconds to "
            "milliseconds; more often measures the calls, not the schedule)");
  EXPECT_EQ(error_of(R"({"allocators": ["glibc"], "workloads": [{"name": "churn", "parms": {"count": 5}}]})"),
            "m.json: $.workloads[0].parms: unknown field (valid: name, params)");
  EXPECT_EQ(error_of(R"({"allocators": [{"name": "x", "base": "jemalloc", "evn": {}}], "workloads": ["churn"]})"),
            "m.json: $.allocators[0].evn: unknown field (valid: name, base, library, kind, env, variant_of)");
  EXPECT_NE(error_of(R"({"allocators": ["gone"], "workloads": ["churn"]})").find("apt-get install gone"),
            std::string::npos);
  EXPECT_EQ(error_of(R"({"allocators": [], "workloads": ["churn"]})"),
            "m.json: $.allocators: expected a non-empty array");
}

TEST(Matrix, VariantsCarryTheirEnvironmentAndRoundTripThroughRunJson) {
  const Matrix m = Matrix::from_json(json::parse(R"({"allocators": ["glibc", {"name": "je-d0", "base": "jemalloc",
      "env": {"MALLOC_CONF": "dirty_decay_ms:0"}}], "workloads": ["churn"], "reps": 2, "cpus": [1, 2]})"),
                                     known(), "m.json");
  ASSERT_EQ(m.allocators[1].env.size(), 1u);
  // The CPU-count axis: every count a block of its own, the same program (seed) at each count.
  const auto cells = expand(m);
  ASSERT_EQ(cells.size(), 2u * 2u * 2u);
  EXPECT_EQ(cells[0].cpus, 1);
  EXPECT_EQ(cells[0].params.at("cpus"), "1");
  EXPECT_EQ(cells[4].cpus, 2);
  EXPECT_EQ(cells[0].seed, cells[4].seed);
  EXPECT_NE(cells[0].block, cells[4].block);
  EXPECT_EQ(m.allocators[1].library, "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2");
  const Matrix back = Matrix::from_json(m.to_json(), known(), "run.json");
  const auto a = expand(m), b = expand(back);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key, b[i].key);
    EXPECT_EQ(a[i].seed, b[i].seed);
    EXPECT_EQ(a[i].allocator->env, b[i].allocator->env);
    EXPECT_EQ(a[i].cpus, b[i].cpus);
  }
}

TEST(Timeline, KeepsABoundedNumberOfEvenlySpacedPoints) {
  Timeline t(100);
  t.set_baseline(1000);
  for (uint64_t i = 0; i < 100000; ++i) t.add(Sample{i * 1'000'000, 5000 + i, 1000 + i, i, 1});
  EXPECT_EQ(t.samples(), 100000u);
  EXPECT_LT(t.points().size(), 100u);
  EXPECT_GE(t.points().size(), 50u);
  for (size_t i = 1; i < t.points().size(); ++i)
    EXPECT_EQ(t.points()[i].t_ns - t.points()[i - 1].t_ns, t.stride() * 1'000'000);
  EXPECT_EQ(t.peak_r(), 99999u);
  EXPECT_EQ(t.live_at_peak_r(), 99999u);
}

TEST(Timeline, IntegralsGiveF1) {
  // R twice L throughout: F1 = 1. Samples outside phases do not count.
  Timeline t;
  t.set_baseline(100);
  t.add(Sample{0, 0, 100000, 0, 0});
  for (uint64_t i = 1; i <= 10; ++i) t.add(Sample{i * 1000, 0, 100 + 2 * i * 10, i * 10, 1});
  EXPECT_NEAR(metrics::f1(t.integral_r(), t.integral_l()), 1.0, 1e-9);
}

TEST(Timeline, TimeAveragedRIsTheAreaOverTheSpanInPhases) {
  // 1 s at R = 10 MiB sampled every 1 ms, then 3 s at R = 2 MiB sampled every 10 ms: the average weighs time, not
  // samples (the samples' mean would be near 9.3 MiB). Before the first phase, 10 ms from 50 MiB anonymous: in the
  // whole run's anonymous average only.
  constexpr uint64_t MiB = 1 << 20, ms = 1'000'000;
  Timeline t;
  t.set_baseline(MiB);
  t.add(Sample{0, 0, 50 * MiB, 0, 0});
  for (uint64_t at = 10 * ms; at <= 1010 * ms; at += ms) t.add(Sample{at, 0, 11 * MiB, 0, 1});
  for (uint64_t at = 1020 * ms; at <= 4010 * ms; at += 10 * ms) t.add(Sample{at, 0, 3 * MiB, 0, 2});
  EXPECT_NEAR(t.span_in_phases_s(), 4.0, 1e-9);
  // 10 MiB x 1 s + the 10 ms step's trapezoid (6 MiB x 0.01 s) + 2 MiB x 2.99 s = 16.04 MiB s.
  EXPECT_NEAR(t.integral_r() / MiB, 16.04, 1e-6);
  EXPECT_NEAR(t.integral_r() / t.span_in_phases_s() / MiB, 4.01, 1e-6);
  EXPECT_NEAR(t.span_s(), 4.01, 1e-9);
  // (50 + 11) / 2 MiB x 0.01 s before the phases, then R + R0 over the 4 s of phases.
  EXPECT_NEAR(t.integral_anon() / MiB, 0.305 + 16.04 + 4.0, 1e-6);
  EXPECT_EQ(t.peak_r(), 10 * MiB);
}

TEST(Fragmentation, FormulasAndUndefinedCases) {
  EXPECT_DOUBLE_EQ(metrics::f4(150, 100), 0.5);
  EXPECT_DOUBLE_EQ(metrics::f3(100, 100), 0.0);
  EXPECT_TRUE(std::isnan(metrics::f4(10, 0)));
  EXPECT_DOUBLE_EQ(metrics::internal(125, 100), 0.25);
  EXPECT_TRUE(std::isnan(metrics::internal(0, 100)));
  // 100 MiB freed, 80 MiB of pages left RSS: rho = 0.8
  EXPECT_DOUBLE_EQ(metrics::rho(120, 40, 100, 0), 0.8);
  EXPECT_TRUE(std::isnan(metrics::rho(1, 2, 5, 5)));
  // The headline "returned after free" phase frees >= 1 MiB and >= 10% of the live bytes.
  constexpr int64_t MiB = 1 << 20;
  EXPECT_TRUE(metrics::frees_a_real_share(100 * MiB, 0));
  EXPECT_TRUE(metrics::frees_a_real_share(100 * MiB, 90 * MiB));
  EXPECT_FALSE(metrics::frees_a_real_share(100 * MiB, 95 * MiB));  // 5%
  EXPECT_FALSE(metrics::frees_a_real_share(2 * MiB, MiB + 1));     // under 1 MiB
  EXPECT_FALSE(metrics::frees_a_real_share(10 * MiB, 20 * MiB));   // grew
}

// The committed matrices must stay valid as workloads and allocators change.
TEST(Matrix, CommittedMatrixFilesLoadAndExpand) {
  // The in-house libraries are built beside this test binary.
  const auto builtin = registry::builtin(std::filesystem::read_symlink("/proc/self/exe").parent_path().string());
  for (const char* name : {"default.json", "quick.json", "inhouse.json"}) {
    SCOPED_TRACE(name);
    const Matrix m = Matrix::load(std::string(HEAPMARK_SOURCE_DIR) + "/workloads/matrices/" + name, builtin);
    const auto cells = expand(m);
    EXPECT_GE(cells.size(), m.allocators.size() * static_cast<size_t>(m.reps));
  }
}
