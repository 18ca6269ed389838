// Slab size classes and slab geometry, computed at compile time.
//
// Classes: 16..128 in steps of 16, then eight classes per power of two
// (2^k + j*2^(k-3), j = 1..8) up to 16 KiB, as mimalloc spaces them, but
// sixteen (1,024 + j*64) between 1 KiB and 2 KiB: 72 classes (kSplitBits).
// - Four per power of two waste up to 25%: sqlite's page-cache entries of 4 KiB
//   and a few hundred bytes took 5 KiB; with four up to 1 KiB and eight above
//   (52 classes), redis peaked at 104 MB, with eight from 128 B on at 95.
// - Sixteen in (1 KiB, 2 KiB]: sqlite's churn (suite program) peaks with 18,800
//   live objects of 1,032 B (1 KiB and sqlite's 8-byte size prefix); as 1,152 B
//   objects its peak RSS was 47,800 KiB (glibc 43,300), as 1,088 B ones (30 to
//   a 32 KiB slab) 46,400. Sixteen everywhere from 1 KiB on saved no more there
//   (its other 4,700 objects of 4,368 B stay at 4,608) and cost a partly used
//   slab for every class a program touches: py-json peaked at 36,000 KiB
//   against 34,400, the packets generator (reassembly buffers grown by realloc)
//   at 16,800 against 15,600.
// Neighbouring classes share a lock (internal.h: ThreadSanitizer's limit).
// Internal waste bound (tested for every size, tests/unit/slab_test.cc):
//   class_size(n) - n < max(16, n / 8), and < n / 16 in (1 KiB, 2 KiB]
// i.e. under 16 bytes (the alignment quantum) up to 128 B, under 12.5% above
// and under 6.25% between 1 and 2 KiB.
// Slab geometry: each class uses the smallest power-of-two slab in
// [16 KiB, 256 KiB] holding at least 8 objects whose remainder (what neither
// objects nor the header use) is at most 1/16 of the slab: 1,088 B objects
// leave 1,072 B of a 16 KiB slab (6.5%) and 32 B of a 32 KiB one. (The rule was
// a tail of at most 1/8 with the header counted in it; 1,664, 3,328, 6,656 and
// 13,312 B had slabs half their size now. The figures above are with this rule.)
// The header at the slab's end is a fixed part plus one state byte per object
// (allocated or not), so the hardening checks need no atomic read-modify-write:
// 1/17 of a 16 KiB slab of 16 B objects, 1/65 of one of 64 B objects.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace heapmark::slab {

inline constexpr unsigned kMaxClassOrder = 14;
inline constexpr size_t kMaxClass = size_t(1) << kMaxClassOrder;
// Classes per power of two, as a power of two, for sizes in (2^k, 2^(k+1)]:
// eight from 128 B up, sixteen for (1 KiB, 2 KiB].
inline constexpr uint8_t kSplitBits[kMaxClassOrder] = {0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 4, 3, 3, 3};
struct OrderTable {
  uint16_t first[kMaxClassOrder + 1] = {};  // the first class above 2^k
};
constexpr OrderTable order_table() {
  OrderTable t{};
  unsigned c = 8;  // 16..128 in steps of 16
  for (unsigned k = 7; k <= kMaxClassOrder; ++k) {
    t.first[k] = uint16_t(c);
    if (k < kMaxClassOrder) c += 1u << kSplitBits[k];
  }
  return t;
}
inline constexpr OrderTable kOrders = order_table();
inline constexpr unsigned kClasses = kOrders.first[kMaxClassOrder];
inline constexpr size_t kSlabFixedHeaderBytes = 64;  // sizeof(Slab); checked in internal.h
inline constexpr unsigned kMaxObjectsPerSlab = 1024;
// What a thread's magazine of one class holds at most, in bytes of objects
// (between 2 and 64 objects). Objects freed into a magazine serve only its
// thread, so every thread keeps up to this much of every class it frees, where
// other threads cannot reuse it: py-threads (four threads whose lists grow
// through every class from 416 B to 16 KiB) peaked at 19.6 MiB with 64 KiB and at
// least 8 objects, 17.8 MiB with 32 KiB and 17.3 MiB with 16 KiB (glibc 16.5).
// Classes up to 256 B still hold 64 objects (a refill or flush moves 32 under
// one lock); a 4 KiB class takes the class lock every second object at most.
inline constexpr size_t kMagazineBytes = 16384;

constexpr size_t class_size(unsigned cls) {
  if (cls < 8) return 16 * (cls + 1);
  unsigned k = 7;
  while (k + 1 < kMaxClassOrder && cls >= kOrders.first[k + 1]) ++k;
  return (size_t(1) << k) + (cls - kOrders.first[k] + 1) * (size_t(1) << (k - kSplitBits[k]));
}

// Smallest class holding n bytes (1 <= n <= kMaxClass).
constexpr unsigned class_of(size_t n) {
  if (n <= 128) return unsigned((n + 15) / 16) - 1 + (n == 0);
  unsigned k = 63 - unsigned(__builtin_clzll(n - 1));  // n in (2^k, 2^(k+1)]
  return kOrders.first[k] + unsigned((n - 1 - (size_t(1) << k)) >> (k - kSplitBits[k]));
}

struct Geometry {
  size_t slab_bytes;
  unsigned capacity;
  unsigned slab_order;
  uint64_t inv;         // (2^40 / size) + 1: offset -> index without a division
  size_t header_bytes;  // fixed header + one state byte per object, 16-byte multiple
};

constexpr size_t header_bytes_for(size_t capacity) { return (kSlabFixedHeaderBytes + capacity + 15) & ~size_t(15); }

// Objects of `size` bytes a slab of `slab_bytes` holds beside its header.
constexpr size_t capacity_for(size_t slab_bytes, size_t size) {
  size_t cap = (slab_bytes - kSlabFixedHeaderBytes - 15) / (size + 1);
  return cap > kMaxObjectsPerSlab ? kMaxObjectsPerSlab : cap;
}

// The geometry rule for one slab size: at least 8 objects, and a remainder
// (what neither the objects nor the header use) of at most 1/16 of the slab.
constexpr bool slab_fits(size_t slab_bytes, size_t size) {
  size_t cap = capacity_for(slab_bytes, size);
  return cap >= 8 && (slab_bytes - cap * size - header_bytes_for(cap)) * 16 <= slab_bytes;
}

constexpr Geometry geometry(unsigned cls) {
  size_t c = class_size(cls);
  for (unsigned order = 14; order <= 18; ++order) {
    size_t s = size_t(1) << order;
    if (slab_fits(s, c) || order == 18) {
      size_t cap = capacity_for(s, c);
      return Geometry{s, unsigned(cap), order, (uint64_t(1) << 40) / c + 1, header_bytes_for(cap)};
    }
  }
  return Geometry{};
}

// Object capacity for a magazine of this class: kMagazineBytes of objects, 2..64.
constexpr unsigned magazine_cap(unsigned cls) {
  size_t m = kMagazineBytes / class_size(cls);
  return unsigned(m < 2 ? 2 : m > 64 ? 64 : m);
}

}  // namespace heapmark::slab
