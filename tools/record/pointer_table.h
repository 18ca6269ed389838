// The recorder's pointer -> block id table, inline: every recorded malloc
// inserts and every free removes.
//
// A two-level radix tree over the address, so its cost does not depend on how
// many blocks are live: a root of one entry per 2 MiB region of the 47-bit user
// address space (512 MiB reserved, touched sparsely) points to a leaf of one
// 8-byte slot per 32 bytes (512 KiB reserved per region that ever held a
// block; its pages are touched only where blocks land: at most a quarter of
// the heap's span, and they count in the RSS samples). Insert is one CAS on an
// empty slot and remove one CAS back to empty: no probing, no tombstones, no
// capacity. A slot holds ((id + 1) << 2) | the block's 8-byte quarter of the
// 32 bytes. glibc's chunks are 32 bytes apart at least, so under glibc a slot
// never holds two blocks; a second block in the same 32 bytes (the 8 and 16
// byte classes of jemalloc, mimalloc, tcmalloc), a block not 8-aligned or one
// above 2^47 goes to a small locked overflow table instead.
//
// The recorder's own resident pages (they are in the program's RSS samples, so
// each sample says how many are the recorder's): the pages of the table it has
// touched, counted as they are first touched (a bit per page; pages are never
// given back), the buffers and the overflow table.
#pragma once
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include <atomic>

#include "tools/record/internal.h"

#pragma GCC visibility push(hidden)

namespace heapmark::record {

constexpr unsigned kRegionBits = 21, kAddressBits = 47, kSlotShift = 5;
constexpr size_t kRootEntries = size_t{1} << (kAddressBits - kRegionBits);
constexpr size_t kLeafSlots = size_t{1} << (kRegionBits - kSlotShift);
constexpr size_t kSlotsPerPage = 4096 / sizeof(uint64_t);
struct Leaf {
  std::atomic<uint64_t> slot[kLeafSlots];
  std::atomic<uint64_t> touched[kLeafSlots / kSlotsPerPage / 64];  // a bit per page of `slot`
};
// The table's state (pointer_table.cc).
extern std::atomic<Leaf*>* g_root;
extern std::atomic<uint64_t> g_root_touched[kRootEntries * sizeof(void*) / 4096 / 64];
extern std::atomic<uint64_t> g_own_pages;  // table pages touched (root, leaves with their bit page) and overflow pages

// Counts page `page` of a bitmap's region once, when its bit is first set.
inline void touch_page(std::atomic<uint64_t>* bits, size_t page) {
  const uint64_t bit = uint64_t{1} << (page % 64);
  std::atomic<uint64_t>& w = bits[page / 64];
  if ((w.load(std::memory_order_relaxed) & bit) == 0 && (w.fetch_or(bit, std::memory_order_relaxed) & bit) == 0)
    g_own_pages.fetch_add(1, std::memory_order_relaxed);
}

inline std::atomic<uint64_t>* slot_for(uintptr_t key, bool create) {
  const size_t r = key >> kRegionBits;
  Leaf* leaf = g_root[r].load(std::memory_order_acquire);
  if (!leaf) {
    if (!create) return nullptr;
    void* m = mmap(nullptr, sizeof(Leaf), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    Leaf* expected = nullptr;
    if (g_root[r].compare_exchange_strong(expected, static_cast<Leaf*>(m), std::memory_order_acq_rel)) {
      leaf = static_cast<Leaf*>(m);
      touch_page(g_root_touched, r * sizeof(void*) / 4096);
      g_own_pages.fetch_add(1, std::memory_order_relaxed);  // the page of its bits
    } else {
      munmap(m, sizeof(Leaf));
      leaf = expected;
    }
  }
  const size_t i = (key & ((uintptr_t{1} << kRegionBits) - 1)) >> kSlotShift;
  if (create) touch_page(leaf->touched, i / kSlotsPerPage);
  return &leaf->slot[i];
}

// Open addressing with backward-shift deletion under one lock (no malloc: a
// pthread mutex and mmap'd storage), doubling at half full.
class Overflow {
 public:
  bool insert(uintptr_t key, uint64_t id) {
    Lock l(mu_);
    if (2 * (used_ + 1) > cap_ && !grow()) return false;
    put(key, id);
    ++used_;
    count_.store(used_, std::memory_order_release);
    return true;
  }
  bool remove(uintptr_t key, uint64_t& id) {
    if (count_.load(std::memory_order_acquire) == 0) return false;
    Lock l(mu_);
    if (cap_ == 0) return false;
    size_t i = home(key);
    while (e_[i].key != key) {
      if (e_[i].key == 0) return false;
      i = (i + 1) & (cap_ - 1);
    }
    id = e_[i].id;
    // Backward shift: pull later entries of the run into the hole, so no tombstone is left.
    for (size_t j = (i + 1) & (cap_ - 1); e_[j].key != 0; j = (j + 1) & (cap_ - 1)) {
      const size_t h = home(e_[j].key);
      if (((j - h) & (cap_ - 1)) >= ((j - i) & (cap_ - 1))) {
        e_[i] = e_[j];
        i = j;
      }
    }
    e_[i] = Entry{};
    --used_;
    count_.store(used_, std::memory_order_release);
    return true;
  }

 private:
  struct Entry {
    uintptr_t key;
    uint64_t id;
  };
  struct Lock {
    explicit Lock(pthread_mutex_t& m) : m_(m) { pthread_mutex_lock(&m_); }
    ~Lock() { pthread_mutex_unlock(&m_); }
    pthread_mutex_t& m_;
  };
  size_t home(uintptr_t key) const { return static_cast<size_t>((key * 0x9e3779b97f4a7c15ull) >> shift_); }
  void put(uintptr_t key, uint64_t id) {
    size_t i = home(key);
    while (e_[i].key != 0) i = (i + 1) & (cap_ - 1);
    e_[i] = Entry{key, id};
  }
  bool grow() {
    const size_t cap = cap_ ? 2 * cap_ : 4096;
    void* m = mmap(nullptr, cap * sizeof(Entry), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return false;
    g_own_pages.fetch_add((cap - cap_) * sizeof(Entry) / 4096, std::memory_order_relaxed);  // the old table goes
    Entry* old = e_;
    const size_t old_cap = cap_;
    e_ = static_cast<Entry*>(m);
    cap_ = cap;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(cap));
    for (size_t i = 0; i < old_cap; ++i)
      if (old[i].key != 0) put(old[i].key, old[i].id);
    if (old) munmap(old, old_cap * sizeof(Entry));
    return true;
  }

  pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
  Entry* e_ = nullptr;
  size_t cap_ = 0, used_ = 0;
  unsigned shift_ = 64;
  std::atomic<size_t> count_{0};
};
extern Overflow g_overflow;

inline bool table_insert(const void* ptr, uint64_t id) {
  const auto key = reinterpret_cast<uintptr_t>(ptr);
  if ((key & 7) == 0 && key < (uintptr_t{1} << kAddressBits)) {
    if (std::atomic<uint64_t>* s = slot_for(key, true)) {
      uint64_t empty = 0;
      if (s->compare_exchange_strong(empty, ((id + 1) << 2) | ((key >> 3) & 3), std::memory_order_acq_rel)) return true;
    }
  }
  if (g_overflow.insert(key, id)) return true;
  lose(tr::kLostTableMemory);
  return false;
}

// Removes `ptr`; false when it was never recorded (allocated before recording).
inline bool table_remove(const void* ptr, uint64_t& id) {
  const auto key = reinterpret_cast<uintptr_t>(ptr);
  if ((key & 7) == 0 && key < (uintptr_t{1} << kAddressBits)) {
    if (std::atomic<uint64_t>* s = slot_for(key, false)) {
      // A slot whose quarter matches holds this block: a block in another
      // quarter lives at another address, so it cannot be this one.
      uint64_t v = s->load(std::memory_order_acquire);
      if (v != 0 && (v & 3) == ((key >> 3) & 3) && s->compare_exchange_strong(v, 0, std::memory_order_acq_rel)) {
        id = (v >> 2) - 1;
        return true;
      }
    }
  }
  return g_overflow.remove(key, id);
}

}  // namespace heapmark::record

#pragma GCC visibility pop
