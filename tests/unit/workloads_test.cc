// Generator invariants for churn and the shared size distributions, and the
// parameter validation users see.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "workloads/catalog.h"
#include "workloads/sizes.h"
#include "tests/unit/workload_sim.h"

using namespace heapmark;
using namespace heapmark::workloads;

TEST(Churn, EveryBlockIsAllocatedOnceAndFreedOnceAfterItsAllocation) {
  for (const char* order : {"fifo", "lifo", "random"}) {
    const auto d = drain("churn", {{"count", "5000"}, {"order", order}, {"rounds", "3"}}, 7);
    std::map<uint32_t, int> state;  // 1 live, 2 freed
    for (const auto& op : d.ops) {
      if (op.kind == OpKind::kAlloc) {
        ASSERT_EQ(state[op.id], 0) << order;
        state[op.id] = 1;
      } else if (op.kind == OpKind::kFree) {
        ASSERT_EQ(state[op.id], 1) << order << " frees id " << op.id << " that is not live";
        state[op.id] = 2;
      }
    }
    EXPECT_EQ(state.size(), 15000u);
    for (const auto& [id, s] : state) ASSERT_EQ(s, 2) << order;
    EXPECT_EQ(d.phases, (std::vector<std::string>{"fill", "free", "refill2", "free2", "refill3", "free3"}));
  }
}

TEST(Churn, OrdersFreeAsNamed) {
  auto first_frees = [](const Drained& d) {
    std::vector<uint32_t> ids;
    for (const auto& op : d.ops)
      if (op.kind == OpKind::kFree && ids.size() < 3) ids.push_back(op.id);
    return ids;
  };
  EXPECT_EQ(first_frees(drain("churn", {{"count", "100"}, {"order", "fifo"}}, 1)), (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(first_frees(drain("churn", {{"count", "100"}, {"order", "lifo"}}, 1)), (std::vector<uint32_t>{99, 98, 97}));
}

TEST(Churn, KeepEveryKLeavesEveryKthBlockLive) {
  const auto d = drain("churn", {{"count", "1000"}, {"order", "keep-every-k"}, {"keep", "16"}, {"rounds", "2"}}, 3);
  std::map<uint32_t, bool> live;
  for (const auto& op : d.ops) {
    if (op.kind == OpKind::kAlloc) live[op.id] = true;
    if (op.kind == OpKind::kFree) live[op.id] = false;
  }
  size_t kept = 0;
  for (const auto& [id, l] : live) {
    EXPECT_EQ(l, (id % 1000) % 16 == 15) << id;
    kept += l;
  }
  EXPECT_EQ(kept, 2u * (1000 / 16));
}

TEST(Churn, SameSeedSameProgramDifferentSeedDifferentProgram) {
  const auto a = drain("churn", {{"count", "2000"}}, 42);
  const auto b = drain("churn", {{"count", "2000"}}, 42);
  const auto c = drain("churn", {{"count", "2000"}}, 43);
  EXPECT_EQ(a.checksum, b.checksum);
  EXPECT_NE(a.checksum, c.checksum);
}

TEST(Sizes, SamplesFollowTheirDistribution) {
  auto quantiles = [](const std::string& spec, uint64_t seed) {
    const SizeDist d = SizeDist::parse_or_throw(spec);
    Rng rng(seed);
    std::vector<uint64_t> v(200000);
    for (auto& x : v) {
      x = d.sample(rng);
      EXPECT_GE(x, d.lo());
      EXPECT_LE(x, d.hi());
    }
    std::sort(v.begin(), v.end());
    return std::vector<double>{static_cast<double>(v[v.size() / 4]), static_cast<double>(v[v.size() / 2]),
                               static_cast<double>(v[v.size() * 3 / 4])};
  };
  // uniform:0..1000 -> quartiles 250, 500, 750
  auto u = quantiles("uniform:1-1000", 1);
  EXPECT_NEAR(u[0], 250, 10);
  EXPECT_NEAR(u[1], 500, 10);
  EXPECT_NEAR(u[2], 750, 10);
  // pow2:16-1024 -> 7 equally likely values 16..1024; the median is 128
  EXPECT_EQ(quantiles("pow2:16-1024", 2)[1], 128);
  // invsq:4-32K: F(s) = (1/4 - 1/s)/(1/4 - 1/32768) -> median ~ 8, upper quartile ~ 16
  auto inv = quantiles("invsq:4-32K", 3);
  EXPECT_NEAR(inv[1], 8, 1);
  EXPECT_NEAR(inv[2], 16, 1);
  // pareto lo=100 shape 1 truncated at 1M: median ~ 200
  EXPECT_NEAR(quantiles("pareto:100-1M:1", 4)[1], 200, 6);
  EXPECT_EQ(quantiles("fixed:64", 5), (std::vector<double>{64, 64, 64}));
}

TEST(Sizes, BadSpecsNameTheProblemAndTheValidKinds) {
  std::string why;
  EXPECT_FALSE(SizeDist::parse("normal:1-2", nullptr, &why));
  EXPECT_NE(why.find("unknown kind 'normal'"), std::string::npos);
  EXPECT_NE(why.find("uniform:LO-HI"), std::string::npos);
  EXPECT_FALSE(SizeDist::parse("uniform:100-10", nullptr, &why));
  EXPECT_FALSE(SizeDist::parse("pow2:3-64", nullptr, &why));
  EXPECT_FALSE(SizeDist::parse("fixed:0", nullptr, &why));
  EXPECT_TRUE(SizeDist::parse("uniform:16-64K", nullptr, &why));
}

TEST(Params, ErrorsNameWorkloadKeyValueAndChoices) {
  const auto& def = find_workload("churn");
  try {
    Params::resolve("churn", def.params, {{"order", "sideways"}});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(
                  "workload 'churn' parameter 'order': 'sideways' is not one of: fifo, lifo, random, keep-every-k", 0),
              0u)
        << e.what();
  }
  try {
    Params::resolve("churn", def.params, {{"colour", "red"}});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("has no parameter 'colour' (valid: count, sizes, order, keep, rounds)"),
              std::string::npos);
  }
  EXPECT_THROW(Params::resolve("churn", def.params, {{"count", "0"}}), InputError);
  EXPECT_THROW(Params::resolve("churn", def.params, {{"count", "ten"}}), InputError);
  EXPECT_EQ(Params::resolve("churn", def.params, {{"count", "64K"}}).integer("count"), 65536);
  EXPECT_THROW(find_workload("nope"), InputError);
}

TEST(FastPath, AlternatesBatchesOfAllocationsAndTheirFrees) {
  const auto d = drain("fastpath", {{"count", "1000"}, {"batch", "3"}, {"sizes", "fixed:64"}}, 1);
  ASSERT_EQ(d.ops.size(), 1u + 1000 * 6);
  EXPECT_EQ(d.phases, std::vector<std::string>{"pairs"});
  for (size_t i = 1; i < d.ops.size(); ++i) {
    const size_t k = (i - 1) % 6;
    EXPECT_EQ(d.ops[i].kind, k < 3 ? OpKind::kAlloc : OpKind::kFree);
    EXPECT_EQ(d.ops[i].id, k % 3);
    if (k < 3) {
      EXPECT_EQ(d.ops[i].size, 64u);
    }
  }
}

TEST(RingBuffer, SingleThreadKeepsTheRingFullThenDrains) {
  const auto r = simulate("ring-buffer", {{"slots", "100"}, {"messages", "1000"}});
  EXPECT_EQ(r.allocs, 1000u);
  EXPECT_EQ(r.frees, 1000u);
  EXPECT_EQ(r.live_end, 0u);
}

TEST(RingBuffer, ProducerConsumerFreesEveryMessageOnTheConsumerThread) {
  const auto r = simulate("ring-buffer", {{"slots", "64"}, {"messages", "5000"}, {"mode", "pc"}});
  EXPECT_EQ(r.allocs, 5000u);
  EXPECT_EQ(r.frees, 5000u);
  EXPECT_EQ(r.live_end, 0u);
  for (uint32_t t : r.free_thread) ASSERT_EQ(t, 1u) << "a free ran on the producer";
  // Fewer messages than slots: no token ever travels back.
  EXPECT_EQ(simulate("ring-buffer", {{"slots", "64"}, {"messages", "10"}, {"mode", "pc"}}).frees, 10u);
}
