// The conformance suite run against the process's own malloc symbols, for use
// under LD_PRELOAD=lib<allocator>.so. HEAPMARK_EXPECT_ALLOCATOR names the
// allocator that must be serving malloc (checked through the introspection ABI),
// so a preload that silently failed cannot pass.
#include <stdlib.h>

#include <new>

#include "api.h"
#include "conformance_suite.h"

namespace heapmark::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Preload, Conformance, PreloadApi);

TEST(PreloadIdentity, AllocatorServesMallocAndNew) {
  const char* want = getenv("HEAPMARK_EXPECT_ALLOCATOR");
  ASSERT_NE(want, nullptr) << "set HEAPMARK_EXPECT_ALLOCATOR";
  EXPECT_STREQ(PreloadApi::name(), want);
  void* p = malloc(100);
  EXPECT_TRUE(PreloadApi::owns(p));
  free(p);
  // Every operator new form must come from the allocator too.
  int* a = new int[1000];
  EXPECT_TRUE(PreloadApi::owns(a));
  delete[] a;
  auto* s = new std::string(1000, 'x');
  EXPECT_TRUE(PreloadApi::owns(s));
  delete s;
  struct alignas(256) Big {
    char c[300];
  };
  Big* b = new Big;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 256, 0u);
  EXPECT_TRUE(PreloadApi::owns(b));
  delete b;
  Big* bn = new (std::nothrow) Big[3];
  EXPECT_TRUE(PreloadApi::owns(bn));
  delete[] bn;
  int* n = new (std::nothrow) int;
  EXPECT_TRUE(PreloadApi::owns(n));
  delete n;
  EXPECT_THROW((void)::operator new(SIZE_MAX / 2), std::bad_alloc);
  EXPECT_EQ(::operator new(SIZE_MAX / 2, std::nothrow), nullptr);
  EXPECT_THROW((void)::operator new(SIZE_MAX / 2, std::align_val_t(64)), std::bad_alloc);
  EXPECT_EQ(::operator new[](SIZE_MAX / 2, std::align_val_t(64), std::nothrow), nullptr);
}
}  // namespace heapmark::testing
