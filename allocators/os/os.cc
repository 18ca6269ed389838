// The part of the OS contract (os.h) every platform shares: the byte counters
// and the pthread part of a helper thread. The system calls are in
// os_linux.cc and os_windows.cc.
#include "os.h"

#include <pthread.h>

#include "shared.h"

namespace heapmark::os {

namespace tally {
constinit std::atomic<size_t> reserved{0}, committed{0}, decommitted{0}, released{0};
}  // namespace tally

Counters counters() noexcept {
  return Counters{tally::reserved.load(std::memory_order_relaxed), tally::committed.load(std::memory_order_relaxed),
                  tally::decommitted.load(std::memory_order_relaxed), tally::released.load(std::memory_order_relaxed)};
}

bool start_detached_thread(void* (*fn)(void*), size_t stack_bytes) noexcept {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, stack_bytes);
  pthread_t t;
  const bool ok = pthread_create(&t, &attr, fn, nullptr) == 0;
  pthread_attr_destroy(&attr);
  return ok;
}

}  // namespace heapmark::os
