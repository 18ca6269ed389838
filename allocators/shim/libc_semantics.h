// C semantics of the malloc family over an allocator Core (the middle of the
// three layers: core -> libc_semantics.h -> export_malloc.inc).
//
// How another allocator uses it: write a Core satisfying shim::AllocatorCore
// (shim/core_concept.h: the functions and their preconditions), then call
// heapmark::shim::LibC<Core>::malloc(...) etc. The Core only ever sees n > 0,
// p != nullptr and alignments that are powers of two > 16; everything else
// (errno, overflow, zero sizes, NULL pointers, page rounding) is handled here.
//
// Behaviour (glibc 2.36 on x86-64 unless noted):
//  - failure sets errno = ENOMEM; requests above PTRDIFF_MAX fail without
//    reaching the Core;
//  - malloc(0) returns a unique minimum-size block; free(NULL) is a no-op;
//  - calloc checks n*size for overflow and zeroes the block;
//  - realloc(NULL, n) == malloc(n); realloc(p, 0) frees p and returns NULL;
//    a failed realloc leaves p valid;
//  - reallocarray checks overflow (ENOMEM);
//  - posix_memalign returns EINVAL unless align is a power of two multiple of
//    sizeof(void*); aligned_alloc and memalign set errno = EINVAL and return
//    NULL unless align is a power of two (glibc's memalign would round up; the
//    heapmark interface asks for EINVAL); alignments <= 16 are plain malloc;
//  - valloc aligns to the page; pvalloc also rounds the size up to pages
//    (pvalloc(0) returns one page);
//  - malloc_usable_size(NULL) == 0; malloc_trim calls Core::release and returns 1 when it gave memory back;
//  - mallinfo2 is filled from the Core's stats() by name: "in_use_bytes" ->
//    uordblks, "free_bytes" -> fordblks, "mapped_bytes" -> hblkhd,
//    "mapped_count" -> hblks, "committed_bytes" -> arena (absent names give 0).
#pragma once
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "os/os.h"
#include "shim/core_concept.h"
#include "shim/introspect.h"

#if !defined(__GLIBC__)
// Outside glibc (the Windows build) the mallinfo structs are not declared:
// these have glibc's layout, so the same code reports the same fields.
struct mallinfo2 {
  size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
struct mallinfo {
  int arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
#endif

namespace heapmark::shim {

inline constexpr size_t kMinAlign = 16;

inline bool is_pow2(size_t x) noexcept { return x != 0 && (x & (x - 1)) == 0; }

template <class Core>
struct LibC {
  static_assert(AllocatorCore<Core>, "the Core must satisfy heapmark::shim::AllocatorCore (shim/core_concept.h)");

  static void* fail_nomem() noexcept {
    errno = ENOMEM;
    return nullptr;
  }

  static void* malloc(size_t n) noexcept {
    if (n > PTRDIFF_MAX) return fail_nomem();
    void* p = Core::alloc(n == 0 ? 1 : n);
    return p ? p : fail_nomem();
  }

  static void free(void* p) noexcept {
    if (p) Core::free(p);
  }

  static void* calloc(size_t count, size_t size) noexcept {
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) return fail_nomem();
    void* p = malloc(n);
    if (p) memset(p, 0, n);
    return p;
  }

  static void* realloc(void* p, size_t n) noexcept {
    if (!p) return malloc(n);
    if (n == 0) {
      Core::free(p);
      return nullptr;
    }
    if (n > PTRDIFF_MAX) return fail_nomem();
    void* q = Core::realloc(p, n);
    return q ? q : fail_nomem();
  }

  static void* reallocarray(void* p, size_t count, size_t size) noexcept {
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) return fail_nomem();
    return realloc(p, n);
  }

  // align already validated as a power of two.
  static void* aligned(size_t align, size_t n) noexcept {
    if (n > PTRDIFF_MAX) return fail_nomem();
    if (n == 0) n = 1;
    void* p = align <= kMinAlign ? Core::alloc(n) : Core::alloc_aligned(align, n);
    return p ? p : fail_nomem();
  }

  static void* memalign(size_t align, size_t n) noexcept {
    if (align <= kMinAlign) return malloc(n);  // glibc: small alignments are malloc
    if (!is_pow2(align)) {
      errno = EINVAL;
      return nullptr;
    }
    return aligned(align, n);
  }

  static void* aligned_alloc(size_t align, size_t n) noexcept {
    if (!is_pow2(align)) {
      errno = EINVAL;
      return nullptr;
    }
    return aligned(align, n);
  }

  static int posix_memalign(void** out, size_t align, size_t n) noexcept {
    if (!is_pow2(align) || align % sizeof(void*) != 0) return EINVAL;
    const int saved = errno;  // posix_memalign reports through its result, not errno
    void* p = aligned(align, n);
    errno = saved;
    if (!p) return ENOMEM;
    *out = p;
    return 0;
  }

  static void* valloc(size_t n) noexcept { return aligned(os::page_size(), n); }

  static void* pvalloc(size_t n) noexcept {
    const size_t page = os::page_size();
    if (n > PTRDIFF_MAX - page) return fail_nomem();
    size_t r = (n + page - 1) & ~(page - 1);
    return aligned(page, r == 0 ? page : r);
  }

  static size_t malloc_usable_size(void* p) noexcept { return p ? Core::usable_size(p) : 0; }

  // glibc's contract: 1 when memory went back to the system, else 0. The OS
  // contract's tallies say whether the release decommitted or released anything.
  static int malloc_trim(size_t) noexcept {
    const os::Counters before = os::counters();
    Core::release();
    const os::Counters after = os::counters();
    return after.decommitted + after.released > before.decommitted + before.released ? 1 : 0;
  }

  static unsigned long long stat_named(const heapmark_stat* s, size_t n, const char* name) noexcept {
    for (size_t i = 0; i < n; ++i)
      if (s[i].name && strcmp(s[i].name, name) == 0) return s[i].value;
    return 0;
  }

  static struct mallinfo2 mallinfo2() noexcept {
    heapmark_stat s[256];
    size_t n = Core::stats(s, 256);
    struct mallinfo2 m;
    memset(&m, 0, sizeof m);
    m.arena = stat_named(s, n, "committed_bytes");
    m.uordblks = stat_named(s, n, "in_use_bytes");
    m.fordblks = stat_named(s, n, "free_bytes");
    m.hblkhd = stat_named(s, n, "mapped_bytes");
    m.hblks = stat_named(s, n, "mapped_count");
    return m;
  }

  static struct mallinfo mallinfo() noexcept {
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo m;
    memset(&m, 0, sizeof m);
    m.arena = static_cast<int>(m2.arena);
    m.uordblks = static_cast<int>(m2.uordblks);
    m.fordblks = static_cast<int>(m2.fordblks);
    m.hblkhd = static_cast<int>(m2.hblkhd);
    m.hblks = static_cast<int>(m2.hblks);
    return m;
  }
};

}  // namespace heapmark::shim
