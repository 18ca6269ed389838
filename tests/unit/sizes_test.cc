// Empirical size distributions in fleetbench's layout ("size, alloc_rate,
// num_live", no header: fleetbench/tcmalloc/distributions/TCMALLOC_*.csv):
// alloc_rate weights the sampled sizes, num_live is checked but not sampled
// from, bad files say file, line and field, and `heapmark run` takes such a
// file and refuses a bad one with exit status 2. The two-column form is
// tested beside the other distributions (workloads_gen_test.cc).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/support/heapmark_command.h"
#include "tests/support/temp_file.h"
#include "workloads/sizes.h"

namespace fs = std::filesystem;
using heapmark::workloads::Rng;
using heapmark::workloads::SizeDist;

namespace {

// The first 8 rows of fleetbench/tcmalloc/distributions/TCMALLOC_0.csv
// (google/fleetbench at 703e5e5, Apache-2.0), byte for byte.
const std::string kFleetbench = std::string(HEAPMARK_TEST_DATA) + "/fleetbench_TCMALLOC_0_head.csv";

struct Row {
  uint64_t size;
  double alloc_rate, num_live;
};

// The fixture read here independently of the parser under test.
std::vector<Row> fixture_rows() {
  std::vector<Row> rows;
  std::ifstream in(kFleetbench);
  std::string line;
  while (std::getline(in, line)) {
    Row r{};
    unsigned long long s = 0;
    EXPECT_EQ(std::sscanf(line.c_str(), "%llu, %lf, %lf", &s, &r.alloc_rate, &r.num_live), 3) << line;
    r.size = s;
    rows.push_back(r);
  }
  return rows;
}

// A CSV in the test's temp dir; removed at the end of the test.
struct TempCsv : heapmark::test::TempFile {
  explicit TempCsv(const std::string& body) : TempFile(body, ".csv") {}
};

std::string parse_error(const std::string& body) {
  TempCsv csv(body);
  std::string why;
  EXPECT_FALSE(SizeDist::parse("empirical:" + csv.path, nullptr, &why)) << body;
  EXPECT_EQ(why.find('\n'), std::string::npos) << "not one line: " << why;
  // Name the file: the caller checks line and field after it.
  const size_t at = why.find(csv.path + ":");
  EXPECT_NE(at, std::string::npos) << why;
  return at == std::string::npos ? why : why.substr(at + csv.path.size());
}

std::map<uint64_t, double> shares(const SizeDist& d, size_t n) {
  std::map<uint64_t, size_t> seen;
  Rng rng(17);
  for (size_t i = 0; i < n; ++i) ++seen[d.sample(rng)];
  std::map<uint64_t, double> out;
  for (const auto& [s, k] : seen) out[s] = static_cast<double>(k) / static_cast<double>(n);
  return out;
}

TEST(SizesFleetbench, AllocRateWeightsTheSampledSizes) {
  const auto rows = fixture_rows();
  ASSERT_EQ(rows.size(), 8u);
  const SizeDist d = SizeDist::parse_or_throw("empirical:" + kFleetbench);
  EXPECT_EQ(d.kind(), SizeDist::Kind::kEmpirical);
  EXPECT_EQ(d.empirical_rows(), 8u);
  EXPECT_EQ(d.lo(), 1u);
  EXPECT_EQ(d.hi(), 8u);
  double rate = 0, live = 0;
  for (const auto& r : rows) rate += r.alloc_rate, live += r.num_live;
  const size_t n = 400000;
  const auto got = shares(d, n);
  EXPECT_EQ(got.size(), 8u);
  for (const auto& r : rows) {
    const double want = r.alloc_rate / rate;
    // 5 standard errors of a binomial share, at least 0.001.
    const double tol = std::max(0.001, 5 * std::sqrt(want * (1 - want) / static_cast<double>(n)));
    EXPECT_NEAR(got.count(r.size) ? got.at(r.size) : 0.0, want, tol) << "size " << r.size;
  }
  // Not the live heap's mix: size 5 is 5.8% of allocations but 0.02% of live blocks,
  // size 6 1.2% of allocations and 7.3% of live blocks.
  ASSERT_LT(rows[4].num_live / live, 0.001);
  EXPECT_GT(got.at(5), 0.05);
  ASSERT_GT(rows[5].num_live / live, 0.07);
  EXPECT_LT(got.at(6), 0.02);
}

TEST(SizesFleetbench, AHeaderNamesTheLayout) {
  TempCsv fleet("size,alloc_rate,num_live\n# bytes, per second, live\n64, 3, 1000\n4K, 1, 0\n");
  const SizeDist d = SizeDist::parse_or_throw("empirical:" + fleet.path);
  EXPECT_EQ(d.empirical_rows(), 2u);
  const auto got = shares(d, 100000);
  EXPECT_NEAR(got.at(64), 0.75, 0.01);  // 3 : 1 by alloc_rate, although num_live is 1000 : 0
  EXPECT_NEAR(got.at(4096), 0.25, 0.01);
  TempCsv two("Size, Weight\n64,1\n128,1\n");  // the two-column header, any case and spacing
  EXPECT_EQ(SizeDist::parse_or_throw("empirical:" + two.path).empirical_rows(), 2u);
}

TEST(SizesFleetbench, BadFilesNameLineAndField) {
  EXPECT_NE(parse_error("64, -1, 2\n").find(":1: field 2 (alloc_rate): '-1' is not a number >= 0"), std::string::npos);
  EXPECT_NE(parse_error("64, 1, 2\n128, 1, -3\n").find(":2: field 3 (num_live): '-3' is not a number >= 0"),
            std::string::npos);
  EXPECT_NE(parse_error("size,alloc_rate,num_live\n64,1,x\n").find(":2: field 3 (num_live): 'x'"), std::string::npos);
  EXPECT_NE(parse_error("size,weight\n64,-2\n").find(":2: field 2 (weight): '-2'"), std::string::npos);
  // Unknown column layouts: a header with other names, or a row of four fields.
  EXPECT_NE(parse_error("size,alloc_rate,live\n64,1,1\n").find(":1: unknown column layout 'size,alloc_rate,live'"),
            std::string::npos);
  EXPECT_NE(parse_error("64,1,2,3\n").find(":1: field 4: unknown column layout"), std::string::npos);
  // The first row fixes the layout; a later row that does not follow it is named with the field.
  EXPECT_NE(parse_error("64, 1, 2\n128, 1\n")
                .find(":2: field 3 (num_live): missing (rows are 'size,alloc_rate,num_live' from line 1)"),
            std::string::npos);
  EXPECT_NE(
      parse_error("64,1\n128,1,5\n").find(":2: field 3: unexpected extra field (rows are 'size,weight' from line 1)"),
      std::string::npos);
  // No rows: a header alone, or nothing but comments.
  EXPECT_NE(parse_error("size,alloc_rate,num_live\n").find(": no rows (expected 'size,weight' or fleetbench's"),
            std::string::npos);
  EXPECT_NE(parse_error("# empty\n\n").find(": no rows"), std::string::npos);
  EXPECT_NE(parse_error("64, 0, 5\n128, 0, 1\n").find(": every alloc_rate is 0"), std::string::npos);
}

using Result = heapmark::test::CommandResult;

Result heapmark(const std::string& args) { return heapmark::test::run_heapmark_command(HEAPMARK_BIN, args); }

TEST(SizesFleetbench, HeapmarkRunTakesTheFileAndRefusesABadOne) {
  const std::string root = ::testing::TempDir() + "hm_fleet_run_" + std::to_string(getpid());
  const std::string spec = "empirical:" + kFleetbench;
  const Result ok = heapmark("run --allocators glibc --workloads churn -p churn.sizes=" + spec +
                             " -p churn.count=2000 -p churn.rounds=1 --reps 1 -q --out " + root + " --run-id fleet");
  EXPECT_EQ(ok.status, 0) << ok.err;
  std::ifstream in(root + "/fleet/cells.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line)) << "no cell";
  const auto cell = boost::json::parse(line).as_object();
  EXPECT_EQ(cell.at("status"), "ok") << line.substr(0, 400);
  EXPECT_EQ(cell.at("params").at("sizes"), spec.c_str());
  fs::remove_all(root);

  TempCsv bad("8, 1, 1\n16, -4, 1\n");
  const Result r = heapmark("run --allocators glibc --workloads churn -p churn.sizes=empirical:" + bad.path +
                            " --reps 1 -q --out " + root + " --run-id bad");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_NE(r.err.find(bad.path + ":2: field 2 (alloc_rate): '-4'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(root + "/bad/cells.jsonl")) << "nothing ran";
  fs::remove_all(root);
}

}  // namespace
