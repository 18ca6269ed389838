// Self-checking multi-threaded stress program, typed over an API
// (tests/conformance/core_api.h or api.h). Every block gets a header (size,
// key) and a pattern derived from the key; the pattern is verified before
// every free and after every realloc, so corruption shows without a sanitizer. Threads swap
// blocks through a shared exchange table, so many frees happen on another
// thread than the allocation. Sizes: mostly small, some medium, rare large
// (up to 1 MiB), some aligned (memalign / posix_memalign / aligned_alloc) and
// calloc'ed. Flags: --smoke (ctest size, default), --long (by hand),
// --threads N, --ops N (per thread), --seed S.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core_api.h"

namespace heapmark::testing {

struct StressBlock {
  uint64_t size;
  uint64_t key;
};

inline uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

[[noreturn]] inline void stress_fail(const char* what, const void* p, uint64_t size) {
  fprintf(stderr, "stress: %s (block %p, size %llu)\n", what, p, (unsigned long long)size);
  abort();
}

inline uint8_t pattern_byte(uint64_t key, size_t i) {
  return uint8_t(key * 0x9E3779B97F4A7C15ull >> 56) ^ uint8_t(i * 131);
}

inline void fill(void* p, uint64_t size, uint64_t key) {
  auto* b = static_cast<unsigned char*>(p);
  StressBlock h{size, key};
  memcpy(b, &h, sizeof h);
  for (size_t i = sizeof h; i < size; ++i) b[i] = pattern_byte(key, i);
}

// Checks every byte of small blocks and a stride of large ones (plus the tail).
inline void verify(const void* p, uint64_t expect_size) {
  auto* b = static_cast<const unsigned char*>(p);
  StressBlock h;
  memcpy(&h, b, sizeof h);
  if (h.size != expect_size) stress_fail("header overwritten", p, expect_size);
  size_t stride = h.size > 8192 ? 61 : 1;
  for (size_t i = sizeof h; i < h.size; i += stride)
    if (b[i] != pattern_byte(h.key, i)) stress_fail("pattern overwritten", p, h.size);
  if (h.size > sizeof h && b[h.size - 1] != pattern_byte(h.key, h.size - 1)) stress_fail("tail overwritten", p, h.size);
}

template <class Api>
struct Stress {
  struct Slot {
    void* p = nullptr;
    uint64_t size = 0;
  };
  std::vector<std::atomic<Slot*>> exchange;
  uint64_t seed;
  size_t ops;

  Stress(size_t n_exchange, uint64_t s, size_t o) : exchange(n_exchange), seed(s), ops(o) {}

  static size_t pick_size(uint64_t r) {
    unsigned k = r % 1000;
    if (k < 700) return 16 + (r >> 10) % 240;
    if (k < 950) return 256 + (r >> 10) % 8000;
    if (k < 995) return 8192 + (r >> 10) % 120000;
    return 131072 + (r >> 10) % (1 << 20);
  }

  void* allocate(uint64_t r, uint64_t size) {
    switch ((r >> 40) % 16) {
      case 0: return Api::memalign(size_t(32) << ((r >> 44) % 8), size);
      case 1: {
        void* p = nullptr;
        return Api::posix_memalign(&p, size_t(64) << ((r >> 44) % 7), size) == 0 ? p : nullptr;
      }
      case 2: {
        size_t a = size_t(16) << ((r >> 44) % 6);
        return Api::aligned_alloc(a, size);
      }
      case 3: {
        auto* p = static_cast<unsigned char*>(Api::calloc(1, size));
        for (size_t i = 0; p && i < size; i += 97)
          if (p[i]) stress_fail("calloc memory not zero", p, size);
        return p;
      }
      default: return Api::malloc(size);
    }
  }

  void run_thread(unsigned t) {
    constexpr size_t kLocal = 256;
    Slot local[kLocal];
    uint64_t rng = mix(seed * 1000003 + t);
    auto next = [&] { return rng = mix(rng + 0x9E3779B97F4A7C15ull); };
    Slot* own = new Slot;  // the thread's box for the exchange table
    for (size_t i = 0; i < ops; ++i) {
      uint64_t r = next();
      Slot& s = local[r % kLocal];
      unsigned action = (r >> 20) % 100;
      if (s.p && action < 10) {  // realloc: prefix preserved, then re-pattern
        verify(s.p, s.size);
        uint64_t key;
        memcpy(&key, static_cast<char*>(s.p) + 8, 8);
        uint64_t n = pick_size(next());
        void* q = Api::realloc(s.p, n);
        if (!q) stress_fail("realloc failed", s.p, n);
        auto* b = static_cast<const unsigned char*>(q);
        size_t keep = n < s.size ? n : s.size;
        for (size_t k = 16; k < keep; k += (keep > 8192 ? 61 : 1))
          if (b[k] != pattern_byte(key, k)) stress_fail("realloc lost contents", q, n);
        fill(q, n, next());
        s = {q, n};
      } else if (s.p && action < 30) {  // swap through the exchange table: cross-thread free
        own->p = s.p;
        own->size = s.size;
        Slot* got = exchange[next() % exchange.size()].exchange(own, std::memory_order_acq_rel);
        s = {};
        own = got ? got : new Slot;
        if (got && got->p) {
          verify(got->p, got->size);
          Api::free(got->p);
          got->p = nullptr;
        }
      } else if (s.p) {
        verify(s.p, s.size);
        Api::free(s.p);
        s = {};
      } else {
        uint64_t n = pick_size(r);
        void* p = allocate(next(), n);
        if (!p) stress_fail("allocation failed", nullptr, n);
        if (reinterpret_cast<uintptr_t>(p) % 16) stress_fail("block not 16-byte aligned", p, n);
        if (Api::malloc_usable_size(p) < n) stress_fail("usable size below request", p, n);
        fill(p, n, next());
        s = {p, n};
      }
    }
    for (Slot& s : local)
      if (s.p) {
        verify(s.p, s.size);
        Api::free(s.p);
      }
    delete own;
  }

  void drain() {
    for (auto& e : exchange) {
      Slot* s = e.exchange(nullptr);
      if (s && s->p) {
        verify(s->p, s->size);
        Api::free(s->p);
      }
      delete s;
    }
  }
};

template <class Api>
int stress_main(int argc, char** argv) {
  unsigned threads = 4;
  size_t ops = 8000;  // --smoke: a few seconds even under TSan
  uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--smoke")) {
      ops = 8000;
    } else if (!strcmp(argv[i], "--long")) {
      threads = 8;
      ops = 5000000;
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = unsigned(atoi(argv[++i]));
    } else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
      ops = size_t(atoll(argv[++i]));
    } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
      seed = uint64_t(atoll(argv[++i]));
    } else {
      fprintf(stderr, "usage: %s [--smoke|--long] [--threads N] [--ops N] [--seed S]\n", argv[0]);
      return 2;
    }
  }
  if (const char* want = getenv("HEAPMARK_EXPECT_ALLOCATOR")) {
    if (strcmp(Api::name(), want) != 0) {
      fprintf(stderr, "stress: allocator is '%s', expected '%s'\n", Api::name(), want);
      return 1;
    }
  }
  Stress<Api> st(512, seed, ops);
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; ++t) ts.emplace_back([&st, t] { st.run_thread(t); });
  for (auto& th : ts) th.join();
  st.drain();
  // What the run gave back to the system while it ran and what the final
  // release() added (the OS contract's tallies: a core's own pages; through a
  // preload they live in the preloaded library and read 0 here).
  size_t before = 0, after = 0;
  if constexpr (!Api::kPreload) before = heapmark::os::counters().decommitted;
  Api::release();
  if constexpr (!Api::kPreload) after = heapmark::os::counters().decommitted;
  printf("stress: %u threads x %zu ops, seed %llu: ok (%s), %zu bytes decommitted during the run, %zu by release()\n",
         threads, ops, (unsigned long long)seed, Api::name(), before, after - before);
  return 0;
}

}  // namespace heapmark::testing
