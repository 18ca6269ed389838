// The slab allocator's Core entry points: small requests through the calling
// thread's magazines (the fast paths), larger ones to the page heap.
#include <string.h>

#include "slab/internal.h"

namespace heapmark::slab {

void* Core::alloc(size_t n) noexcept { return alloc_fast(n); }

void* alloc_large(size_t n) noexcept {
  ensure_init();
  return g_heap.alloc(n);
}

void* Core::alloc_aligned(size_t align, size_t n) noexcept {
  // Objects sit at base + i * size and slabs are at least 16 KiB aligned, so a
  // class whose size is a multiple of align gives aligned objects.
  size_t want = n > align ? n : align;
  if (want <= kMaxClass)
    for (unsigned cls = class_of(want); cls < kClasses; ++cls)
      if (class_size(cls) % align == 0) return alloc_small(cls);
  ensure_init();
  return g_heap.alloc_aligned(align, n);
}

void free_large(void* p) noexcept {
  ensure_init();
  g_heap.free(p);
}

void free_slow(void* p, uint8_t* state, unsigned cls) noexcept {
  ThreadCache* tc = cache();
  Magazine& m = tc->mags[cls];
  if (m.count < m.cap) {
    tc->slots_of(m)[m.count++] = Slot{p, state};
    return;
  }
  if (m.cap == 0) {
    const Slot one{p, state};
    pthread_mutex_lock(lock_of(cls));
    put_locked(cls, &one, 1);
    pthread_mutex_unlock(lock_of(cls));
    return;
  }
  flush_magazine(tc, cls, m.cap / 2);
  tc->slots_of(m)[m.count++] = Slot{p, state};
}

void Core::free(void* p) noexcept { free_fast(p); }

size_t Core::usable_size(const void* p) noexcept {
  if (Slab* s = slab_of(p)) return s->size;
  return g_heap.usable_size(p);
}

bool Core::owns(const void* p) noexcept {
  if (!g_ready.load(std::memory_order_acquire)) return false;
  Slab* s = slab_of(p);
  if (!s) return g_heap.owns(p);
  size_t off = size_t(static_cast<const char*>(p) - s->base);
  size_t idx = (uint64_t(off) * kGeo[s->cls].inv) >> 40;
  if (idx * class_size(s->cls) != off || idx >= s->capacity) return false;
  return s->allocated(idx);
}

void* Core::realloc(void* p, size_t n) noexcept {
  size_t old;
  if (Slab* s = slab_of(p)) {
    if (n <= kMaxClass && class_of(n) == s->cls) return p;
    old = class_size(s->cls);
  } else {
    ensure_init();
    old = g_heap.usable_size(p);
    if (old == 0) g_heap.free(p);  // not a live block: aborts naming the check
    if (n > kMaxClass && n <= old && n > old / 2) return p;
  }
  void* q = alloc(n);
  if (!q) return nullptr;
  memcpy(q, p, old < n ? old : n);
  free(p);
  return q;
}

void Core::release() noexcept {
  if (!g_ready.load(std::memory_order_acquire)) return;
  flush_thread_cache();
  for (unsigned i = 0; i < kClasses; ++i) {
    Cache& c = g_cache[i];
    pthread_mutex_lock(lock_of(i));
    while (Slab* s = c.lists[kEmpty]) {
      list_remove(c, s);
      return_slab_locked(s);
    }
    pthread_mutex_unlock(lock_of(i));
  }
  g_heap.release();
}

}  // namespace heapmark::slab
