// Allocating from an arena (glibc's _int_malloc and sysmalloc): bins, the top,
// growing the main heap or a non-main arena's heap, mmapped chunks for large
// requests; and the tcache's setup.
#include <string.h>

#include "ptmalloc_style/internal.h"

namespace heapmark::pt::detail {

namespace {
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

// The steps of glibc's _int_malloc, in its order (int_malloc below runs them);
// each returns nullptr when it cannot serve nb.

// The fastbin of nb's size; the rest of that bin moves to the tcache, as glibc.
void* from_fastbin(Arena* av, size_t nb, TCache* tc) {
  size_t idx = fastbin_index(nb);
  Chunk* victim = av->fastbins[idx];
  if (!victim) return nullptr;
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

// The small bin of nb's size, oldest chunk first; the rest moves to the tcache.
void* from_smallbin(Arena* av, size_t idx, size_t nb, TCache* tc) {
  Chunk* bin = bin_at(av, idx);
  Chunk* victim = bin->bk;
  if (victim == bin) return nullptr;
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

// Sorts the unsorted chunks into their bins, up to 10000 of them. Serves nb
// from the last remainder (a small request that finds only it) or from a chunk
// of exactly nb bytes, as soon as it meets one.
void* sort_unsorted(Arena* av, size_t nb) {
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
  return nullptr;
}

// Best fit in the request's own large bin: the smallest size group that fits,
// and not its head (which carries the nextsize links) when it has another.
void* from_largebin(Arena* av, size_t idx, size_t nb) {
  Chunk* bin = bin_at(av, idx);
  if (bin->fd == bin || chunksize(bin->fd) < nb) return nullptr;
  Chunk* victim = bin->fd->bk_nextsize;  // smallest size group
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

// The first chunk of the next non-empty bin above idx, found through the binmap.
void* from_binmap(Arena* av, size_t idx, size_t nb) {
  for (size_t i = idx + 1; i < NBINS;) {
    uint32_t bits = av->binmap[i >> 5] & (~0u << (i & 31));
    if (!bits) {
      i = ((i >> 5) + 1) << 5;
      continue;
    }
    i = (i & ~size_t(31)) + (size_t)__builtin_ctz(bits);
    Chunk* bin = bin_at(av, i);
    Chunk* victim = bin->bk;
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
  return nullptr;
}
}  // namespace

void* int_malloc(Arena* av, size_t nb, TCache* tc) {  // av lock held
  decay_tick(av);
  if (nb <= g_set.max_fast)
    if (void* m = from_fastbin(av, nb, tc)) return m;
  size_t idx;
  if (in_smallbin_range(nb)) {
    idx = smallbin_index(nb);
    if (void* m = from_smallbin(av, idx, nb, tc)) return m;
  } else {
    idx = largebin_index(nb);
    if (av->have_fastchunks) malloc_consolidate(av);  // large request: defragment first
  }
  for (;;) {
    if (void* m = sort_unsorted(av, nb)) return m;
    if (!in_smallbin_range(nb))
      if (void* m = from_largebin(av, idx, nb)) return m;
    if (void* m = from_binmap(av, idx, nb)) return m;
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

}  // namespace heapmark::pt::detail
