// The per-thread event buffers' slow paths: a thread's first event takes a
// buffer (reused from an exited thread when one is free), a full buffer is
// written as one chunk, an exiting thread writes what it has, and RSS samples.
// The steps of every event are inline in buffer.h.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <new>

#include "tools/record/buffer.h"
#include "tools/record/pointer_table.h"
#include "tools/record/stacks.h"

namespace heapmark::record {

std::atomic<Buffer*> g_buffers[kMaxBuffers];
std::atomic<size_t> g_buffer_count{0};

__thread Buffer* tl_buf __attribute__((tls_model("initial-exec"))) = nullptr;
__thread uint32_t tl_thread_plus1 __attribute__((tls_model("initial-exec"))) = 0;
pthread_key_t g_key;

namespace {
void begin_chunk(Buffer* b) {
  b->pos = b->payload;
  b->events = 0;
  b->header.start_ms = b->now_ms;
  b->header.next_id = b->next_id;
  b->site = 0;
}
}  // namespace

// Writes the buffered events as one chunk (one write on an O_APPEND file: chunks never interleave).
void flush(Buffer* b) {
  if (b->events > 0) {
    auto& h = b->header;
    h.magic = tr::kChunkMagic;
    h.kind = static_cast<uint32_t>(tr::ChunkKind::kEvents);
    h.thread = b->thread;
    h.payload_bytes = static_cast<uint32_t>(b->pos - b->payload);
    h.events = b->events;
    h.checksum = tr::chunk_checksum(h, b->payload);
    write_all(&h, sizeof h + h.payload_bytes);
    heapmark::record::stacks_flush();  // the stacks it names, soon after (a crash loses fewer)
  }
  begin_chunk(b);
}

Buffer* acquire_buffer() {
  Buffer* b = nullptr;
  // The count goes past kMaxBuffers once threads are refused: never read past the array.
  const size_t n = std::min(g_buffer_count.load(std::memory_order_acquire), kMaxBuffers);
  for (size_t i = 0; i < n && !b; ++i) {
    Buffer* c = g_buffers[i].load(std::memory_order_acquire);
    int expected = 0;
    if (c && c->state.compare_exchange_strong(expected, 1)) b = c;
  }
  if (!b) {
    const size_t i = g_buffer_count.fetch_add(1);
    if (i >= kMaxBuffers) {  // more live threads than the format allows: not recorded
      lose(tr::kLostThreads);
      return nullptr;
    }
    void* m = mmap(nullptr, sizeof(Buffer), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      lose(tr::kLostBufferMemory);
      return nullptr;
    }
    b = new (m) Buffer;
    b->state.store(1);
    g_buffers[i].store(b, std::memory_order_release);
  }
  b->begins = tl_thread_plus1 == 0;
  if (b->begins) {
    const uint32_t index = g_threads.fetch_add(1);
    if (index >= tr::kMaxThreads) {  // the format's thread indices are below this (over the whole recording)
      g_threads.fetch_sub(1);
      b->state.store(0, std::memory_order_release);
      lose(tr::kLostThreads);
      return nullptr;
    }
    tl_thread_plus1 = index + 1;
  }
  b->thread = tl_thread_plus1 - 1;
  b->next_id = b->end_id = 0;
  b->now_ms = 0;
  begin_chunk(b);
  tl_buf = b;
  pthread_setspecific(g_key, b);  // key index < 32: no allocation
  return b;
}

void thread_exit(void* arg) {
  auto* b = static_cast<Buffer*>(arg);
  tl_buf = nullptr;
  // Once the exit flush has begun it owns every buffer: never wait for it (a
  // later exit handler may be joining this thread).
  for (int expected = 0; !b->busy.compare_exchange_weak(expected, 1, std::memory_order_acquire); expected = 0)
    if (g_stopping.load()) return;
  if (!g_stopping.load() && b->state.load() == 1) {
    advance_clock(b);
    b->pos = tr::put_ext(b->pos, tr::ExtKind::kThreadEnd);
    b->pos = tr::put_varint(b->pos, g_thread_ends.fetch_add(1, std::memory_order_acq_rel));
    ++b->events;
    flush(b);
    b->state.store(0, std::memory_order_release);
  }
  b->busy.store(0, std::memory_order_release);
}

void sample_rss(Buffer* b) {
  const int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char text[128];
  const ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return;
  text[n] = '\0';
  uint64_t f[3] = {0, 0, 0};  // size resident shared
  const char* p = text;
  for (int i = 0; i < 3; ++i) {
    while (*p == ' ') ++p;
    while (*p >= '0' && *p <= '9') f[i] = f[i] * 10 + uint64_t(*p++ - '0');
  }
  b->pos = tr::put_ext(b->pos, tr::ExtKind::kRss);
  b->pos = tr::put_varint(b->pos, f[1]);
  b->pos = tr::put_varint(b->pos, f[2]);
  const uint64_t buffers = std::min(g_buffer_count.load(std::memory_order_relaxed), kMaxBuffers);
  b->pos =
      tr::put_varint(b->pos, g_own_pages.load(std::memory_order_relaxed) + buffers * ((sizeof(Buffer) + 4095) / 4096));
  ++b->events;
  ++b->counts[int(tr::EventKind::kRss)];
}

}  // namespace heapmark::record
