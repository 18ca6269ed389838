// The ptmalloc-style core (see core.h for the settings). Structure and names
// follow glibc 2.36 malloc/malloc.c and malloc/arena.c so a reader can compare
// the two side by side; the differences are the release policies, an explicit
// heap registry (so a free of a foreign pointer is caught without touching it),
// and tcache/fastbin keys checked on every path.
#include "ptmalloc_style/core.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "os/os.h"

extern char** environ;

namespace heapmark::pt {
namespace {

// ---------------------------------------------------------------- constants
constexpr size_t SIZE_SZ = 8;
constexpr size_t ALIGN = 16;
constexpr size_t ALIGN_MASK = ALIGN - 1;
constexpr size_t MINSIZE = 32;
constexpr size_t HDR = 2 * SIZE_SZ;        // chunk header (prev_size + size)
constexpr size_t FREE_HDR = 64;            // words of a free chunk kept resident (links + decay tags)
constexpr size_t PREV_INUSE = 1, IS_MMAPPED = 2, NON_MAIN_ARENA = 4;
constexpr size_t SIZE_BITS = 7;
constexpr size_t NBINS = 128;
constexpr size_t MIN_LARGE_SIZE = 1024;
constexpr size_t NFASTBINS = 10;
constexpr size_t TCACHE_BINS = 64;
constexpr size_t HEAP_MAX = size_t(64) << 20;               // non-main heap size (2 x mmap max)
constexpr size_t MMAP_THRESHOLD_MAX = size_t(32) << 20;
constexpr size_t FASTBIN_CONSOLIDATION_THRESHOLD = 65536;
constexpr size_t MAX_REQUEST = (size_t(1) << 62);           // far below PTRDIFF_MAX
constexpr unsigned DECAY_OPS = 64;                         // arena ops between clock reads

// ---------------------------------------------------------------- chunks
struct Chunk {
  size_t prev_size;  // size of the previous chunk when it is free
  size_t size;       // this chunk's size | flags (accessed atomically: see head())
  Chunk* fd;
  Chunk* bk;
  Chunk* fd_nextsize;  // large bins: next smaller size group (heads only)
  Chunk* bk_nextsize;
  uintptr_t decay_epoch;  // free chunks with whole pages: when they became dirty
  uintptr_t page_tag;     // tag_clean/tag_dirty ^ address, else unknown (dirty)
};

// Header words are read without the arena lock by free() and by neighbours'
// owners; relaxed atomics make that well defined (plain movs on x86-64).
inline size_t head(const Chunk* c) { return __atomic_load_n(&c->size, __ATOMIC_RELAXED); }
inline void set_head(Chunk* c, size_t v) { __atomic_store_n(&c->size, v, __ATOMIC_RELAXED); }
inline size_t chunksize(const Chunk* c) { return head(c) & ~SIZE_BITS; }
inline Chunk* at(const void* c, ptrdiff_t off) { return (Chunk*)((char*)c + off); }
inline Chunk* mem2chunk(const void* m) { return (Chunk*)((char*)m - HDR); }
inline void* chunk2mem(const Chunk* c) { return (char*)c + HDR; }
inline bool prev_inuse(const Chunk* c) { return head(c) & PREV_INUSE; }
inline bool is_mmapped(const Chunk* c) { return head(c) & IS_MMAPPED; }
inline void set_head_size(Chunk* c, size_t s) { set_head(c, (head(c) & SIZE_BITS) | s); }
inline void set_foot(Chunk* c, size_t s) { at(c, s)->prev_size = s; }
inline bool inuse_at(Chunk* c, size_t s) { return prev_inuse(at(c, s)); }
inline void set_inuse_at(Chunk* c, size_t s) {
  Chunk* n = at(c, s);
  set_head(n, head(n) | PREV_INUSE);
}
inline void clear_inuse_at(Chunk* c, size_t s) {
  Chunk* n = at(c, s);
  set_head(n, head(n) & ~PREV_INUSE);
}
inline size_t request2size(size_t n) {
  size_t s = (n + SIZE_SZ + ALIGN_MASK) & ~ALIGN_MASK;
  return s < MINSIZE ? MINSIZE : s;
}
inline bool in_smallbin_range(size_t s) { return s < MIN_LARGE_SIZE; }
inline size_t smallbin_index(size_t s) { return s >> 4; }
constexpr size_t largebin_index(size_t sz) {
  return ((sz >> 6) <= 48)   ? 48 + (sz >> 6)
         : ((sz >> 9) <= 20) ? 91 + (sz >> 9)
         : ((sz >> 12) <= 10) ? 110 + (sz >> 12)
         : ((sz >> 15) <= 4) ? 119 + (sz >> 15)
         : ((sz >> 18) <= 2) ? 124 + (sz >> 18)
                              : 126;
}
inline size_t bin_index(size_t s) { return in_smallbin_range(s) ? smallbin_index(s) : largebin_index(s); }
inline size_t fastbin_index(size_t s) { return (s >> 4) - 2; }
inline size_t csize2tidx(size_t s) { return (s - MINSIZE) >> 4; }
inline uintptr_t align_up(uintptr_t x, size_t a) { return (x + a - 1) & ~(uintptr_t)(a - 1); }
inline uintptr_t align_down(uintptr_t x, size_t a) { return x & ~(uintptr_t)(a - 1); }

// Safe-linking of singly linked lists (glibc 2.32+): a corrupted link is caught
// as an unaligned pointer instead of being followed.
inline uintptr_t protect_ptr(const void* pos, const void* ptr) { return ((uintptr_t)pos >> 12) ^ (uintptr_t)ptr; }
template <class T>
inline T* reveal_ptr(const void* pos, uintptr_t v) {
  return (T*)(((uintptr_t)pos >> 12) ^ v);
}

[[noreturn]] void die(const char* msg) {
  char buf[160];
  size_t n = 0;
  const char* pre = "heapmark ptmalloc-style: ";
  for (const char* s = pre; *s && n < sizeof buf - 2; ++s) buf[n++] = *s;
  for (const char* s = msg; *s && n < sizeof buf - 2; ++s) buf[n++] = *s;
  buf[n++] = '\n';
  ssize_t r = ::write(2, buf, n);
  (void)r;
  abort();
}

// ---------------------------------------------------------------- arenas, heaps
struct Arena;
struct HeapInfo {
  Arena* ar;
  HeapInfo* prev;
  size_t size;   // committed bytes from the heap's start (atomic access)
  Chunk* last;   // abandoned heaps: the in-use chunk just before the size-0 fencepost
  uintptr_t magic;
  uintptr_t pad[3];
};
static_assert(sizeof(HeapInfo) % ALIGN == 0);
inline size_t heap_size(const HeapInfo* h) { return __atomic_load_n(&h->size, __ATOMIC_RELAXED); }
inline void set_heap_size(HeapInfo* h, size_t s) { __atomic_store_n(&h->size, s, __ATOMIC_RELAXED); }
inline HeapInfo* heap_for_ptr(const void* p) { return (HeapInfo*)align_down((uintptr_t)p, HEAP_MAX); }

struct TEntry {
  uintptr_t next;  // protected
  uintptr_t key;
};
struct TCache {
  uint16_t counts[TCACHE_BINS];
  uint16_t limit;  // 0 in the constant empty tcache: every free takes the slow path
  TEntry* entries[TCACHE_BINS];
};

struct alignas(64) Arena {
  pthread_mutex_t mutex;
  Chunk* fastbins[NFASTBINS];
  Chunk* top;
  Chunk* last_remainder;
  Chunk bins[NBINS];  // sentinels; [1] unsorted, [2..63] small, [64..126] large
  uint32_t binmap[NBINS / 32];
  bool have_fastchunks;
  size_t flag;  // NON_MAIN_ARENA for every chunk of a non-main arena
  Arena* next;
  Arena* next_free;
  size_t attached;
  size_t system_mem, max_system_mem;
  HeapInfo* heap;  // non-main: current (last) heap, which holds the top
  unsigned ops;
  uint64_t epoch, last_tick_ms;
};

struct MainHeap {
  char* base;
  size_t reserved;
  std::atomic<char*> end{nullptr};  // committed end == end of the top chunk
};

// ---------------------------------------------------------------- globals
constinit Settings g_set{};
constinit std::atomic<size_t> g_mmap_threshold{0}, g_trim_threshold{0};
constinit size_t g_page = 4096;
constinit uintptr_t g_tcache_key = 0, g_fast_key = 0, g_tag_clean = 0, g_tag_dirty = 0;
constinit MainHeap g_main{};
constinit Arena g_main_arena{};
constinit std::atomic<int> g_init_state{0};
pthread_mutex_t g_init_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t g_list_mu = PTHREAD_MUTEX_INITIALIZER;  // arena list, free list, attachment
pthread_mutex_t g_mmap_mu = PTHREAD_MUTEX_INITIALIZER;  // mmapped-chunk registry
size_t g_narenas = 1;
bool g_main_taken = false;
Arena* g_free_list = nullptr;
Arena* g_next_reuse = nullptr;
pthread_key_t g_key;
constinit std::atomic<uint64_t>* g_heapmap = nullptr;  // one bit per HEAP_MAX slot of a 47-bit address space
constexpr size_t kHeapSlots = (size_t(1) << 47) / HEAP_MAX;
constinit std::atomic<size_t> g_heaps{0};

constinit TCache kEmptyTcache{};
thread_local TCache* tl_tc __attribute__((tls_model("initial-exec"))) = &kEmptyTcache;
thread_local Arena* tl_arena __attribute__((tls_model("initial-exec"))) = nullptr;
thread_local bool tl_shutdown __attribute__((tls_model("initial-exec"))) = false;

inline void lock(pthread_mutex_t* m) { pthread_mutex_lock(m); }
inline void unlock(pthread_mutex_t* m) { pthread_mutex_unlock(m); }

// ---------------------------------------------------------------- mmapped-chunk registry
// Open addressing keyed by chunk address, so free() validates a mmapped chunk
// without reading memory that may not be ours.
struct MEntry {
  uintptr_t chunk, base, size;
};
struct MTable {
  MEntry* e = nullptr;
  size_t cap = 0, used = 0, bytes = 0;
  size_t mapped_bytes = 0, max_mapped_bytes = 0;
};
constinit MTable g_mt{};

inline size_t mhash(uintptr_t k, size_t cap) { return (size_t)((k >> 4) * 0x9E3779B97F4A7C15ull) & (cap - 1); }

bool mt_grow() {
  size_t ncap = g_mt.cap ? g_mt.cap * 2 : 1024;
  size_t bytes = align_up(ncap * sizeof(MEntry), g_page);
  MEntry* ne = (MEntry*)os::reserve_committed(bytes);
  if (!ne) return false;
  for (size_t i = 0; i < g_mt.cap; ++i) {
    if (!g_mt.e[i].chunk) continue;
    size_t j = mhash(g_mt.e[i].chunk, ncap);
    while (ne[j].chunk) j = (j + 1) & (ncap - 1);
    ne[j] = g_mt.e[i];
  }
  if (g_mt.e) os::release(g_mt.e, g_mt.bytes);
  g_mt.e = ne;
  g_mt.cap = ncap;
  g_mt.bytes = bytes;
  return true;
}
bool mt_insert(uintptr_t chunk, uintptr_t base, size_t size) {  // g_mmap_mu held
  if ((g_mt.used + 1) * 2 > g_mt.cap && !mt_grow()) return false;
  size_t j = mhash(chunk, g_mt.cap);
  while (g_mt.e[j].chunk) j = (j + 1) & (g_mt.cap - 1);
  g_mt.e[j] = {chunk, base, size};
  ++g_mt.used;
  g_mt.mapped_bytes += size;
  if (g_mt.mapped_bytes > g_mt.max_mapped_bytes) g_mt.max_mapped_bytes = g_mt.mapped_bytes;
  return true;
}
MEntry* mt_find(uintptr_t chunk) {  // g_mmap_mu held
  if (!g_mt.cap) return nullptr;
  size_t j = mhash(chunk, g_mt.cap);
  while (g_mt.e[j].chunk) {
    if (g_mt.e[j].chunk == chunk) return &g_mt.e[j];
    j = (j + 1) & (g_mt.cap - 1);
  }
  return nullptr;
}
void mt_erase(MEntry* slot) {  // backward-shift deletion keeps probe chains intact
  size_t cap = g_mt.cap, i = (size_t)(slot - g_mt.e);
  g_mt.mapped_bytes -= slot->size;
  --g_mt.used;
  for (size_t j = (i + 1) & (cap - 1);; j = (j + 1) & (cap - 1)) {
    if (!g_mt.e[j].chunk) break;
    size_t h = mhash(g_mt.e[j].chunk, cap);
    bool movable = (i <= j) ? (h <= i || h > j) : (h <= i && h > j);
    if (movable) {
      g_mt.e[i] = g_mt.e[j];
      i = j;
    }
  }
  g_mt.e[i] = {0, 0, 0};
}

// ---------------------------------------------------------------- heap registry
inline bool heap_registered(const void* h) {
  uintptr_t slot = (uintptr_t)h / HEAP_MAX;
  if (slot >= kHeapSlots || !g_heapmap) return false;
  return g_heapmap[slot / 64].load(std::memory_order_acquire) & (uint64_t(1) << (slot % 64));
}
void heap_register(const void* h, bool on) {
  uintptr_t slot = (uintptr_t)h / HEAP_MAX;
  uint64_t bit = uint64_t(1) << (slot % 64);
  if (on)
    g_heapmap[slot / 64].fetch_or(bit, std::memory_order_release);
  else
    g_heapmap[slot / 64].fetch_and(~bit, std::memory_order_release);
}

// ---------------------------------------------------------------- settings
const char* env(const char* name) {
  size_t n = strlen(name);
  for (char** e = environ; e && *e; ++e)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return nullptr;
}
bool env_size(const char* name, size_t* out) {
  const char* v = env(name);
  if (!v || !*v) return false;
  size_t x = 0;
  const char* s = v;
  for (; *s >= '0' && *s <= '9'; ++s) x = x * 10 + (size_t)(*s - '0');
  if (s == v) return false;
  if (*s == 'k' || *s == 'K') x <<= 10;
  if (*s == 'm' || *s == 'M') x <<= 20;
  if (*s == 'g' || *s == 'G') x <<= 30;
  *out = x;
  return true;
}

uint64_t random64(uint64_t salt) {
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    r = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)&r ^ (uint64_t)getpid() << 32;
  }
  r ^= salt * 0xBF58476D1CE4E5B9ull;
  return r | 1;
}

uint64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

unsigned online_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return (unsigned)n;
  }
  return 1;
}

void read_settings() {
  Settings& s = g_set;
  s.release = ReleasePolicy::glibc;
  if (const char* v = env("HEAPMARK_PT_RELEASE")) {
    if (strcmp(v, "eager") == 0) s.release = ReleasePolicy::eager;
    if (strcmp(v, "decay") == 0) s.release = ReleasePolicy::decay;
  }
  size_t x;
  s.decay_ms = 500;
  if (env_size("HEAPMARK_PT_DECAY_MS", &x)) s.decay_ms = x < 1 ? 1 : (unsigned)x;
  s.decay_thread = s.release == ReleasePolicy::decay;
  if (env_size("HEAPMARK_PT_DECAY_THREAD", &x)) s.decay_thread = s.release == ReleasePolicy::decay && x != 0;
  s.trim_threshold = 128 * 1024;
  s.top_pad = 128 * 1024;
  s.mmap_threshold = 128 * 1024;
  s.mmap_dynamic = true;
  if (env_size("HEAPMARK_PT_TRIM_THRESHOLD", &x)) {
    s.trim_threshold = x;
    s.mmap_dynamic = false;
  }
  if (env_size("HEAPMARK_PT_MMAP_THRESHOLD", &x)) {
    s.mmap_threshold = x > MMAP_THRESHOLD_MAX ? MMAP_THRESHOLD_MAX : x;
    s.mmap_dynamic = false;
  }
  if (env_size("HEAPMARK_PT_TOP_PAD", &x)) {
    s.top_pad = x;
    s.mmap_dynamic = false;  // as mallopt(M_TOP_PAD)
  }
  if (env_size("HEAPMARK_PT_MMAP_DYNAMIC", &x)) s.mmap_dynamic = x != 0;
  s.arena_max = 8 * online_cpus();
  if (env_size("HEAPMARK_PT_ARENA_MAX", &x) && x > 0) s.arena_max = (unsigned)x;
  s.tcache_count = 7;
  if (env_size("HEAPMARK_PT_TCACHE_COUNT", &x)) s.tcache_count = x > 65535 ? 65535 : (unsigned)x;
  s.max_fast = 128;
  if (env_size("HEAPMARK_PT_MXFAST", &x)) s.max_fast = x == 0 ? MINSIZE / 2 : ((x > 160 ? 160 : x) + SIZE_SZ) & ~ALIGN_MASK;
  s.main_heap_reserve = size_t(64) << 30;
  if (env_size("HEAPMARK_PT_MAIN_HEAP", &x) && x >= (size_t(1) << 20)) s.main_heap_reserve = x;
  g_mmap_threshold.store(s.mmap_threshold, std::memory_order_relaxed);
  g_trim_threshold.store(s.trim_threshold, std::memory_order_relaxed);
}

// ---------------------------------------------------------------- bins
inline Chunk* bin_at(Arena* av, size_t i) { return &av->bins[i]; }
inline Chunk* unsorted(Arena* av) { return &av->bins[1]; }
inline bool is_bin(Arena* av, const Chunk* c) { return c >= &av->bins[0] && c < &av->bins[NBINS]; }
inline void mark_bin(Arena* av, size_t i) { av->binmap[i >> 5] |= 1u << (i & 31); }
inline void unmark_bin(Arena* av, size_t i) { av->binmap[i >> 5] &= ~(1u << (i & 31)); }

void init_arena(Arena* av, size_t flag) {
  pthread_mutex_init(&av->mutex, nullptr);
  for (size_t i = 0; i < NBINS; ++i) {
    Chunk* b = bin_at(av, i);
    b->fd = b->bk = b;
    b->fd_nextsize = b->bk_nextsize = nullptr;
  }
  av->flag = flag;
}

void unlink_chunk(Arena* av, Chunk* p) {
  size_t size = chunksize(p);
  if (size != at(p, size)->prev_size) die("corrupted size vs. prev_size");
  Chunk* fd = p->fd;
  Chunk* bk = p->bk;
  if (fd->bk != p || bk->fd != p) die("corrupted double-linked list");
  fd->bk = bk;
  bk->fd = fd;
  if (!in_smallbin_range(size) && p->fd_nextsize != nullptr) {
    if (p->fd_nextsize->bk_nextsize != p || p->bk_nextsize->fd_nextsize != p)
      die("corrupted double-linked list (not small)");
    if (!is_bin(av, fd) && chunksize(fd) == size) {  // fd becomes its size group's head
      if (p->fd_nextsize == p) {
        fd->fd_nextsize = fd->bk_nextsize = fd;
      } else {
        fd->fd_nextsize = p->fd_nextsize;
        fd->bk_nextsize = p->bk_nextsize;
        p->fd_nextsize->bk_nextsize = fd;
        p->bk_nextsize->fd_nextsize = fd;
      }
    } else {
      p->fd_nextsize->bk_nextsize = p->bk_nextsize;
      p->bk_nextsize->fd_nextsize = p->fd_nextsize;
    }
  }
}

void unsorted_push(Arena* av, Chunk* p, size_t size, const char* what) {
  Chunk* bck = unsorted(av);
  Chunk* fwd = bck->fd;
  if (fwd->bk != bck) die(what);
  p->fd = fwd;
  p->bk = bck;
  if (!in_smallbin_range(size)) p->fd_nextsize = p->bk_nextsize = nullptr;
  bck->fd = p;
  fwd->bk = p;
}

// Small bins: front insertion. Large bins: sorted by size, largest first, the
// first chunk of each size on the nextsize ring (glibc's layout).
void place_in_bin(Arena* av, Chunk* victim, size_t size) {
  size_t idx = bin_index(size);
  Chunk* bin = bin_at(av, idx);
  Chunk *bck, *fwd;
  if (in_smallbin_range(size)) {
    bck = bin;
    fwd = bin->fd;
  } else if (bin->fd == bin) {
    victim->fd_nextsize = victim->bk_nextsize = victim;
    bck = fwd = bin;
  } else {
    Chunk* first = bin->fd;
    Chunk* last = bin->bk;
    if (size < chunksize(last)) {  // new smallest size group, at the end
      victim->fd_nextsize = first;
      victim->bk_nextsize = first->bk_nextsize;
      first->bk_nextsize->fd_nextsize = victim;
      first->bk_nextsize = victim;
      bck = last;
      fwd = bin;
    } else {
      fwd = first;
      while (size < chunksize(fwd)) fwd = fwd->fd_nextsize;
      if (size == chunksize(fwd)) {  // join the group behind its head
        victim->fd_nextsize = victim->bk_nextsize = nullptr;
        bck = fwd;
        fwd = fwd->fd;
      } else {
        victim->fd_nextsize = fwd;
        victim->bk_nextsize = fwd->bk_nextsize;
        if (fwd->bk_nextsize->fd_nextsize != fwd) die("malloc(): largebin double linked list corrupted (nextsize)");
        fwd->bk_nextsize->fd_nextsize = victim;
        fwd->bk_nextsize = victim;
        bck = fwd->bk;
      }
      if (bck->fd != fwd) die("malloc(): largebin double linked list corrupted (bk)");
    }
  }
  mark_bin(av, idx);
  victim->bk = bck;
  victim->fd = fwd;
  fwd->bk = victim;
  bck->fd = victim;
}

// ---------------------------------------------------------------- release policies
inline uintptr_t interior_lo(const Chunk* c) { return align_up((uintptr_t)c + FREE_HDR, g_page); }
inline uintptr_t interior_hi(const Chunk* c, size_t size) { return align_down((uintptr_t)c + size, g_page); }

// Called for every chunk a free (or a consolidation) has just put in the
// unsorted bin, merged with its free neighbours. [lo_hint, hi_hint) covers the
// freed chunk plus its old neighbour's header: only those pages can be resident.
void on_free_chunk(Arena* av, Chunk* p, size_t size, uintptr_t lo_hint, uintptr_t hi_hint) {
  uintptr_t lo = interior_lo(p), hi = interior_hi(p, size);
  if (lo >= hi) return;
  switch (g_set.release) {
    case ReleasePolicy::glibc:
      p->page_tag = 0;  // dirty for release()
      break;
    case ReleasePolicy::eager: {
      uintptr_t a = align_down(lo_hint, g_page), b = align_up(hi_hint, g_page);
      if (a < lo) a = lo;
      if (b > hi) b = hi;
      if (a < b) os::decommit((void*)a, b - a);
      p->page_tag = g_tag_clean ^ (uintptr_t)p;
      break;
    }
    case ReleasePolicy::decay:
      p->decay_epoch = av->epoch;
      p->page_tag = g_tag_dirty ^ (uintptr_t)p;
      break;
  }
}

// Decommits the whole free pages of unsorted and large-bin chunks (small chunks
// have none). all: every chunk not known clean (release()); else only chunks
// dirty for two decay epochs.
void sweep_free_pages(Arena* av, bool all) {
  for (size_t i = 1; i < NBINS; i = (i == 1 ? 64 : i + 1)) {
    Chunk* bin = bin_at(av, i);
    for (Chunk* c = bin->fd; c != bin; c = c->fd) {
      size_t size = chunksize(c);
      uintptr_t lo = interior_lo(c), hi = interior_hi(c, size);
      if (lo >= hi || c->page_tag == (g_tag_clean ^ (uintptr_t)c)) continue;
      if (!all) {
        if (c->page_tag != (g_tag_dirty ^ (uintptr_t)c)) {  // split remainder: start its clock
          c->page_tag = g_tag_dirty ^ (uintptr_t)c;
          c->decay_epoch = av->epoch;
          continue;
        }
        if (c->decay_epoch + 2 > av->epoch) continue;
      }
      os::decommit((void*)lo, hi - lo);
      c->page_tag = g_tag_clean ^ (uintptr_t)c;
    }
  }
}

bool trim_top(Arena* av, size_t pad);

inline uint64_t decay_half_ms() { return g_set.decay_ms / 2 ? g_set.decay_ms / 2 : 1; }

void malloc_consolidate(Arena* av);

// One decay tick when half a period has passed: pages dirty for two ticks go back.
void decay_advance(Arena* av, uint64_t now) {  // av lock held
  if (now - av->last_tick_ms < decay_half_ms()) return;
  av->last_tick_ms = now;
  ++av->epoch;
  // Fastbin chunks look in use, so their pages could never decay: a tick merges
  // them first (glibc consolidates only before a large request or free).
  if (av->have_fastchunks) malloc_consolidate(av);
  sweep_free_pages(av, false);
  trim_top(av, g_set.top_pad);  // the top above the pad goes back once per tick
}

// The decay clock on the arena's slow path: read every DECAY_OPS operations.
inline void decay_tick(Arena* av) {
  if (g_set.release != ReleasePolicy::decay || ++av->ops < DECAY_OPS) return;
  av->ops = 0;
  decay_advance(av, now_ms());
}

// ---------------------------------------------------------------- heaps (non-main arenas)
inline Chunk* heap_first_chunk(HeapInfo* h) {
  uintptr_t start = (uintptr_t)(h + 1);
  if (!h->prev) start += sizeof(Arena);
  return (Chunk*)align_up(start, ALIGN);
}

HeapInfo* new_heap(size_t size, size_t pad) {
  if (size > HEAP_MAX) return nullptr;
  void* mem = os::reserve(HEAP_MAX, HEAP_MAX);
  if (!mem) return nullptr;
  if ((uintptr_t)mem / HEAP_MAX >= kHeapSlots) {
    os::release(mem, HEAP_MAX);
    return nullptr;
  }
  size_t commit = align_up(size + pad, g_page);
  if (commit > HEAP_MAX) commit = HEAP_MAX;
  if (!os::commit(mem, commit)) {
    commit = align_up(size, g_page);
    if (!os::commit(mem, commit)) {
      os::release(mem, HEAP_MAX);
      return nullptr;
    }
  }
  HeapInfo* h = (HeapInfo*)mem;
  h->ar = nullptr;
  h->prev = nullptr;
  h->last = nullptr;
  h->magic = (uintptr_t)h ^ g_tag_clean;
  set_heap_size(h, commit);
  heap_register(h, true);
  g_heaps.fetch_add(1, std::memory_order_relaxed);
  return h;
}

void delete_heap(HeapInfo* h) {
  heap_register(h, false);
  g_heaps.fetch_sub(1, std::memory_order_relaxed);
  os::release(h, HEAP_MAX);
}

size_t grow_heap(HeapInfo* h, size_t diff) {
  diff = align_up(diff, g_page);
  size_t cur = heap_size(h);
  if (cur + diff > HEAP_MAX || !os::commit((char*)h + cur, diff)) return 0;
  set_heap_size(h, cur + diff);
  return diff;
}

Arena* new_arena() {  // g_list_mu held
  HeapInfo* h = new_heap(sizeof(HeapInfo) + sizeof(Arena) + MINSIZE + ALIGN, g_set.top_pad);
  if (!h) return nullptr;
  Arena* av = (Arena*)(h + 1);
  memset((void*)av, 0, sizeof(Arena));
  init_arena(av, NON_MAIN_ARENA);
  h->ar = av;
  av->heap = h;
  Chunk* top = heap_first_chunk(h);
  av->top = top;
  set_head(top, ((char*)h + heap_size(h) - (char*)top) | PREV_INUSE | NON_MAIN_ARENA);
  av->system_mem = av->max_system_mem = heap_size(h);
  av->last_tick_ms = now_ms();
  Arena* tail = &g_main_arena;
  while (tail->next) tail = tail->next;
  tail->next = av;  // creation order == fork lock order
  ++g_narenas;
  return av;
}

// ---------------------------------------------------------------- init
void thread_exit(void*);

void do_init() {
  g_page = os::page_size();
  read_settings();
  g_tcache_key = random64(1);
  g_fast_key = random64(2);
  g_tag_clean = random64(3);
  g_tag_dirty = random64(4);
  g_heapmap = (std::atomic<uint64_t>*)os::reserve_committed(align_up(kHeapSlots / 8, g_page));
  if (!g_heapmap) die("cannot map the heap registry");
  init_arena(&g_main_arena, 0);
  // The brk-like main heap: one reservation, committed from the bottom as it grows.
  size_t want = align_up(g_set.main_heap_reserve, g_page);
  void* base = nullptr;
  while (want >= (size_t(16) << 20) && !(base = os::reserve(want, 0))) want /= 2;
  if (!base) die("cannot reserve the main heap");
  g_set.main_heap_reserve = want;
  size_t first = align_up(g_set.top_pad + MINSIZE, g_page);
  if (!os::commit(base, first)) die("cannot commit the main heap");
  g_main.base = (char*)base;
  g_main.reserved = want;
  g_main.end.store((char*)base + first, std::memory_order_relaxed);
  g_main_arena.top = (Chunk*)base;
  set_head(g_main_arena.top, first | PREV_INUSE);
  g_main_arena.system_mem = g_main_arena.max_system_mem = first;
  g_main_arena.last_tick_ms = now_ms();
  if (pthread_key_create(&g_key, thread_exit) != 0) die("pthread_key_create failed");
}

inline void ensure_init() {
  if (g_init_state.load(std::memory_order_acquire) == 2) return;
  lock(&g_init_mu);
  if (g_init_state.load(std::memory_order_relaxed) == 0) {
    g_init_state.store(1, std::memory_order_relaxed);
    do_init();
    g_init_state.store(2, std::memory_order_release);
  }
  unlock(&g_init_mu);
}

Arena* arena_get() {
  if (Arena* a = tl_arena) return a;
  ensure_init();
  lock(&g_list_mu);
  Arena* a = nullptr;
  if (!g_main_taken) {
    g_main_taken = true;
    a = &g_main_arena;
  } else if (g_free_list) {
    a = g_free_list;
    g_free_list = a->next_free;
  } else if (g_narenas < g_set.arena_max && (a = new_arena())) {
  } else {  // at arena_max: share round robin, as glibc's reused_arena
    a = g_next_reuse ? g_next_reuse : &g_main_arena;
    g_next_reuse = a->next ? a->next : &g_main_arena;
  }
  ++a->attached;
  unlock(&g_list_mu);
  tl_arena = a;
  pthread_setspecific(g_key, a);  // runs thread_exit at thread end
  return a;
}

inline Arena* arena_for_chunk(const Chunk* c) {
  return (head(c) & NON_MAIN_ARENA) ? heap_for_ptr(c)->ar : &g_main_arena;
}

// ---------------------------------------------------------------- decay thread
// In decay mode a background thread also ticks every arena, so an idle process
// returns its free pages too (like jemalloc's background_thread). It is started
// from the allocation slow path, outside every allocator lock, once the
// process's constructors run (pthread_create may itself allocate), and again in
// a forked child.
std::atomic<int> g_decay_thread{0};  // 0 not started, 1 running or starting, 2 failed
constinit bool g_constructed = false;
__attribute__((constructor)) void mark_constructed() { g_constructed = true; }

void* decay_thread_main(void*) {
  for (;;) {
    uint64_t half = decay_half_ms();
    timespec ts{(time_t)(half / 1000), (long)(half % 1000) * 1000000};
    nanosleep(&ts, nullptr);
    uint64_t now = now_ms();
    lock(&g_list_mu);
    for (Arena* av = &g_main_arena; av; av = av->next) {
      if (pthread_mutex_trylock(&av->mutex) != 0) continue;  // busy: it ticks itself
      decay_advance(av, now);
      unlock(&av->mutex);
    }
    unlock(&g_list_mu);
  }
  return nullptr;
}

void maybe_start_decay_thread() {
  if (!g_set.decay_thread || !g_constructed || g_decay_thread.load(std::memory_order_relaxed) != 0) return;
  int expected = 0;
  if (!g_decay_thread.compare_exchange_strong(expected, 1)) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // the thread never takes the process's signals
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t t;
  if (pthread_create(&t, &attr, decay_thread_main, nullptr) != 0) g_decay_thread.store(2);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// ---------------------------------------------------------------- mmapped chunks
void* mmap_chunk(size_t nb, size_t align) {
  size_t extra = align > ALIGN ? align : 0;
  if (nb > MAX_REQUEST) return nullptr;
  size_t total = align_up(nb + SIZE_SZ + extra, g_page);
  char* base = (char*)os::reserve_committed(total);
  if (!base) return nullptr;
  uintptr_t mem = align > ALIGN ? align_up((uintptr_t)base + HDR, align) : (uintptr_t)base + HDR;
  Chunk* c = mem2chunk((void*)mem);
  size_t off = (char*)c - base;
  c->prev_size = off;
  set_head(c, (total - off) | IS_MMAPPED);
  lock(&g_mmap_mu);
  bool ok = mt_insert((uintptr_t)c, (uintptr_t)base, total);
  unlock(&g_mmap_mu);
  if (!ok) {
    os::release(base, total);
    return nullptr;
  }
  return (void*)mem;
}

// Returns false when p is no mmapped chunk of ours.
bool munmap_chunk(Chunk* c, bool dynamic_rule) {
  lock(&g_mmap_mu);
  MEntry* e = mt_find((uintptr_t)c);
  if (!e) {
    unlock(&g_mmap_mu);
    return false;
  }
  uintptr_t base = e->base;
  size_t total = e->size;
  mt_erase(e);
  unlock(&g_mmap_mu);
  size_t size = chunksize(c);
  if (dynamic_rule && g_set.mmap_dynamic && size > g_mmap_threshold.load(std::memory_order_relaxed) &&
      size <= MMAP_THRESHOLD_MAX) {
    // glibc: a freed mapping above the threshold raises it (and the trim threshold)
    g_mmap_threshold.store(size, std::memory_order_relaxed);
    g_trim_threshold.store(2 * size, std::memory_order_relaxed);
  }
  os::release((void*)base, total);
  return true;
}

// ---------------------------------------------------------------- trimming
bool systrim(size_t pad) {  // main arena lock held
  Arena* av = &g_main_arena;
  size_t top_size = chunksize(av->top);
  if (top_size <= MINSIZE + 1 + pad) return false;
  size_t extra = align_down(top_size - MINSIZE - 1 - pad, g_page);
  if (extra == 0) return false;
  char* end = g_main.end.load(std::memory_order_relaxed);
  os::decommit(end - extra, extra);
  g_main.end.store(end - extra, std::memory_order_relaxed);
  av->system_mem -= extra;
  set_head(av->top, (top_size - extra) | PREV_INUSE);
  return true;
}

bool heap_trim(Arena* av, size_t pad, bool check_threshold) {  // av lock held, av non-main
  HeapInfo* h = av->heap;
  Chunk* top = av->top;
  // A non-first heap whose whole space is the top goes away (arena.c heap_trim).
  while (h->prev && top == heap_first_chunk(h)) {
    HeapInfo* prev = h->prev;
    Chunk* p = prev->last;
    Chunk* nt = p;
    if (!prev_inuse(p)) {
      nt = at(p, -(ptrdiff_t)p->prev_size);
      if (chunksize(nt) != p->prev_size) die("heap_trim(): corrupted size vs. prev_size");
    }
    char* prev_end = (char*)prev + heap_size(prev);
    size_t ntsz = prev_end - (char*)nt;
    if (ntsz + (HEAP_MAX - heap_size(prev)) < pad + MINSIZE + g_page) break;
    if (nt != p) unlink_chunk(av, nt);
    av->system_mem -= heap_size(h);
    delete_heap(h);
    h = prev;
    h->last = nullptr;
    av->heap = h;
    top = nt;
    av->top = top;
    set_head(top, ntsz | PREV_INUSE | NON_MAIN_ARENA);
  }
  size_t top_size = chunksize(top);
  if (check_threshold && top_size < g_trim_threshold.load(std::memory_order_relaxed)) return false;
  if (top_size <= MINSIZE + 1 + pad) return false;
  size_t extra = align_down(top_size - MINSIZE - 1 - pad, g_page);
  if (extra == 0) return false;
  size_t hs = heap_size(h);
  os::decommit((char*)h + hs - extra, extra);
  set_heap_size(h, hs - extra);
  av->system_mem -= extra;
  set_head(top, (top_size - extra) | PREV_INUSE | NON_MAIN_ARENA);
  return true;
}

// Trims the arena's top down to pad, whatever the trim threshold.
bool trim_top(Arena* av, size_t pad) { return av == &g_main_arena ? systrim(pad) : heap_trim(av, pad, false); }

// ---------------------------------------------------------------- free

// Coalesces p (size bytes, in use) with free neighbours and puts the result in
// the unsorted bin or the top. Returns the merged size.
size_t free_merge(Arena* av, Chunk* p, size_t size) {
  Chunk* nx = at(p, size);
  if (p == av->top) die("double free or corruption (top)");
  if (av == &g_main_arena) {
    if ((char*)nx >= (char*)av->top + chunksize(av->top)) die("double free or corruption (out)");
  } else {
    HeapInfo* h = heap_for_ptr(p);
    if ((char*)nx >= (char*)h + heap_size(h)) die("double free or corruption (out)");
  }
  if (!prev_inuse(nx)) die("double free or corruption (!prev)");
  size_t nsz = chunksize(nx);
  if (head(nx) <= HDR || nsz >= av->system_mem) die("free(): invalid next size (normal)");
  uintptr_t lo_hint = (uintptr_t)p, hi_hint = (uintptr_t)nx + FREE_HDR;
  if (!prev_inuse(p)) {
    size_t psz = p->prev_size;
    p = at(p, -(ptrdiff_t)psz);
    if (chunksize(p) != psz) die("corrupted size vs. prev_size while consolidating");
    unlink_chunk(av, p);
    size += psz;
  }
  if (nx != av->top) {
    if (!inuse_at(nx, nsz)) {
      unlink_chunk(av, nx);
      size += nsz;
    } else {
      clear_inuse_at(nx, 0);
    }
    unsorted_push(av, p, size, "free(): corrupted unsorted chunks");
    set_head(p, size | PREV_INUSE | av->flag);
    set_foot(p, size);
    on_free_chunk(av, p, size, lo_hint, hi_hint);
  } else {
    size += nsz;
    set_head(p, size | PREV_INUSE | av->flag);
    av->top = p;
  }
  return size;
}

// may_trim is false while sysmalloc frees an abandoned heap's top: the new heap,
// wholly free, must not be trimmed away under it.
void int_free(Arena* av, Chunk* p, size_t size, bool may_trim) {  // av lock held
  if (may_trim) decay_tick(av);
  if (size <= g_set.max_fast) {
    Chunk* nx = at(p, size);
    if (head(nx) <= HDR || chunksize(nx) >= av->system_mem) die("free(): invalid next size (fast)");
    size_t idx = fastbin_index(size);
    Chunk* old = av->fastbins[idx];
    if (old == p) die("double free or corruption (fasttop)");
    if ((uintptr_t)p->bk == g_fast_key) {
      for (Chunk* q = old; q; q = reveal_ptr<Chunk>(&q->fd, (uintptr_t)q->fd)) {
        if ((uintptr_t)q & ALIGN_MASK) die("free(): unaligned fastbin chunk detected");
        if (q == p) die("free(): double free detected in fastbin");
      }
    }
    if (old && fastbin_index(chunksize(old)) != idx) die("invalid fastbin entry (free)");
    p->fd = (Chunk*)protect_ptr(&p->fd, old);
    p->bk = (Chunk*)g_fast_key;
    av->fastbins[idx] = p;
    av->have_fastchunks = true;
    return;
  }
  Chunk* top_before = av->top;
  size = free_merge(av, p, size);
  if (may_trim && av->top != top_before && g_set.release == ReleasePolicy::eager) {
    trim_top(av, g_set.top_pad);  // eager: the top keeps no more than the pad either
  } else if (may_trim && size >= FASTBIN_CONSOLIDATION_THRESHOLD) {
    if (av->have_fastchunks) malloc_consolidate(av);
    if (av == &g_main_arena) {
      if (chunksize(av->top) >= g_trim_threshold.load(std::memory_order_relaxed)) systrim(g_set.top_pad);
    } else {
      heap_trim(av, g_set.top_pad, true);
    }
  }
}

void malloc_consolidate(Arena* av) {
  av->have_fastchunks = false;
  for (size_t i = 0; i < NFASTBINS; ++i) {
    Chunk* p = av->fastbins[i];
    av->fastbins[i] = nullptr;
    while (p) {
      if ((uintptr_t)p & ALIGN_MASK) die("malloc_consolidate(): unaligned fastbin chunk detected");
      if (fastbin_index(chunksize(p)) != i) die("malloc_consolidate(): invalid chunk size");
      Chunk* next = reveal_ptr<Chunk>(&p->fd, (uintptr_t)p->fd);
      p->bk = nullptr;
      free_merge(av, p, chunksize(p));
      p = next;
    }
  }
}

// ---------------------------------------------------------------- malloc
inline void tcache_put(TCache* tc, size_t ti, Chunk* c) {
  TEntry* e = (TEntry*)chunk2mem(c);
  e->key = g_tcache_key;
  e->next = protect_ptr(&e->next, tc->entries[ti]);
  tc->entries[ti] = e;
  ++tc->counts[ti];
}
inline bool tcache_has_room(const TCache* tc, size_t ti) { return tc->counts[ti] < tc->limit; }

// glibc's _int_free with the arena lock held: this thread's tcache first, if it
// is set up and has room for the size, else the arena.
void int_free_tcache_first(Arena* av, Chunk* p, size_t size, bool may_trim) {
  TCache* tc = tl_tc;
  const size_t ti = csize2tidx(size);
  if (ti < TCACHE_BINS && tcache_has_room(tc, ti)) {
    tcache_put(tc, ti, p);
  } else {
    int_free(av, p, size, may_trim);
  }
}

void* split_top(Arena* av, size_t nb) {
  Chunk* victim = av->top;
  size_t size = chunksize(victim);
  Chunk* rem = at(victim, nb);
  av->top = rem;
  set_head(victim, nb | PREV_INUSE | av->flag);
  set_head(rem, (size - nb) | PREV_INUSE | av->flag);
  return chunk2mem(victim);
}

bool grow_main(Arena* av, size_t nb) {
  size_t tsz = chunksize(av->top);
  size_t need = nb + MINSIZE - tsz;
  char* end = g_main.end.load(std::memory_order_relaxed);
  char* limit = g_main.base + g_main.reserved;
  size_t size = align_up(need + g_set.top_pad, g_page);
  if (size > (size_t)(limit - end)) size = align_up(need, g_page);
  if (size > (size_t)(limit - end) || !os::commit(end, size)) return false;
  g_main.end.store(end + size, std::memory_order_relaxed);
  av->system_mem += size;
  if (av->system_mem > av->max_system_mem) av->max_system_mem = av->system_mem;
  set_head(av->top, (tsz + size) | PREV_INUSE);
  return true;
}

bool grow_nonmain(Arena* av, size_t nb) {
  HeapInfo* h = av->heap;
  Chunk* top = av->top;
  size_t tsz = chunksize(top);
  size_t need = nb + MINSIZE - tsz;
  size_t diff = grow_heap(h, need + g_set.top_pad);
  if (!diff) diff = grow_heap(h, need);
  if (diff) {
    av->system_mem += diff;
    set_head(top, (tsz + diff) | PREV_INUSE | NON_MAIN_ARENA);
  } else {
    HeapInfo* h2 = new_heap(sizeof(HeapInfo) + nb + MINSIZE + ALIGN, g_set.top_pad);
    if (!h2) return false;
    h2->ar = av;
    h2->prev = h;
    av->heap = h2;
    av->system_mem += heap_size(h2);
    // Fence off the old heap's top (fenceposts of 16 and 0 bytes) and free the rest.
    size_t old = (tsz - MINSIZE) & ~ALIGN_MASK;
    Chunk* fence2 = at(top, old + HDR);
    set_head(fence2, 0 | PREV_INUSE);
    if (old >= MINSIZE) {
      Chunk* fence1 = at(top, old);
      set_head(fence1, HDR | PREV_INUSE | NON_MAIN_ARENA);
      set_head(top, old | PREV_INUSE | NON_MAIN_ARENA);
      h->last = fence1;
      Chunk* nt = heap_first_chunk(h2);
      av->top = nt;
      set_head(nt, ((char*)h2 + heap_size(h2) - (char*)nt) | PREV_INUSE | NON_MAIN_ARENA);
      // As glibc's _int_free: a small remainder lands in this thread's tcache
      // and stays "in use" just before the fencepost, so heap_trim cannot delete
      // the heaps below it while this thread lives (repro scenario 10).
      int_free_tcache_first(av, top, old, false);
    } else {
      set_head(top, (old + HDR) | PREV_INUSE | NON_MAIN_ARENA);
      h->last = top;
      Chunk* nt = heap_first_chunk(h2);
      av->top = nt;
      set_head(nt, ((char*)h2 + heap_size(h2) - (char*)nt) | PREV_INUSE | NON_MAIN_ARENA);
    }
  }
  if (av->system_mem > av->max_system_mem) av->max_system_mem = av->system_mem;
  return true;
}

void* sysmalloc(Arena* av, size_t nb) {
  if (nb >= g_mmap_threshold.load(std::memory_order_relaxed))
    if (void* m = mmap_chunk(nb, ALIGN)) return m;
  if (av == &g_main_arena ? grow_main(av, nb) : grow_nonmain(av, nb)) return split_top(av, nb);
  return mmap_chunk(nb, ALIGN);  // like glibc when brk fails: try a mapping anyway
}

void* int_malloc(Arena* av, size_t nb, TCache* tc) {  // av lock held
  decay_tick(av);
  if (nb <= g_set.max_fast) {
    size_t idx = fastbin_index(nb);
    Chunk* victim = av->fastbins[idx];
    if (victim) {
      if ((uintptr_t)victim & ALIGN_MASK) die("malloc(): unaligned fastbin chunk detected 2");
      av->fastbins[idx] = reveal_ptr<Chunk>(&victim->fd, (uintptr_t)victim->fd);
      if (fastbin_index(chunksize(victim)) != idx) die("malloc(): memory corruption (fast)");
      size_t ti = csize2tidx(nb);
      Chunk* q;
      while (tcache_has_room(tc, ti) && (q = av->fastbins[idx])) {  // stash, as glibc
        if ((uintptr_t)q & ALIGN_MASK) die("malloc(): unaligned fastbin chunk detected 3");
        av->fastbins[idx] = reveal_ptr<Chunk>(&q->fd, (uintptr_t)q->fd);
        tcache_put(tc, ti, q);
      }
      victim->bk = nullptr;
      return chunk2mem(victim);
    }
  }
  size_t idx;
  if (in_smallbin_range(nb)) {
    idx = smallbin_index(nb);
    Chunk* bin = bin_at(av, idx);
    Chunk* victim = bin->bk;
    if (victim != bin) {
      Chunk* bck = victim->bk;
      if (bck->fd != victim) die("malloc(): smallbin double linked list corrupted");
      set_inuse_at(victim, nb);
      bin->bk = bck;
      bck->fd = bin;
      size_t ti = csize2tidx(nb);
      if (ti < TCACHE_BINS) {
        Chunk* q;
        while (tcache_has_room(tc, ti) && (q = bin->bk) != bin) {
          Chunk* b2 = q->bk;
          if (b2->fd != q) die("malloc(): smallbin double linked list corrupted");
          set_inuse_at(q, nb);
          bin->bk = b2;
          b2->fd = bin;
          tcache_put(tc, ti, q);
        }
      }
      return chunk2mem(victim);
    }
  } else {
    idx = largebin_index(nb);
    if (av->have_fastchunks) malloc_consolidate(av);  // large request: defragment first
  }

  for (;;) {
    Chunk* uns = unsorted(av);
    int iters = 0;
    Chunk* victim;
    while ((victim = uns->bk) != uns) {
      Chunk* bck = victim->bk;
      size_t size = chunksize(victim);
      Chunk* nx = at(victim, size);
      if (head(victim) <= HDR || size > av->system_mem) die("malloc(): invalid size (unsorted)");
      if (head(nx) < HDR || chunksize(nx) > av->system_mem) die("malloc(): invalid next size (unsorted)");
      if (nx->prev_size != size) die("malloc(): mismatching next->prev_size (unsorted)");
      if (bck->fd != victim || victim->fd != uns) die("malloc(): unsorted double linked list corrupted");
      if (prev_inuse(nx)) die("malloc(): invalid next->prev_inuse (unsorted)");
      if (in_smallbin_range(nb) && bck == uns && victim == av->last_remainder && size > nb + MINSIZE) {
        size_t rsz = size - nb;
        Chunk* rem = at(victim, nb);
        uns->bk = uns->fd = rem;
        rem->fd = rem->bk = uns;
        av->last_remainder = rem;
        if (!in_smallbin_range(rsz)) rem->fd_nextsize = rem->bk_nextsize = nullptr;
        set_head(victim, nb | PREV_INUSE | av->flag);
        set_head(rem, rsz | PREV_INUSE | av->flag);
        set_foot(rem, rsz);
        return chunk2mem(victim);
      }
      uns->bk = bck;
      bck->fd = uns;
      if (size == nb) {
        set_inuse_at(victim, size);
        return chunk2mem(victim);
      }
      place_in_bin(av, victim, size);
      if (++iters >= 10000) break;
    }

    if (!in_smallbin_range(nb)) {  // best fit in the request's own large bin
      Chunk* bin = bin_at(av, idx);
      if (bin->fd != bin && chunksize(bin->fd) >= nb) {
        victim = bin->fd->bk_nextsize;  // smallest size group
        while (chunksize(victim) < nb) victim = victim->bk_nextsize;
        if (victim != bin->bk && chunksize(victim->fd) == chunksize(victim)) victim = victim->fd;
        size_t size = chunksize(victim);
        size_t rsz = size - nb;
        unlink_chunk(av, victim);
        if (rsz < MINSIZE) {
          set_inuse_at(victim, size);
        } else {
          Chunk* rem = at(victim, nb);
          unsorted_push(av, rem, rsz, "malloc(): corrupted unsorted chunks");
          set_head(victim, nb | PREV_INUSE | av->flag);
          set_head(rem, rsz | PREV_INUSE | av->flag);
          set_foot(rem, rsz);
        }
        return chunk2mem(victim);
      }
    }

    // Next non-empty bin above, found through the binmap.
    for (size_t i = idx + 1; i < NBINS;) {
      uint32_t bits = av->binmap[i >> 5] & (~0u << (i & 31));
      if (!bits) {
        i = ((i >> 5) + 1) << 5;
        continue;
      }
      i = (i & ~size_t(31)) + (size_t)__builtin_ctz(bits);
      Chunk* bin = bin_at(av, i);
      victim = bin->bk;
      if (victim == bin) {  // stale bit
        unmark_bin(av, i);
        ++i;
        continue;
      }
      size_t size = chunksize(victim);
      if (size < nb) die("malloc(): corrupted bin (binmap)");
      size_t rsz = size - nb;
      unlink_chunk(av, victim);
      if (rsz < MINSIZE) {
        set_inuse_at(victim, size);
      } else {
        Chunk* rem = at(victim, nb);
        unsorted_push(av, rem, rsz, "malloc(): corrupted unsorted chunks 2");
        if (in_smallbin_range(nb)) av->last_remainder = rem;
        set_head(victim, nb | PREV_INUSE | av->flag);
        set_head(rem, rsz | PREV_INUSE | av->flag);
        set_foot(rem, rsz);
      }
      return chunk2mem(victim);
    }

    size_t tsz = chunksize(av->top);
    if (tsz > av->system_mem) die("malloc(): corrupted top size");
    if (tsz >= nb + MINSIZE) return split_top(av, nb);
    if (av->have_fastchunks) {
      malloc_consolidate(av);
      continue;
    }
    return sysmalloc(av, nb);
  }
}

TCache* tcache_init() {
  if (tl_shutdown || g_set.tcache_count == 0) return tl_tc;
  Arena* av = arena_get();
  lock(&av->mutex);
  void* m = int_malloc(av, request2size(sizeof(TCache)), &kEmptyTcache);
  unlock(&av->mutex);
  if (!m) return tl_tc;
  TCache* tc = (TCache*)m;
  memset(tc, 0, sizeof *tc);
  tc->limit = (uint16_t)g_set.tcache_count;
  tl_tc = tc;
  return tc;
}

void* alloc_slow(size_t nb) {
  ensure_init();
  TCache* tc = tl_tc;
  if (tc == &kEmptyTcache) tc = tcache_init();
  Arena* av = arena_get();
  lock(&av->mutex);
  void* m = int_malloc(av, nb, tc);
  unlock(&av->mutex);
  if (!m) {  // arena_get_retry: another arena may still have room
    Arena* alt = av != &g_main_arena ? &g_main_arena : g_main_arena.next;
    if (alt) {
      lock(&alt->mutex);
      m = int_malloc(alt, nb, &kEmptyTcache);
      unlock(&alt->mutex);
    }
  }
  maybe_start_decay_thread();
  return m;
}

// ---------------------------------------------------------------- pointer validation
enum class Kind { invalid, heap, mmapped };

// Classifies p without reading memory outside the allocator's own regions.
Kind classify(const void* p) {
  uintptr_t a = (uintptr_t)p;
  if (a & ALIGN_MASK) return Kind::invalid;
  if (a - (uintptr_t)g_main.base < g_main.reserved) {
    if (a < (uintptr_t)g_main.base + HDR || a >= (uintptr_t)g_main.end.load(std::memory_order_relaxed))
      return Kind::invalid;
    return Kind::heap;
  }
  HeapInfo* h = heap_for_ptr(p);
  if (heap_registered(h)) {
    if (a < (uintptr_t)(h + 1) + HDR || a >= (uintptr_t)h + heap_size(h)) return Kind::invalid;
    return Kind::heap;
  }
  if (g_init_state.load(std::memory_order_acquire) != 2) return Kind::invalid;
  lock(&g_mmap_mu);
  bool found = mt_find(a - HDR) != nullptr;
  unlock(&g_mmap_mu);
  return found ? Kind::mmapped : Kind::invalid;
}

// Checks a heap chunk's own header; returns its size.
size_t check_heap_chunk(const Chunk* c, const char* invalid_ptr, const char* invalid_size) {
  size_t h = head(c);
  bool in_main = (uintptr_t)c - (uintptr_t)g_main.base < g_main.reserved;
  if ((h & IS_MMAPPED) || ((h & NON_MAIN_ARENA) != 0) == in_main) die(invalid_ptr);
  size_t size = h & ~SIZE_BITS;
  char* end = in_main ? g_main.end.load(std::memory_order_relaxed)
                      : (char*)heap_for_ptr(c) + heap_size(heap_for_ptr(c));
  // The next chunk's header must lie inside the region too: free() reads it.
  if (size < MINSIZE || (size & ALIGN_MASK) || size + HDR > (size_t)(end - (char*)c)) die(invalid_size);
  return size;
}

void flush_tcache(TCache* tc) {
  for (size_t i = 0; i < TCACHE_BINS; ++i) {
    while (TEntry* e = tc->entries[i]) {
      if ((uintptr_t)e & ALIGN_MASK) die("tcache_thread_shutdown(): unaligned tcache chunk detected");
      tc->entries[i] = reveal_ptr<TEntry>(&e->next, e->next);
      --tc->counts[i];
      e->key = 0;
      Chunk* c = mem2chunk(e);
      Arena* av = arena_for_chunk(c);
      lock(&av->mutex);
      int_free(av, c, chunksize(c), true);
      unlock(&av->mutex);
    }
  }
}

void thread_exit(void*) {
  TCache* tc = tl_tc;
  tl_tc = &kEmptyTcache;
  tl_shutdown = true;  // later frees in this thread bypass the tcache
  if (tc != &kEmptyTcache) {
    flush_tcache(tc);
    Chunk* c = mem2chunk(tc);
    Arena* av = arena_for_chunk(c);
    lock(&av->mutex);
    int_free(av, c, chunksize(c), true);
    unlock(&av->mutex);
  }
  if (Arena* a = tl_arena) {
    lock(&g_list_mu);
    if (a->attached && --a->attached == 0) {
      a->next_free = g_free_list;
      g_free_list = a;
    }
    unlock(&g_list_mu);
  }
}

void* int_realloc(Arena* av, Chunk* oldp, size_t oldsize, size_t nb) {  // av lock held
  decay_tick(av);
  Chunk* nx = at(oldp, oldsize);
  size_t nsz = chunksize(nx);
  if (head(nx) <= HDR || nsz >= av->system_mem) die("realloc(): invalid next size");
  if (!prev_inuse(nx)) die("realloc(): invalid old size");
  Chunk* newp = oldp;
  size_t newsize = oldsize;
  if (oldsize < nb) {
    if (nx == av->top && oldsize + nsz >= nb + MINSIZE) {
      set_head_size(oldp, nb);
      av->top = at(oldp, nb);
      set_head(av->top, (oldsize + nsz - nb) | PREV_INUSE | av->flag);
      return chunk2mem(oldp);
    }
    if (nx != av->top && !inuse_at(nx, nsz) && oldsize + nsz >= nb) {
      newsize = oldsize + nsz;
      unlink_chunk(av, nx);
    } else {
      void* m = int_malloc(av, nb, &kEmptyTcache);
      if (!m) return nullptr;
      Chunk* c = mem2chunk(m);
      if (c == nx) {  // the top grew and handed back our neighbour
        newsize = oldsize + chunksize(c);
      } else {
        memcpy(m, chunk2mem(oldp), oldsize - SIZE_SZ);
        int_free(av, oldp, oldsize, true);
        return m;
      }
    }
  }
  size_t rsz = newsize - nb;
  if (rsz < MINSIZE) {
    set_head_size(newp, newsize);
    set_inuse_at(newp, newsize);
  } else {
    Chunk* rem = at(newp, nb);
    set_head_size(newp, nb);
    set_head(rem, rsz | PREV_INUSE | av->flag);
    set_inuse_at(rem, rsz);
    int_free(av, rem, rsz, true);
  }
  return chunk2mem(newp);
}

void* int_memalign(Arena* av, size_t align, size_t nb) {  // av lock held
  void* m = int_malloc(av, nb + align + MINSIZE, &kEmptyTcache);
  if (!m) return nullptr;
  Chunk* p = mem2chunk(m);
  if (is_mmapped(p)) {  // the heap could not grow: map exactly what is needed
    munmap_chunk(p, false);
    return mmap_chunk(nb, align);
  }
  if ((uintptr_t)m % align) {
    Chunk* brk = mem2chunk((void*)align_up((uintptr_t)m, align));
    if ((char*)brk - (char*)p < (ptrdiff_t)MINSIZE) brk = at(brk, align);
    size_t lead = (char*)brk - (char*)p;
    size_t newsize = chunksize(p) - lead;
    set_head(brk, newsize | PREV_INUSE | av->flag);
    set_inuse_at(brk, newsize);
    set_head_size(p, lead);
    int_free(av, p, lead, true);
    p = brk;
  }
  size_t size = chunksize(p);
  if (size > nb + MINSIZE) {
    size_t rsz = size - nb;
    Chunk* rem = at(p, nb);
    set_head(rem, rsz | PREV_INUSE | av->flag);
    set_head_size(p, nb);
    int_free(av, rem, rsz, true);
  }
  return chunk2mem(p);
}

// ---------------------------------------------------------------- stats names
struct BinNames {
  char s[NFASTBINS + NBINS][28];
};
constexpr void put_name(char* out, const char* pre, size_t v, const char* post) {
  size_t n = 0;
  for (const char* s = pre; *s; ++s) out[n++] = *s;
  char digits[24] = {};
  size_t d = 0;
  do {
    digits[d++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (d) out[n++] = digits[--d];
  for (const char* s = post; *s; ++s) out[n++] = *s;
  out[n] = 0;
}
consteval BinNames make_bin_names() {
  BinNames b{};
  for (size_t i = 0; i < NFASTBINS; ++i) put_name(b.s[i], "fastbin_", (i + 2) * 16, "_count");
  put_name(b.s[NFASTBINS + 1], "unsorted", 0, "_count");
  for (size_t i = 2; i < 64; ++i) put_name(b.s[NFASTBINS + i], "smallbin_", i * 16, "_count");
  for (size_t i = 64; i < NBINS - 1; ++i) {
    size_t sz = MIN_LARGE_SIZE;
    while (largebin_index(sz) < i) sz += 16;
    put_name(b.s[NFASTBINS + i], "largebin_", sz, "_count");
  }
  return b;
}
constexpr BinNames kBinNames = make_bin_names();

// ---------------------------------------------------------------- heap check
char g_check_msg[200];
const char* check_fail(const char* what, const void* where, size_t value) {
  size_t n = 0;
  auto put = [&](const char* s) {
    while (*s && n < sizeof g_check_msg - 1) g_check_msg[n++] = *s++;
  };
  auto hex = [&](uintptr_t v) {
    char d[20];
    int k = 0;
    do {
      d[k++] = "0123456789abcdef"[v & 15];
      v >>= 4;
    } while (v);
    put("0x");
    while (k && n < sizeof g_check_msg - 1) g_check_msg[n++] = d[--k];
  };
  put(what);
  put(" at ");
  hex((uintptr_t)where);
  put(" value ");
  hex(value);
  g_check_msg[n] = 0;
  return g_check_msg;
}

// Walks [c, end) chunk by chunk. stop is the top (current heap) or the
// abandoned heap's last chunk. Counts free chunks and checks boundary tags.
const char* walk_chunks(Arena* av, Chunk* c, Chunk* stop, char* end, size_t* free_chunks, size_t* free_bytes) {
  bool prev_free = false;
  for (;;) {
    if ((uintptr_t)c & ALIGN_MASK) return check_fail("misaligned chunk", c, 0);
    if ((char*)c >= end) return check_fail("walk ran past the heap end", c, 0);
    size_t h = head(c);
    if ((h & NON_MAIN_ARENA) != av->flag || (h & IS_MMAPPED)) return check_fail("wrong chunk flags", c, h);
    if (prev_inuse(c) == prev_free) return check_fail("PREV_INUSE disagrees with previous chunk", c, h);
    size_t size = h & ~SIZE_BITS;
    if (c == stop) {
      if (c == av->top) {
        if ((char*)c + size != end) return check_fail("top does not end at the committed end", c, size);
        if (size < MINSIZE) return check_fail("top below MINSIZE", c, size);
        return nullptr;
      }
      Chunk* fence2 = at(c, size);
      if (size < HDR || (char*)fence2 + HDR > end || head(fence2) != PREV_INUSE)
        return check_fail("bad fencepost", c, size);
      return nullptr;
    }
    if (size < MINSIZE || (size & ALIGN_MASK) || (char*)c + size > end) return check_fail("bad chunk size", c, h);
    Chunk* nx = at(c, size);
    bool is_free = !prev_inuse(nx);
    if (is_free) {
      if (prev_free) return check_fail("two adjacent free chunks", c, size);
      if (nx->prev_size != size) return check_fail("free chunk foot mismatch", c, nx->prev_size);
      ++*free_chunks;
      *free_bytes += size;
    }
    prev_free = is_free;
    c = nx;
  }
}

bool in_arena_memory(Arena* av, const Chunk* c) {
  if (av == &g_main_arena) return (char*)c >= g_main.base && (char*)c < (char*)av->top;
  return heap_registered(heap_for_ptr(c)) && heap_for_ptr(c)->ar == av;
}

const char* check_arena(Arena* av) {
  size_t walk_free = 0, walk_bytes = 0;
  if (av == &g_main_arena) {
    if (g_main.end.load(std::memory_order_relaxed) - g_main.base != (ptrdiff_t)av->system_mem)
      return check_fail("main system_mem mismatch", av, av->system_mem);
    if (const char* e = walk_chunks(av, (Chunk*)g_main.base, av->top, g_main.end.load(std::memory_order_relaxed),
                                    &walk_free, &walk_bytes))
      return e;
  } else {
    size_t sys = 0;
    for (HeapInfo* h = av->heap; h; h = h->prev) {
      if (h->ar != av || !heap_registered(h)) return check_fail("heap not registered to its arena", h, 0);
      Chunk* stop = h == av->heap ? av->top : h->last;
      if (!stop) return check_fail("abandoned heap without fencepost", h, 0);
      if (const char* e =
              walk_chunks(av, heap_first_chunk(h), stop, (char*)h + heap_size(h), &walk_free, &walk_bytes))
        return e;
      sys += heap_size(h);
    }
    if (sys != av->system_mem) return check_fail("system_mem mismatch", av, av->system_mem);
  }
  size_t bin_free = 0;
  for (size_t i = 1; i < NBINS; ++i) {
    Chunk* bin = bin_at(av, i);
    size_t prev_size = ~size_t(0);
    if (bin->fd != bin && i != 1 && !(av->binmap[i >> 5] & (1u << (i & 31))))
      return check_fail("non-empty bin not in binmap", bin, i);
    Chunk* head_prev = nullptr;
    for (Chunk* c = bin->fd; c != bin; c = c->fd) {
      if (c->fd->bk != c || c->bk->fd != c) return check_fail("broken bin links", c, i);
      if (!in_arena_memory(av, c)) return check_fail("bin chunk outside the arena", c, i);
      size_t size = chunksize(c);
      Chunk* nx = at(c, size);
      if (prev_inuse(nx) || nx->prev_size != size) return check_fail("bin chunk is not free", c, i);
      if (i >= 2 && bin_index(size) != i) return check_fail("chunk in the wrong bin", c, size);
      if (i >= 64) {
        if (size > prev_size) return check_fail("large bin not sorted", c, size);
        bool is_head = size != prev_size;
        if (is_head != (c->fd_nextsize != nullptr)) return check_fail("nextsize head marking wrong", c, size);
        if (is_head) {
          if (head_prev && (head_prev->fd_nextsize != c || c->bk_nextsize != head_prev))
            return check_fail("nextsize ring broken", c, size);
          head_prev = c;
        }
        prev_size = size;
      }
      if (++bin_free > walk_free) return check_fail("more chunks in bins than free chunks", c, i);
    }
    if (i >= 64 && head_prev && (head_prev->fd_nextsize != bin->fd || bin->fd->bk_nextsize != head_prev))
      return check_fail("nextsize ring not closed", bin, i);
  }
  if (bin_free != walk_free) return check_fail("free chunk missing from bins", av, walk_free - bin_free);
  for (size_t i = 0; i < NFASTBINS; ++i) {
    for (Chunk* c = av->fastbins[i]; c; c = reveal_ptr<Chunk>(&c->fd, (uintptr_t)c->fd)) {
      if ((uintptr_t)c & ALIGN_MASK) return check_fail("misaligned fastbin chunk", c, i);
      if (!in_arena_memory(av, c)) return check_fail("fastbin chunk outside the arena", c, i);
      if (fastbin_index(chunksize(c)) != i) return check_fail("fastbin chunk of wrong size", c, chunksize(c));
      if (!inuse_at(c, chunksize(c))) return check_fail("fastbin chunk marked free", c, i);
      if ((uintptr_t)c->bk != g_fast_key) return check_fail("fastbin chunk without key", c, i);
    }
  }
  return nullptr;
}

const char* check_tcache() {
  TCache* tc = tl_tc;
  for (size_t i = 0; i < TCACHE_BINS; ++i) {
    size_t n = 0;
    for (TEntry* e = tc->entries[i]; e; e = reveal_ptr<TEntry>(&e->next, e->next)) {
      if ((uintptr_t)e & ALIGN_MASK) return check_fail("misaligned tcache entry", e, i);
      Chunk* c = mem2chunk(e);
      if (csize2tidx(chunksize(c)) != i) return check_fail("tcache entry of wrong size", e, chunksize(c));
      if (e->key != g_tcache_key) return check_fail("tcache entry without key", e, i);
      if (!inuse_at(c, chunksize(c))) return check_fail("tcache chunk marked free", e, i);
      if (++n > tc->counts[i]) return check_fail("tcache count too small", e, i);
    }
    if (n != tc->counts[i]) return check_fail("tcache count mismatch", tc, i);
  }
  return nullptr;
}

}  // namespace

// ================================================================ Core API
void* Core::alloc(size_t n) noexcept {
  if (n > MAX_REQUEST) return nullptr;
  size_t nb = request2size(n);
  size_t ti = csize2tidx(nb);
  TCache* tc = tl_tc;
  if (ti < TCACHE_BINS) {
    if (TEntry* e = tc->entries[ti]) {
      if ((uintptr_t)e & ALIGN_MASK) die("malloc(): unaligned tcache chunk detected");
      tc->entries[ti] = reveal_ptr<TEntry>(&e->next, e->next);
      --tc->counts[ti];
      e->key = 0;
      return e;
    }
  }
  return alloc_slow(nb);
}

void* Core::alloc_aligned(size_t align, size_t n) noexcept {
  if (n > MAX_REQUEST || align > (size_t(1) << 40)) return nullptr;
  if (align < MINSIZE) align = MINSIZE;
  size_t nb = request2size(n);
  ensure_init();
  if (nb + align + MINSIZE >= g_mmap_threshold.load(std::memory_order_relaxed))
    if (void* m = mmap_chunk(nb, align)) return m;
  Arena* av = arena_get();
  lock(&av->mutex);
  void* m = int_memalign(av, align, nb);
  unlock(&av->mutex);
  return m;
}

void Core::free(void* p) noexcept {
  Kind k = classify(p);
  Chunk* c = mem2chunk(p);
  if (k == Kind::mmapped) {
    if (!munmap_chunk(c, true)) die("munmap_chunk(): invalid pointer");
    return;
  }
  if (k == Kind::invalid) die("free(): invalid pointer");
  size_t size = check_heap_chunk(c, "free(): invalid pointer", "free(): invalid pointer (invalid size)");
  // Our own in-use bit lives in the next header; only we change it while we own
  // the chunk, so reading it unlocked is safe (and catches a chunk already in a bin).
  if (!prev_inuse(at(c, size))) die("free(): double free or corruption (!prev)");
  size_t ti = csize2tidx(size);
  TCache* tc = tl_tc;
  if (ti < TCACHE_BINS) {
    TEntry* e = (TEntry*)p;
    if (e->key == g_tcache_key) {  // probably a double free: confirm by scanning the bin
      for (TEntry* q = tc->entries[ti]; q; q = reveal_ptr<TEntry>(&q->next, q->next)) {
        if ((uintptr_t)q & ALIGN_MASK) die("free(): unaligned chunk detected in tcache 2");
        if (q == e) die("free(): double free detected in tcache 2");
      }
    }
    if (tc == &kEmptyTcache && !tl_shutdown) tc = tcache_init();
    if (tcache_has_room(tc, ti) && e->key != g_fast_key) {
      tcache_put(tc, ti, c);
      return;
    }
  }
  Arena* av = arena_for_chunk(c);
  lock(&av->mutex);
  int_free(av, c, size, true);
  unlock(&av->mutex);
}

void* Core::realloc(void* p, size_t n) noexcept {
  if (n > MAX_REQUEST) return nullptr;
  size_t nb = request2size(n);
  Kind k = classify(p);
  Chunk* c = mem2chunk(p);
  if (k == Kind::invalid) die("realloc(): invalid pointer");
  if (k == Kind::mmapped) {
    size_t usable = chunksize(c) - HDR;
    if (n <= usable && n >= usable / 2) return p;  // no mremap in the OS contract
    void* q = alloc(n);
    if (!q) return nullptr;
    memcpy(q, p, n < usable ? n : usable);
    free(p);
    return q;
  }
  size_t size = check_heap_chunk(c, "realloc(): invalid pointer", "realloc(): invalid pointer (invalid old size)");
  Arena* av = arena_for_chunk(c);
  lock(&av->mutex);
  void* q = int_realloc(av, c, size, nb);
  unlock(&av->mutex);
  if (!q) {  // this arena is full: try any other, as glibc's realloc does
    q = alloc(n);
    if (!q) return nullptr;
    memcpy(q, p, size - SIZE_SZ);
    free(p);
  }
  return q;
}

size_t Core::usable_size(const void* p) noexcept {
  Kind k = classify(p);
  if (k == Kind::invalid) return 0;
  const Chunk* c = mem2chunk(p);
  return chunksize(c) - (k == Kind::mmapped ? HDR : SIZE_SZ);
}

bool Core::owns(const void* p) noexcept {
  Kind k = classify(p);
  if (k != Kind::heap) return k == Kind::mmapped;
  Chunk* c = mem2chunk(p);
  size_t h = head(c);
  bool in_main = (uintptr_t)c - (uintptr_t)g_main.base < g_main.reserved;
  if ((h & IS_MMAPPED) || ((h & NON_MAIN_ARENA) != 0) == in_main) return false;
  Arena* av = arena_for_chunk(c);
  lock(&av->mutex);
  size_t size = h & ~SIZE_BITS;
  char* end = in_main ? g_main.end.load(std::memory_order_relaxed) : (char*)heap_for_ptr(c) + heap_size(heap_for_ptr(c));
  bool live = size >= MINSIZE && !(size & ALIGN_MASK) && size <= (size_t)(end - (char*)c) - HDR && c != av->top &&
              inuse_at(c, size);
  // Cached chunks look in use to the boundary tags; their keys give them away.
  if (live && size <= 1040 && ((uintptr_t)c->bk == g_fast_key || c->bk == (Chunk*)g_tcache_key)) live = false;
  unlock(&av->mutex);
  return live;
}

void Core::flush_thread_cache() noexcept {
  if (tl_tc != &kEmptyTcache) flush_tcache(tl_tc);
}

void Core::release() noexcept {
  if (g_init_state.load(std::memory_order_acquire) != 2) return;
  flush_thread_cache();
  lock(&g_list_mu);
  for (Arena* av = &g_main_arena; av; av = av->next) {
    lock(&av->mutex);
    if (av->have_fastchunks) malloc_consolidate(av);
    sweep_free_pages(av, true);
    if (av == &g_main_arena)
      systrim(0);
    else
      heap_trim(av, 0, false);
    unlock(&av->mutex);
  }
  unlock(&g_list_mu);
}

size_t Core::config(heapmark_stat* out, size_t max) noexcept {
  ensure_init();
  const Settings& s = g_set;
  const heapmark_stat items[] = {{"release_policy", static_cast<unsigned long long>(s.release)},
                                 {"decay_ms", s.decay_ms},
                                 {"decay_thread", s.decay_thread},
                                 {"trim_threshold", s.trim_threshold},
                                 {"top_pad", s.top_pad},
                                 {"mmap_threshold", s.mmap_threshold},
                                 {"mmap_dynamic", s.mmap_dynamic},
                                 {"arena_max", s.arena_max},
                                 {"tcache_count", s.tcache_count},
                                 {"max_fast", s.max_fast}};
  size_t n = 0;
  for (const auto& it : items)
    if (n < max) out[n++] = it;
  return n;
}

heapmark_horizon Core::horizon() noexcept {
  ensure_init();
  switch (g_set.release) {
    case ReleasePolicy::glibc:
      return {0, 0, "no timer, as glibc: free() trims the heap top, a later large malloc consolidates fastbins"};
    case ReleasePolicy::eager:
      return {0, 0, "none needed: free() decommits whole free pages at once"};
    case ReleasePolicy::decay:
      return {g_set.decay_ms, g_set.decay_thread ? 1 : 0,
              g_set.decay_thread ? "page decay after HEAPMARK_PT_DECAY_MS, ticked by its decay thread"
                                 : "page decay after HEAPMARK_PT_DECAY_MS, ticked only by allocator calls"};
  }
  return {0, 0, "?"};
}

size_t Core::stats(heapmark_stat* out, size_t max) noexcept {
  ensure_init();
  size_t committed = 0, free_bins = 0, free_count = 0, top = 0, fast_bytes = 0, fast_count = 0, arenas = 0, ticks = 0;
  size_t bin_counts[NFASTBINS + NBINS] = {};
  lock(&g_list_mu);
  for (Arena* av = &g_main_arena; av; av = av->next) {
    lock(&av->mutex);
    ++arenas;
    ticks += av->epoch;
    committed += av->system_mem;
    top += chunksize(av->top);
    for (size_t i = 0; i < NFASTBINS; ++i)
      for (Chunk* c = av->fastbins[i]; c; c = reveal_ptr<Chunk>(&c->fd, (uintptr_t)c->fd)) {
        fast_bytes += chunksize(c);
        ++fast_count;
        ++bin_counts[i];
      }
    for (size_t i = 1; i < NBINS - 1; ++i) {
      Chunk* bin = bin_at(av, i);
      for (Chunk* c = bin->fd; c != bin; c = c->fd) {
        free_bins += chunksize(c);
        ++free_count;
        ++bin_counts[NFASTBINS + i];
      }
    }
    unlock(&av->mutex);
  }
  unlock(&g_list_mu);
  lock(&g_mmap_mu);
  size_t mapped = g_mt.mapped_bytes, mapped_count = g_mt.used, max_mapped = g_mt.max_mapped_bytes;
  unlock(&g_mmap_mu);
  size_t tc_bytes = 0, tc_count = 0;
  for (size_t i = 0; i < TCACHE_BINS; ++i) {
    tc_count += tl_tc->counts[i];
    tc_bytes += tl_tc->counts[i] * (MINSIZE + 16 * i);
  }
  os::Counters oc = os::counters();
  size_t free_all = free_bins + fast_bytes + top;
  size_t n = 0;
  auto put = [&](const char* name, size_t v) {
    if (n < max) out[n++] = {name, (unsigned long long)v};
  };
  put("committed_bytes", committed);  // glibc mallinfo2.arena
  put("in_use_bytes", committed - free_all);  // uordblks: tcache chunks count as in use, as in glibc
  put("free_bytes", free_all);                // fordblks: bins + fastbins + top
  put("top_bytes", top);
  put("fastbin_bytes", fast_bytes);
  put("fastbin_count", fast_count);
  put("bin_free_bytes", free_bins);
  put("bin_free_count", free_count);
  put("mapped_bytes", mapped);
  put("mapped_count", mapped_count);
  put("max_mapped_bytes", max_mapped);
  put("arenas", arenas);
  put("heaps", g_heaps.load(std::memory_order_relaxed));
  put("mmap_threshold", g_mmap_threshold.load(std::memory_order_relaxed));
  put("trim_threshold", g_trim_threshold.load(std::memory_order_relaxed));
  put("release_policy", (size_t)g_set.release);
  put("decay_ticks", ticks);  // summed over arenas
  put("tcache_bytes_this_thread", tc_bytes);
  put("tcache_count_this_thread", tc_count);
  put("os_committed_total", oc.committed);
  put("os_decommitted_total", oc.decommitted);
  for (size_t i = 0; i < NFASTBINS; ++i) put(kBinNames.s[i], bin_counts[i]);
  for (size_t i = 1; i < NBINS - 1; ++i) put(kBinNames.s[NFASTBINS + i], bin_counts[NFASTBINS + i]);
  return n;
}

unsigned long long Core::stat(const char* name) noexcept {
  heapmark_stat s[256];
  size_t n = stats(s, 256);
  for (size_t i = 0; i < n; ++i)
    if (strcmp(s[i].name, name) == 0) return s[i].value;
  return 0;
}

// fork(): every lock in one fixed order (list, arenas in creation order, mmap registry).
void Core::prefork() noexcept {
  lock(&g_init_mu);
  lock(&g_list_mu);
  for (Arena* av = &g_main_arena; av; av = av->next) lock(&av->mutex);
  lock(&g_mmap_mu);
}
void Core::postfork_parent() noexcept {
  unlock(&g_mmap_mu);
  for (Arena* av = &g_main_arena; av; av = av->next) unlock(&av->mutex);
  unlock(&g_list_mu);
  unlock(&g_init_mu);
}
void Core::postfork_child() noexcept {
  // Only the forking thread survives: every other arena becomes free to reuse
  // (glibc's __malloc_fork_unlock_child); other threads' tcaches are lost.
  g_free_list = nullptr;
  if (g_decay_thread.load(std::memory_order_relaxed) == 1) g_decay_thread.store(0);  // restarted on demand
  for (Arena* av = &g_main_arena; av; av = av->next) {
    av->attached = av == tl_arena ? 1 : 0;
    if (av != tl_arena && g_main_taken) {
      av->next_free = g_free_list;
      g_free_list = av;
    }
  }
  postfork_parent();
}

const Settings& Core::settings() noexcept {
  ensure_init();
  return g_set;
}
size_t Core::mmap_threshold() noexcept { return g_mmap_threshold.load(std::memory_order_relaxed); }
size_t Core::trim_threshold() noexcept { return g_trim_threshold.load(std::memory_order_relaxed); }

void Core::for_each_free_chunk(void (*fn)(void*, size_t, void*), void* ctx) noexcept {
  ensure_init();
  lock(&g_list_mu);
  for (Arena* av = &g_main_arena; av; av = av->next) {
    lock(&av->mutex);
    for (size_t i = 1; i < NBINS; ++i)
      for (Chunk* c = bin_at(av, i)->fd; c != bin_at(av, i); c = c->fd) fn(c, chunksize(c), ctx);
    unlock(&av->mutex);
  }
  unlock(&g_list_mu);
}

const char* Core::check_heap() noexcept {
  ensure_init();
  const char* err = check_tcache();
  lock(&g_list_mu);
  for (Arena* av = &g_main_arena; av && !err; av = av->next) {
    lock(&av->mutex);
    err = check_arena(av);
    unlock(&av->mutex);
  }
  unlock(&g_list_mu);
  return err;
}

}  // namespace heapmark::pt
