// Waiting in the trace replay (trace.cc describes the replay): a replay thread
// held back by the recorded order backs off, spin, then yield, then sleep, and
// gives up when no thread has made progress for kStallSeconds (the trace
// contradicts itself); and whether a replay thread has exited, for the threads
// that must not pass its recorded end.
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "workloads/trace_replay.h"

namespace heapmark::workloads::trace_replay {

void Backoff::pause(Replay& r) noexcept {
  ++rounds;
  if (rounds < 64) {
    __builtin_ia32_pause();
  } else if (rounds < 1024) {
    sched_yield();
  } else {
    const timespec ts{0, 50'000};
    nanosleep(&ts, nullptr);
  }
  if (rounds % 1024 != 0) return;
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t ns = static_cast<uint64_t>(now.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(now.tv_nsec);
  const uint64_t p = r.progress.load(std::memory_order_relaxed);
  if (since_ns == 0 || p != seen_progress) {
    since_ns = ns;
    seen_progress = p;
  } else if (ns - since_ns > kStallSeconds * 1'000'000'000ull) {
    std::fprintf(stderr,
                 "heapmark: trace %s: no replay thread could go on for %llu s: the trace's cross-thread frees "
                 "contradict its times (a corrupted or hand-made trace)\n",
                 r.file->name().c_str(), static_cast<unsigned long long>(kStallSeconds));
    std::abort();
  }
}

bool thread_exited(Lane& l) {
  if (l.exited.load(std::memory_order_acquire)) return true;
  const int32_t tid = l.tid.load(std::memory_order_acquire);
  if (tid == 0 || syscall(SYS_tgkill, static_cast<pid_t>(getpid()), static_cast<pid_t>(tid), 0) == 0 || errno != ESRCH)
    return false;
  l.exited.store(1, std::memory_order_release);
  return true;
}

}  // namespace heapmark::workloads::trace_replay
