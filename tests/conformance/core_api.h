// The "API" over a Core that the shared harnesses (conformance, stress, fuzz)
// are written against: the Core wrapped in the shim's C semantics (prefixed
// API, no symbol override: runs under ASan/TSan, and in the Windows build).
// api.h adds the other API, the process's own malloc symbols.
#pragma once
#include "shim/introspect.h"
#include "shim/libc_semantics.h"

namespace heapmark::testing {

template <class Core>
struct CoreApi : heapmark::shim::LibC<Core> {
  static constexpr bool kPreload = false;
  // Whether the core gives free pages back on release (a core says so with kReleases = false).
  static constexpr bool kReleases = [] {
    if constexpr (requires { Core::kReleases; }) return Core::kReleases;
    return true;
  }();
  static bool owns(const void* p) { return Core::owns(p); }
  static void release() { Core::release(); }
  static size_t stats(heapmark_stat* out, size_t max) { return Core::stats(out, max); }
  static const char* name() { return Core::name(); }
};

}  // namespace heapmark::testing
