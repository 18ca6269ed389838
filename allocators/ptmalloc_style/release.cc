// Giving memory back: the release policies' page sweeps and decay ticks, the
// decay thread, and trimming an arena's top (systrim / heap_trim, as glibc).
// The hook on every free that creates free pages, on_free_chunk, is inline in
// internal.h: it runs on the free path.
#include "ptmalloc_style/internal.h"

namespace heapmark::pt::detail {

// ---------------------------------------------------------------- page release
void sweep_free_pages(Arena* av, bool all) {
  for (size_t i = 1; i < NBINS; i = (i == 1 ? 64 : i + 1)) {
    Chunk* bin = bin_at(av, i);
    for (Chunk* c = bin->fd; c != bin; c = c->fd) {
      size_t size = chunksize(c);
      uintptr_t lo = interior_lo(c), hi = interior_hi(c, size);
      if (lo >= hi || c->page_tag == (g_tag_clean ^ (uintptr_t)c)) continue;
      if (!all) {
        if (c->page_tag != (g_tag_dirty ^ (uintptr_t)c)) {  // split remainder: start its clock
          c->page_tag = g_tag_dirty ^ (uintptr_t)c;
          c->decay_epoch = av->epoch;
          continue;
        }
        if (c->decay_epoch + 2 > av->epoch) continue;
      }
      os::purge((void*)lo, hi - lo);  // the chunk is reused without notice
      c->page_tag = g_tag_clean ^ (uintptr_t)c;
    }
  }
}

// One decay tick when half a period has passed: pages dirty for two ticks go back.
void decay_advance(Arena* av, uint64_t now) {  // av lock held
  if (now - av->last_tick_ms < decay_half_ms()) return;
  av->last_tick_ms = now;
  ++av->epoch;
  // Fastbin chunks look in use, so their pages could never decay: a tick merges
  // them first (glibc consolidates only before a large request or free).
  if (av->have_fastchunks) malloc_consolidate(av);
  sweep_free_pages(av, false);
  trim_top(av, g_set.top_pad);  // the top above the pad goes back once per tick
}

// ---------------------------------------------------------------- decay thread
// In decay mode a background thread also ticks every arena, so an idle process
// returns its free pages too (like jemalloc's background_thread). It is started
// from the allocation slow path, outside every allocator lock, once the
// process's constructors run (pthread_create may itself allocate), and again in
// a forked child.
std::atomic<int> g_decay_thread{0};  // 0 not started, 1 running or starting, 2 failed

namespace {
constinit bool g_constructed = false;
__attribute__((constructor)) void mark_constructed() { g_constructed = true; }

void* decay_thread_main(void*) {
  for (;;) {
    os::sleep_ms(decay_half_ms());
    uint64_t now = now_ms();
    lock(&g_list_mu);
    for (Arena* av = &g_main_arena; av; av = av->next) {
      if (pthread_mutex_trylock(&av->mutex) != 0) continue;  // busy: it ticks itself
      decay_advance(av, now);
      unlock(&av->mutex);
    }
    unlock(&g_list_mu);
  }
  return nullptr;
}
}  // namespace

void start_decay_thread() {
  if (!g_constructed) return;
  int expected = 0;
  if (!g_decay_thread.compare_exchange_strong(expected, 1)) return;
  if (!os::start_helper_thread(decay_thread_main, 64 * 1024)) g_decay_thread.store(2);
}

// ---------------------------------------------------------------- trimming
bool systrim(size_t pad) {  // main arena lock held
  Arena* av = &g_main_arena;
  size_t top_size = chunksize(av->top);
  if (top_size <= MINSIZE + 1 + pad) return false;
  size_t extra = align_down(top_size - MINSIZE - 1 - pad, g_page);
  if (extra == 0) return false;
  char* end = g_main.end.load(std::memory_order_relaxed);
  os::decommit(end - extra, extra);
  g_main.end.store(end - extra, std::memory_order_relaxed);
  av->system_mem -= extra;
  set_head(av->top, (top_size - extra) | PREV_INUSE);
  return true;
}

bool heap_trim(Arena* av, size_t pad, bool check_threshold) {  // av lock held, av non-main
  HeapInfo* h = av->heap;
  Chunk* top = av->top;
  // A non-first heap whose whole space is the top goes away (arena.c heap_trim).
  while (h->prev && top == heap_first_chunk(h)) {
    HeapInfo* prev = h->prev;
    Chunk* p = prev->last;
    Chunk* nt = p;
    if (!prev_inuse(p)) {
      nt = at(p, -(ptrdiff_t)p->prev_size);
      if (chunksize(nt) != p->prev_size) die("heap_trim(): corrupted size vs. prev_size");
    }
    char* prev_end = (char*)prev + heap_size(prev);
    size_t ntsz = prev_end - (char*)nt;
    if (ntsz + (HEAP_MAX - heap_size(prev)) < pad + MINSIZE + g_page) break;
    if (nt != p) unlink_chunk(av, nt);
    av->system_mem -= heap_size(h);
    delete_heap(h);
    h = prev;
    h->last = nullptr;
    av->heap = h;
    top = nt;
    av->top = top;
    set_head(top, ntsz | PREV_INUSE | NON_MAIN_ARENA);
  }
  size_t top_size = chunksize(top);
  if (check_threshold && top_size < g_trim_threshold.load(std::memory_order_relaxed)) return false;
  if (top_size <= MINSIZE + 1 + pad) return false;
  size_t extra = align_down(top_size - MINSIZE - 1 - pad, g_page);
  if (extra == 0) return false;
  size_t hs = heap_size(h);
  os::decommit((char*)h + hs - extra, extra);
  set_heap_size(h, hs - extra);
  av->system_mem -= extra;
  set_head(top, (top_size - extra) | PREV_INUSE | NON_MAIN_ARENA);
  return true;
}

bool trim_top(Arena* av, size_t pad) { return av == &g_main_arena ? systrim(pad) : heap_trim(av, pad, false); }

}  // namespace heapmark::pt::detail
