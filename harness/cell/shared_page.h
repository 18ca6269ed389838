// One page shared by a cell and its runner (a memfd the runner creates and
// passes as fd 4). The cell publishes its live requested bytes after every
// operation; the runner reads them with each statm sample, so R(t) and L(t)
// are sampled at the same instants. Relaxed stores: a stale value by one op
// is fine at 1 kHz.
#pragma once
#include <atomic>
#include <cstdint>

namespace heapmark::cell {

struct SharedPage {
  std::atomic<uint64_t> live_bytes;
  std::atomic<uint64_t> ops;
  std::atomic<uint32_t> phase;     // index of the running phase + 1; 0 before the first
  std::atomic<uint64_t> clock_ms;  // the program's own clock (a replay: the recorded time it has reached); 0: none
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

inline constexpr int kEventFd = 3;
inline constexpr int kSharedFd = 4;

}  // namespace heapmark::cell
