// Checks: classifying a pointer before free, realloc, usable_size or owns reads
// it (pointer validation), and the full heap checker behind Core::check_heap.
#include "ptmalloc_style/internal.h"

namespace heapmark::pt::detail {

// ---------------------------------------------------------------- pointer validation
Kind classify_mapped(const void* p) {
  if (g_init_state.load(std::memory_order_acquire) != 2) return Kind::invalid;
  lock(&g_mmap_mu);
  bool found = mt_find((uintptr_t)p - HDR) != nullptr;
  unlock(&g_mmap_mu);
  return found ? Kind::mmapped : Kind::invalid;
}

// ---------------------------------------------------------------- heap check
namespace {
char g_check_msg[200];
const char* check_fail(const char* what, const void* where, size_t value) {
  size_t n = 0;
  auto put = [&](const char* s) {
    while (*s && n < sizeof g_check_msg - 1) g_check_msg[n++] = *s++;
  };
  auto hex = [&](uintptr_t v) {
    char d[20];
    int k = 0;
    do {
      d[k++] = "0123456789abcdef"[v & 15];
      v >>= 4;
    } while (v);
    put("0x");
    while (k && n < sizeof g_check_msg - 1) g_check_msg[n++] = d[--k];
  };
  put(what);
  put(" at ");
  hex((uintptr_t)where);
  put(" value ");
  hex(value);
  g_check_msg[n] = 0;
  return g_check_msg;
}

// Walks [c, end) chunk by chunk. stop is the top (current heap) or the
// abandoned heap's last chunk. Counts free chunks and checks boundary tags.
const char* walk_chunks(Arena* av, Chunk* c, Chunk* stop, char* end, size_t* free_chunks, size_t* free_bytes) {
  bool prev_free = false;
  for (;;) {
    if ((uintptr_t)c & ALIGN_MASK) return check_fail("misaligned chunk", c, 0);
    if ((char*)c >= end) return check_fail("walk ran past the heap end", c, 0);
    size_t h = head(c);
    if ((h & NON_MAIN_ARENA) != av->flag || (h & IS_MMAPPED)) return check_fail("wrong chunk flags", c, h);
    if (prev_inuse(c) == prev_free) return check_fail("PREV_INUSE disagrees with previous chunk", c, h);
    size_t size = h & ~SIZE_BITS;
    if (c == stop) {
      if (c == av->top) {
        if ((char*)c + size != end) return check_fail("top does not end at the committed end", c, size);
        if (size < MINSIZE) return check_fail("top below MINSIZE", c, size);
        return nullptr;
      }
      Chunk* fence2 = at(c, size);
      if (size < HDR || (char*)fence2 + HDR > end || head(fence2) != PREV_INUSE)
        return check_fail("bad fencepost", c, size);
      return nullptr;
    }
    if (size < MINSIZE || (size & ALIGN_MASK) || (char*)c + size > end) return check_fail("bad chunk size", c, h);
    Chunk* nx = at(c, size);
    bool is_free = !prev_inuse(nx);
    if (is_free) {
      if (prev_free) return check_fail("two adjacent free chunks", c, size);
      if (nx->prev_size != size) return check_fail("free chunk foot mismatch", c, nx->prev_size);
      ++*free_chunks;
      *free_bytes += size;
    }
    prev_free = is_free;
    c = nx;
  }
}

bool in_arena_memory(Arena* av, const Chunk* c) {
  if (av == &g_main_arena) return (char*)c >= g_main.base && (char*)c < (char*)av->top;
  return heap_registered(heap_for_ptr(c)) && heap_for_ptr(c)->ar == av;
}

const char* check_arena(Arena* av) {
  size_t walk_free = 0, walk_bytes = 0;
  if (av == &g_main_arena) {
    if (g_main.end.load(std::memory_order_relaxed) - g_main.base != (ptrdiff_t)av->system_mem)
      return check_fail("main system_mem mismatch", av, av->system_mem);
    if (const char* e = walk_chunks(av, (Chunk*)g_main.base, av->top, g_main.end.load(std::memory_order_relaxed),
                                    &walk_free, &walk_bytes))
      return e;
  } else {
    size_t sys = 0;
    for (HeapInfo* h = av->heap; h; h = h->prev) {
      if (h->ar != av || !heap_registered(h)) return check_fail("heap not registered to its arena", h, 0);
      Chunk* stop = h == av->heap ? av->top : h->last;
      if (!stop) return check_fail("abandoned heap without fencepost", h, 0);
      if (const char* e = walk_chunks(av, heap_first_chunk(h), stop, (char*)h + heap_size(h), &walk_free, &walk_bytes))
        return e;
      sys += heap_size(h);
    }
    if (sys != av->system_mem) return check_fail("system_mem mismatch", av, av->system_mem);
  }
  size_t bin_free = 0;
  for (size_t i = 1; i < NBINS; ++i) {
    Chunk* bin = bin_at(av, i);
    size_t prev_size = ~size_t(0);
    if (bin->fd != bin && i != 1 && !(av->binmap[i >> 5] & (1u << (i & 31))))
      return check_fail("non-empty bin not in binmap", bin, i);
    Chunk* head_prev = nullptr;
    for (Chunk* c = bin->fd; c != bin; c = c->fd) {
      if (c->fd->bk != c || c->bk->fd != c) return check_fail("broken bin links", c, i);
      if (!in_arena_memory(av, c)) return check_fail("bin chunk outside the arena", c, i);
      size_t size = chunksize(c);
      Chunk* nx = at(c, size);
      if (prev_inuse(nx) || nx->prev_size != size) return check_fail("bin chunk is not free", c, i);
      if (i >= 2 && bin_index(size) != i) return check_fail("chunk in the wrong bin", c, size);
      if (i >= 64) {
        if (size > prev_size) return check_fail("large bin not sorted", c, size);
        bool is_head = size != prev_size;
        if (is_head != (c->fd_nextsize != nullptr)) return check_fail("nextsize head marking wrong", c, size);
        if (is_head) {
          if (head_prev && (head_prev->fd_nextsize != c || c->bk_nextsize != head_prev))
            return check_fail("nextsize ring broken", c, size);
          head_prev = c;
        }
        prev_size = size;
      }
      if (++bin_free > walk_free) return check_fail("more chunks in bins than free chunks", c, i);
    }
    if (i >= 64 && head_prev && (head_prev->fd_nextsize != bin->fd || bin->fd->bk_nextsize != head_prev))
      return check_fail("nextsize ring not closed", bin, i);
  }
  if (bin_free != walk_free) return check_fail("free chunk missing from bins", av, walk_free - bin_free);
  for (size_t i = 0; i < NFASTBINS; ++i) {
    for (Chunk* c = av->fastbins[i]; c; c = reveal_ptr<Chunk>(&c->fd, (uintptr_t)c->fd)) {
      if ((uintptr_t)c & ALIGN_MASK) return check_fail("misaligned fastbin chunk", c, i);
      if (!in_arena_memory(av, c)) return check_fail("fastbin chunk outside the arena", c, i);
      if (fastbin_index(chunksize(c)) != i) return check_fail("fastbin chunk of wrong size", c, chunksize(c));
      if (!inuse_at(c, chunksize(c))) return check_fail("fastbin chunk marked free", c, i);
      if ((uintptr_t)c->bk != g_fast_key) return check_fail("fastbin chunk without key", c, i);
    }
  }
  return nullptr;
}

const char* check_tcache() {
  TCache* tc = tl_tc;
  for (size_t i = 0; i < TCACHE_BINS; ++i) {
    size_t n = 0;
    for (TEntry* e = tc->entries[i]; e; e = reveal_ptr<TEntry>(&e->next, e->next)) {
      if ((uintptr_t)e & ALIGN_MASK) return check_fail("misaligned tcache entry", e, i);
      Chunk* c = mem2chunk(e);
      if (csize2tidx(chunksize(c)) != i) return check_fail("tcache entry of wrong size", e, chunksize(c));
      if (e->key != g_tcache_key) return check_fail("tcache entry without key", e, i);
      if (!inuse_at(c, chunksize(c))) return check_fail("tcache chunk marked free", e, i);
      if (++n > tc->counts[i]) return check_fail("tcache count too small", e, i);
    }
    if (n != tc->counts[i]) return check_fail("tcache count mismatch", tc, i);
  }
  return nullptr;
}
}  // namespace

}  // namespace heapmark::pt::detail

namespace heapmark::pt {
using namespace detail;

const char* Core::check_heap() noexcept {
  ensure_init();
  const char* err = check_tcache();
  lock(&g_list_mu);
  for (Arena* av = &g_main_arena; av && !err; av = av->next) {
    lock(&av->mutex);
    err = check_arena(av);
    unlock(&av->mutex);
  }
  unlock(&g_list_mu);
  return err;
}

}  // namespace heapmark::pt
