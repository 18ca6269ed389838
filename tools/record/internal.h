// Internals of libheapmark_record.so shared by its files (README.md says which
// file holds what): the next allocator's functions and the bootstrap buffer
// that serves calls made while they are looked up, the recording state, the
// events that could not be recorded, and each file's functions. The pointer
// table (pointer_table.h) and the per-thread buffers (buffer.h) are on the path
// of every malloc and free, so they are inline, in headers of their own.
// Like the rest of the recorder it runs inside malloc: no heap, no stdio.
#pragma once
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <atomic>

#include "workloads/trace_format.h"

#define HM_EXPORT extern "C" __attribute__((visibility("default")))

// Hidden, declarations included: everything here is resolved inside the
// library, so -fPIC code reaches it without the GOT or PLT, as when it was all
// file-local.
#pragma GCC visibility push(hidden)

namespace heapmark::record {
namespace tr = heapmark::trace;

// ---- the next allocator (bootstrap.cc) ----
using MallocFn = void* (*)(size_t);
using FreeFn = void (*)(void*);
using CallocFn = void* (*)(size_t, size_t);
using ReallocFn = void* (*)(void*, size_t);
using MemalignFn = void* (*)(size_t, size_t);
using PosixMemalignFn = int (*)(void**, size_t, size_t);

struct Real {
  MallocFn malloc;
  FreeFn free;
  CallocFn calloc;
  ReallocFn realloc;
  MemalignFn memalign;
  PosixMemalignFn posix_memalign;
  MemalignFn aligned_alloc;
  MallocFn valloc;
  MallocFn pvalloc;
};
extern Real g_real;

// 0: not started, 1: resolving symbols, 2: ready.
extern std::atomic<int> g_init;
extern __thread int tl_resolving __attribute__((tls_model("initial-exec")));

// Looks the next allocator's functions up (dlsym RTLD_NEXT), or dies.
void resolve();
void die(const char* msg);

// ---- bootstrap buffer for calls made while dlsym runs (bootstrap.cc) ----
constexpr size_t kBootBytes = 64 * 1024;
extern char g_boot[kBootBytes];
inline bool is_boot(const void* p) { return p >= g_boot && p < g_boot + sizeof g_boot; }
void* boot_alloc(size_t n, size_t align);

// ---- recording state (start.cc) ----
extern std::atomic<bool> g_active;    // this process records
extern std::atomic<bool> g_stopping;  // exit flush has begun: drop further events
extern int g_fd;
extern pid_t g_pid;
extern uint64_t g_start_ns;
extern int g_phase_fd;  // HEAPMARK_PHASE_FD while recording
extern uint64_t g_rss_every_ms;
extern std::atomic<uint64_t> g_next_rss_ms;
extern std::atomic<uint64_t> g_next_id;
extern std::atomic<uint32_t> g_threads;
extern std::atomic<uint64_t>
    g_thread_ends;                        // thread-end events written: each thread's begin says how many came before it
extern std::atomic<bool> g_first_sample;  // the recording's first event samples RSS (its start, before any block)
constexpr uint64_t kIdBatch = 256;
// --follow-forks: the family's base path (HEAPMARK_RECORD_FAMILY); each forked
// child records to "<base>.<pid>" (fork.cc).
extern char g_family[4096];

void start_recording();

// First call: resolve the real functions (re-entrant calls meanwhile use the
// bootstrap buffer), then start recording if this process is the one asked for.
inline bool ready() {
  if (g_init.load(std::memory_order_acquire) == 2) return true;
  if (tl_resolving) return false;
  int expected = 0;
  if (g_init.compare_exchange_strong(expected, 1)) {
    resolve();
    g_init.store(2, std::memory_order_release);
    start_recording();
    return true;
  }
  while (g_init.load(std::memory_order_acquire) != 2) {
  }
  return true;
}

// ---- events the recorder could not record (finish.cc writes them) ----
// Never silent: counted with their reason and written as a "lost" chunk, so
// trace-info reports the trace incomplete and replay refuses it.
extern std::atomic<uint64_t> g_lost;
extern std::atomic<uint32_t> g_lost_why;
inline void lose(tr::LostReason why) {
  g_lost.fetch_add(1, std::memory_order_relaxed);
  g_lost_why.fetch_or(why, std::memory_order_relaxed);
}

// ---- the trace file (trace_file.cc) ----
// Writes all of data to the trace file (stops early only when the disk is full).
void write_all(const void* data, size_t n);
// Writes one chunk of varints (`n` values) in one write.
void write_varint_chunk(tr::ChunkKind kind, const uint64_t* values, size_t n);
// One write of the whole header so a reader never sees half of it.
void write_header();

// ---- fork (fork.cc) ----
void on_fork_parent();
void on_fork_child();

}  // namespace heapmark::record

#pragma GCC visibility pop
