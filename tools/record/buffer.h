// The per-thread event buffers: each thread appends its events to its own
// buffer and writes it as one chunk when full (buffer.cc); the steps of an
// event (enter, the clock, ids, the site) are inline here, on the path of
// every malloc and free.
#pragma once
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <atomic>

#include "tools/record/internal.h"

#pragma GCC visibility push(hidden)

namespace heapmark::record {

constexpr size_t kBufferBytes = 64 * 1024;
struct Buffer {
  std::atomic<int> busy{0};   // owner appending, or the exit flusher holding it
  std::atomic<int> state{0};  // 0 free, 1 owned by a live thread, 2 flushed for good
  uint32_t thread = 0;
  uint32_t events = 0;
  uint64_t next_id = 0, end_id = 0;
  uint64_t now_ms = 0;  // time of the last event
  uint32_t site = 0;    // the site the chunk's next allocation takes unless a site event changes it
  bool begins = false;  // a new thread: its first event is preceded by a thread-begin event
  uint64_t counts[tr::kEventKinds] = {};
  uint8_t* pos = nullptr;    // next payload byte
  tr::ChunkHeader header{};  // immediately followed by the payload
  uint8_t payload[kBufferBytes - 256];
};
constexpr size_t kMaxBuffers = tr::kMaxThreads;
// The buffers and their owners (buffer.cc).
extern std::atomic<Buffer*> g_buffers[kMaxBuffers];
extern std::atomic<size_t> g_buffer_count;

extern __thread Buffer* tl_buf __attribute__((tls_model("initial-exec")));
extern __thread uint32_t tl_thread_plus1 __attribute__((tls_model("initial-exec")));
extern pthread_key_t g_key;

inline uint64_t now_ns(clockid_t c) {
  timespec ts;
  clock_gettime(c, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

// Writes the buffered events as one chunk (one write on an O_APPEND file: chunks never interleave).
void flush(Buffer* b);
// A new thread's first event: a buffer (reused from an exited thread when one is free).
Buffer* acquire_buffer();
// Exiting thread: write what it has; the buffer becomes reusable.
void thread_exit(void* arg);
// An RSS sample of the program (/proc/self/statm), with the recorder's own pages.
void sample_rss(Buffer* b);

// Before an event: room for it, and the time (with an RSS sample when one is due).
inline void advance_clock(Buffer* b) {
  if (static_cast<size_t>(b->payload + sizeof b->payload - b->pos) < 4 * tr::kMaxEventBytes) flush(b);
  const uint64_t ms = (now_ns(CLOCK_MONOTONIC_COARSE) - g_start_ns) / 1'000'000;
  if (ms > b->now_ms) {
    b->pos = tr::put_tag(b->pos, tr::Tag::kTime, ms - b->now_ms);
    ++b->events;
    b->now_ms = ms;
    uint64_t due = g_next_rss_ms.load(std::memory_order_relaxed);
    if (ms >= due && g_next_rss_ms.compare_exchange_strong(due, ms + g_rss_every_ms)) sample_rss(b);
  }
}

// Holds the thread's buffer for one event, or null when the event is not recorded.
inline Buffer* enter() {
  if (!g_active.load(std::memory_order_relaxed)) return nullptr;
  Buffer* b = tl_buf;
  if (!b) {
    b = acquire_buffer();
    if (!b) return nullptr;
  }
  if (b->busy.exchange(1, std::memory_order_seq_cst) != 0) return nullptr;  // the exit flusher has it
  if (g_stopping.load(std::memory_order_seq_cst)) {
    b->busy.store(0, std::memory_order_release);
    return nullptr;
  }
  advance_clock(b);
  if (b->begins) {
    // The recording's first event: the program's RSS before its first recorded block.
    if (g_first_sample.exchange(false, std::memory_order_relaxed)) sample_rss(b);
    b->pos = tr::put_ext(b->pos, tr::ExtKind::kThreadBegin);
    b->pos = tr::put_varint(b->pos, g_thread_ends.load(std::memory_order_acquire));
    ++b->events;
    b->begins = false;
  }
  return b;
}
inline void leave(Buffer* b) { b->busy.store(0, std::memory_order_release); }

// Starts a new id batch when the thread's is used up (announced before the event that needs it).
inline void ensure_id(Buffer* b) {
  if (b->next_id == b->end_id) {
    const uint64_t base = g_next_id.fetch_add(kIdBatch, std::memory_order_relaxed);
    b->pos = tr::put_tag(b->pos, tr::Tag::kIdBase, base - b->next_id);
    ++b->events;
    b->next_id = base;
    b->end_id = base + kIdBatch;
  }
}
inline uint64_t take_id(Buffer* b) {
  ensure_id(b);
  return b->next_id++;
}
inline uint64_t back(const Buffer* b, uint64_t id) { return tr::zigzag(static_cast<int64_t>(b->next_id - 1 - id)); }

// Names the allocation's site when it is not the one the decoder holds.
inline void put_site(Buffer* b, uint32_t site) {
  if (site == b->site) return;
  b->pos = tr::put_ext(b->pos, tr::ExtKind::kSite);
  b->pos = tr::put_varint(b->pos, site);
  ++b->events;
  b->site = site;
}

}  // namespace heapmark::record

#pragma GCC visibility pop
