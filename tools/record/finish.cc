// The end of an image's recording. At exit (return from main or exit() on any
// thread) every buffer is flushed, then what could not be recorded and the end
// chunk are written; before an execve the buffered events are written (the
// image and its buffers are about to vanish).
#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>

#include "tools/record/buffer.h"
#include "tools/record/internal.h"
#include "tools/record/stacks.h"

namespace heapmark::record {

std::atomic<uint64_t> g_lost{0};
std::atomic<uint32_t> g_lost_why{0};

namespace {
// What could not be recorded, as a "lost" chunk (count, reason bits), once per
// image: the reader adds them up, trace-info says why, replay refuses.
void write_lost() {
  const uint64_t lost = g_lost.exchange(0);
  const uint64_t why = g_lost_why.exchange(0);
  if (lost == 0) return;
  const uint64_t payload[2] = {lost, why};
  write_varint_chunk(tr::ChunkKind::kLost, payload, 2);
  const char msg[] =
      "libheapmark_record: some events could not be recorded; the trace says how many and why (heapmark trace-info)\n";
  const ssize_t r = write(2, msg, sizeof msg - 1);
  (void)r;
}

// Exit (return from main or exit() on any thread): flush every buffer, then the end chunk.
__attribute__((destructor(101))) void finish() {
  if (!g_active.load() || getpid() != g_pid) return;
  if (Buffer* b = enter()) {  // the program's RSS at its end, whenever the last sample was
    sample_rss(b);
    leave(b);
  }
  g_stopping.store(true, std::memory_order_seq_cst);
  uint64_t totals[tr::kEventKinds] = {};
  const size_t n = g_buffer_count.load() < kMaxBuffers ? g_buffer_count.load() : kMaxBuffers;
  for (size_t i = 0; i < n; ++i) {
    Buffer* b = g_buffers[i].load(std::memory_order_acquire);
    if (!b) continue;
    while (b->busy.exchange(1, std::memory_order_acquire) != 0) {
    }
    if (b->state.load() == 1) flush(b);
    b->state.store(2);
    for (int k = 0; k < tr::kEventKinds; ++k) totals[k] += b->counts[k];
  }
  heapmark::record::stacks_flush();
  write_lost();
  static_assert(tr::kEventKinds <= 16);
  write_varint_chunk(tr::ChunkKind::kEnd, totals, tr::kEventKinds);
}

// Before an exec: write every thread's buffered events (the image and its
// buffers are about to vanish). Recording goes on if the exec fails.
void flush_for_exec() {
  if (!g_active.load() || g_stopping.load() || getpid() != g_pid) return;  // vfork/fork children do not write
  const size_t n = g_buffer_count.load() < kMaxBuffers ? g_buffer_count.load() : kMaxBuffers;
  for (size_t i = 0; i < n; ++i) {
    Buffer* b = g_buffers[i].load(std::memory_order_acquire);
    if (!b) continue;
    int expected = 0;
    bool held = false;
    for (int tries = 0; tries < 1000000 && !held; ++tries, expected = 0)
      held = b->busy.compare_exchange_weak(expected, 1, std::memory_order_acquire);
    if (!held) continue;  // the exit flush has it
    if (b->state.load() == 1) flush(b);
    b->busy.store(0, std::memory_order_release);
  }
  heapmark::record::stacks_flush();
  write_lost();
}
}  // namespace
}  // namespace heapmark::record

using namespace heapmark::record;

// Only execve itself: glibc's execv/execvp/posix_spawn reach the kernel through
// an internal alias, so events buffered before those are lost (see recorder.cc).
HM_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  using ExecveFn = int (*)(const char*, char* const[], char* const[]);
  static ExecveFn real_execve = nullptr;
  if (!real_execve) real_execve = reinterpret_cast<ExecveFn>(dlsym(RTLD_NEXT, "execve"));
  if (!real_execve) {
    errno = ENOSYS;
    return -1;
  }
  flush_for_exec();
  return real_execve(path, argv, envp);
}
