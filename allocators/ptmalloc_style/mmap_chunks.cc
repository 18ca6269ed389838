// Chunks with a mapping of their own (requests above the mmap threshold, or
// when a heap cannot grow), and the registry that lets free() validate one
// without reading memory that may not be ours: open addressing keyed by chunk
// address, under g_mmap_mu.
#include "ptmalloc_style/internal.h"

namespace heapmark::pt::detail {

pthread_mutex_t g_mmap_mu = PTHREAD_MUTEX_INITIALIZER;
constinit MTable g_mt{};

namespace {
inline size_t mhash(uintptr_t k, size_t cap) { return (size_t)((k >> 4) * 0x9E3779B97F4A7C15ull) & (cap - 1); }

bool mt_grow() {
  size_t ncap = g_mt.cap ? g_mt.cap * 2 : 1024;
  size_t bytes = align_up(ncap * sizeof(MEntry), g_page);
  MEntry* ne = (MEntry*)os::reserve_committed(bytes);
  if (!ne) return false;
  for (size_t i = 0; i < g_mt.cap; ++i) {
    if (!g_mt.e[i].chunk) continue;
    size_t j = mhash(g_mt.e[i].chunk, ncap);
    while (ne[j].chunk) j = (j + 1) & (ncap - 1);
    ne[j] = g_mt.e[i];
  }
  if (g_mt.e) os::release(g_mt.e, g_mt.bytes);
  g_mt.e = ne;
  g_mt.cap = ncap;
  g_mt.bytes = bytes;
  return true;
}
bool mt_insert(uintptr_t chunk, uintptr_t base, size_t size) {  // g_mmap_mu held
  if ((g_mt.used + 1) * 2 > g_mt.cap && !mt_grow()) return false;
  size_t j = mhash(chunk, g_mt.cap);
  while (g_mt.e[j].chunk) j = (j + 1) & (g_mt.cap - 1);
  g_mt.e[j] = {chunk, base, size};
  ++g_mt.used;
  g_mt.mapped_bytes += size;
  if (g_mt.mapped_bytes > g_mt.max_mapped_bytes) g_mt.max_mapped_bytes = g_mt.mapped_bytes;
  return true;
}
void mt_erase(MEntry* slot) {  // backward-shift deletion keeps probe chains intact
  size_t cap = g_mt.cap, i = (size_t)(slot - g_mt.e);
  g_mt.mapped_bytes -= slot->size;
  --g_mt.used;
  for (size_t j = (i + 1) & (cap - 1);; j = (j + 1) & (cap - 1)) {
    if (!g_mt.e[j].chunk) break;
    size_t h = mhash(g_mt.e[j].chunk, cap);
    bool movable = (i <= j) ? (h <= i || h > j) : (h <= i && h > j);
    if (movable) {
      g_mt.e[i] = g_mt.e[j];
      i = j;
    }
  }
  g_mt.e[i] = {0, 0, 0};
}
}  // namespace

MEntry* mt_find(uintptr_t chunk) {  // g_mmap_mu held
  if (!g_mt.cap) return nullptr;
  size_t j = mhash(chunk, g_mt.cap);
  while (g_mt.e[j].chunk) {
    if (g_mt.e[j].chunk == chunk) return &g_mt.e[j];
    j = (j + 1) & (g_mt.cap - 1);
  }
  return nullptr;
}

void* mmap_chunk(size_t nb, size_t align) {
  size_t extra = align > ALIGN ? align : 0;
  if (nb > MAX_REQUEST) return nullptr;
  size_t total = align_up(nb + SIZE_SZ + extra, g_page);
  char* base = (char*)os::reserve_committed(total);
  if (!base) return nullptr;
  uintptr_t mem = align > ALIGN ? align_up((uintptr_t)base + HDR, align) : (uintptr_t)base + HDR;
  Chunk* c = mem2chunk((void*)mem);
  size_t off = (char*)c - base;
  c->prev_size = off;
  set_head(c, (total - off) | IS_MMAPPED);
  lock(&g_mmap_mu);
  bool ok = mt_insert((uintptr_t)c, (uintptr_t)base, total);
  unlock(&g_mmap_mu);
  if (!ok) {
    os::release(base, total);
    return nullptr;
  }
  return (void*)mem;
}

bool munmap_chunk(Chunk* c, bool dynamic_rule) {
  lock(&g_mmap_mu);
  MEntry* e = mt_find((uintptr_t)c);
  if (!e) {
    unlock(&g_mmap_mu);
    return false;
  }
  uintptr_t base = e->base;
  size_t total = e->size;
  mt_erase(e);
  unlock(&g_mmap_mu);
  size_t size = chunksize(c);
  if (dynamic_rule && g_set.mmap_dynamic && size > g_mmap_threshold.load(std::memory_order_relaxed) &&
      size <= MMAP_THRESHOLD_MAX) {
    // glibc: a freed mapping above the threshold raises it (and the trim threshold)
    g_mmap_threshold.store(size, std::memory_order_relaxed);
    g_trim_threshold.store(2 * size, std::memory_order_relaxed);
  }
  os::release((void*)base, total);
  return true;
}

void* remap_chunk(Chunk* c, size_t nb) {
  lock(&g_mmap_mu);
  MEntry* e = mt_find((uintptr_t)c);
  if (!e) {
    unlock(&g_mmap_mu);
    die("realloc(): invalid pointer");
  }
  uintptr_t base = e->base;
  size_t off = (uintptr_t)c - base, old_total = e->size;
  size_t total = align_up(nb + off + SIZE_SZ, g_page);
  if (total != old_total) {  // glibc: no system call when the page count stays
    char* nbase = (char*)os::remap((void*)base, old_total, total);
    if (!nbase) {
      unlock(&g_mmap_mu);
      return nullptr;
    }
    // The entry goes and comes back: the table keeps its size, so the insert
    // cannot need to grow it.
    mt_erase(e);
    c = (Chunk*)(nbase + off);
    mt_insert((uintptr_t)c, (uintptr_t)nbase, total);
    set_head(c, (total - off) | IS_MMAPPED);
  }
  unlock(&g_mmap_mu);
  return chunk2mem(c);
}

}  // namespace heapmark::pt::detail
