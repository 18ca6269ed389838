// Unit tests of hm_report: bootstrap intervals with known answers, the results
// reader's handling of truncated and foreign files, CSV flattening, timeline
// decimation and compare's verdicts on synthetic runs.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>
#include <algorithm>

#include "common/input_error.h"
#include "harness/report/compare.h"
#include "harness/report/pprof.h"
#include "harness/report/report.h"
#include "harness/report/stats.h"
#include "harness/report/summary.h"
#include "harness/report/svg.h"
#include "harness/report/tradeoff.h"

namespace fs = std::filesystem;
namespace rep = heapmark::report;
namespace st = heapmark::report::stats;

namespace {

class TempDir {
 public:
  TempDir() {
    path_ =
        fs::temp_directory_path() / ("hm-report-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
  }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

const char* kRunJson =
    R"({"schema_version":1,"run_id":"t","matrix":{"allocators":[{"name":"a1"},{"name":"a2"}],"baseline":"a1"}})";

// A minimal ok cell with the figures the tests look at.
std::string cell_line(const std::string& alloc, int rep, int block, double throughput, double p99, double f4,
                      int schema = 1) {
  boost::json::object o;
  o["schema_version"] = schema;
  o["key"] = "w/n=1/rep" + std::to_string(rep) + "/" + alloc;
  o["allocator"] = alloc;
  o["workload"] = "w";
  o["params"] = boost::json::object{{"n", "1"}};
  o["rep"] = rep;
  o["block"] = block;
  o["status"] = "ok";
  o["cause"] = nullptr;
  o["throughput_ops_s"] = throughput;
  o["latency_ns"] = boost::json::object{{"alloc", boost::json::object{{"count", 10}, {"p99", p99}}}};
  o["fragmentation"] = boost::json::object{{"f4", f4}};
  o["memory"] = boost::json::object{{"peak_r", 1000}, {"returned_after_free", nullptr}};
  o["timeline"] = boost::json::object{{"t_s", boost::json::array{0.0, 1.0}}};
  return boost::json::serialize(o) + "\n";
}

}  // namespace

TEST(Stats, QuantilesInterpolate) {
  EXPECT_DOUBLE_EQ(st::median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(st::median({4, 1, 2, 3}), 2.5);
  EXPECT_DOUBLE_EQ(st::iqr({1, 2, 3, 4, 5}), 2);
  EXPECT_TRUE(std::isnan(st::median({})));
}

TEST(Stats, BootstrapOfConstantSampleIsExact) {
  const auto e = st::bootstrap_median({2, 2, 2, 2});
  EXPECT_EQ(e.point, 2);
  EXPECT_EQ(e.lo, 2);
  EXPECT_EQ(e.hi, 2);
  const auto r = st::bootstrap_ratio_of_medians({10, 10, 10}, {15, 15, 15});
  EXPECT_DOUBLE_EQ(r.point, 1.5);
  EXPECT_DOUBLE_EQ(r.lo, 1.5);
  EXPECT_DOUBLE_EQ(r.hi, 1.5);
}

// The median of n uniform(0,1) values has standard error 1/(2 sqrt(n)); for
// n = 400 a 95% interval is about 2 * 1.96 * 0.025 = 0.098 wide around 0.5.
TEST(Stats, BootstrapMedianIntervalMatchesTheory) {
  std::vector<double> xs;
  for (int i = 0; i < 400; ++i) xs.push_back((i + 0.5) / 400);
  std::shuffle(xs.begin(), xs.end(), std::mt19937(7));
  const auto e = st::bootstrap_median(xs);
  EXPECT_NEAR(e.point, 0.5, 1e-12);
  EXPECT_LT(e.lo, 0.5);
  EXPECT_GT(e.hi, 0.5);
  EXPECT_GT(e.hi - e.lo, 0.07);
  EXPECT_LT(e.hi - e.lo, 0.13);
  EXPECT_NEAR((e.lo + e.hi) / 2, 0.5, 0.02);
}

TEST(Stats, BootstrapRatioCoversTrueRatioAndIsDeterministic) {
  std::mt19937 g(3);
  std::normal_distribution<double> na(100, 5), nb(120, 6);
  std::vector<double> a, b;
  for (int i = 0; i < 30; ++i) a.push_back(na(g)), b.push_back(nb(g));
  const auto e = st::bootstrap_ratio_of_medians(a, b);
  EXPECT_LT(e.lo, 1.2);
  EXPECT_GT(e.hi, 1.2);
  EXPECT_GT(e.lo, 1.0);  // clearly different from "same"
  const auto again = st::bootstrap_ratio_of_medians(a, b);
  EXPECT_EQ(e.lo, again.lo);
  EXPECT_EQ(e.hi, again.hi);
}

TEST(Reader, IgnoresTruncatedLastLine) {
  TempDir d;
  d.write("run.json", kRunJson);
  std::string partial = cell_line("a2", 1, 0, 1, 1, 0);
  partial.pop_back();  // no newline: incomplete
  d.write("cells.jsonl", cell_line("a1", 1, 0, 1, 1, 0) + partial.substr(0, partial.size() / 2));
  const auto run = rep::read_run(d.str());
  EXPECT_EQ(run.cells.size(), 1u);
  EXPECT_TRUE(run.ignored_partial_line);
  // A complete last line without its newline is incomplete too, by the schema's rule.
  d.write("cells.jsonl", cell_line("a1", 1, 0, 1, 1, 0) + partial);
  EXPECT_EQ(rep::read_run(d.str()).cells.size(), 1u);
}

TEST(Reader, RefusesUnknownSchemaVersionNamingIt) {
  TempDir d;
  d.write("run.json", kRunJson);
  d.write("cells.jsonl", cell_line("a1", 1, 0, 1, 1, 0) + cell_line("a2", 1, 0, 1, 1, 0, 7));
  try {
    rep::read_run(d.str());
    FAIL() << "no error";
  } catch (const heapmark::InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cells.jsonl:2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("schema_version 7"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  d.write("run.json", R"({"schema_version":2})");
  EXPECT_THROW(rep::read_run(d.str()), heapmark::InputError);
}

TEST(Reader, MissingDirectoryAndMalformedLines) {
  try {
    rep::read_run("/nonexistent/heapmark-run");
    FAIL() << "no error";
  } catch (const heapmark::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/heapmark-run"), std::string::npos);
  }
  TempDir d;
  d.write("run.json", kRunJson);
  d.write("cells.jsonl", "{not json\n" + cell_line("a1", 1, 0, 1, 1, 0));
  EXPECT_THROW(rep::read_run(d.str()), heapmark::InputError);
  d.write("cells.jsonl", "");
  EXPECT_TRUE(rep::read_run(d.str()).cells.empty());
}

TEST(Csv, FlattensObjectsDropsArraysAndNulls) {
  TempDir d;
  d.write("run.json", kRunJson);
  d.write("cells.jsonl", cell_line("a1", 1, 0, 2.5, 100, 0.125));
  const std::string csv = rep::render_cells_csv(rep::read_run(d.str()));
  const std::string header = csv.substr(0, csv.find('\n'));
  EXPECT_NE(header.find("params.n"), std::string::npos);
  EXPECT_NE(header.find("latency_ns.alloc.p99"), std::string::npos);
  EXPECT_NE(header.find("memory.returned_after_free"), std::string::npos);
  EXPECT_EQ(header.find("timeline"), std::string::npos);  // arrays are left out
  EXPECT_NE(csv.find(",2.5,"), std::string::npos);
  EXPECT_NE(csv.find(",0.125"), std::string::npos);
}

TEST(Summary, RatioToBaselineUsesBlocks) {
  TempDir d;
  d.write("run.json", kRunJson);
  std::string lines;
  for (int rep = 1; rep <= 3; ++rep) {
    const double drift = rep;  // every block is slower by the same factor: the within-block ratio is exact
    lines += cell_line("a1", rep, rep - 1, 100 * drift, 10, 0.1);
    lines += cell_line("a2", rep, rep - 1, 200 * drift, 10, 0.3);
  }
  d.write("cells.jsonl", lines);
  const auto m = rep::summarize(rep::read_run(d.str()), rep::headline_figures());
  const auto& tp = m.at[0][0][1];  // throughput, group 0, a2
  ASSERT_TRUE(tp.vs_baseline);
  EXPECT_DOUBLE_EQ(tp.vs_baseline->point, 2);
  EXPECT_DOUBLE_EQ(tp.vs_baseline->lo, 2);
  EXPECT_DOUBLE_EQ(tp.vs_baseline->hi, 2);
  EXPECT_EQ(tp.rank, 1);
  EXPECT_TRUE(tp.noisy);  // 100..300 spread: IQR is 50% of the median
  const auto& f4 = m.at[4][0][1];
  ASSERT_TRUE(f4.vs_baseline);
  EXPECT_NEAR(f4.vs_baseline->point, 0.2, 1e-12);  // a difference, not a ratio
}

TEST(Svg, DecimationKeepsExtremesAndBounds) {
  std::vector<double> x, y;
  for (int i = 0; i < 10000; ++i) x.push_back(i), y.push_back(i == 4321 ? 1e6 : (i == 777 ? -5 : i % 10));
  rep::svg::decimate(x, y, 300);
  EXPECT_LE(x.size(), 300u);
  EXPECT_NE(std::find(y.begin(), y.end(), 1e6), y.end());
  EXPECT_NE(std::find(y.begin(), y.end(), -5), y.end());
  EXPECT_EQ(x.front(), 0);
  EXPECT_EQ(x.back(), 9999);
  EXPECT_TRUE(std::is_sorted(x.begin(), x.end()));
}

TEST(Compare, VerdictsAndRegressionThreshold) {
  TempDir a, b;
  a.write("run.json", kRunJson);
  b.write("run.json", kRunJson);
  std::string la, lb;
  for (int rep = 1; rep <= 5; ++rep) {
    la += cell_line("a1", rep, rep - 1, 1000 + rep, 100 + rep, 0.1);
    lb += cell_line("a1", rep, rep - 1, 700 + rep, 100 + rep, 0.1);  // 30% less throughput, same p99
  }
  a.write("cells.jsonl", la);
  b.write("cells.jsonl", lb);
  const auto c = rep::compare_runs(rep::read_run(a.str()), rep::read_run(b.str()), rep::headline_figures());
  ASSERT_FALSE(c.rows.empty());
  const rep::CompareRow* tp = nullptr;
  const rep::CompareRow* p99 = nullptr;
  for (const auto& r : c.rows) {
    if (r.figure.path == "throughput_ops_s") tp = &r;
    if (r.figure.path == "latency_ns.alloc.p99") p99 = &r;
  }
  ASSERT_TRUE(tp && p99);
  EXPECT_EQ(tp->verdict, rep::Verdict::kWorse);
  EXPECT_EQ(tp->verdict_text(), "slower");
  EXPECT_NEAR(tp->worse_by, 30, 0.5);
  EXPECT_EQ(p99->verdict, rep::Verdict::kSame);
  EXPECT_EQ(rep::regressions(c, 10).size(), 1u);
  EXPECT_TRUE(rep::regressions(c, 40).empty());
  EXPECT_NE(rep::compare_text(c).find("percentile bootstrap"), std::string::npos);
}

// The micro cells' Google Benchmark figures get a table of their own, ranked.
TEST(Sections, MicroTableRanksAllocatorsPerBenchmark) {
  TempDir d;
  d.write(
      "run.json",
      R"({"schema_version":1,"run_id":"m","matrix":{"baseline":"glibc","allocators":[{"name":"glibc"},{"name":"fast"}]}})");
  auto micro_cell = [](const std::string& alloc, double calls) {
    return R"({"schema_version":1,"key":"micro/rep1/)" + alloc + R"(","allocator":")" + alloc +
           R"(","workload":"micro","params":{},"rep":1,"block":0,"status":"ok","micro":[{"name":"BM_MallocFree/64","iterations":1000,"real_time_ns":10,"cpu_time_ns":)" +
           std::to_string(2e9 / calls) + R"(,"calls_per_second":)" + std::to_string(calls) + R"(,"threads":1}]})" +
           "\n";
  };
  d.write("cells.jsonl", micro_cell("glibc", 300e6) + micro_cell("fast", 600e6));
  const std::string md = rep::render_summary_md(rep::read_run(d.str()));
  ASSERT_NE(md.find("## Fast paths (micro)"), std::string::npos) << md;
  EXPECT_NE(md.find("| **BM_MallocFree/64** | 300 M/s ~ 6.67 ns/iter | 600 M/s ~ 3.33 ns/iter |"), std::string::npos)
      << md;
  const std::string html = rep::render_report_html(rep::read_run(d.str()));
  EXPECT_NE(html.find("id=\"micro\""), std::string::npos);
}

// Phase-end bars draw the cell's own breakdown when the results carry one.
TEST(Sections, PhaseBarsDrawTheBreakdown) {
  TempDir d;
  d.write("run.json",
          R"({"schema_version":1,"run_id":"b","matrix":{"baseline":"glibc","allocators":[{"name":"glibc"}]}})");
  d.write(
      "cells.jsonl",
      R"({"schema_version":1,"key":"churn/rep1/glibc","allocator":"glibc","workload":"churn","params":{},"rep":1,"block":0,"status":"ok",)"
      R"("memory":{"peak_r":104857600,"live_peak":52428800},"phases":[{"index":0,"name":"free","begin_s":0,"end_s":1,"r":104857600,"live_bytes":10485760,"lazy_free":0,"rho":0.1,)"
      R"("breakdown":{"live":10485760,"fragmentation":41943040,"retained":52428800,"lazy_free":0,"metadata":0,"live_page_bytes":52428800}}]})"
      "\n");
  const std::string html = rep::render_report_html(rep::read_run(d.str()));
  EXPECT_NE(html.find("fragmentation (rest of the pages that hold live blocks)"), std::string::npos);
  EXPECT_NE(html.find("retained (resident pages with no live block"), std::string::npos);
  // Each segment's hover text carries its value (MiB on this axis): 40 MiB fragmentation, 50 MiB retained.
  EXPECT_NE(html.find("fragmentation (rest of the pages that hold live blocks): 40"), std::string::npos) << html;
  EXPECT_NE(html.find("a release could return them): 50"), std::string::npos);
  // Without micro cells there is no micro section.
  EXPECT_EQ(html.find("id=\"micro\""), std::string::npos);
}

// The counters table: per 1k calls where counted, "unavailable" with the
// reason as hover text where not (never a 0), IPC only where cycles and
// instructions were both counted; the batch timer's chart says which timer.
TEST(Sections, CountersTableAndBatchTimerSayWhatMeasuredThem) {
  TempDir d;
  d.write(
      "run.json",
      R"({"schema_version":1,"run_id":"c","matrix":{"baseline":"glibc","allocators":[{"name":"glibc"},{"name":"pmu"}]}})");
  auto cell = [](const std::string& alloc, const std::string& cycles) {
    return R"({"schema_version":1,"key":"churn/rep1/)" + alloc + R"(","allocator":")" + alloc +
           R"(","workload":"churn","params":{},"rep":1,"block":0,"status":"ok","timing":{"timer":"batch","batch_calls":256},)"
           R"("batch_ns_per_call":{"calls":1000,"batches":4,"mean":5,"min":4,"p50":5,"p90":6,"p99":7,"p999":8,"max":9},)"
           R"("counters":{"events":{"page-faults":{"total":2000,"per_1k_calls":2000,"user_only":false},"cycles":)" +
           cycles + R"(,"instructions":{"total":3000,"per_1k_calls":3000,"user_only":false}},"multiplexed":false)" +
           (cycles[2] == 't' ? R"(,"ipc":1.5)" : "") + R"(}})" + "\n";
  };
  d.write(
      "cells.jsonl",
      cell(
          "glibc",
          R"({"unavailable":true,"errno":2,"reason":"perf_event_open: No such file or directory (errno 2): this machine has no hardware PMU"})") +
          cell("pmu", R"({"total":2000,"per_1k_calls":2000,"user_only":false})"));
  const std::string html = rep::render_report_html(rep::read_run(d.str()));
  EXPECT_NE(html.find("title=\"perf_event_open: No such file or directory (errno 2): this machine has no hardware "
                      "PMU\">unavailable"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find(">IPC (instructions per cycle)<"), std::string::npos);
  EXPECT_NE(html.find(">1.50<"), std::string::npos) << "the PMU cell's IPC";
  EXPECT_NE(html.find("ns per call, batch timer"), std::string::npos);
  EXPECT_EQ(html.find("alloc latency percentiles"), std::string::npos) << "no per-call chart for batch cells";
}

// The release-schedule trade-off: points per allocator and interval (medians
// over repetitions), the Pareto front over every allocator's points, and the
// interval that bought the most average R per CPU second added to off.
TEST(Sections, ReleaseTradeoffMarksTheParetoFrontAndTheBestBuy) {
  TempDir d;
  d.write("run.json",
          R"({"schema_version":1,"run_id":"r","matrix":{"baseline":"g","allocators":[{"name":"g"},{"name":"j"}]}})");
  auto cell = [](const std::string& alloc, const std::string& every, double every_ms, int rep, double avg_mib,
                 double cpu_s, double release_ms) {
    boost::json::object o;
    o["schema_version"] = 1;
    o["key"] = "churn/" + every + "/rep" + std::to_string(rep) + "/" + alloc;
    o["allocator"] = alloc;
    o["workload"] = "churn";
    o["params"] = boost::json::object{{"release_every", every}, {"n", "1"}};
    o["rep"] = rep;
    o["block"] = rep;
    o["status"] = "ok";
    o["cpu"] = boost::json::object{{"user_s", cpu_s * 0.75}, {"sys_s", cpu_s * 0.25}, {"minflt", 1000}};
    o["memory"] = boost::json::object{{"avg_r", avg_mib * 1048576}};
    o["latency_ns"] = boost::json::object{{"alloc", boost::json::object{{"count", 10}, {"p99", 50}}}};
    if (every_ms > 0)
      o["release_schedule"] = boost::json::object{
          {"every_ms", every_ms}, {"hook", "malloc_trim(0)"}, {"calls", 10}, {"total_ms", release_ms}, {"max_ms", 1}};
    return boost::json::serialize(o) + "\n";
  };
  std::string lines;
  // g: off 100 MiB / 1 s, 100ms 80 / 1.2 s (100 MiB per CPU s), 10ms 50 / 2 s (50 per CPU s).
  // j: off 90 / 1.1 s, 1s 88.5 / 1.12 s (1.7 % less: within noise), 10ms 95 / 1.5 s (no gain). Two repetitions each;
  // the medians are the middle of two.
  for (int rep : {1, 2}) {
    const double wobble = rep == 1 ? -1 : 1;
    lines += cell("g", "off", 0, rep, 100 + wobble, 1.0, 0) + cell("g", "100ms", 100, rep, 80 + wobble, 1.2, 20) +
             cell("g", "10ms", 10, rep, 50 + wobble, 2.0, 300) + cell("j", "off", 0, rep, 90 + wobble, 1.1, 0) +
             cell("j", "1s", 1000, rep, 88.5 + wobble, 1.12, 1) + cell("j", "10ms", 10, rep, 95 + wobble, 1.5, 40);
  }
  d.write("cells.jsonl", lines);
  const rep::Run run = rep::read_run(d.str());
  const auto groups = rep::tradeoff_groups(run);
  ASSERT_EQ(groups.size(), 1u);
  const auto& g = groups[0];
  EXPECT_EQ(g.label, "churn n=1");
  ASSERT_EQ(g.points.size(), 6u);
  std::vector<std::string> order;
  for (const auto& p : g.points) order.push_back(p.allocator + "/" + p.every + (p.pareto ? "*" : ""));
  // Off first, then the longest interval. On the front: every g point, j off (90 MiB, 1.1 s: less R than g off,
  // less CPU than g 100ms) and j 1s; j 10ms (95, 1.5) is beaten by j off on both.
  EXPECT_EQ(order, (std::vector<std::string>{"g/off*", "g/100ms*", "g/10ms*", "j/off*", "j/1s*", "j/10ms"}));
  EXPECT_NEAR(g.points[1].avg_r, 80.0 * 1048576, 1);
  EXPECT_NEAR(g.points[2].cpu_s, 2.0, 1e-9);
  EXPECT_NEAR(g.points[2].release_ms, 300, 1e-9);
  ASSERT_TRUE(g.points[0].cost.has_value());
  EXPECT_EQ(*g.points[0].cost, 50);
  const auto buys = rep::best_buys(g);
  ASSERT_EQ(buys.size(), 2u);
  EXPECT_EQ(
      buys[0],
      "g: every 100ms bought the most per CPU second: 20.0 MiB less average R (100 MiB to 80.0 MiB) for 0.200 CPU "
      "s more, 100 MiB per CPU second");
  EXPECT_EQ(buys[1], "j: no interval lowered its average R by 5.0 % or more (off: 90.0 MiB)");
  const std::string md = rep::render_summary_md(run);
  EXPECT_NE(md.find("## Release schedules: what they buy and cost"), std::string::npos) << md;
  EXPECT_NE(md.find("| **g** | off | 100 ~ | 1.00 ~ | 1000 ~ | – | 50.0 ~ | ✓ |"), std::string::npos) << md;
  const std::string html = rep::render_report_html(run);
  EXPECT_NE(html.find("Pareto front"), std::string::npos);
  EXPECT_NE(html.find("g every 10ms: average 50.0 MiB, CPU 2.00 s (on the Pareto front)"), std::string::npos);
}

// pprof (harness/report/pprof.h): a frame read back from sites.json's text in
// each of the four forms Frame::text() writes, and the legacy heap profile's
// totals, symbol table and stack lines.
TEST(Pprof, FrameTextsReadBackInEachOfTheirForms) {
  namespace pp = heapmark::report::pprof;
  const pp::Frame a = pp::parse_frame_text("ring_push (ring.c:12)");
  EXPECT_EQ(a.function, "ring_push");
  EXPECT_EQ(a.file, "ring.c");
  EXPECT_EQ(a.line, 12u);
  const pp::Frame b = pp::parse_frame_text("std::vector<int>::push_back(int const&) (libx.so+0x1a2b)");
  EXPECT_EQ(b.function, "std::vector<int>::push_back(int const&)");
  EXPECT_EQ(b.module, "libx.so");
  EXPECT_EQ(b.address, 0x1a2bu);
  const pp::Frame c = pp::parse_frame_text("python3.11+0x5a7185");
  EXPECT_EQ(c.function, "");
  EXPECT_EQ(c.module, "python3.11");
  EXPECT_EQ(c.address, 0x5a7185u);
  EXPECT_EQ(c.name(), "python3.11+0x5a7185");
  const pp::Frame d = pp::parse_frame_text("0x7f1200001000");
  EXPECT_EQ(d.module, "");
  EXPECT_EQ(d.address, 0x7f1200001000u);
  EXPECT_EQ(pp::parse_frame_text("(other sites)").function, "(other sites)");
}

TEST(Pprof, LegacyHeapProfileTotalsItsStacksAndNamesEveryAddress) {
  namespace pp = heapmark::report::pprof;
  pp::Profile p;
  p.sample_types = {{"pinned_space", "bytes"}, {"inuse_space", "bytes"}, {"inuse_objects", "count"}};
  auto frame = [](const char* fn) { return pp::Frame::label(fn); };
  p.samples.push_back({{frame("leaf_a"), frame("main")}, {4096, 64, 1}});
  p.samples.push_back({{frame("operator--"), frame("main")}, {8192, 128, 2}});
  p.samples.push_back({{frame("idle"), frame("main")}, {0, 0, 0}});  // all zero: left out
  const std::string text = pp::legacy_heap(p, "pinned_space", "inuse_objects");
  EXPECT_EQ(text.rfind("--- symbol\nbinary=heapmark\n", 0), 0u) << text;
  EXPECT_NE(text.find("heap profile:      3:    12288 [     3:    12288] @ heapprofile\n"), std::string::npos) << text;
  EXPECT_NE(text.find("operator- -"), std::string::npos) << "google-pprof splits symbols at --: " << text;
  EXPECT_EQ(text.find("idle"), std::string::npos) << text;
  // Every address a stack line names is in the symbol table.
  const size_t table_end = text.find("---\n", 4);
  const std::string table = text.substr(0, table_end);
  size_t stacks = 0;
  for (size_t at = text.find(" @ 0x"); at != std::string::npos; at = text.find(" @ 0x", at + 1), ++stacks)
    for (size_t a = text.find("0x", at); a != std::string::npos && a < text.find('\n', at); a = text.find("0x", a + 1))
      EXPECT_NE(table.find(text.substr(a, 18)), std::string::npos) << text.substr(a, 18);
  EXPECT_EQ(stacks, 2u);
  EXPECT_THROW(pp::legacy_heap(p, "alloc_space", "inuse_objects"), std::invalid_argument);
}
