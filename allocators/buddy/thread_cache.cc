// The buddy Core's per-thread caches (thread_cache.h): one list per small
// order and thread, set up on a thread's first call, refilled and flushed half
// a list at a time under the heap's lock, flushed on thread exit and release.
#include "buddy/thread_cache.h"

#include <pthread.h>

#include <atomic>

#include "shim/diag.h"
#include "shim/thread_registry.h"

namespace heapmark::buddy::tcache {
namespace {

struct List {
  void* head;
  uint32_t count, cap;
};

struct Cache {
  List lists[kOrders];
  std::atomic<size_t> bytes;  // written by its thread only; read by cached_bytes()
  Cache* next_all;
  Cache* prev_all;
};

BuddyHeap* g_heap = nullptr;
// Set (release) once the key and the orders are: a thread that sees it set sees them.
std::atomic<bool> g_enabled{false};
unsigned g_min = 4, g_end = 4;  // cached orders: [g_min, g_end)
uintptr_t g_key_word = 0;       // in a cached block's second word
pthread_key_t g_key;
constinit shim::ThreadRegistry<Cache> g_threads;  // constant: malloc may come before any constructor
Cache g_off{};                                    // caps 0: a thread being set up, or torn down, goes to the heap

__thread Cache* t_cache __attribute__((tls_model("initial-exec"))) = nullptr;

void*& next_of(void* p) noexcept { return static_cast<void**>(p)[0]; }
uintptr_t& key_of(void* p) noexcept { return static_cast<uintptr_t*>(p)[1]; }

void add_bytes(Cache* c, size_t n, bool up) noexcept {
  const size_t b = c->bytes.load(std::memory_order_relaxed);
  c->bytes.store(up ? b + n : b - n, std::memory_order_relaxed);  // one writer: no locked add on the fast path
}

// Frees the list's blocks after its first `keep` (the most recently cached stay: they are the cache-hot ones).
void flush(Cache* c, unsigned order, unsigned keep) noexcept {
  List& l = c->lists[order - g_min];
  if (l.count <= keep) return;
  void** link = &l.head;
  for (unsigned k = 0; k < keep; ++k) link = &next_of(*link);
  void* p = *link;
  *link = nullptr;
  void* batch[256];
  size_t n = 0;
  while (p) {
    void* next = next_of(p);
    key_of(p) = 0;
    batch[n++] = p;
    if (n == 256) {
      g_heap->free_batch(order, batch, n);
      n = 0;
    }
    p = next;
  }
  if (n) g_heap->free_batch(order, batch, n);
  add_bytes(c, size_t(l.count - keep) << order, false);
  l.count = keep;
}

void flush_all(Cache* c) noexcept {
  for (unsigned o = g_min; o < g_end; ++o) flush(c, o, 0);
}

void thread_exit(void* v) noexcept {
  Cache* c = static_cast<Cache*>(v);
  t_cache = &g_off;
  flush_all(c);
  g_threads.give_back(c);
}

Cache* init_thread() noexcept {
  t_cache = &g_off;  // pthread_setspecific may call malloc: that call goes to the heap
  Cache* c = g_threads.take([](Cache& t) {
    for (unsigned o = g_min; o < g_end; ++o) {
      const size_t by_bytes = kMaxCachedBytes >> o;
      t.lists[o - g_min] = List{nullptr, 0, static_cast<uint32_t>(by_bytes < 256 ? by_bytes : 256)};
    }
    t.bytes.store(0, std::memory_order_relaxed);
  });
  if (!c) return &g_off;
  pthread_setspecific(g_key, c);
  t_cache = c;
  return c;
}

inline Cache* cache() noexcept {
  Cache* c = t_cache;
  return __builtin_expect(c != nullptr, 1) ? c : init_thread();
}

}  // namespace

void init(BuddyHeap& heap, bool enabled) noexcept {
  g_heap = &heap;
  g_min = heap.min_order();
  g_end = g_min + kOrders < kPageOrder ? g_min + kOrders : kPageOrder;
  g_key_word = reinterpret_cast<uintptr_t>(&heap) * 0x9e3779b97f4a7c15ull | 1;
  // Without a key no cache could be flushed at thread exit: then there are none.
  if (enabled && g_end > g_min && pthread_key_create(&g_key, thread_exit) == 0)
    g_enabled.store(true, std::memory_order_release);
}

bool enabled() noexcept { return g_enabled.load(std::memory_order_acquire); }

void* alloc(unsigned order) noexcept {
  if (order >= g_end) return nullptr;
  Cache* c = cache();
  List& l = c->lists[order - g_min];
  if (__builtin_expect(l.head != nullptr, 1)) {
    void* p = l.head;
    l.head = next_of(p);
    key_of(p) = 0;
    --l.count;
    add_bytes(c, size_t(1) << order, false);
    return p;
  }
  if (l.cap == 0) return nullptr;
  void* got[128];
  const unsigned want = l.cap / 2 < 128 ? (l.cap / 2 ? l.cap / 2 : 1) : 128;
  const size_t n = g_heap->alloc_batch(order, got, want);
  if (n == 0) return nullptr;
  for (size_t k = 1; k < n; ++k) {
    next_of(got[k]) = l.head;
    key_of(got[k]) = g_key_word;
    l.head = got[k];
  }
  l.count += static_cast<uint32_t>(n - 1);
  add_bytes(c, (n - 1) << order, true);
  return got[0];
}

bool free(void* p, unsigned order) noexcept {
  if (order >= g_end) return false;
  Cache* c = cache();
  List& l = c->lists[order - g_min];
  if (l.cap == 0) return false;
  if (__builtin_expect(key_of(p) == g_key_word, 0))  // maybe cached already: look (glibc's tcache does the same)
    for (void* q = l.head; q; q = next_of(q))
      if (q == p) shim::die("buddy", "free(): double free detected (the block is in this thread's cache)");
  if (l.count >= l.cap) flush(c, order, l.cap / 2);
  next_of(p) = l.head;
  key_of(p) = g_key_word;
  l.head = p;
  ++l.count;
  add_bytes(c, size_t(1) << order, true);
  return true;
}

void flush_current() noexcept {
  Cache* c = t_cache;
  if (enabled() && c && c != &g_off) flush_all(c);
}

size_t cached_bytes() noexcept {
  if (!enabled()) return 0;
  size_t total = 0;
  g_threads.lock();
  for (Cache* c = g_threads.first(); c; c = c->next_all) total += c->bytes.load(std::memory_order_relaxed);
  g_threads.unlock();
  return total;
}

void prefork() noexcept { g_threads.lock(); }
void postfork_parent() noexcept { g_threads.unlock(); }
// The child has one thread: the other threads' cached blocks stay used, as a
// forked child's other threads' memory does in any allocator.
void postfork_child() noexcept {
  g_threads.reinit_lock_after_fork();
  g_threads.keep_only(t_cache && t_cache != &g_off ? t_cache : nullptr);
}

}  // namespace heapmark::buddy::tcache
