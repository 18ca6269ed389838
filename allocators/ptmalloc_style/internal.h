// Internals of the ptmalloc-style core, shared by its files (see README.md for
// which file holds what): the chunk layout and its constants, arenas, heaps and
// the tcache, the process-wide state, the small inline helpers the malloc and
// free paths use across files, and each file's functions. Structure and names
// follow glibc 2.36 malloc/malloc.c and malloc/arena.c.
#pragma once
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <atomic>

#include "os/os.h"
#include "ptmalloc_style/core.h"
#include "shim/diag.h"

// Hidden: everything here is resolved inside one link unit (the preload .so or
// a test executable), so -fPIC code reaches it without the GOT or PLT, as when
// it was all file-local.
#pragma GCC visibility push(hidden)

namespace heapmark::pt::detail {

// ---------------------------------------------------------------- constants
constexpr size_t SIZE_SZ = 8;
constexpr size_t ALIGN = 16;
constexpr size_t ALIGN_MASK = ALIGN - 1;
constexpr size_t MINSIZE = 32;
constexpr size_t HDR = 2 * SIZE_SZ;  // chunk header (prev_size + size)
constexpr size_t FREE_HDR = 64;      // words of a free chunk kept resident (links + decay tags)
constexpr size_t PREV_INUSE = 1, IS_MMAPPED = 2, NON_MAIN_ARENA = 4;
constexpr size_t SIZE_BITS = 7;
constexpr size_t NBINS = 128;
constexpr size_t MIN_LARGE_SIZE = 1024;
constexpr size_t NFASTBINS = 10;
constexpr size_t TCACHE_BINS = 64;
constexpr size_t HEAP_MAX = size_t(64) << 20;  // non-main heap size (2 x mmap max)
constexpr size_t MMAP_THRESHOLD_MAX = size_t(32) << 20;
constexpr size_t FASTBIN_CONSOLIDATION_THRESHOLD = 65536;
constexpr size_t MAX_REQUEST = (size_t(1) << 62);  // far below PTRDIFF_MAX
constexpr unsigned DECAY_OPS = 64;                 // arena ops between clock reads

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
  return ((sz >> 6) <= 48)    ? 48 + (sz >> 6)
         : ((sz >> 9) <= 20)  ? 91 + (sz >> 9)
         : ((sz >> 12) <= 10) ? 110 + (sz >> 12)
         : ((sz >> 15) <= 4)  ? 119 + (sz >> 15)
         : ((sz >> 18) <= 2)  ? 124 + (sz >> 18)
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

inline constexpr const char* kWho = "heapmark ptmalloc-style";
[[noreturn, gnu::cold]] inline void die(const char* msg) noexcept { shim::die(kWho, msg); }

// ---------------------------------------------------------------- arenas, heaps
struct Arena;
struct HeapInfo {
  Arena* ar;
  HeapInfo* prev;
  size_t size;  // committed bytes from the heap's start (atomic access)
  Chunk* last;  // abandoned heaps: the in-use chunk just before the size-0 fencepost
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
// Each is defined in the file that owns it: settings.cc (g_set, thresholds),
// mmap_chunks.cc (g_mmap_mu, g_mt), release.cc (g_decay_thread), arenas.cc (the rest).
extern constinit Settings g_set;
extern constinit std::atomic<size_t> g_mmap_threshold, g_trim_threshold;
extern constinit size_t g_page;
extern constinit uintptr_t g_tcache_key, g_fast_key, g_tag_clean, g_tag_dirty;
extern constinit MainHeap g_main;
extern constinit Arena g_main_arena;
extern constinit std::atomic<int> g_init_state;  // 0 none, 1 initialising, 2 ready
extern pthread_mutex_t g_init_mu;
extern pthread_mutex_t g_list_mu;  // arena list, free list, attachment
extern pthread_mutex_t g_mmap_mu;  // mmapped-chunk registry
extern size_t g_narenas;
extern bool g_main_taken;
extern Arena* g_free_list;
extern Arena* g_next_reuse;
extern pthread_key_t g_key;
extern constinit std::atomic<uint64_t>* g_heapmap;  // one bit per HEAP_MAX slot of a 47-bit address space
constexpr size_t kHeapSlots = (size_t(1) << 47) / HEAP_MAX;
extern constinit std::atomic<size_t> g_heaps;
extern std::atomic<int> g_decay_thread;  // 0 not started, 1 running or starting, 2 failed

// constinit on the declarations too: no TLS wrapper call on the fast paths.
extern constinit TCache kEmptyTcache;
extern constinit thread_local TCache* tl_tc __attribute__((tls_model("initial-exec")));
extern constinit thread_local Arena* tl_arena __attribute__((tls_model("initial-exec")));
extern constinit thread_local bool tl_shutdown __attribute__((tls_model("initial-exec")));

inline void lock(pthread_mutex_t* m) { pthread_mutex_lock(m); }
inline void unlock(pthread_mutex_t* m) { pthread_mutex_unlock(m); }

// An arena's lock around one call of malloc, free, realloc or memalign, taken
// only once the process has a second thread: glibc 2.36's SINGLE_THREAD_P
// paths (__libc_malloc, _int_free, __libc_realloc, _mid_memalign) take none
// before. The decay thread is a thread: a process that has it locks.
class ArenaLock {
 public:
  explicit ArenaLock(Arena* av) noexcept : m_(os::single_threaded() ? nullptr : &av->mutex) {
    if (m_) lock(m_);
  }
  ~ArenaLock() {
    if (m_) unlock(m_);
  }
  ArenaLock(const ArenaLock&) = delete;
  ArenaLock& operator=(const ArenaLock&) = delete;

 private:
  pthread_mutex_t* m_;
};

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
extern constinit MTable g_mt;

// ---------------------------------------------------------------- heap registry
inline bool heap_registered(const void* h) {
  uintptr_t slot = (uintptr_t)h / HEAP_MAX;
  if (slot >= kHeapSlots || !g_heapmap) return false;
  return g_heapmap[slot / 64].load(std::memory_order_acquire) & (uint64_t(1) << (slot % 64));
}

// ---------------------------------------------------------------- bins
inline Chunk* bin_at(Arena* av, size_t i) { return &av->bins[i]; }
inline Chunk* unsorted(Arena* av) { return &av->bins[1]; }
inline bool is_bin(Arena* av, const Chunk* c) { return c >= &av->bins[0] && c < &av->bins[NBINS]; }
inline void mark_bin(Arena* av, size_t i) { av->binmap[i >> 5] |= 1u << (i & 31); }
inline void unmark_bin(Arena* av, size_t i) { av->binmap[i >> 5] &= ~(1u << (i & 31)); }

inline void unsorted_push(Arena* av, Chunk* p, size_t size, const char* what) {
  Chunk* bck = unsorted(av);
  Chunk* fwd = bck->fd;
  if (fwd->bk != bck) die(what);
  p->fd = fwd;
  p->bk = bck;
  if (!in_smallbin_range(size)) p->fd_nextsize = p->bk_nextsize = nullptr;
  bck->fd = p;
  fwd->bk = p;
}

// ---------------------------------------------------------------- tcache
inline void tcache_put(TCache* tc, size_t ti, Chunk* c) {
  TEntry* e = (TEntry*)chunk2mem(c);
  e->key = g_tcache_key;
  e->next = protect_ptr(&e->next, tc->entries[ti]);
  tc->entries[ti] = e;
  ++tc->counts[ti];
}
inline bool tcache_has_room(const TCache* tc, size_t ti) { return tc->counts[ti] < tc->limit; }

// ---------------------------------------------------------------- release policies
inline uintptr_t interior_lo(const Chunk* c) { return align_up((uintptr_t)c + FREE_HDR, g_page); }
inline uintptr_t interior_hi(const Chunk* c, size_t size) { return align_down((uintptr_t)c + size, g_page); }

// Called for every chunk a free (or a consolidation) has just put in the
// unsorted bin, merged with its free neighbours. [lo_hint, hi_hint) covers the
// freed chunk plus its old neighbour's header: only those pages can be resident.
inline void on_free_chunk(Arena* av, Chunk* p, size_t size, uintptr_t lo_hint, uintptr_t hi_hint) {
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
      if (a < b) os::purge((void*)a, b - a);  // the chunk is reused without notice
      p->page_tag = g_tag_clean ^ (uintptr_t)p;
      break;
    }
    case ReleasePolicy::decay:
      p->decay_epoch = av->epoch;
      p->page_tag = g_tag_dirty ^ (uintptr_t)p;
      break;
  }
}

inline uint64_t decay_half_ms() { return g_set.decay_ms / 2 ? g_set.decay_ms / 2 : 1; }

inline uint64_t now_ms() { return os::monotonic_ms(); }

void decay_advance(Arena* av, uint64_t now);  // release.cc

// The decay clock on the arena's slow path: read every DECAY_OPS operations.
inline void decay_tick(Arena* av) {
  if (g_set.release != ReleasePolicy::decay || ++av->ops < DECAY_OPS) return;
  av->ops = 0;
  decay_advance(av, now_ms());
}

// ---------------------------------------------------------------- arenas
inline Chunk* heap_first_chunk(HeapInfo* h) {
  uintptr_t start = (uintptr_t)(h + 1);
  if (!h->prev) start += sizeof(Arena);
  return (Chunk*)align_up(start, ALIGN);
}

inline Arena* arena_for_chunk(const Chunk* c) {
  return (head(c) & NON_MAIN_ARENA) ? heap_for_ptr(c)->ar : &g_main_arena;
}

void do_init();  // arenas.cc

// The calling thread's arena; on its first call arena_get2 (arenas.cc) attaches
// it to one: the main arena, a reused one, a new one or, at arena_max, a shared one.
Arena* arena_get2();
inline Arena* arena_get() {
  if (Arena* a = tl_arena) return a;
  return arena_get2();
}

void start_decay_thread();  // release.cc
// Decay mode's background thread, started from the allocation slow path outside
// every allocator lock (release.cc says when it may start).
inline void maybe_start_decay_thread() {
  if (g_set.decay_thread && g_decay_thread.load(std::memory_order_relaxed) == 0) start_decay_thread();
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

// ---------------------------------------------------------------- functions, by file
// settings.cc
void read_settings();

// bins.cc
void init_arena(Arena* av, size_t flag);
void unlink_chunk(Arena* av, Chunk* p);
// Small bins: front insertion. Large bins: sorted by size, largest first, the
// first chunk of each size on the nextsize ring (glibc's layout).
void place_in_bin(Arena* av, Chunk* victim, size_t size);

// arenas.cc: heaps of non-main arenas, the heap registry, init, thread attachment
HeapInfo* new_heap(size_t size, size_t pad);
void delete_heap(HeapInfo* h);
size_t grow_heap(HeapInfo* h, size_t diff);
void heap_register(const void* h, bool on);
void thread_exit(void*);

// mmap_chunks.cc: chunks with their own mapping, and the registry that validates them
MEntry* mt_find(uintptr_t chunk);  // g_mmap_mu held
void* mmap_chunk(size_t nb, size_t align);
// Returns false when c is no mmapped chunk of ours.
bool munmap_chunk(Chunk* c, bool dynamic_rule);
// glibc's mremap_chunk: resizes mmapped chunk c's mapping to hold nb bytes,
// moving it if it must (the pages move; nothing is copied). The chunk's memory,
// or nullptr when the system cannot (c is then unchanged).
void* remap_chunk(Chunk* c, size_t nb);

// release.cc: page release (sweeps, decay, its thread) and top trimming
// Decommits the whole free pages of unsorted and large-bin chunks. all: every
// chunk not known clean (release()); else only chunks dirty for two decay epochs.
void sweep_free_pages(Arena* av, bool all);
bool systrim(size_t pad);                                     // main arena lock held
bool heap_trim(Arena* av, size_t pad, bool check_threshold);  // av lock held, av non-main
// Trims the arena's top down to pad, whatever the trim threshold.
bool trim_top(Arena* av, size_t pad);

// free.cc
// may_trim is false while sysmalloc frees an abandoned heap's top: the new heap,
// wholly free, must not be trimmed away under it.
void int_free(Arena* av, Chunk* p, size_t size, bool may_trim);  // av lock held
void malloc_consolidate(Arena* av);
// glibc's _int_free with the arena lock held: this thread's tcache first, if it
// is set up and has room for the size, else the arena.
void int_free_tcache_first(Arena* av, Chunk* p, size_t size, bool may_trim);
// Returns every chunk of tc to its arena.
void flush_tcache(TCache* tc);

// malloc.cc
void* int_malloc(Arena* av, size_t nb, TCache* tc);  // av lock held
TCache* tcache_init();

// Pointer validation (every free, realloc, usable_size, owns) and the heap
// checker (check.cc). A pointer into a heap, the main one or a registered
// non-main one, is settled here inline; only a mapped chunk's lookup (a lock
// and the table) is in check.cc.
enum class Kind { invalid, heap, mmapped };
// Kind::mmapped if p is a chunk of the mapping registry, else Kind::invalid.
Kind classify_mapped(const void* p);

inline bool in_main_reservation(const void* p) { return (uintptr_t)p - (uintptr_t)g_main.base < g_main.reserved; }

// Classifies p without reading memory outside the allocator's own regions. For
// Kind::heap (the main heap, or a registered non-main one), *end is the end of
// that heap's committed part and *flag the NON_MAIN_ARENA bit its chunks carry.
[[gnu::always_inline]] inline Kind locate(const void* p, uintptr_t* end, size_t* flag) {
  uintptr_t a = (uintptr_t)p, lo;
  if (a & ALIGN_MASK) return Kind::invalid;
  if (in_main_reservation(p)) {
    lo = (uintptr_t)g_main.base;
    *end = (uintptr_t)g_main.end.load(std::memory_order_relaxed);
    *flag = 0;
  } else {
    HeapInfo* h = heap_for_ptr(p);
    if (!heap_registered(h)) return classify_mapped(p);
    lo = (uintptr_t)(h + 1);
    *end = (uintptr_t)h + heap_size(h);
    *flag = NON_MAIN_ARENA;
  }
  return a >= lo + HDR && a < *end ? Kind::heap : Kind::invalid;
}

inline Kind classify(const void* p) {
  uintptr_t end = 0;
  size_t flag = 0;
  return locate(p, &end, &flag);
}

// classify() and, for a heap chunk, the checks of its own header, in one pass
// (free and realloc): the chunk's size in *size. The next chunk's header must
// lie inside the heap too: free() reads it. A bad header dies with invalid_ptr
// (flags) or invalid_size.
[[gnu::always_inline]] inline Kind classify_chunk(const void* p, size_t* size, const char* invalid_ptr,
                                                  const char* invalid_size) {
  uintptr_t end = 0;
  size_t flag = 0;
  Kind k = locate(p, &end, &flag);
  if (k != Kind::heap) return k;
  const Chunk* c = mem2chunk(p);
  size_t h = head(c);
  if ((h & (IS_MMAPPED | NON_MAIN_ARENA)) != flag) die(invalid_ptr);
  size_t sz = h & ~SIZE_BITS;
  if (sz < MINSIZE || (sz & ALIGN_MASK) || sz + HDR > end - (uintptr_t)c) die(invalid_size);
  *size = sz;
  return Kind::heap;
}

}  // namespace heapmark::pt::detail

#pragma GCC visibility pop
