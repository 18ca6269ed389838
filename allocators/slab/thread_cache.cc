// Thread caches: one magazine per class and thread, set up on a thread's first
// call, flushed to the slabs when full, on thread exit and on request, and
// refilled from the slabs when empty.
#include <string.h>

#include "slab/internal.h"

namespace heapmark::slab {

void flush_magazine(ThreadCache* tc, unsigned cls, unsigned n) noexcept {
  Magazine& m = tc->mags[cls];
  // Flush the oldest n (bottom of the stack), keep the recently freed, cache-hot ones.
  Slot* slots = tc->slots_of(m);
  pthread_mutex_lock(lock_of(cls));
  put_locked(cls, slots, n);
  pthread_mutex_unlock(lock_of(cls));
  memmove(slots, slots + n, (m.count - n) * sizeof(Slot));
  m.count -= n;
  g_heap.tick();  // the page heap's decay: magazines seldom reach it otherwise
}

ThreadCache* init_thread() noexcept {
  ensure_init();
  t_cache = &g_dead;  // anything re-entering malloc meanwhile takes the direct path
  ThreadCache* tc = g_threads.take([](ThreadCache& t) {
    // Only the heads: the slots are written as objects come in.
    for (unsigned i = 0; i < kClasses; ++i) t.mags[i] = Magazine{0, uint16_t(magazine_cap(i)), kSlots.base[i]};
    t.allocs_to_tick = kAllocsPerTick;
  });
  if (!tc) return &g_dead;
  pthread_setspecific(g_key, tc);
  t_cache = tc;
  return tc;
}

void thread_exit(void* v) noexcept {
  ThreadCache* tc = static_cast<ThreadCache*>(v);
  t_cache = &g_dead;
  for (unsigned i = 0; i < kClasses; ++i)
    if (tc->mags[i].count) flush_magazine(tc, i, tc->mags[i].count);
  g_threads.give_back(tc);
}

void* tick_then(void* p) noexcept {
  t_cache->allocs_to_tick = kAllocsPerTick;
  g_heap.tick();
  return p;
}

void* alloc_small_slow(unsigned cls) noexcept {
  ThreadCache* tc = cache();
  Magazine& m = tc->mags[cls];
  Slot got{nullptr, nullptr};
  pthread_mutex_lock(lock_of(cls));
  if (m.cap == 0) {
    take_locked(cls, &got, 1);
  } else {
    Slot* slots = tc->slots_of(m);
    m.count = take_locked(cls, slots, m.cap / 2);
    if (m.count) got = slots[--m.count];
  }
  pthread_mutex_unlock(lock_of(cls));
  void* p = got.item;
  if (p) set_state(got.state, 1);
  g_heap.tick();
  return p;
}

size_t thread_cache_bytes() noexcept {
  ThreadCache* tc = t_cache;
  size_t bytes = 0;
  if (tc)
    for (unsigned i = 0; i < kClasses; ++i) bytes += tc->mags[i].count * class_size(i);
  return bytes;
}

void flush_thread_cache() noexcept {
  ThreadCache* tc = t_cache;
  if (!tc || tc == &g_dead) return;
  for (unsigned i = 0; i < kClasses; ++i)
    if (tc->mags[i].count) flush_magazine(tc, i, tc->mags[i].count);
}

}  // namespace heapmark::slab
