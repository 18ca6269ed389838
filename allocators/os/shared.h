// What os.cc shares with the platform files (os_linux.cc, os_windows.cc): the
// contract's byte counters (os.h, Counters), added to by each platform's calls,
// and the pthread part of starting a helper thread.
#pragma once
#include <stddef.h>

#include <atomic>

namespace heapmark::os {

// A detached pthread with the given stack; false if it could not start.
bool start_detached_thread(void* (*fn)(void*), size_t stack_bytes) noexcept;

namespace tally {

extern std::atomic<size_t> reserved, committed, decommitted, released;

inline void add(std::atomic<size_t>& counter, size_t bytes) noexcept {
  counter.fetch_add(bytes, std::memory_order_relaxed);
}

}  // namespace tally

}  // namespace heapmark::os
