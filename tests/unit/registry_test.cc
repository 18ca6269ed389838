// The registry: families are the only place that knows allocators. A family
// defined here, in the test, and registered like the built-in ones is
// everything heapmark needs for a new kind of allocator: its built-in
// allocators are listed, its configuration variables kept out of cells, a
// matrix can name it, and inside a process Hooks bind and query it.
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdlib.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstring>

#include "allocators/registry/hooks.h"
#include "allocators/registry/registry.h"
#include "common/input_error.h"
#include "harness/runner/matrix.h"
#include "harness/runner/supervise.h"

using namespace heapmark;

namespace {

// A family for the C library's malloc under another name, so Hooks can probe
// it in this (unpreloaded) test process.
class Fake final : public registry::Family {
 public:
  const char* name() const noexcept override { return "fake"; }
  int order() const noexcept override { return 35; }
  void builtins(const std::string&, std::vector<registry::Allocator>& out) const override {
    out.push_back(registry::Allocator{"fake", this, "", {{"FAKE_ALLOC_CONF", "x"}}, "a test family", true, "", ""});
    out.push_back(
        registry::Allocator{"fake-tuned", this, "", {{"FAKE_ALLOC_CONF", "y"}}, "its variant", true, "", "fake"});
  }
  bool is_config_var(std::string_view v) const noexcept override { return v == "FAKE_ALLOC_CONF"; }
  bool bind(void*) noexcept override { return (bound = true); }
  bool claim(char* how, size_t len) noexcept override {
    void* p = registry::probe_allocation();
    const bool ok = malloc_usable_size(p) >= registry::kProbeSize;
    std::snprintf(how, len, "fake claim");
    free(p);
    return ok;
  }
  void version(char* out, size_t len) const noexcept override { std::snprintf(out, len, "fake 1.0"); }
  size_t config(registry::ConfigItem* out, size_t max) const noexcept override {
    if (max < 1) return 0;
    out[0].name = "fake.arenas";
    registry::set_value(out[0], 3);
    return 1;
  }
  registry::Horizon horizon() const noexcept override {
    registry::Horizon h;
    h.ms = 1234;
    return h;
  }
  bool release() const noexcept override { return (released = true); }
  bool bound = false;
  mutable bool released = false;
};

Fake g_fake;
const registry::FamilyRegistrar g_reg{g_fake};

}  // namespace

TEST(Registry, AFamilyRegisteredInOneFileIsKnownEverywhere) {
  const auto all = registry::builtin("/nowhere");
  auto named = [&](const char* n) {
    return std::find_if(all.begin(), all.end(), [&](const registry::Allocator& a) { return a.name == n; });
  };
  ASSERT_NE(named("fake"), all.end());
  EXPECT_STREQ(named("fake")->kind(), "fake");
  // Families are listed in their order: after tcmalloc (30), before the in-house ones (40).
  EXPECT_LT(named("tcmalloc") - all.begin(), named("fake") - all.begin());
  EXPECT_LT(named("fake") - all.begin(), named("ptmalloc-style") - all.begin());

  const auto bases = registry::bases(all);
  auto in_bases = [&](const char* n) {
    return std::any_of(bases.begin(), bases.end(), [&](const registry::Allocator& a) { return a.name == n; });
  };
  EXPECT_TRUE(in_bases("fake"));
  EXPECT_FALSE(in_bases("fake-tuned")) << "a variant is not a base";
  EXPECT_FALSE(in_bases("je-bg"));
  EXPECT_TRUE(in_bases("glibc"));

  EXPECT_TRUE(registry::is_allocator_config_var("FAKE_ALLOC_CONF"));
  EXPECT_TRUE(registry::is_allocator_config_var("MALLOC_CONF"));
  EXPECT_TRUE(registry::is_allocator_config_var("LD_PRELOAD"));
  EXPECT_FALSE(registry::is_allocator_config_var("HOME"));
  setenv("FAKE_ALLOC_CONF", "leak", 1);
  for (const auto& kv : runner::clean_environment()) EXPECT_NE(kv.rfind("FAKE_ALLOC_CONF=", 0), 0u) << kv;
  unsetenv("FAKE_ALLOC_CONF");

  // A matrix may name it by kind, as run.json records allocators.
  const auto m = runner::Matrix::from_json(
      boost::json::parse(R"({"allocators": [{"name": "f", "kind": "fake", "library": ""}], "workloads": ["churn"]})"),
      all, "m.json");
  EXPECT_EQ(m.allocators[0].family, &g_fake);
  EXPECT_THROW(registry::family_named("nosuch"), InputError);
}

TEST(Registry, HooksBindTheFamilyAndForwardToIt) {
  const auto h = registry::Hooks::probe(g_fake, "");
  EXPECT_TRUE(g_fake.bound);
  ASSERT_TRUE(h.identity_ok()) << h.proof();
  EXPECT_STREQ(h.version(), "fake 1.0");
  EXPECT_NE(std::strstr(h.proof(), "fake claim"), nullptr);
  registry::ConfigItem items[4];
  ASSERT_EQ(h.config(items, 4), 1u);
  EXPECT_STREQ(items[0].value, "3");
  EXPECT_EQ(h.horizon().ms, 1234u);
  EXPECT_TRUE(h.release());
  EXPECT_TRUE(g_fake.released);
}

TEST(Registry, APreloadedFamilyIsRefusedWhenMallocComesFromElsewhere) {
  // This process's malloc is glibc's: a family that claims to be preloaded from
  // another library must fail identity, naming where malloc resolves.
  const auto all = registry::builtin("/nowhere");
  const auto je =
      std::find_if(all.begin(), all.end(), [](const registry::Allocator& a) { return a.name == "jemalloc"; });
  ASSERT_NE(je, all.end());
  const auto h = registry::Hooks::probe(*registry::find_family("jemalloc"), je->library.c_str());
  EXPECT_FALSE(h.identity_ok());
  EXPECT_NE(std::strstr(h.proof(), "libc.so"), nullptr) << h.proof();
}
