// The trace replay's map from a recorded block id to the executor slot of the
// live block (trace.cc describes the replay): partitions of linear probing
// tables with backward-shift deletion (no tombstones), each under its own lock.
// Every replayed event looks it up, so it is inline.
#pragma once
#include <stdint.h>

#include <new>

#include "workloads/scratch.h"
#include "workloads/trace_replay.h"

namespace heapmark::workloads::trace_replay {

class LiveMap {
 public:
  struct Entry {
    uint64_t key;  // recorded id + 1; 0 = empty
    uint32_t slot;
    uint32_t owner;  // the thread that made the block
    uint64_t chunk;  // the owner's op chunk that made it: it exists once the owner's executed count reaches this
  };
  enum class Take { kTaken, kPending, kAbsent };

  LiveMap(uint64_t blocks, uint32_t parts, bool shared, const Lane* lanes, Scratch& s)
      : parts_(s.array<Part>(parts)), part_bits_(__builtin_ctz(parts)), shared_(shared), lanes_(lanes) {
    const uint64_t cap = part_capacity(blocks, parts);
    for (uint32_t i = 0; i < parts; ++i) {
      new (&parts_[i]) Part;
      parts_[i].capacity = cap;
      parts_[i].e = s.array<Entry>(cap);
    }
  }

  void prefetch(uint64_t id) const noexcept {
    const uint64_t h = mix(id + 1);
    const Part& p = parts_[part_bits_ ? h >> (64 - part_bits_) : 0];
    // As an asm statement: GCC 12 at -O2 drops a __builtin_prefetch here.
    asm volatile("prefetcht0 %0" : : "m"(*reinterpret_cast<const char*>(&p.e[home(p, h)])));
  }

  // False when the partition is full (the slot bound was wrong).
  bool insert(uint64_t id, uint32_t slot, uint32_t owner, uint64_t chunk) noexcept {
    const uint64_t h = mix(id + 1);
    Part& p = part(h);
    p.lock.lock(shared_);
    const bool ok = p.used + 1 < p.capacity;
    if (ok) {
      uint64_t i = home(p, h);
      while (p.e[i].key != 0) i = step(p, i);
      p.e[i] = Entry{id + 1, slot, owner, chunk};
      ++p.used;
    }
    p.lock.unlock(shared_);
    return ok;
  }

  // Removes the block `id` for thread `self` when it exists by now (made by
  // self, or made in a chunk its owner has executed).
  Take take(uint64_t id, uint32_t self, uint32_t& slot) noexcept {
    const uint64_t h = mix(id + 1);
    Part& p = part(h);
    p.lock.lock(shared_);
    Take r = Take::kAbsent;
    uint64_t i = home(p, h);
    for (; p.e[i].key != 0; i = step(p, i)) {
      if (p.e[i].key != id + 1) continue;
      const Entry& x = p.e[i];
      if (x.owner != self && lanes_[x.owner].executed.load(std::memory_order_acquire) < x.chunk) {
        r = Take::kPending;
        break;
      }
      slot = x.slot;
      erase_at(p, i);
      r = Take::kTaken;
      break;
    }
    p.lock.unlock(shared_);
    return r;
  }

 private:
  struct alignas(64) Part {
    Lock lock;
    uint64_t capacity = 0;
    uint64_t used = 0;
    Entry* e = nullptr;
  };
  // Load at most 3/4 (linear probing stays short there), any capacity: the
  // home position is the hash scaled to it, not masked.
  static uint64_t part_capacity(uint64_t blocks, uint32_t parts) { return (blocks / parts) * 4 / 3 + 64 + 8 * parts; }
  static uint64_t home(const Part& p, uint64_t h) noexcept {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(h << 8) * p.capacity) >> 64);
  }
  static uint64_t step(const Part& p, uint64_t i) noexcept { return i + 1 == p.capacity ? 0 : i + 1; }
  // Cyclic distance from a to b going forward.
  static uint64_t dist(const Part& p, uint64_t a, uint64_t b) noexcept { return b >= a ? b - a : b + p.capacity - a; }
  Part& part(uint64_t h) noexcept { return parts_[part_bits_ ? h >> (64 - part_bits_) : 0]; }
  static void erase_at(Part& p, uint64_t i) noexcept {
    // Backward shift: move later entries of the run up so no probe sequence breaks.
    for (uint64_t j = step(p, i); p.e[j].key != 0; j = step(p, j)) {
      const uint64_t h = home(p, mix(p.e[j].key));
      // e[j] may fill the hole at i when its home is not in (i, j] (cyclically).
      if (dist(p, h, j) >= dist(p, i, j)) {
        p.e[i] = p.e[j];
        i = j;
      }
    }
    p.e[i].key = 0;
    --p.used;
  }

  Part* parts_;
  int part_bits_;
  bool shared_;
  const Lane* lanes_;
};

}  // namespace heapmark::workloads::trace_replay
