// Fork safety under LD_PRELOAD: worker threads allocate and free continuously
// (small, medium and large blocks, freed on other threads) while the main thread
// forks repeatedly; each child must allocate, verify and free without
// deadlocking on an allocator lock held at fork time. An alarm turns a deadlock
// into a failure. Prints one deterministic line for the output comparison.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

static std::atomic<bool> g_stop{false};
static std::atomic<void*> g_box[64];

static void worker(unsigned seed) {
  unsigned r = seed;
  while (!g_stop.load(std::memory_order_relaxed)) {
    r = r * 1103515245 + 12345;
    size_t n = (r >> 8) % 100 < 90 ? 16 + (r >> 16) % 2000 : 1 + (r >> 12) % (3 << 20);
    char* p = static_cast<char*>(malloc(n));
    if (!p) abort();
    memset(p, 0x5A, n < 4096 ? n : 4096);
    void* old = g_box[(r >> 4) % 64].exchange(p);
    free(old);  // usually allocated by another thread
  }
}

static int child_work() {
  std::vector<char*> v;
  for (int i = 0; i < 2000; ++i) {
    size_t n = 1 + (i * 7919) % 5000;
    char* p = static_cast<char*>(malloc(n));
    if (!p) return 1;
    memset(p, i & 0xff, n);
    v.push_back(p);
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i][0] != char(i & 0xff)) return 2;
    free(v[i]);
  }
  // A thread in the child must work too (allocator thread state after fork).
  int ok = 0;
  std::thread t([&ok] {
    void* p = malloc(100000);
    ok = p != nullptr;
    free(p);
  });
  t.join();
  return ok ? 0 : 3;
}

int main() {
  alarm(100);
  std::vector<std::thread> ts;
  for (unsigned i = 0; i < 4; ++i) ts.emplace_back(worker, i + 1);
  const int kForks = 40;
  int good = 0;
  for (int i = 0; i < kForks; ++i) {
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      alarm(20);
      _exit(child_work());
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
      ++good;
    } else {
      fprintf(stderr, "fork_threads: child %d failed (status %d)\n", i, st);
    }
    usleep(2000);
  }
  g_stop = true;
  for (auto& t : ts) t.join();
  for (auto& b : g_box) free(b.exchange(nullptr));
  printf("fork_threads: %d of %d children ok\n", good, kForks);
  return good == kForks ? 0 : 1;
}
