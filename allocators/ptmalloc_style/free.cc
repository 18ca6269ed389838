// Freeing into an arena (glibc's _int_free): fastbins, coalescing with free
// neighbours into the unsorted bin or the top, fastbin consolidation, and the
// tcache flush. Core::free (core.cc) takes the tcache fast path before these.
#include "ptmalloc_style/internal.h"

namespace heapmark::pt::detail {

namespace {
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
}  // namespace

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

void int_free_tcache_first(Arena* av, Chunk* p, size_t size, bool may_trim) {
  TCache* tc = tl_tc;
  const size_t ti = csize2tidx(size);
  if (ti < TCACHE_BINS && tcache_has_room(tc, ti)) {
    tcache_put(tc, ti, p);
  } else {
    int_free(av, p, size, may_trim);
  }
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

}  // namespace heapmark::pt::detail
