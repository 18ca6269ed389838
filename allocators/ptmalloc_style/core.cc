// The ptmalloc-style Core (see core.h for the settings, README.md for the
// files): the tcache fast paths of alloc and free, and every other entry point
// of the Core contract over the arena internals (internal.h), with the slow
// halves that have one caller here, so they are inlined as before the split. Structure and
// names follow glibc 2.36 malloc/malloc.c and malloc/arena.c so a reader can
// compare the two side by side; the differences are the release policies, an
// explicit heap registry (so a free of a foreign pointer is caught without
// touching it), and tcache/fastbin keys checked on every path.
#include "ptmalloc_style/core.h"

#include <string.h>

#include "ptmalloc_style/internal.h"

namespace heapmark::pt {
using namespace detail;

namespace {
// Core::alloc below a tcache miss: the arena, its lock, int_malloc (malloc.cc).
void* alloc_slow(size_t nb) {
  ensure_init();
  TCache* tc = tl_tc;
  if (tc == &kEmptyTcache) tc = tcache_init();
  Arena* av = arena_get();
  void* m;
  {
    ArenaLock held(av);
    m = int_malloc(av, nb, tc);
  }
  if (!m) {  // arena_get_retry: another arena may still have room
    Arena* alt = av != &g_main_arena ? &g_main_arena : g_main_arena.next;
    if (alt) {
      ArenaLock held(alt);
      m = int_malloc(alt, nb, &kEmptyTcache);
    }
  }
  maybe_start_decay_thread();
  return m;
}

// glibc's _int_realloc and _int_memalign: the arena halves of Core::realloc and
// Core::alloc_aligned, beside them so each is inlined into its one caller.
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
}  // namespace

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
  ArenaLock held(av);
  return int_memalign(av, align, nb);
}

void Core::free(void* p) noexcept {
  size_t size = 0;
  Kind k = classify_chunk(p, &size, "free(): invalid pointer", "free(): invalid pointer (invalid size)");
  Chunk* c = mem2chunk(p);
  if (k == Kind::mmapped) {
    if (!munmap_chunk(c, true)) die("munmap_chunk(): invalid pointer");
    return;
  }
  if (k == Kind::invalid) die("free(): invalid pointer");
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
  ArenaLock held(av);
  int_free(av, c, size, true);
}

void* Core::realloc(void* p, size_t n) noexcept {
  if (n > MAX_REQUEST) return nullptr;
  size_t nb = request2size(n);
  size_t size = 0;
  Kind k = classify_chunk(p, &size, "realloc(): invalid pointer", "realloc(): invalid pointer (invalid old size)");
  Chunk* c = mem2chunk(p);
  if (k == Kind::invalid) die("realloc(): invalid pointer");
  if (k == Kind::mmapped) {  // glibc: mremap; else keep it if it fits; else copy
    if (void* q = remap_chunk(c, nb)) return q;
    size_t old = chunksize(c);
    if (old - SIZE_SZ >= nb) return p;
    void* q = alloc(n);
    if (!q) return nullptr;
    memcpy(q, p, old - HDR);
    if (!munmap_chunk(c, false)) die("munmap_chunk(): invalid pointer");
    return q;
  }
  Arena* av = arena_for_chunk(c);
  void* q;
  {
    ArenaLock held(av);
    q = int_realloc(av, c, size, nb);
  }
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
  uintptr_t end = 0;
  size_t flag = 0;
  Kind k = locate(p, &end, &flag);
  if (k != Kind::heap) return k == Kind::mmapped;
  Chunk* c = mem2chunk(p);
  size_t h = head(c);
  if ((h & (IS_MMAPPED | NON_MAIN_ARENA)) != flag) return false;
  Arena* av = arena_for_chunk(c);
  lock(&av->mutex);
  size_t size = h & ~SIZE_BITS;
  // Located again under the arena's lock: a trim may have moved the heap's end.
  bool live = locate(p, &end, &flag) == Kind::heap && size >= MINSIZE && !(size & ALIGN_MASK) &&
              size <= (size_t)(end - (uintptr_t)c) - HDR && c != av->top && inuse_at(c, size);
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
    if (av == &g_main_arena) systrim(0);
    else heap_trim(av, 0, false);
    unlock(&av->mutex);
  }
  unlock(&g_list_mu);
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

}  // namespace heapmark::pt
