// The buddy allocator's Core over the process-wide BuddyHeap (see buddy_core.h).
#include "buddy/buddy_core.h"

#include <pthread.h>
#include <string.h>

#include "buddy/thread_cache.h"
#include "shim/env.h"

namespace heapmark::buddy {
namespace {
BuddyHeap g_heap;
pthread_mutex_t g_init_mu = PTHREAD_MUTEX_INITIALIZER;

void init_from_env() noexcept {
  // The environment only here, once, before the heap is marked ready.
  pthread_mutex_lock(&g_init_mu);
  if (!g_heap.initialised()) {
    constexpr const char* kWho = "heapmark buddy";
    Decommit policy = Decommit::kDecay;
    size_t threshold = size_t(8) << 20, min_block = 16;
    uint64_t decay_ms = kDefaultDecayMs;
    bool thread_cache = true;
    shim::env_choice(kWho, "HEAPMARK_BUDDY_DECOMMIT", kDecommitNames, &policy);
    shim::env_size(kWho, "HEAPMARK_BUDDY_DECOMMIT_THRESHOLD", &threshold);
    shim::env_ms(kWho, "HEAPMARK_BUDDY_DECAY_MS", &decay_ms);
    shim::env_size(kWho, "HEAPMARK_BUDDY_MIN_BLOCK", &min_block);
    shim::env_flag(kWho, "HEAPMARK_BUDDY_THREAD_CACHE", &thread_cache);
    unsigned min_order = 4;
    while (min_order < kPageOrder && (size_t(1) << min_order) < min_block) ++min_order;
    g_heap.init("buddy", min_order, policy, threshold, decay_ms);
    tcache::init(g_heap, thread_cache);
  }
  pthread_mutex_unlock(&g_init_mu);
}

inline BuddyHeap& heap() noexcept {
  if (__builtin_expect(!g_heap.initialised(), 0)) init_from_env();
  return g_heap;
}
}  // namespace

BuddyHeap& global_heap() noexcept { return heap(); }

void* Core::alloc(size_t n) noexcept {
  BuddyHeap& h = heap();
  if (tcache::enabled() && n <= (size_t(1) << (kPageOrder - 1)))
    if (void* p = tcache::alloc(h.order_for(n))) return p;
  return h.alloc(n);
}
void* Core::alloc_aligned(size_t align, size_t n) noexcept { return heap().alloc_aligned(align, n); }
void Core::free(void* p) noexcept {
  BuddyHeap& h = heap();
  if (tcache::enabled())
    if (const unsigned order = h.block_order(p); order != 0 && tcache::free(p, order)) return;
  h.free(p);
}
size_t Core::usable_size(const void* p) noexcept { return heap().usable_size(p); }
bool Core::owns(const void* p) noexcept { return heap().owns(p); }
void Core::release() noexcept {
  tcache::flush_current();
  heap().release();
}
size_t Core::stats(heapmark_stat* out, size_t max) noexcept {
  // A block in a thread cache is used in the heap's tree, but not live: it is
  // counted apart, beside live_bytes (a caller with room for fewer items than
  // the heap lists still gets it).
  const size_t cached = tcache::cached_bytes();
  heapmark_stat all[64];
  const size_t got = heap().stats(all, 64);
  size_t n = 0;
  for (size_t i = 0; i < got && n < max; ++i) {
    out[n++] = all[i];
    if (strcmp(all[i].name, "live_bytes") != 0) continue;
    out[n - 1].value = all[i].value > cached ? all[i].value - cached : 0;
    if (n < max) out[n++] = heapmark_stat{"thread_cache_bytes", cached};
  }
  return n;
}
size_t Core::config(heapmark_stat* out, size_t max) noexcept { return heap().config(out, max); }
heapmark_horizon Core::horizon() noexcept { return heap().horizon(); }

void* Core::realloc(void* p, size_t n) noexcept {
  BuddyHeap& h = heap();
  size_t old = h.usable_size(p);
  if (old == 0) h.free(p);  // not a live block: free() names the failed check and aborts
  // Stay in place while the block fits and is not more than twice too big.
  if (n <= old && (n > old / 2 || old <= (size_t(1) << h.min_order()))) return p;
  void* q = Core::alloc(n);
  if (!q) return nullptr;
  memcpy(q, p, old < n ? old : n);
  Core::free(p);
  return q;
}

// The thread-cache registry's lock, then the heap's.
void Core::prefork() noexcept {
  heap();
  tcache::prefork();
  g_heap.lock();
}
void Core::postfork_parent() noexcept {
  g_heap.unlock();
  tcache::postfork_parent();
}
void Core::postfork_child() noexcept {
  g_heap.reinit_lock_after_fork();
  tcache::postfork_child();
}

}  // namespace heapmark::buddy
