// What every allocator core shares: the AllocatorCore concept (each core meets
// it, a wrong core does not), the strict settings parsers of shim/env.h
// (accepted and rejected spellings), and each core refusing a malformed setting
// at init with one line naming it instead of measuring a default.
#include <gtest/gtest.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "buddy/buddy_core.h"
#include "ptmalloc_style/core.h"
#include "shim/core_concept.h"
#include "shim/env.h"
#include "slab/slab_core.h"
#include "trivial_core.h"

namespace {
using namespace heapmark::shim;

// ---------------------------------------------------------------- the concept
static_assert(AllocatorCore<heapmark::buddy::Core>);
static_assert(AllocatorCore<heapmark::slab::Core>);
static_assert(AllocatorCore<heapmark::pt::Core>);
static_assert(AllocatorCore<heapmark::testing::TrivialCore>);

struct Complete {  // the shape of a Core, for the negative cases below
  static void* alloc(size_t) noexcept { return nullptr; }
  static void* alloc_aligned(size_t, size_t) noexcept { return nullptr; }
  static void free(void*) noexcept {}
  static void* realloc(void*, size_t) noexcept { return nullptr; }
  static size_t usable_size(const void*) noexcept { return 0; }
  static bool owns(const void*) noexcept { return false; }
  static void release() noexcept {}
  static size_t stats(heapmark_stat*, size_t) noexcept { return 0; }
  static size_t config(heapmark_stat*, size_t) noexcept { return 0; }
  static heapmark_horizon horizon() noexcept { return {}; }
  static void prefork() noexcept {}
  static void postfork_parent() noexcept {}
  static void postfork_child() noexcept {}
  static const char* name() noexcept { return "complete"; }
  static const char* version() noexcept { return "0"; }
};
static_assert(AllocatorCore<Complete>);

struct MayThrow : Complete {  // hides free with one that is not noexcept
  static void free(void*) {}
};
static_assert(!AllocatorCore<MayThrow>);

struct MemberForkHook : Complete {  // pthread_atfork needs plain function pointers
  void prefork() noexcept {}
};
static_assert(!AllocatorCore<MemberForkHook>);

struct WrongResult : Complete {
  static int usable_size(const void*) noexcept { return 0; }
};
static_assert(!AllocatorCore<WrongResult>);

struct NoVersion {
  static void* alloc(size_t) noexcept { return nullptr; }
};
static_assert(!AllocatorCore<NoVersion>);

// ---------------------------------------------------------------- parsers
TEST(ParseSize, AcceptsBytesAndBinarySuffixes) {
  const std::pair<const char*, size_t> ok[] = {
      {"0", 0},
      {"8", 8},
      {"8388608", size_t(8) << 20},
      {"8k", size_t(8) << 10},
      {"8K", size_t(8) << 10},
      {"8kB", size_t(8) << 10},
      {"8KiB", size_t(8) << 10},
      {"8m", size_t(8) << 20},
      {"8M", size_t(8) << 20},
      {"8MB", size_t(8) << 20},
      {"8MiB", size_t(8) << 20},
      {"8miB", size_t(8) << 20},
      {"3g", size_t(3) << 30},
      {"3GiB", size_t(3) << 30},
      {"18446744073709551615", ~size_t(0)},
      {"17179869183G", size_t(17179869183) << 30},
  };
  for (auto [s, want] : ok) {
    size_t v = 1234;
    EXPECT_TRUE(parse_size(s, &v)) << s;
    EXPECT_EQ(v, want) << s;
  }
}

TEST(ParseSize, RejectsAnythingElse) {
  const char* bad[] = {"",
                       " 8",
                       "8 ",
                       "+8",
                       "-8",
                       "8X",
                       "8XB",
                       "8MiBx",
                       "8iB",
                       "8Mi",
                       "8Mib",
                       "8mb",
                       "8B",
                       "0x10",
                       "8.5M",
                       "M",
                       "MiB",
                       "8MM",
                       "8T",
                       "8M B",
                       "1e6",
                       "18446744073709551616",
                       "17179869184G",
                       "99999999999999999999"};
  for (const char* s : bad) {
    size_t v = 1234;
    EXPECT_FALSE(parse_size(s, &v)) << "'" << s << "'";
    EXPECT_EQ(v, 1234u) << "'" << s << "'";
  }
  size_t v = 1234;
  EXPECT_FALSE(parse_size(nullptr, &v));
}

TEST(ParseCount, PlainDecimalOnly) {
  size_t v = 0;
  EXPECT_TRUE(parse_count("0", &v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(parse_count("65536", &v));
  EXPECT_EQ(v, 65536u);
  for (const char* s : {"", "8k", "-1", "1 ", "0x2", "two"}) EXPECT_FALSE(parse_count(s, &v)) << s;
  EXPECT_EQ(v, 65536u);
}

TEST(ParseMs, MillisecondsOrSeconds) {
  const std::pair<const char*, uint64_t> ok[] = {{"0", 0}, {"500", 500}, {"500ms", 500}, {"2s", 2000}, {"0s", 0}};
  for (auto [s, want] : ok) {
    uint64_t v = 1234;
    EXPECT_TRUE(parse_ms(s, &v)) << s;
    EXPECT_EQ(v, want) << s;
  }
  for (const char* s : {"", "ms", "s", "2m", "2 s", "1.5s", "2sec", "2S", "2msx", "-5", "18446744073709552s"}) {
    uint64_t v = 1234;
    EXPECT_FALSE(parse_ms(s, &v)) << "'" << s << "'";
    EXPECT_EQ(v, 1234u) << s;
  }
}

TEST(ParseFlag, ZeroOrOne) {
  bool v = false;
  EXPECT_TRUE(parse_flag("1", &v));
  EXPECT_TRUE(v);
  EXPECT_TRUE(parse_flag("0", &v));
  EXPECT_FALSE(v);
  for (const char* s : {"", "2", "01", "true", "yes", "1 "}) EXPECT_FALSE(parse_flag(s, &v)) << s;
}

TEST(ParseChoice, ExactNamesOnly) {
  constexpr const char* names[] = {"glibc", "eager", "decay"};
  EXPECT_EQ(parse_choice("glibc", names, 3), 0);
  EXPECT_EQ(parse_choice("decay", names, 3), 2);
  for (const char* s : {"", "Eager", "eager ", "dec", "never"}) EXPECT_EQ(parse_choice(s, names, 3), -1) << s;
  EXPECT_EQ(parse_choice(nullptr, names, 3), -1);
}

// ---------------------------------------------------------------- readers
TEST(EnvReaders, UnsetLeavesTheDefault) {
  unsetenv("HEAPMARK_TEST_UNSET");
  size_t v = 42;
  EXPECT_FALSE(env_size("heapmark test", "HEAPMARK_TEST_UNSET", &v));
  EXPECT_FALSE(env_count("heapmark test", "HEAPMARK_TEST_UNSET", &v));
  EXPECT_EQ(v, 42u);
  setenv("HEAPMARK_TEST_SIZE", "16MiB", 1);
  EXPECT_TRUE(env_size("heapmark test", "HEAPMARK_TEST_SIZE", &v));
  EXPECT_EQ(v, size_t(16) << 20);
  unsetenv("HEAPMARK_TEST_SIZE");
}

TEST(EnvReadersDeath, MalformedValuesAbortWithOneLineNamingThem) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  size_t v;
  uint64_t ms;
  bool b;
  int i;
  constexpr const char* names[] = {"eager", "threshold", "never"};
  EXPECT_DEATH((setenv("HEAPMARK_X", "8XB", 1), env_size("heapmark x", "HEAPMARK_X", &v)),
               "heapmark x: HEAPMARK_X='8XB' is not a size \\(e\\.g\\. 8M, 8MiB, 8388608\\)\n");
  EXPECT_DEATH((setenv("HEAPMARK_X", "", 1), env_size("heapmark x", "HEAPMARK_X", &v)),
               "heapmark x: HEAPMARK_X='' is not a size");
  EXPECT_DEATH((setenv("HEAPMARK_X", "8k", 1), env_count("heapmark x", "HEAPMARK_X", &v)),
               "heapmark x: HEAPMARK_X='8k' is not a number \\(e\\.g\\. 8\\)\n");
  EXPECT_DEATH((setenv("HEAPMARK_X", "5min", 1), env_ms("heapmark x", "HEAPMARK_X", &ms)),
               "heapmark x: HEAPMARK_X='5min' is not a duration in milliseconds \\(e\\.g\\. 500, 500ms, 2s\\)\n");
  EXPECT_DEATH((setenv("HEAPMARK_X", "yes", 1), env_flag("heapmark x", "HEAPMARK_X", &b)),
               "heapmark x: HEAPMARK_X='yes' is not 0 or 1\n");
  EXPECT_DEATH((setenv("HEAPMARK_X", "lazy", 1), env_choice("heapmark x", "HEAPMARK_X", names, 3, &i)),
               "heapmark x: HEAPMARK_X='lazy' is not one of eager\\|threshold\\|never\n");
  // A value too long for the line is cut, its newline kept.
  EXPECT_DEATH(
      (setenv("HEAPMARK_X", std::string(2000, '7').append("x").c_str(), 1), env_size("heapmark x", "HEAPMARK_X", &v)),
      "heapmark x: HEAPMARK_X='7777777777+\n");
}

// ---------------------------------------------------------------- each core at init
// Each check runs in a fresh process (threadsafe style re-executes the test), so
// the core initialises there, from the variable the statement sets.
TEST(CoreSettingsDeath, EveryCoreRefusesAMalformedSetting) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        setenv("HEAPMARK_BUDDY_DECOMMIT_THRESHOLD", "8XB", 1);
        heapmark::buddy::Core::free(heapmark::buddy::Core::alloc(64));
      },
      "heapmark buddy: HEAPMARK_BUDDY_DECOMMIT_THRESHOLD='8XB' is not a size \\(e\\.g\\. 8M, 8MiB, 8388608\\)");
  EXPECT_DEATH(
      {
        setenv("HEAPMARK_SLAB_DECOMMIT_THRESHOLD", "8 MiB", 1);
        heapmark::slab::Core::free(heapmark::slab::Core::alloc(64));
      },
      "heapmark slab: HEAPMARK_SLAB_DECOMMIT_THRESHOLD='8 MiB' is not a size");
  EXPECT_DEATH(
      {
        setenv("HEAPMARK_SLAB_EMPTY_RESERVE", "one", 1);
        heapmark::slab::Core::free(heapmark::slab::Core::alloc(64));
      },
      "heapmark slab: HEAPMARK_SLAB_EMPTY_RESERVE='one' is not a number");
  EXPECT_DEATH(
      {
        setenv("HEAPMARK_SLAB_DECOMMIT", "Eager", 1);
        heapmark::slab::Core::free(heapmark::slab::Core::alloc(64));
      },
      "heapmark slab: HEAPMARK_SLAB_DECOMMIT='Eager' is not one of eager\\|threshold\\|never");
  EXPECT_DEATH(
      {
        setenv("HEAPMARK_PT_RELEASE", "glib", 1);
        heapmark::pt::Core::free(heapmark::pt::Core::alloc(64));
      },
      "heapmark ptmalloc-style: HEAPMARK_PT_RELEASE='glib' is not one of glibc\\|eager\\|decay");
  EXPECT_DEATH(
      {  // ptmalloc-style took this as 1 byte before
        setenv("HEAPMARK_PT_TRIM_THRESHOLD", "1x", 1);
        heapmark::pt::Core::free(heapmark::pt::Core::alloc(64));
      },
      "heapmark ptmalloc-style: HEAPMARK_PT_TRIM_THRESHOLD='1x' is not a size");
  EXPECT_DEATH(
      {
        setenv("HEAPMARK_PT_DECAY_THREAD", "yes", 1);
        heapmark::pt::Core::free(heapmark::pt::Core::alloc(64));
      },
      "heapmark ptmalloc-style: HEAPMARK_PT_DECAY_THREAD='yes' is not 0 or 1");
}

TEST(CoreSettings, EverySizeSpellingMeansTheSame) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (const char* value : {"3MiB", "3MB", "3M", "3m", "3145728"}) {
    EXPECT_EXIT(
        {
          setenv("HEAPMARK_BUDDY_DECOMMIT_THRESHOLD", value, 1);
          fprintf(stderr, "threshold=%zu\n", heapmark::buddy::global_heap().threshold());
          _exit(0);
        },
        ::testing::ExitedWithCode(0), "threshold=3145728\n")
        << value;
    EXPECT_EXIT(
        {
          setenv("HEAPMARK_SLAB_DECOMMIT_THRESHOLD", value, 1);
          fprintf(stderr, "threshold=%zu\n", heapmark::slab::page_heap().threshold());
          _exit(0);
        },
        ::testing::ExitedWithCode(0), "threshold=3145728\n")
        << value;
    EXPECT_EXIT(
        {
          setenv("HEAPMARK_PT_TRIM_THRESHOLD", value, 1);
          fprintf(stderr, "trim=%zu\n", heapmark::pt::Core::settings().trim_threshold);
          _exit(0);
        },
        ::testing::ExitedWithCode(0), "trim=3145728\n")
        << value;
  }
  EXPECT_EXIT(
      {
        setenv("HEAPMARK_PT_DECAY_MS", "2s", 1);
        fprintf(stderr, "decay=%u\n", heapmark::pt::Core::settings().decay_ms);
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "decay=2000\n");
}

}  // namespace
