// The part of the OS contract (os.h) every platform shares: the byte counters
// and reserve_committed. The system calls are in os_linux.cc and os_windows.cc.
#include "os.h"

#include "tally.h"

namespace heapmark::os {

namespace tally {
constinit std::atomic<size_t> reserved{0}, committed{0}, decommitted{0}, released{0};
}  // namespace tally

Counters counters() noexcept {
  return Counters{tally::reserved.load(std::memory_order_relaxed), tally::committed.load(std::memory_order_relaxed),
                  tally::decommitted.load(std::memory_order_relaxed), tally::released.load(std::memory_order_relaxed)};
}

void* reserve_committed(size_t size, size_t align) noexcept {
  void* p = reserve(size, align);
  if (!p) return nullptr;
  if (!commit(p, size)) {
    release(p, size);
    return nullptr;
  }
  return p;
}

}  // namespace heapmark::os
