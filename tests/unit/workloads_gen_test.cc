// Generator invariants of packets, server, large, realloc-growth, churn's
// realloc-class order, and the mixed and empirical size distributions: ids
// pair up, sizes follow their distributions, seeds decide the program,
// multi-thread programs run without deadlock with frees on the intended thread.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "tests/support/temp_file.h"
#include "tests/unit/workload_sim.h"
#include "workloads/catalog.h"
#include "workloads/sizes.h"

using namespace heapmark;
using namespace heapmark::workloads;

namespace {

std::vector<uint64_t> sample_sorted(const std::string& spec, size_t n, uint64_t seed) {
  const SizeDist d = SizeDist::parse_or_throw(spec);
  Rng rng(seed);
  std::vector<uint64_t> v(n);
  for (auto& x : v) x = d.sample(rng);
  std::sort(v.begin(), v.end());
  return v;
}

double quantile(const std::vector<uint64_t>& sorted, double q) {
  return static_cast<double>(sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))]);
}

// A CSV in the test's temp dir; removed at the end of the test.
struct TempCsv : heapmark::test::TempFile {
  explicit TempCsv(const std::string& body) : TempFile(body, ".csv") {}
};

std::string parse_error(const std::string& spec) {
  std::string why;
  EXPECT_FALSE(SizeDist::parse(spec, nullptr, &why)) << spec;
  EXPECT_EQ(why.find('\n'), std::string::npos) << "not one line: " << why;
  return why;
}

uint32_t band(uint64_t s) { return s <= 1 ? UINT32_MAX : static_cast<uint32_t>(std::bit_width(s - 1) - 1); }

// Every alloc of a drained one-thread program is freed exactly once, after it, and never reallocated while dead.
void expect_ids_pair_up(const std::vector<Op>& ops, uint64_t* allocs_out = nullptr) {
  std::map<uint32_t, bool> live;
  uint64_t allocs = 0;
  for (const auto& op : ops) {
    if (op.kind == OpKind::kAlloc) {
      ASSERT_FALSE(live[op.id]) << "id " << op.id << " allocated while live";
      live[op.id] = true;
      ++allocs;
    } else if (op.kind == OpKind::kFree) {
      ASSERT_TRUE(live[op.id]) << "id " << op.id << " freed while not live";
      live[op.id] = false;
    } else if (op.kind == OpKind::kRealloc) {
      ASSERT_TRUE(live[op.id]) << "id " << op.id << " reallocated while not live";
    }
  }
  for (const auto& [id, l] : live) ASSERT_FALSE(l) << "id " << id << " still live at the end";
  if (allocs_out) *allocs_out = allocs;
}

}  // namespace

// ---- size distributions ----

TEST(SizesMixed, SmallAndLargeRangesInTheirProportion) {
  const auto v = sample_sorted("mixed:16-1K:64K-4M:0.1", 200000, 1);
  size_t large = 0;
  for (uint64_t x : v) {
    ASSERT_TRUE((x >= 16 && x <= 1024) || (x >= 65536 && x <= 4194304)) << x;
    large += x >= 65536;
  }
  EXPECT_NEAR(static_cast<double>(large) / static_cast<double>(v.size()), 0.1, 0.005);
  // Small part uniform over 16..1024: the overall 45th percentile is its median (0.45 / 0.9 = 0.5).
  EXPECT_NEAR(quantile(v, 0.45), 520, 15);
  // Large part uniform: the 95th percentile is its median.
  EXPECT_NEAR(quantile(v, 0.95), (65536.0 + 4194304.0) / 2, 60000);
  const SizeDist d = SizeDist::parse_or_throw("mixed:16-1K:64K-4M");
  EXPECT_EQ(d.lo(), 16u);
  EXPECT_EQ(d.hi(), 4194304u);
  const auto w = sample_sorted("mixed:16-1K:64K-4M", 200000, 2);
  EXPECT_NEAR(static_cast<double>(std::count_if(w.begin(), w.end(), [](uint64_t x) { return x > 1024; })) / 200000.0,
              0.01, 0.002);  // the default fraction
}

TEST(SizesMixed, BadSpecsSayWhy) {
  EXPECT_NE(parse_error("mixed:16-1K").find("expected mixed:LO-HI:LO-HI"), std::string::npos);
  EXPECT_NE(parse_error("mixed:16-1K:512-4M").find("must start above"), std::string::npos);
  EXPECT_NE(parse_error("mixed:16-1K:64K-4M:1.5").find("fraction '1.5'"), std::string::npos);
  EXPECT_NE(parse_error("mixed:1K-16:64K-4M").find("small range"), std::string::npos);
}

TEST(SizesEmpirical, SamplesFollowTheWeights) {
  TempCsv csv("# sizes seen in production\nsize,weight\n16,1\n100, 2\n\n4K,7\n1M,0\n");
  const SizeDist d = SizeDist::parse_or_throw("empirical:" + csv.path);
  EXPECT_EQ(d.kind(), SizeDist::Kind::kEmpirical);
  EXPECT_EQ(d.empirical_rows(), 4u);
  EXPECT_EQ(d.lo(), 16u);
  EXPECT_EQ(d.hi(), 4096u);  // a zero-weight row is never drawn
  std::map<uint64_t, size_t> seen;
  Rng rng(9);
  const size_t n = 100000;
  for (size_t i = 0; i < n; ++i) ++seen[d.sample(rng)];
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_NEAR(static_cast<double>(seen[16]) / n, 0.1, 0.005);
  EXPECT_NEAR(static_cast<double>(seen[100]) / n, 0.2, 0.006);
  EXPECT_NEAR(static_cast<double>(seen[4096]) / n, 0.7, 0.006);
}

TEST(SizesEmpirical, ErrorsNameFileLineAndField) {
  EXPECT_NE(parse_error("empirical:/nonexistent/sizes.csv").find("/nonexistent/sizes.csv: cannot open"),
            std::string::npos);
  {
    TempCsv csv("size,weight\n64,1\n128,lots\n");
    EXPECT_NE(parse_error("empirical:" + csv.path).find(csv.path + ":3: field 2 (weight): 'lots'"), std::string::npos);
  }
  {
    TempCsv csv("64,1\n-5,1\n");
    EXPECT_NE(parse_error("empirical:" + csv.path).find(csv.path + ":2: field 1 (size): '-5'"), std::string::npos);
  }
  {
    TempCsv csv("64,1,3,4\n");  // three fields are fleetbench's layout (sizes_test.cc)
    EXPECT_NE(parse_error("empirical:" + csv.path).find(csv.path + ":1: field 4"), std::string::npos);
  }
  {
    TempCsv csv("64\n");
    EXPECT_NE(parse_error("empirical:" + csv.path).find(csv.path + ":1: expected 'size,weight'"), std::string::npos);
  }
  {
    TempCsv csv("64,0\n128,0\n");
    EXPECT_NE(parse_error("empirical:" + csv.path).find("every weight is 0"), std::string::npos);
  }
  {
    TempCsv csv("# nothing\n");
    EXPECT_NE(parse_error("empirical:" + csv.path).find(csv.path + ": no rows"), std::string::npos);
  }
  {
    std::string body;
    for (size_t i = 1; i <= SizeDist::kEmpiricalCapacity + 1; ++i) body += std::to_string(i) + ",1\n";
    TempCsv csv(body);
    const std::string over = std::to_string(SizeDist::kEmpiricalCapacity + 1);
    EXPECT_NE(
        parse_error("empirical:" + csv.path)
            .find(csv.path + ":" + over + ": more than " + std::to_string(SizeDist::kEmpiricalCapacity) + " rows"),
        std::string::npos);
    body.resize(body.rfind(over + ",1"));
    TempCsv full(body);
    std::string why;
    EXPECT_TRUE(SizeDist::parse("empirical:" + full.path, nullptr, &why)) << why;
  }
  // Parameter validation reads the file too, so a bad CSV fails before anything runs.
  TempCsv csv("64,x\n");
  try {
    Params::resolve("churn", find_workload("churn").params, {{"sizes", "empirical:" + csv.path}});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("workload 'churn' parameter 'sizes': size distribution 'empirical:" +
                                         csv.path + "': " + csv.path + ":1: field 2 (weight)"),
              std::string::npos)
        << e.what();
  }
}

TEST(SizesEmpirical, DrivesAWorkload) {
  TempCsv csv("24,3\n200,1\n");
  const auto d = drain("churn", {{"count", "2000"}, {"rounds", "1"}, {"sizes", "empirical:" + csv.path}}, 3);
  size_t small = 0, total = 0;
  for (const auto& op : d.ops)
    if (op.kind == OpKind::kAlloc) {
      ASSERT_TRUE(op.size == 24 || op.size == 200) << op.size;
      small += op.size == 24;
      ++total;
    }
  EXPECT_NEAR(static_cast<double>(small) / static_cast<double>(total), 0.75, 0.04);
}

// ---- churn: realloc-class ----

TEST(ChurnReallocClass, EachRoundUsesTheOtherClassesAndFreesEverything) {
  const auto d =
      drain("churn", {{"count", "4000"}, {"order", "realloc-class"}, {"rounds", "4"}, {"sizes", "uniform:16-1K"}}, 11);
  expect_ids_pair_up(d.ops);
  std::vector<std::set<uint32_t>> bands(4);
  std::vector<std::vector<uint64_t>> sizes(4);
  uint32_t phase = 0;
  for (const auto& op : d.ops) {
    if (op.kind == OpKind::kPhase) phase = op.id;
    if (op.kind != OpKind::kAlloc) continue;
    const uint32_t round = phase / 2;
    EXPECT_EQ(band(op.size) % 2, round % 2) << "round " << round << " size " << op.size;
    EXPECT_GE(op.size, 16u);
    EXPECT_LE(op.size, 2048u);
    bands[round].insert(band(op.size));
    sizes[round].push_back(op.size);
  }
  for (uint32_t r = 1; r < 4; ++r) {
    for (uint32_t b : bands[r]) EXPECT_EQ(bands[r - 1].count(b), 0u) << "round " << r << " reuses band " << b;
    EXPECT_EQ(sizes[r].size(), 4000u);
  }
  // Frees are in random order, not allocation order.
  std::vector<uint32_t> frees;
  for (const auto& op : d.ops)
    if (op.kind == OpKind::kFree && frees.size() < 100) frees.push_back(op.id);
  EXPECT_FALSE(std::is_sorted(frees.begin(), frees.end()));
}

TEST(ChurnReallocClass, FixedSizesAlternateBetweenTwoClasses) {
  for (const auto& [spec, even, odd] : std::vector<std::tuple<std::string, uint64_t, uint64_t>>{
           {"fixed:64", 128, 64}, {"fixed:100", 100, 200}, {"fixed:1", 2, 1}}) {
    const auto d = drain("churn", {{"count", "10"}, {"order", "realloc-class"}, {"rounds", "3"}, {"sizes", spec}}, 1);
    uint32_t phase = 0;
    for (const auto& op : d.ops) {
      if (op.kind == OpKind::kPhase) phase = op.id;
      if (op.kind == OpKind::kAlloc) {
        EXPECT_EQ(op.size, (phase / 2) % 2 == 0 ? even : odd) << spec;
      }
    }
  }
}

// ---- large ----

TEST(Large, FewLiveBlocksOfTheChosenSizesAllFreed) {
  const auto d = drain("large", {{"count", "3000"}, {"live", "3"}}, 5);
  EXPECT_EQ(d.phases, (std::vector<std::string>{"steady", "drain"}));
  uint64_t allocs = 0;
  expect_ids_pair_up(d.ops, &allocs);
  EXPECT_EQ(allocs, 3000u);
  std::vector<uint64_t> sizes;
  int live = 0, peak = 0;
  for (const auto& op : d.ops) {
    if (op.kind == OpKind::kAlloc) {
      sizes.push_back(op.size);
      EXPECT_EQ(op.align_log2, 0);
      peak = std::max(peak, ++live);
    }
    if (op.kind == OpKind::kFree) --live;
  }
  EXPECT_EQ(peak, 3);
  std::sort(sizes.begin(), sizes.end());
  EXPECT_GE(sizes.front(), 1u << 20);
  EXPECT_LE(sizes.back(), 32u << 20);
  EXPECT_NEAR(quantile(sizes, 0.5), 16.5 * (1 << 20), 1.5 * (1 << 20));  // uniform 1M-32M
  EXPECT_NEAR(quantile(sizes, 0.25), 8.75 * (1 << 20), 1.5 * (1 << 20));
}

TEST(Large, AlignedAllocationsAndBadAlignment) {
  const auto d = drain("large", {{"count", "10"}, {"align", "2M"}}, 5);
  for (const auto& op : d.ops)
    if (op.kind == OpKind::kAlloc) {
      EXPECT_EQ(op.align_log2, 21);
    }
  const auto& def = find_workload("large");
  Scratch scratch(1 << 20);
  for (const char* bad : {"3", "8", "3M"}) {
    const Params p = Params::resolve("large", def.params, {{"align", bad}});
    EXPECT_THROW(def.make(p, 1, scratch), InputError) << bad;
  }
  EXPECT_THROW(Params::resolve("large", def.params, {{"live", "0"}}), InputError);
}

// ---- realloc-growth ----

TEST(ReallocGrowth, BuffersGrowByTheFactorToTheirCapThenAreFreed) {
  const auto d =
      drain("realloc-growth",
            {{"count", "3000"}, {"buffers", "16"}, {"start", "64"}, {"growth", "150"}, {"cap", "uniform:64K-1M"}}, 8);
  EXPECT_EQ(d.phases, (std::vector<std::string>{"grow", "drain"}));
  uint64_t allocs = 0;
  expect_ids_pair_up(d.ops, &allocs);
  EXPECT_EQ(allocs, 3000u);
  std::map<uint32_t, uint64_t> size;
  std::vector<uint64_t> caps;  // final sizes of buffers freed in the grow phase
  uint32_t phase = 0;
  size_t reallocs = 0;
  for (const auto& op : d.ops) {
    switch (op.kind) {
      case OpKind::kPhase: phase = op.id; break;
      case OpKind::kAlloc:
        EXPECT_EQ(op.size, 64u);
        size[op.id] = op.size;
        break;
      case OpKind::kRealloc: {
        const uint64_t old = size[op.id];
        EXPECT_GT(op.size, old);
        // x1.5, except the last step, which stops at the cap.
        EXPECT_LE(op.size, old * 3 / 2);
        if (op.size < 64 * 1024) {
          EXPECT_EQ(op.size, old * 3 / 2) << "below every cap a step grows by the full factor";
        }
        size[op.id] = op.size;
        ++reallocs;
        break;
      }
      case OpKind::kFree:
        if (phase == 0) caps.push_back(size[op.id]);
        break;
      default: break;
    }
  }
  EXPECT_GT(reallocs, 3000u * 10);
  ASSERT_GT(caps.size(), 2500u);
  std::sort(caps.begin(), caps.end());
  EXPECT_GE(caps.front(), 64u * 1024);
  EXPECT_LE(caps.back(), 1024u * 1024);
  EXPECT_NEAR(quantile(caps, 0.5), (64 + 1024) * 1024 / 2.0, 40 * 1024);
  EXPECT_NEAR(quantile(caps, 0.25), (64 + 0.25 * 960) * 1024, 40 * 1024);
}

// ---- packets ----

namespace {

std::map<std::string, std::string> small_packets(std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> p{{"packets", "40000"}, {"connections", "64"}, {"bursts", "5"}, {"idle-ms", "3"}};
  for (auto& [k, v] : extra) p[k] = v;
  return p;
}

// Id layout of packets (see packets.cc): [0, 2*window) packets, then connection state, then buffers.
struct PacketIds {
  uint32_t window, conns;
  bool is_packet(uint32_t id) const { return id < 2 * window; }
  bool is_header(uint32_t id) const { return is_packet(id) && id % 2 == 0; }
  bool is_conn(uint32_t id) const { return id >= 2 * window && id < 2 * window + conns; }
  bool is_buffer(uint32_t id) const { return id >= 2 * window + conns; }
};

}  // namespace

TEST(Packets, ImixFramesSeparateHeadersBurstsAndEveryIdFreedOnce) {
  const auto r = simulate("packets", small_packets({{"header", "200"}}));
  ASSERT_EQ(r.ops.size(), 1u);
  EXPECT_EQ(r.phases, (std::vector<std::string>{"traffic", "drain"}));
  EXPECT_EQ(r.live_end, 0u);
  EXPECT_EQ(r.allocs, r.frees);
  const PacketIds ids{128, 64};
  std::map<uint64_t, size_t> frames;
  size_t headers = 0, idles = 0;
  for (const auto& op : r.ops[0]) {
    if (op.kind == OpKind::kIdle) {
      ++idles;
      EXPECT_EQ(op.size, 3u);
    }
    if (op.kind != OpKind::kAlloc || !ids.is_packet(op.id)) continue;
    if (ids.is_header(op.id)) {
      EXPECT_EQ(op.size, 200u);
      ++headers;
    } else {
      ++frames[op.size];
    }
  }
  EXPECT_EQ(idles, 4u);  // bursts - 1 gaps
  EXPECT_EQ(headers, 40000u);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_NEAR(frames[64] / 40000.0, 7 / 12.0, 0.01);
  EXPECT_NEAR(frames[576] / 40000.0, 4 / 12.0, 0.01);
  EXPECT_NEAR(frames[1500] / 40000.0, 1 / 12.0, 0.01);
  // Jumbo frames join the mix at their weight.
  std::map<uint64_t, size_t> with_jumbo;
  const auto jumbo = simulate("packets", small_packets({{"jumbo", "2"}}));
  for (const auto& op : jumbo.ops[0])
    if (op.kind == OpKind::kAlloc && ids.is_packet(op.id) && !ids.is_header(op.id)) ++with_jumbo[op.size];
  EXPECT_NEAR(with_jumbo[9000] / 40000.0, 2 / 14.0, 0.01);
}

TEST(Packets, ReassemblySizesAddUpToTheMessageSizes) {
  // Every packet adds min(frame, bytes missing): the buffer's sizes are running sums of
  // the frames allocated just before, and a complete message has exactly its size.
  const auto r = simulate("packets", small_packets({{"messages", "fixed:10000"}}));
  const PacketIds ids{128, 64};
  std::map<uint32_t, uint64_t> size;
  uint64_t last_frame = 0, complete = 0, packets_in_complete = 0;
  std::map<uint32_t, uint64_t> packets;
  uint32_t phase = 0;
  for (const auto& op : r.ops[0]) {
    if (op.kind == OpKind::kPhase) phase = op.id;
    if (op.kind == OpKind::kAlloc && ids.is_packet(op.id) && !ids.is_header(op.id)) last_frame = op.size;
    if (!ids.is_buffer(op.id)) continue;
    if (op.kind == OpKind::kAlloc) {
      EXPECT_EQ(op.size, std::min<uint64_t>(last_frame, 10000));
      size[op.id] = op.size;
      packets[op.id] = 1;
    } else if (op.kind == OpKind::kRealloc) {
      const uint64_t want = std::min<uint64_t>(size[op.id] + last_frame, 10000);
      EXPECT_EQ(op.size, want) << "a packet added something other than its frame";
      size[op.id] = op.size;
      ++packets[op.id];
    } else if (op.kind == OpKind::kFree) {
      if (phase == 0) {
        EXPECT_EQ(size[op.id], 10000u) << "a message was freed before it was complete";
        ++complete;
        packets_in_complete += packets[op.id];
      } else {
        EXPECT_LT(size[op.id], 10000u) << "drain frees only partial messages";
      }
    }
  }
  EXPECT_GT(complete, 500u);
  // IMIX mean frame is (7*64 + 4*576 + 1500)/12 = 354 bytes: about 28 packets per 10000-byte message.
  EXPECT_NEAR(static_cast<double>(packets_in_complete) / static_cast<double>(complete), 10000 / 354.0 + 0.5, 2.0);
}

TEST(Packets, MessageSizesFollowTheirDistribution) {
  const auto r = simulate("packets", small_packets({{"packets", "150000"}, {"messages", "uniform:2K-20K"}}));
  std::vector<uint64_t> sizes;
  for (const auto& f : r.freed)
    if (f.phase == 0 && f.id >= 2 * 128 + 64) sizes.push_back(f.size);
  ASSERT_GT(sizes.size(), 2000u);
  std::sort(sizes.begin(), sizes.end());
  EXPECT_GE(sizes.front(), 2048u);
  EXPECT_LE(sizes.back(), 20480u);
  // Short messages complete sooner, so completed ones lean a little small; the middle stays near 11K.
  EXPECT_NEAR(quantile(sizes, 0.5), 11264, 800);
  EXPECT_NEAR(quantile(sizes, 0.25), 2048 + 0.25 * 18432, 800);
}

TEST(Packets, ConnectionsOpenAndCloseAfterTheirLifetime) {
  const auto r = simulate("packets", small_packets({{"messages", "fixed:3000"}, {"lifetime", "4"}}));
  const PacketIds ids{128, 64};
  size_t messages = 0, closes = 0, opens = 0;
  int live_conns = 0;
  uint32_t phase = 0;
  for (const auto& op : r.ops[0]) {
    if (op.kind == OpKind::kPhase) phase = op.id;
    if (ids.is_conn(op.id) && op.kind == OpKind::kAlloc) {
      ++opens;
      ++live_conns;
    }
    if (ids.is_conn(op.id) && op.kind == OpKind::kFree) {
      closes += phase == 0;
      --live_conns;
    }
    if (ids.is_conn(op.id)) {
      EXPECT_LE(live_conns, 64);
    }
    if (ids.is_buffer(op.id) && op.kind == OpKind::kFree && phase == 0) ++messages;
  }
  EXPECT_EQ(opens, 64 + closes);
  // Lifetimes are uniform over 1..7 messages: mean 4.
  EXPECT_NEAR(static_cast<double>(messages) / static_cast<double>(closes), 4.0, 0.4);
}

TEST(Packets, WorkerModeFreesEveryMessageOnTheWorker) {
  const auto r =
      simulate("packets", small_packets({{"mode", "worker"}, {"connections", "16"}, {"messages", "uniform:1K-8K"}}));
  ASSERT_EQ(r.ops.size(), 2u);
  EXPECT_FALSE(r.deadlock);
  EXPECT_EQ(r.live_end, 0u);
  EXPECT_EQ(r.allocs, r.frees);
  const PacketIds ids{128, 16};
  size_t on_worker = 0;
  for (const auto& f : r.freed) {
    EXPECT_EQ(f.alloc_thread, 0u) << "only the receive thread allocates";
    const bool handed = ids.is_buffer(f.id) && f.phase == 0;
    EXPECT_EQ(f.free_thread, handed ? 1u : 0u) << "id " << f.id;
    on_worker += f.free_thread == 1;
  }
  EXPECT_GT(on_worker, 1000u);
  // Single and worker mode see the same packets and messages.
  const auto single = simulate("packets", small_packets({{"connections", "16"}, {"messages", "uniform:1K-8K"}}));
  EXPECT_EQ(single.allocs, r.allocs);
}

TEST(Packets, BadParameters) {
  const auto& def = find_workload("packets");
  Scratch scratch(1 << 20);
  const Params more_bursts_than_packets = Params::resolve("packets", def.params, {{"packets", "10"}, {"bursts", "11"}});
  EXPECT_THROW(def.make(more_bursts_than_packets, 1, scratch), InputError);
  EXPECT_THROW(Params::resolve("packets", def.params, {{"mode", "threads"}}), InputError);
  EXPECT_THROW(Params::resolve("packets", def.params, {{"jumbo", "-1"}}), InputError);
  EXPECT_THROW(Params::resolve("packets", def.params, {{"messages", "uniform:9-1"}}), InputError);
  // The default idle stays well under a second per cell.
  const Params p = Params::resolve("packets", def.params, {});
  EXPECT_LT((p.integer("bursts") - 1) * p.integer("idle-ms"), 1000);
}

// ---- server ----

TEST(Server, ObjectsBleedToTheNextThreadAndEverythingIsFreed) {
  const uint32_t threads = 3, slots = 50, steps = 400, rounds = 3, bleed = 4;
  const auto r = simulate(
      "server", {{"threads", "3"}, {"slots", "50"}, {"steps", "400"}, {"rounds", "3"}, {"bleed", "4"}, {"queue", "8"}});
  ASSERT_EQ(r.ops.size(), threads);
  EXPECT_FALSE(r.deadlock);
  EXPECT_EQ(r.phases, (std::vector<std::string>{"round1", "round2", "round3"}));
  EXPECT_EQ(r.live_end, 0u);
  EXPECT_EQ(r.allocs, r.frees);
  size_t remote = 0;
  for (const auto& f : r.freed) {
    if (f.free_thread != f.alloc_thread) {
      EXPECT_EQ(f.free_thread, (f.alloc_thread + 1) % threads) << "objects bleed to the next thread only";
      ++remote;
    }
  }
  // Each thread's working set goes to its successor between rounds, plus one handoff every `bleed` steps.
  EXPECT_EQ(remote, threads * ((rounds - 1) * slots + rounds * steps / bleed));
  // Allocations per thread: a fresh set each round, one replacement per step, one handed object per `bleed` steps.
  EXPECT_EQ(r.allocs, threads * rounds * (slots + steps + steps / bleed));
}

TEST(Server, ManyThreadsTightQueueNoDeadlockAndSizesFollowTheDistribution) {
  const auto r = simulate("server", {{"threads", "5"},
                                     {"slots", "7"},
                                     {"steps", "2000"},
                                     {"rounds", "2"},
                                     {"bleed", "1"},
                                     {"queue", "2"},
                                     {"sizes", "uniform:100-300"}});
  EXPECT_FALSE(r.deadlock);
  EXPECT_EQ(r.live_end, 0u);
  std::vector<uint64_t> sizes;
  for (const auto& ops : r.ops)
    for (const auto& op : ops)
      if (op.kind == OpKind::kAlloc) sizes.push_back(op.size);
  std::sort(sizes.begin(), sizes.end());
  EXPECT_GE(sizes.front(), 100u);
  EXPECT_LE(sizes.back(), 300u);
  EXPECT_NEAR(quantile(sizes, 0.5), 200, 4);
  EXPECT_NEAR(quantile(sizes, 0.9), 280, 4);
  // bleed=0: only the working sets cross, between rounds.
  const auto quiet =
      simulate("server", {{"threads", "2"}, {"slots", "10"}, {"steps", "100"}, {"rounds", "3"}, {"bleed", "0"}});
  size_t remote = 0;
  for (const auto& f : quiet.freed) remote += f.free_thread != f.alloc_thread;
  EXPECT_EQ(remote, 2u * 2 * 10);
}

TEST(Server, BadParameters) {
  const auto& def = find_workload("server");
  Scratch scratch(1 << 20);
  EXPECT_THROW(Params::resolve("server", def.params, {{"threads", "1"}}), InputError);
  EXPECT_THROW(Params::resolve("server", def.params, {{"queue", "1"}}), InputError);
  const Params huge = Params::resolve("server", def.params, {{"threads", "64"}, {"slots", "1M"}});
  EXPECT_THROW(def.make(huge, 1, scratch), InputError);
}

// ---- every new generator: seeds ----

TEST(NewWorkloads, SameSeedSameChecksumDifferentSeedDifferent) {
  const std::vector<std::pair<std::string, std::map<std::string, std::string>>> cases{
      {"packets", small_packets()},
      {"packets", small_packets({{"mode", "worker"}})},
      {"server", {{"slots", "20"}, {"steps", "300"}, {"rounds", "2"}, {"queue", "16"}}},
      {"large", {{"count", "50"}}},
      {"realloc-growth", {{"count", "200"}}},
      {"churn", {{"count", "500"}, {"order", "realloc-class"}}},
  };
  for (const auto& [name, params] : cases) {
    const auto a = simulate(name, params, 42), b = simulate(name, params, 42), c = simulate(name, params, 43);
    EXPECT_EQ(a.checksum, b.checksum) << name;
    EXPECT_NE(a.checksum, c.checksum) << name;
  }
}

TEST(NewWorkloads, DefaultsAreValidAndListed) {
  for (const char* name : {"packets", "server", "large", "realloc-growth"}) {
    const auto& def = find_workload(name);
    EXPECT_FALSE(def.summary.empty());
    const Params p = Params::resolve(name, def.params, {});
    Scratch scratch(def.scratch_bytes(p) + (1 << 20));
    const auto programs = def.make(p, 1, scratch);
    ASSERT_FALSE(programs.empty()) << name;
    EXPECT_LE(scratch.used(), def.scratch_bytes(p)) << name << ": scratch_bytes understates what make uses";
  }
}
