// Arenas and their heaps: the process-wide state, init (the brk-like main heap),
// the 64 MiB heaps of non-main arenas and their registry, and how a thread
// gets an arena (arena_get2) and gives it back (thread_exit).
#include <string.h>

#include "ptmalloc_style/internal.h"

namespace heapmark::pt::detail {

constinit size_t g_page = 4096;
constinit uintptr_t g_tcache_key = 0, g_fast_key = 0, g_tag_clean = 0, g_tag_dirty = 0;
constinit MainHeap g_main{};
constinit Arena g_main_arena{};
constinit std::atomic<int> g_init_state{0};
pthread_mutex_t g_init_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t g_list_mu = PTHREAD_MUTEX_INITIALIZER;
size_t g_narenas = 1;
bool g_main_taken = false;
Arena* g_free_list = nullptr;
Arena* g_next_reuse = nullptr;
pthread_key_t g_key;
constinit std::atomic<uint64_t>* g_heapmap = nullptr;
constinit std::atomic<size_t> g_heaps{0};

constinit TCache kEmptyTcache{};
constinit thread_local TCache* tl_tc __attribute__((tls_model("initial-exec"))) = &kEmptyTcache;
constinit thread_local Arena* tl_arena __attribute__((tls_model("initial-exec"))) = nullptr;
constinit thread_local bool tl_shutdown __attribute__((tls_model("initial-exec"))) = false;

// ---------------------------------------------------------------- heap registry
void heap_register(const void* h, bool on) {
  uintptr_t slot = (uintptr_t)h / HEAP_MAX;
  uint64_t bit = uint64_t(1) << (slot % 64);
  if (on) g_heapmap[slot / 64].fetch_or(bit, std::memory_order_release);
  else g_heapmap[slot / 64].fetch_and(~bit, std::memory_order_release);
}

// ---------------------------------------------------------------- heaps (non-main arenas)
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

namespace {
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

uint64_t random64(uint64_t salt) {
  uint64_t r = os::entropy();
  r ^= salt * 0xBF58476D1CE4E5B9ull;
  return r | 1;
}
}  // namespace

// ---------------------------------------------------------------- init
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

// ---------------------------------------------------------------- threads
Arena* arena_get2() {
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

}  // namespace heapmark::pt::detail
