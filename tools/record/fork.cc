// fork: the parent records a fork event. The child stops recording (it
// forwards only, its buffers are dropped unwritten), or with
// HEAPMARK_RECORD_FAMILY set (heapmark record --follow-forks) starts a trace of
// its own, "<family>.<pid>".
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <new>

#include "tools/record/buffer.h"
#include "tools/record/internal.h"
#include "tools/record/pointer_table.h"
#include "tools/record/stacks.h"

namespace heapmark::record {

// --follow-forks: the family's base path (HEAPMARK_RECORD_FAMILY); each forked
// child records to "<base>.<pid>".
char g_family[4096] = "";

void on_fork_parent() {
  Buffer* b = enter();
  if (!b) return;
  b->pos = tr::put_ext(b->pos, tr::ExtKind::kFork);
  ++b->events;
  leave(b);
}

void on_fork_child() {
  // The child's copies of the buffers hold the parent's events: never written.
  if (!g_family[0]) {
    g_active.store(false);  // not following: the child forwards only
    return;
  }
  // A trace of its own: ids, threads and time from zero; the blocks it
  // inherited are the parent's (their frees are not events here, as for blocks
  // made before recording started). Only the forking thread exists now.
  char path[sizeof g_family + 24];
  const int n = snprintf(path, sizeof path, "%s.%d", g_family, static_cast<int>(getpid()));
  if (n <= 0 || static_cast<size_t>(n) >= sizeof path) {
    g_active.store(false);
    return;
  }
  close(g_fd);
  g_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (g_fd < 0) {
    g_active.store(false);
    return;
  }
  const size_t count = std::min(g_buffer_count.load(), kMaxBuffers);
  for (size_t i = 0; i < count; ++i) {
    Buffer* b = g_buffers[i].load();
    if (!b) continue;
    b->busy.store(0);
    b->state.store(0);
    for (auto& c : b->counts) c = 0;
  }
  tl_buf = nullptr;
  tl_thread_plus1 = 0;
  g_threads.store(0);
  g_thread_ends.store(0);
  g_first_sample.store(true);
  g_next_id.store(0);
  g_lost.store(0);
  g_lost_why.store(0);
  new (&g_overflow) Overflow;  // its lock may have been held by a thread that is gone
  void* root = mmap(nullptr, kRootEntries * sizeof(std::atomic<Leaf*>), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (root == MAP_FAILED) {
    g_active.store(false);
    return;
  }
  g_root = static_cast<std::atomic<Leaf*>*>(root);  // the parent's leaves stay mapped, unread
  g_pid = getpid();
  g_start_ns = now_ns(CLOCK_MONOTONIC_COARSE);
  g_next_rss_ms.store(0);
  write_header();
  heapmark::record::stacks_restart_in_child();  // an exec in this child records on into this file: start_recording
                                                // finds it by pid
}

}  // namespace heapmark::record
