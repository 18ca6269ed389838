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

// When the allocator cannot serve operator new, the C++ runtime's own failure
// path runs (the library finds it at run time): the new_handler is called before
// std::bad_alloc is thrown, and a nothrow form returns null when the handler
// throws.
int g_handler_calls = 0;
void handler_that_gives_up() {
  ++g_handler_calls;
  std::set_new_handler(nullptr);  // the next failure throws
}
void handler_that_throws() {
  ++g_handler_calls;
  throw std::bad_alloc();
}

TEST(PreloadNew, TheNewHandlerRunsBeforeBadAllocAndNothrowFormsCatchWhatItThrows) {
  struct Forms {
    const char* name;
    void* (*throwing)();
    void* (*nothrow)();
  };
  const Forms forms[] = {
      {"plain", [] { return ::operator new(SIZE_MAX / 2); }, [] { return ::operator new(SIZE_MAX / 2, std::nothrow); }},
      {"aligned", [] { return ::operator new[](SIZE_MAX / 2, std::align_val_t(64)); },
       [] { return ::operator new(SIZE_MAX / 2, std::align_val_t(64), std::nothrow); }},
  };
  for (const Forms& f : forms) {
    g_handler_calls = 0;
    std::set_new_handler(handler_that_gives_up);
    EXPECT_THROW((void)f.throwing(), std::bad_alloc) << f.name;
    EXPECT_EQ(g_handler_calls, 1) << f.name << ": the handler runs once, then bad_alloc";
    g_handler_calls = 0;
    std::set_new_handler(handler_that_throws);
    EXPECT_THROW((void)f.throwing(), std::bad_alloc) << f.name;
    EXPECT_EQ(f.nothrow(), nullptr) << f.name;
    EXPECT_EQ(g_handler_calls, 2) << f.name << ": the handler runs in the nothrow form too";
    std::set_new_handler(nullptr);
  }
}
}  // namespace heapmark::testing
