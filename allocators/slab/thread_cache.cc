// Thread caches: one magazine per class and thread, set up on a thread's first
// call, flushed to the slabs when full, on thread exit and on request, and
// refilled from the slabs when empty.
#include <string.h>

#include "slab/internal.h"

namespace heapmark::slab {

void flush_magazine(unsigned cls, Magazine& m, unsigned n) noexcept {
  // Flush the oldest n (bottom of the stack), keep the recently freed, cache-hot ones.
  pthread_mutex_lock(lock_of(cls));
  put_locked(cls, m.items, n);
  pthread_mutex_unlock(lock_of(cls));
  memmove(m.items, m.items + n, (m.count - n) * sizeof(void*));
  memmove(m.states, m.states + n, (m.count - n) * sizeof(uint8_t*));
  m.count -= n;
  g_heap.tick();  // the page heap's decay: magazines seldom reach it otherwise
}

ThreadCache* init_thread() noexcept {
  ensure_init();
  t_cache = &g_dead;  // anything re-entering malloc meanwhile takes the direct path
  ThreadCache* tc = g_threads.take([](ThreadCache& t) {
    for (unsigned i = 0; i < kClasses; ++i) t.mags[i] = Magazine{0, magazine_cap(i), {}, {}};
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
    if (tc->mags[i].count) flush_magazine(i, tc->mags[i], tc->mags[i].count);
  g_threads.give_back(tc);
}

void* alloc_small_slow(ThreadCache* tc, unsigned cls) noexcept {
  Magazine& m = tc->mags[cls];
  void* p = nullptr;
  pthread_mutex_lock(lock_of(cls));
  uint8_t* state = nullptr;
  if (m.cap == 0) {
    take_locked(cls, &p, &state, 1);
  } else {
    m.count = take_locked(cls, m.items, m.states, m.cap / 2);
    if (m.count) {
      --m.count;
      p = m.items[m.count];
      state = m.states[m.count];
    }
  }
  pthread_mutex_unlock(lock_of(cls));
  if (p) set_state(state, 1);
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
    if (tc->mags[i].count) flush_magazine(i, tc->mags[i], tc->mags[i].count);
}

}  // namespace heapmark::slab
