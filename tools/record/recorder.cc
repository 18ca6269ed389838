// libheapmark_record.so: LD_PRELOADed by `heapmark record`, it interposes the
// malloc family, FORWARDS every call to the next allocator (dlsym RTLD_NEXT)
// and appends one event per call to a per-thread buffer in the .hmt format
// (workloads/trace_format.h). It is not an allocator and knows nothing of the
// runner: it only reads HEAPMARK_RECORD_FILE / _PID / _RSS_MS / _FAMILY / _STACKS / _WALKER and
// HEAPMARK_PHASE_FD at start-up.
//
// Behaviour worth knowing:
// - Bootstrap: dlsym may call calloc before the real one is known; those calls
//   are served from a static buffer whose blocks are never freed nor recorded.
// - Threads: each thread owns a buffer and writes its own full chunks with one
//   O_APPEND write; the only shared writes on the fast path are the pointer->id
//   table (lock-free, CAS on the slot) and an id batch every 256 allocations.
//   A per-buffer flag, uncontended except at exit, lets exit flush others' buffers.
// - fork: the parent records a fork event. The child stops recording (it
//   forwards only, its buffers are dropped unwritten), or with
//   HEAPMARK_RECORD_FAMILY set (heapmark record --follow-forks) starts a trace
//   of its own, "<family>.<pid>". vfork and posix_spawn run no fork handlers:
//   a child started that way is followed only if it is the recorded pid. exec: the new image records
//   on into the same file after an "image" chunk (ids restart there). A call
//   to execve writes the buffered events first; glibc's execv/execvp/execl*
//   use an internal alias of execve, so before those they are lost. exit() from any thread, or return
//   from main, flushes every buffer and writes the end chunk; _exit and fatal
//   signals leave a trace without it (readers report it as incomplete).
// - operator new/delete are not interposed: libstdc++ implements them with
//   malloc/free through the PLT, so they are recorded as malloc/free.
// - Phase marks: `phase NAME` lines written to the descriptor in
//   HEAPMARK_PHASE_FD are recorded in the writing thread's stream, where it
//   wrote them, by interposing write() and fflush() (stdio's own flushes at
//   exit or of a full buffer use glibc's internal write and are not seen, so a
//   program flushes after each mark, as the README's snippet does).
// - Stacks (HEAPMARK_RECORD_STACKS=DEPTH): each allocation's stack is walked
//   before its event is buffered and named by a site event when it differs
//   from the thread's previous allocation's (tools/record/stacks.h).
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "tools/record/stacks.h"
#include "workloads/trace_format.h"

namespace tr = heapmark::trace;

#define HM_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

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
Real g_real;

// 0: not started, 1: resolving symbols, 2: ready.
std::atomic<int> g_init{0};
__thread int tl_resolving __attribute__((tls_model("initial-exec"))) = 0;

// ---- bootstrap buffer for calls made while dlsym runs ----
alignas(64) char g_boot[64 * 1024];
std::atomic<size_t> g_boot_used{0};
bool is_boot(const void* p) { return p >= g_boot && p < g_boot + sizeof g_boot; }
void* boot_alloc(size_t n, size_t align) {
  if (align < 16) align = 16;
  for (;;) {
    size_t used = g_boot_used.load(std::memory_order_relaxed);
    const size_t start = (used + align - 1) & ~(align - 1);
    if (start + n > sizeof g_boot || start + n < start) return nullptr;
    if (g_boot_used.compare_exchange_weak(used, start + n)) return g_boot + start;  // zero: static storage
  }
}

void die(const char* msg) {
  const char prefix[] = "libheapmark_record: ";
  ssize_t r = write(2, prefix, sizeof prefix - 1);
  r = write(2, msg, strlen(msg));
  r = write(2, "\n", 1);
  (void)r;
  abort();
}

// ---- recording state ----
std::atomic<bool> g_active{false};    // this process records
std::atomic<bool> g_stopping{false};  // exit flush has begun: drop further events
int g_fd = -1;
pid_t g_pid = 0;
uint64_t g_start_ns = 0;
int g_phase_fd = -1;  // HEAPMARK_PHASE_FD while recording
uint64_t g_rss_every_ms = 10;
std::atomic<uint64_t> g_next_rss_ms{0};
std::atomic<uint64_t> g_next_id{0};
std::atomic<uint32_t> g_threads{0};
std::atomic<uint64_t> g_thread_ends{0};  // thread-end events written: each thread's begin says how many came before it
std::atomic<bool> g_first_sample{true};  // the recording's first event samples RSS (its start, before any block)
constexpr uint64_t kIdBatch = 256;

// ---- events the recorder could not record ----
// Never silent: counted with their reason and written as a "lost" chunk, so
// trace-info reports the trace incomplete and replay refuses it.
std::atomic<uint64_t> g_lost{0};
std::atomic<uint32_t> g_lost_why{0};
void lose(tr::LostReason why) {
  g_lost.fetch_add(1, std::memory_order_relaxed);
  g_lost_why.fetch_or(why, std::memory_order_relaxed);
}

// ---- pointer -> block id ----
// A two-level radix tree over the address, so its cost does not depend on how
// many blocks are live: a root of one entry per 2 MiB region of the 47-bit user
// address space (512 MiB reserved, touched sparsely) points to a leaf of one
// 8-byte slot per 32 bytes (512 KiB reserved per region that ever held a
// block; its pages are touched only where blocks land: at most a quarter of
// the heap's span, and they count in the RSS samples). Insert is one CAS on an
// empty slot and remove one CAS back to empty: no probing, no tombstones, no
// capacity. A slot holds ((id + 1) << 2) | the block's 8-byte quarter of the
// 32 bytes. glibc's chunks are 32 bytes apart at least, so under glibc a slot
// never holds two blocks; a second block in the same 32 bytes (the 8 and 16
// byte classes of jemalloc, mimalloc, tcmalloc), a block not 8-aligned or one
// above 2^47 goes to a small locked overflow table instead.
//
// The recorder's own resident pages (they are in the program's RSS samples, so
// each sample says how many are the recorder's): the pages of the table it has
// touched, counted as they are first touched (a bit per page; pages are never
// given back), the buffers and the overflow table.
constexpr unsigned kRegionBits = 21, kAddressBits = 47, kSlotShift = 5;
constexpr size_t kRootEntries = size_t{1} << (kAddressBits - kRegionBits);
constexpr size_t kLeafSlots = size_t{1} << (kRegionBits - kSlotShift);
constexpr size_t kSlotsPerPage = 4096 / sizeof(uint64_t);
struct Leaf {
  std::atomic<uint64_t> slot[kLeafSlots];
  std::atomic<uint64_t> touched[kLeafSlots / kSlotsPerPage / 64];  // a bit per page of `slot`
};
std::atomic<Leaf*>* g_root = nullptr;
std::atomic<uint64_t> g_root_touched[kRootEntries * sizeof(void*) / 4096 / 64];
std::atomic<uint64_t> g_own_pages{0};  // table pages touched (root, leaves with their bit page) and overflow pages

// Counts page `page` of a bitmap's region once, when its bit is first set.
void touch_page(std::atomic<uint64_t>* bits, size_t page) {
  const uint64_t bit = uint64_t{1} << (page % 64);
  std::atomic<uint64_t>& w = bits[page / 64];
  if ((w.load(std::memory_order_relaxed) & bit) == 0 && (w.fetch_or(bit, std::memory_order_relaxed) & bit) == 0)
    g_own_pages.fetch_add(1, std::memory_order_relaxed);
}

std::atomic<uint64_t>* slot_for(uintptr_t key, bool create) {
  const size_t r = key >> kRegionBits;
  Leaf* leaf = g_root[r].load(std::memory_order_acquire);
  if (!leaf) {
    if (!create) return nullptr;
    void* m = mmap(nullptr, sizeof(Leaf), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    Leaf* expected = nullptr;
    if (g_root[r].compare_exchange_strong(expected, static_cast<Leaf*>(m), std::memory_order_acq_rel)) {
      leaf = static_cast<Leaf*>(m);
      touch_page(g_root_touched, r * sizeof(void*) / 4096);
      g_own_pages.fetch_add(1, std::memory_order_relaxed);  // the page of its bits
    } else {
      munmap(m, sizeof(Leaf));
      leaf = expected;
    }
  }
  const size_t i = (key & ((uintptr_t{1} << kRegionBits) - 1)) >> kSlotShift;
  if (create) touch_page(leaf->touched, i / kSlotsPerPage);
  return &leaf->slot[i];
}

// Open addressing with backward-shift deletion under one lock (no malloc: a
// pthread mutex and mmap'd storage), doubling at half full.
class Overflow {
 public:
  bool insert(uintptr_t key, uint64_t id) {
    Lock l(mu_);
    if (2 * (used_ + 1) > cap_ && !grow()) return false;
    put(key, id);
    ++used_;
    count_.store(used_, std::memory_order_release);
    return true;
  }
  bool remove(uintptr_t key, uint64_t& id) {
    if (count_.load(std::memory_order_acquire) == 0) return false;
    Lock l(mu_);
    if (cap_ == 0) return false;
    size_t i = home(key);
    while (e_[i].key != key) {
      if (e_[i].key == 0) return false;
      i = (i + 1) & (cap_ - 1);
    }
    id = e_[i].id;
    // Backward shift: pull later entries of the run into the hole, so no tombstone is left.
    for (size_t j = (i + 1) & (cap_ - 1); e_[j].key != 0; j = (j + 1) & (cap_ - 1)) {
      const size_t h = home(e_[j].key);
      if (((j - h) & (cap_ - 1)) >= ((j - i) & (cap_ - 1))) {
        e_[i] = e_[j];
        i = j;
      }
    }
    e_[i] = Entry{};
    --used_;
    count_.store(used_, std::memory_order_release);
    return true;
  }

 private:
  struct Entry {
    uintptr_t key;
    uint64_t id;
  };
  struct Lock {
    explicit Lock(pthread_mutex_t& m) : m_(m) { pthread_mutex_lock(&m_); }
    ~Lock() { pthread_mutex_unlock(&m_); }
    pthread_mutex_t& m_;
  };
  size_t home(uintptr_t key) const { return static_cast<size_t>((key * 0x9e3779b97f4a7c15ull) >> shift_); }
  void put(uintptr_t key, uint64_t id) {
    size_t i = home(key);
    while (e_[i].key != 0) i = (i + 1) & (cap_ - 1);
    e_[i] = Entry{key, id};
  }
  bool grow() {
    const size_t cap = cap_ ? 2 * cap_ : 4096;
    void* m = mmap(nullptr, cap * sizeof(Entry), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return false;
    g_own_pages.fetch_add((cap - cap_) * sizeof(Entry) / 4096, std::memory_order_relaxed);  // the old table goes
    Entry* old = e_;
    const size_t old_cap = cap_;
    e_ = static_cast<Entry*>(m);
    cap_ = cap;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(cap));
    for (size_t i = 0; i < old_cap; ++i)
      if (old[i].key != 0) put(old[i].key, old[i].id);
    if (old) munmap(old, old_cap * sizeof(Entry));
    return true;
  }

  pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
  Entry* e_ = nullptr;
  size_t cap_ = 0, used_ = 0;
  unsigned shift_ = 64;
  std::atomic<size_t> count_{0};
};
Overflow g_overflow;

bool table_insert(const void* ptr, uint64_t id) {
  const auto key = reinterpret_cast<uintptr_t>(ptr);
  if ((key & 7) == 0 && key < (uintptr_t{1} << kAddressBits)) {
    if (std::atomic<uint64_t>* s = slot_for(key, true)) {
      uint64_t empty = 0;
      if (s->compare_exchange_strong(empty, ((id + 1) << 2) | ((key >> 3) & 3), std::memory_order_acq_rel)) return true;
    }
  }
  if (g_overflow.insert(key, id)) return true;
  lose(tr::kLostTableMemory);
  return false;
}

// Removes `ptr`; false when it was never recorded (allocated before recording).
bool table_remove(const void* ptr, uint64_t& id) {
  const auto key = reinterpret_cast<uintptr_t>(ptr);
  if ((key & 7) == 0 && key < (uintptr_t{1} << kAddressBits)) {
    if (std::atomic<uint64_t>* s = slot_for(key, false)) {
      // A slot whose quarter matches holds this block: a block in another
      // quarter lives at another address, so it cannot be this one.
      uint64_t v = s->load(std::memory_order_acquire);
      if (v != 0 && (v & 3) == ((key >> 3) & 3) && s->compare_exchange_strong(v, 0, std::memory_order_acq_rel)) {
        id = (v >> 2) - 1;
        return true;
      }
    }
  }
  return g_overflow.remove(key, id);
}

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
std::atomic<Buffer*> g_buffers[kMaxBuffers];
std::atomic<size_t> g_buffer_count{0};

__thread Buffer* tl_buf __attribute__((tls_model("initial-exec"))) = nullptr;
__thread uint32_t tl_thread_plus1 __attribute__((tls_model("initial-exec"))) = 0;
pthread_key_t g_key;

uint64_t now_ns(clockid_t c) {
  timespec ts;
  clock_gettime(c, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

void write_all(const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = write(g_fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // disk full: the trace ends here, the reader reports it truncated
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void begin_chunk(Buffer* b) {
  b->pos = b->payload;
  b->events = 0;
  b->header.start_ms = b->now_ms;
  b->header.next_id = b->next_id;
  b->site = 0;
}

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

void thread_exit(void* arg);
void sample_rss(Buffer* b);

// Before an event: room for it, and the time (with an RSS sample when one is due).
void advance_clock(Buffer* b) {
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

// A new thread's first event: a buffer (reused from an exited thread when one is free).
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

// Exiting thread: write what it has; the buffer becomes reusable.
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

// Holds the thread's buffer for one event, or null when the event is not recorded.
Buffer* enter() {
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
void leave(Buffer* b) { b->busy.store(0, std::memory_order_release); }

// Starts a new id batch when the thread's is used up (announced before the event that needs it).
void ensure_id(Buffer* b) {
  if (b->next_id == b->end_id) {
    const uint64_t base = g_next_id.fetch_add(kIdBatch, std::memory_order_relaxed);
    b->pos = tr::put_tag(b->pos, tr::Tag::kIdBase, base - b->next_id);
    ++b->events;
    b->next_id = base;
    b->end_id = base + kIdBatch;
  }
}
uint64_t take_id(Buffer* b) {
  ensure_id(b);
  return b->next_id++;
}
uint64_t back(const Buffer* b, uint64_t id) { return tr::zigzag(static_cast<int64_t>(b->next_id - 1 - id)); }

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

// Names the allocation's site when it is not the one the decoder holds.
void put_site(Buffer* b, uint32_t site) {
  if (site == b->site) return;
  b->pos = tr::put_ext(b->pos, tr::ExtKind::kSite);
  b->pos = tr::put_varint(b->pos, site);
  ++b->events;
  b->site = site;
}

void record_alloc(void* p, tr::Tag tag, size_t size, unsigned align_log2) {
  if (!g_active.load(std::memory_order_relaxed)) return;
  const uint32_t site = heapmark::record::stacks_site();  // before enter(): walking may allocate
  Buffer* b = enter();
  if (!b) return;
  const uint64_t id = take_id(b);
  if (table_insert(p, id)) {
    put_site(b, site);
    if (tag == tr::Tag::kAligned) {
      *b->pos++ = static_cast<uint8_t>(uint8_t(tr::Tag::kAligned) | (align_log2 << 3));
      b->pos = tr::put_varint(b->pos, size);
      ++b->counts[int(tr::EventKind::kAligned)];
    } else {
      b->pos = tr::put_tag(b->pos, tag, size);
      ++b->counts[int(tag == tr::Tag::kMalloc ? tr::EventKind::kMalloc : tr::EventKind::kCalloc)];
    }
    ++b->events;
  } else {
    --b->next_id;  // not tracked: give the id back so the stream stays dense
  }
  leave(b);
}

// Called BEFORE the real free, so another thread reusing the address cannot collide with it.
void record_free(void* p) {
  if (!g_active.load(std::memory_order_relaxed)) return;
  // A free of a random old block misses the cache twice, on its slot and on the
  // allocator's header before the block: fetch both at once rather than one
  // after the other (bench_live_blocks: the second miss overlaps the first).
  const auto key = reinterpret_cast<uintptr_t>(p);
  if (key < (uintptr_t{1} << kAddressBits))
    if (std::atomic<uint64_t>* s = slot_for(key, false)) __builtin_prefetch(s, 1);
  __builtin_prefetch(static_cast<char*>(p) - 16, 1);
  uint64_t id;
  if (!table_remove(p, id)) return;
  Buffer* b = enter();
  if (!b) return;  // no buffer: acquire_buffer counted it lost; or the exit flush has begun
  b->pos = tr::put_tag(b->pos, tr::Tag::kFree, back(b, id));
  ++b->events;
  ++b->counts[int(tr::EventKind::kFree)];
  leave(b);
}

unsigned log2_of(size_t a) {
  unsigned l = 0;
  while ((size_t{1} << l) < a && l < 63) ++l;
  return l;
}

void resolve() {
  tl_resolving = 1;
  Real r;
  r.malloc = reinterpret_cast<MallocFn>(dlsym(RTLD_NEXT, "malloc"));
  r.free = reinterpret_cast<FreeFn>(dlsym(RTLD_NEXT, "free"));
  r.calloc = reinterpret_cast<CallocFn>(dlsym(RTLD_NEXT, "calloc"));
  r.realloc = reinterpret_cast<ReallocFn>(dlsym(RTLD_NEXT, "realloc"));
  r.memalign = reinterpret_cast<MemalignFn>(dlsym(RTLD_NEXT, "memalign"));
  r.posix_memalign = reinterpret_cast<PosixMemalignFn>(dlsym(RTLD_NEXT, "posix_memalign"));
  r.aligned_alloc = reinterpret_cast<MemalignFn>(dlsym(RTLD_NEXT, "aligned_alloc"));
  r.valloc = reinterpret_cast<MallocFn>(dlsym(RTLD_NEXT, "valloc"));
  r.pvalloc = reinterpret_cast<MallocFn>(dlsym(RTLD_NEXT, "pvalloc"));
  if (!r.malloc || !r.free || !r.calloc || !r.realloc || !r.memalign || !r.posix_memalign || !r.aligned_alloc ||
      !r.valloc || !r.pvalloc)
    die("cannot find the next allocator's malloc family (dlsym RTLD_NEXT)");
  g_real = r;
  tl_resolving = 0;
}

void start_recording();

// First call: resolve the real functions (re-entrant calls meanwhile use the
// bootstrap buffer), then start recording if this process is the one asked for.
bool ready() {
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

void on_fork_parent() {
  Buffer* b = enter();
  if (!b) return;
  b->pos = tr::put_ext(b->pos, tr::ExtKind::kFork);
  ++b->events;
  leave(b);
}
// --follow-forks: the family's base path (HEAPMARK_RECORD_FAMILY); each forked
// child records to "<base>.<pid>".
char g_family[4096] = "";
void write_header();

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

// One write of the whole header so a reader never sees half of it.
void write_header() {
  uint8_t buf[16384];
  uint8_t* p = buf + sizeof(tr::FileHeader);
  uint8_t* const end = buf + sizeof buf;
  auto put_string = [&](const char* s, size_t n) {
    if (n > static_cast<size_t>(end - p) - 16) n = static_cast<size_t>(end - p) - 16;
    p = tr::put_varint(p, n);
    memcpy(p, s, n);
    p += n;
  };
  char exe[4096];
  const ssize_t en = readlink("/proc/self/exe", exe, sizeof exe);
  put_string(exe, en > 0 ? static_cast<size_t>(en) : 0);
  // Command line: /proc/self/cmdline, NUL-separated.
  char cmd[8192];
  size_t cn = 0;
  const int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t r;
    while (cn < sizeof cmd && (r = read(fd, cmd + cn, sizeof cmd - cn)) > 0) cn += static_cast<size_t>(r);
    close(fd);
  }
  size_t argc = 0;
  for (size_t i = 0; i < cn; ++i) argc += cmd[i] == '\0';
  p = tr::put_varint(p, argc);
  for (size_t i = 0, s = 0; i < cn; ++i)
    if (cmd[i] == '\0') {
      put_string(cmd + s, i - s);
      s = i + 1;
    }
  utsname u;
  char machine[512] = "";
  if (uname(&u) == 0) {
    size_t m = 0;
    const char* const parts[] = {u.nodename, " ", u.sysname, " ", u.release, " ", u.machine};
    for (const char* part : parts)
      for (const char* c = part; *c && m < sizeof machine - 1; ++c) machine[m++] = *c;
    machine[m] = '\0';
  }
  put_string(machine, strlen(machine));
  p = tr::put_varint(p, now_ns(CLOCK_REALTIME));
  p = tr::put_varint(p, static_cast<uint64_t>(getpid()));
  Dl_info where{};  // the allocator recorded: the object defining the malloc the recorder forwards to
  const bool named = dladdr(reinterpret_cast<void*>(g_real.malloc), &where) != 0 && where.dli_fname;
  put_string(named ? where.dli_fname : "", named ? strlen(where.dli_fname) : 0);
  tr::FileHeader h{};
  memcpy(h.magic, tr::kMagic, sizeof h.magic);
  h.version = tr::kVersion;
  h.body_bytes = static_cast<uint32_t>(p - buf - sizeof h);
  h.body_checksum = tr::checksum32(buf + sizeof h, h.body_bytes);
  memcpy(buf, &h, sizeof h);
  write_all(buf, static_cast<size_t>(p - buf));
}

// An exec'd image records on into its process's file: the ms from that
// recording's start (its header's wall-clock start) to now, or 0 if unreadable.
uint64_t ms_since_file_start(const char* path) {
  uint8_t buf[16384];
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const ssize_t n = pread(fd, buf, sizeof buf, 0);
  close(fd);
  tr::FileHeader h;
  if (n < static_cast<ssize_t>(sizeof h)) return 0;
  memcpy(&h, buf, sizeof h);
  const size_t body =
      h.body_bytes < static_cast<size_t>(n) - sizeof h ? h.body_bytes : static_cast<size_t>(n) - sizeof h;
  uint64_t start_ns = 0;
  if (!tr::header_start_unix_ns(buf + sizeof h, buf + sizeof h + body, start_ns)) return 0;
  const uint64_t now = now_ns(CLOCK_REALTIME);
  return now > start_ns ? (now - start_ns) / 1'000'000 : 0;
}

void start_recording() {
  const char* path = getenv("HEAPMARK_RECORD_FILE");
  const char* pid = getenv("HEAPMARK_RECORD_PID");
  const char* family = getenv("HEAPMARK_RECORD_FAMILY");
  // Only the process `heapmark record` started records, and with --follow-forks
  // a forked child that exec'd: its trace, "<family>.<pid>", was started by
  // on_fork_child in this process (found by pid: a shell execs with its own
  // copy of the environment, not the one the fork handler could change).
  char child[sizeof g_family + 24];
  if (!path || !pid) return;
  if (strtoll(pid, nullptr, 10) != getpid()) {
    if (!family ||
        snprintf(child, sizeof child, "%s.%d", family, static_cast<int>(getpid())) >= static_cast<int>(sizeof child) ||
        access(child, F_OK) != 0)
      return;
    path = child;
  }
  if (const char* ms = getenv("HEAPMARK_RECORD_RSS_MS")) g_rss_every_ms = strtoull(ms, nullptr, 10);
  if (const char* fd = getenv("HEAPMARK_PHASE_FD"); fd && *fd) g_phase_fd = atoi(fd);
  if (g_rss_every_ms == 0) g_rss_every_ms = UINT64_MAX / 2;
  if (const char* family = getenv("HEAPMARK_RECORD_FAMILY"); family && strlen(family) < sizeof g_family)
    memcpy(g_family, family, strlen(family) + 1);
  const char* stacks = getenv("HEAPMARK_RECORD_STACKS");
  const unsigned depth = stacks ? static_cast<unsigned>(strtoul(stacks, nullptr, 10)) : 0;
  const char* walker = getenv("HEAPMARK_RECORD_WALKER");
  const bool fp = walker && strcmp(walker, "frame-pointers") == 0;
  g_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (g_fd < 0) die("cannot open the trace file (HEAPMARK_RECORD_FILE)");
  void* root = mmap(nullptr, kRootEntries * sizeof(std::atomic<Leaf*>), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (root == MAP_FAILED) die("cannot reserve the pointer table's root (512 MiB of address space)");
  g_root = static_cast<std::atomic<Leaf*>*>(root);
  g_start_ns = now_ns(CLOCK_MONOTONIC_COARSE);
  g_pid = getpid();
  if (pthread_key_create(&g_key, thread_exit) != 0) die("pthread_key_create failed");
  struct stat st;
  if (fstat(g_fd, &st) == 0 && st.st_size == 0) {
    write_header();
  } else {
    // An exec'd image of the recorded process: the reader restarts ids here.
    char exe[4096];
    const ssize_t en = readlink("/proc/self/exe", exe, sizeof exe);
    tr::ChunkHeader h{};
    h.magic = tr::kChunkMagic;
    h.kind = static_cast<uint32_t>(tr::ChunkKind::kImage);
    h.start_ms = ms_since_file_start(path);  // this image's times follow on from the earlier images'
    h.payload_bytes = en > 0 ? static_cast<uint32_t>(en) : 0;
    h.checksum = tr::chunk_checksum(h, reinterpret_cast<const uint8_t*>(exe));
    uint8_t buf[sizeof h + sizeof exe];
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, exe, h.payload_bytes);
    write_all(buf, sizeof h + h.payload_bytes);
  }
  if (depth > 0)
    heapmark::record::stacks_start(
        depth, fp ? heapmark::record::Walker::kFramePointers : heapmark::record::Walker::kLibunwind, write_all);
  pthread_atfork(nullptr, on_fork_parent, on_fork_child);
  g_active.store(true, std::memory_order_release);
}

// What could not be recorded, as a "lost" chunk (count, reason bits), once per
// image: the reader adds them up, trace-info says why, replay refuses.
// Writes one chunk of varints (`n` values) in one write.
void write_varint_chunk(tr::ChunkKind kind, const uint64_t* values, size_t n) {
  uint8_t buf[sizeof(tr::ChunkHeader) + 10 * 16];
  uint8_t* p = buf + sizeof(tr::ChunkHeader);
  for (size_t i = 0; i < n && i < 16; ++i) p = tr::put_varint(p, values[i]);
  tr::ChunkHeader h{};
  h.magic = tr::kChunkMagic;
  h.kind = static_cast<uint32_t>(kind);
  h.payload_bytes = static_cast<uint32_t>(p - buf - sizeof h);
  h.checksum = tr::chunk_checksum(h, buf + sizeof h);
  memcpy(buf, &h, sizeof h);
  write_all(buf, static_cast<size_t>(p - buf));
}

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

namespace {

// Each `phase NAME` line of a write to the phase descriptor, as a phase event
// of the writing thread (before the bytes go out: the mark sits between the
// calls made before and after it).
void record_phase_lines(const char* p, size_t n) {
  if (!g_active.load(std::memory_order_relaxed)) return;
  while (n > 0) {
    const char* nl = static_cast<const char*>(memchr(p, '\n', n));
    const size_t len = nl ? static_cast<size_t>(nl - p) : n;
    if (len >= 6 && memcmp(p, "phase ", 6) == 0) {
      size_t name = len - 6;
      if (name > 0 && p[len - 1] == '\r') --name;
      if (name > tr::kMaxPhaseName) name = tr::kMaxPhaseName;
      if (Buffer* b = enter()) {
        b->pos = tr::put_ext(b->pos, tr::ExtKind::kPhase);
        b->pos = tr::put_varint(b->pos, name);
        memcpy(b->pos, p + 6, name);
        b->pos += name;
        ++b->events;
        leave(b);
      }
    }
    if (!nl) break;
    n -= len + 1;
    p = nl + 1;
  }
}

using WriteFn = ssize_t (*)(int, const void*, size_t);
using FflushFn = int (*)(FILE*);
std::atomic<WriteFn> g_real_write{nullptr};
std::atomic<FflushFn> g_real_fflush{nullptr};

}  // namespace

HM_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  if (fd == g_phase_fd && fd >= 0 && buf) record_phase_lines(static_cast<const char*>(buf), n);
  WriteFn real = g_real_write.load(std::memory_order_acquire);
  if (!real && !tl_resolving && g_init.load(std::memory_order_acquire) == 2) {
    real = reinterpret_cast<WriteFn>(dlsym(RTLD_NEXT, "write"));
    g_real_write.store(real, std::memory_order_release);
  }
  if (real) return real(fd, buf, n);
  return syscall(SYS_write, fd, buf, n);  // while the malloc family is being resolved
}

HM_EXPORT int fflush(FILE* f) {
  if (f && g_phase_fd >= 0 && f->_fileno == g_phase_fd && f->_IO_write_ptr > f->_IO_write_base)
    record_phase_lines(f->_IO_write_base, static_cast<size_t>(f->_IO_write_ptr - f->_IO_write_base));
  FflushFn real = g_real_fflush.load(std::memory_order_acquire);
  if (!real) {
    real = reinterpret_cast<FflushFn>(dlsym(RTLD_NEXT, "fflush"));
    g_real_fflush.store(real, std::memory_order_release);
  }
  return real ? real(f) : EOF;
}

// Only execve itself: glibc's execv/execvp/posix_spawn reach the kernel through
// an internal alias, so events buffered before those are lost (see above).
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

HM_EXPORT void* malloc(size_t n) noexcept {
  if (!ready()) return boot_alloc(n, 16);
  void* p = g_real.malloc(n);
  if (p) record_alloc(p, tr::Tag::kMalloc, n, 0);
  return p;
}

HM_EXPORT void free(void* p) noexcept {
  if (!p || is_boot(p)) return;
  if (!ready()) return;
  record_free(p);
  g_real.free(p);
}

HM_EXPORT void* calloc(size_t c, size_t n) noexcept {
  size_t total;
  if (__builtin_mul_overflow(c, n, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (!ready()) return boot_alloc(total, 16);
  void* p = g_real.calloc(c, n);
  if (p) record_alloc(p, tr::Tag::kCalloc, total, 0);
  return p;
}

HM_EXPORT void* realloc(void* p, size_t n) noexcept {
  if (!ready() || is_boot(p)) {
    // A bootstrap block moves to the real heap (its size is not known: copy what fits).
    void* q = ready() ? malloc(n) : boot_alloc(n, 16);
    if (q && p) {
      const size_t avail = static_cast<size_t>(g_boot + sizeof g_boot - static_cast<char*>(p));
      memcpy(q, p, n < avail ? n : avail);
    }
    return q;
  }
  if (!p) return malloc(n);
  uint64_t old_id;
  const bool tracked = g_active.load(std::memory_order_relaxed) && table_remove(p, old_id);
  void* q = g_real.realloc(p, n);
  if (!tracked) {
    if (q) record_alloc(q, tr::Tag::kMalloc, n, 0);
    return q;
  }
  if (!q) {
    if (n == 0) {  // glibc: realloc(p, 0) frees p
      if (Buffer* b = enter()) {
        b->pos = tr::put_tag(b->pos, tr::Tag::kFree, back(b, old_id));
        ++b->events;
        ++b->counts[int(tr::EventKind::kFree)];
        leave(b);
      }
    } else {
      table_insert(p, old_id);  // failed: p is unchanged and still live
    }
    return q;
  }
  const uint32_t site = heapmark::record::stacks_site();
  Buffer* b = enter();
  if (!b) return q;
  ensure_id(b);  // the reader resolves the back reference after any new batch, before the result's id
  const uint64_t back_ref = back(b, old_id);
  const uint64_t id = b->next_id++;
  if (table_insert(q, id)) {
    put_site(b, site);
    b->pos = tr::put_tag(b->pos, tr::Tag::kRealloc, back_ref);
    b->pos = tr::put_varint(b->pos, n);
    ++b->events;
    ++b->counts[int(tr::EventKind::kRealloc)];
  } else {
    --b->next_id;
  }
  leave(b);
  return q;
}

HM_EXPORT void* reallocarray(void* p, size_t c, size_t n) noexcept {
  size_t total;
  if (__builtin_mul_overflow(c, n, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, total);
}

HM_EXPORT void* memalign(size_t a, size_t n) noexcept {
  if (!ready()) return boot_alloc(n, a);
  void* p = g_real.memalign(a, n);
  if (p) record_alloc(p, tr::Tag::kAligned, n, log2_of(a));
  return p;
}

HM_EXPORT int posix_memalign(void** out, size_t a, size_t n) noexcept {
  if (!ready()) {
    *out = boot_alloc(n, a);
    return *out ? 0 : ENOMEM;
  }
  const int r = g_real.posix_memalign(out, a, n);
  if (r == 0 && *out) record_alloc(*out, tr::Tag::kAligned, n, log2_of(a));
  return r;
}

HM_EXPORT void* aligned_alloc(size_t a, size_t n) noexcept {
  if (!ready()) return boot_alloc(n, a);
  void* p = g_real.aligned_alloc(a, n);
  if (p) record_alloc(p, tr::Tag::kAligned, n, log2_of(a));
  return p;
}

HM_EXPORT void* valloc(size_t n) noexcept {
  if (!ready()) return boot_alloc(n, 4096);
  void* p = g_real.valloc(n);
  if (p) record_alloc(p, tr::Tag::kAligned, n, 12);
  return p;
}

HM_EXPORT void* pvalloc(size_t n) noexcept {
  if (!ready()) return boot_alloc((n + 4095) & ~size_t{4095}, 4096);
  void* p = g_real.pvalloc(n);
  // pvalloc rounds the size up to whole pages: the replay asks for what was given.
  if (p) record_alloc(p, tr::Tag::kAligned, (n + 4095) & ~size_t{4095}, 12);
  return p;
}
