// Core-level fork safety check shared by the allocator unit tests: worker
// threads allocate and free through the Core while the main thread forks with
// the Core's prefork/postfork handlers registered; every child must allocate,
// free and exit cleanly (an alarm turns a deadlock into a failure). Returns the
// number of children that succeeded.
#pragma once
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace heapmark::testing {

template <class Core>
int fork_while_threads_allocate(int forks) {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(&Core::prefork, &Core::postfork_parent, &Core::postfork_child); });
  std::atomic<bool> stop{false};
  std::atomic<void*> box[32] = {};
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < 3; ++t)
    ts.emplace_back([&, t] {
      unsigned r = t + 1;
      while (!stop.load(std::memory_order_relaxed)) {
        r = r * 1103515245 + 12345;
        size_t n = (r >> 8) % 10 ? 16 + (r >> 16) % 3000 : 1 + (r >> 12) % (6 << 20);
        void* p = Core::alloc(n);
        memset(p, 1, n < 256 ? n : 256);
        if (void* old = box[(r >> 4) % 32].exchange(p)) Core::free(old);
      }
    });
  int good = 0;
  for (int i = 0; i < forks; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      alarm(10);
      for (int k = 0; k < 500; ++k) {
        void* p = Core::alloc(1 + (k * 7919) % 9000);
        if (!p) _exit(1);
        memset(p, k, 1 + (k * 7919) % 9000);
        Core::free(p);
      }
      void* big = Core::alloc(5 << 20);
      Core::free(big);
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    good += WIFEXITED(st) && WEXITSTATUS(st) == 0;
    usleep(1000);
  }
  stop = true;
  for (auto& t : ts) t.join();
  for (auto& b : box)
    if (void* p = b.exchange(nullptr)) Core::free(p);
  return good;
}

}  // namespace heapmark::testing
