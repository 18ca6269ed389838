// The "API" type the shared harnesses (conformance, stress, fuzz) are written
// against: either a Core wrapped in the shim's C semantics (core_api.h) or the
// process's own malloc symbols (run under LD_PRELOAD of an allocator .so).
#pragma once
#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>

#include "core_api.h"
#include "shim/introspect.h"

namespace heapmark::testing {

// Calls through the global symbols; introspection found with dlsym as the harness does.
struct PreloadApi {
  static constexpr bool kPreload = true;
  // Whether the preloaded allocator gives pages back on trim: the ctest entry
  // says HMTEST_RELEASES=0 for one that never does (the trivial test core).
  static bool releases() {
    const char* v = std::getenv("HMTEST_RELEASES");
    return !(v && v[0] == '0');
  }
  template <class F>
  static F sym(const char* n) {
    return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, n));
  }
  static void* malloc(size_t n) { return ::malloc(n); }
  static void free(void* p) { ::free(p); }
  static void* calloc(size_t c, size_t n) { return ::calloc(c, n); }
  static void* realloc(void* p, size_t n) { return ::realloc(p, n); }
  static void* reallocarray(void* p, size_t c, size_t n) { return ::reallocarray(p, c, n); }
  static void* memalign(size_t a, size_t n) { return ::memalign(a, n); }
  static void* aligned_alloc(size_t a, size_t n) { return ::aligned_alloc(a, n); }
  static int posix_memalign(void** o, size_t a, size_t n) { return ::posix_memalign(o, a, n); }
  static void* valloc(size_t n) { return ::valloc(n); }
  static void* pvalloc(size_t n) { return ::pvalloc(n); }
  static size_t malloc_usable_size(void* p) { return ::malloc_usable_size(p); }
  static int malloc_trim(size_t pad) { return ::malloc_trim(pad); }
  static struct mallinfo2 mallinfo2() { return ::mallinfo2(); }
  static bool owns(const void* p) {
    auto f = sym<int (*)(const void*)>("heapmark_allocator_owns");
    return f && f(p);
  }
  static void release() {
    if (auto f = sym<void (*)()>("heapmark_allocator_release")) f();
  }
  static size_t stats(heapmark_stat* out, size_t max) {
    auto f = sym<size_t (*)(heapmark_stat*, size_t)>("heapmark_allocator_stats");
    return f ? f(out, max) : 0;
  }
  static const char* name() {
    auto f = sym<const char* (*)()>("heapmark_allocator_name");
    return f ? f() : "";
  }
};

}  // namespace heapmark::testing
