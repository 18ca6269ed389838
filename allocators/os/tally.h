// The contract's byte counters (os.h, Counters): kept in os.cc, added to by
// each platform's implementation as it makes its calls.
#pragma once
#include <stddef.h>

#include <atomic>

namespace heapmark::os::tally {

extern std::atomic<size_t> reserved, committed, decommitted, released;

inline void add(std::atomic<size_t>& counter, size_t bytes) noexcept {
  counter.fetch_add(bytes, std::memory_order_relaxed);
}

}  // namespace heapmark::os::tally
