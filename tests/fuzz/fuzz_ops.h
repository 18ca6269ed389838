// Differential fuzz target, typed over an API (tests/conformance/api.h): the
// input is a sequence of malloc/free/realloc/memalign/calloc/posix_memalign/
// check operations on 32 slots, executed both on the allocator and on a
// reference model (each slot's size, alignment and expected bytes). After every
// operation the allocator must agree with the model: blocks aligned, usable
// size >= requested, contents preserved (realloc keeps the common prefix,
// calloc is zero), and no two live blocks overlap. Any disagreement aborts.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "core_api.h"

namespace heapmark::testing {

[[noreturn]] inline void fuzz_fail(const char* what) {
  fprintf(stderr, "fuzz: model disagreement: %s\n", what);
  abort();
}

template <class Api>
struct FuzzModel {
  struct Slot {
    unsigned char* p = nullptr;
    size_t size = 0;
    size_t align = 16;
    uint8_t fill = 0;  // every byte of the block holds fill (the model's contents)
  };
  static constexpr size_t kSlots = 32;
  Slot slots[kSlots];

  static bool holds(const Slot& s) {
    size_t step = s.size > 4096 ? 251 : 1;
    for (size_t i = 0; i < s.size; i += step)
      if (s.p[i] != s.fill) return false;
    return s.size == 0 || s.p[s.size - 1] == s.fill;
  }
  void check_one(const Slot& s) {
    if (!s.p) return;
    if (reinterpret_cast<uintptr_t>(s.p) % s.align) fuzz_fail("misaligned block");
    if (Api::malloc_usable_size(s.p) < s.size) fuzz_fail("usable size below the request");
    if (!holds(s)) fuzz_fail("contents changed");
  }
  void check_all() {
    std::pair<uintptr_t, uintptr_t> r[kSlots];
    size_t n = 0;
    for (const Slot& s : slots)
      if (s.p) {
        check_one(s);
        r[n++] = {reinterpret_cast<uintptr_t>(s.p), reinterpret_cast<uintptr_t>(s.p) + (s.size ? s.size : 1)};
      }
    std::sort(r, r + n);
    for (size_t i = 1; i < n; ++i)
      if (r[i].first < r[i - 1].second) fuzz_fail("live blocks overlap");
  }
  void drop(Slot& s) {
    if (!s.p) return;
    check_one(s);
    Api::free(s.p);
    s = Slot{};
  }
  void set(Slot& s, void* p, size_t size, size_t align, uint8_t fill) {
    if (!p) fuzz_fail("allocation failed");
    s = Slot{static_cast<unsigned char*>(p), size, align < 16 ? 16 : align, fill};
    memset(s.p, fill, size);
  }

  void run(const uint8_t* data, size_t len) {
    size_t i = 0;
    auto byte = [&]() -> uint8_t { return i < len ? data[i++] : 0; };
    // Sizes: mostly small, sometimes up to 64 KiB, rarely up to 8 MiB (huge paths).
    auto size = [&]() -> size_t {
      uint8_t k = byte();
      size_t v = size_t(byte()) | size_t(byte()) << 8;
      if (k < 160) return v % 512;
      if (k < 250) return v;
      return v * 128;
    };
    while (i < len) {
      uint8_t op = byte();
      Slot& s = slots[byte() % kSlots];
      uint8_t fill = byte();
      switch (op % 8) {
        case 0:
        case 1: {
          drop(s);
          size_t n = size();
          set(s, Api::malloc(n), n, 16, fill);
          break;
        }
        case 2: drop(s); break;
        case 3: {  // realloc keeps min(old, new) bytes
          size_t n = size();
          if (!s.p) {
            set(s, Api::realloc(nullptr, n), n, 16, fill);
            break;
          }
          check_one(s);
          if (n == 0) {
            if (Api::realloc(s.p, 0) != nullptr) fuzz_fail("realloc(p, 0) returned a block");
            s = Slot{};
            break;
          }
          auto* q = static_cast<unsigned char*>(Api::realloc(s.p, n));
          if (!q) fuzz_fail("realloc failed");
          size_t keep = std::min(s.size, n);
          Slot kept{q, keep, 16, s.fill};
          if (!holds(kept)) fuzz_fail("realloc lost contents");
          set(s, q, n, 16, fill);
          break;
        }
        case 4: {
          drop(s);
          size_t align = size_t(1) << (byte() % 17);
          size_t n = size();
          void* p = Api::memalign(align, n);
          set(s, p, n, align, fill);
          break;
        }
        case 5: {
          drop(s);
          size_t n = size();
          auto* p = static_cast<unsigned char*>(Api::calloc(1, n));
          if (!p) fuzz_fail("calloc failed");
          Slot z{p, n, 16, 0};
          if (!holds(z)) fuzz_fail("calloc memory not zero");
          set(s, p, n, 16, fill);
          break;
        }
        case 6: {
          drop(s);
          size_t align = size_t(8) << (byte() % 14);
          size_t n = size();
          void* p = nullptr;
          if (Api::posix_memalign(&p, align, n) != 0) fuzz_fail("posix_memalign failed");
          set(s, p, n, align, fill);
          break;
        }
        default: check_all(); break;
      }
    }
    check_all();
    for (Slot& s : slots) drop(s);
  }
};

}  // namespace heapmark::testing
