// Statistics: the figures of heapmark_allocator_stats (README.md lists them),
// summed over every arena under its lock, with one chunk count per bin.
#include <string.h>

#include "ptmalloc_style/internal.h"

namespace heapmark::pt::detail {
namespace {
struct BinNames {
  char s[NFASTBINS + NBINS][28];
};
constexpr void put_name(char* out, const char* pre, size_t v, const char* post) {
  size_t n = 0;
  for (const char* s = pre; *s; ++s) out[n++] = *s;
  char digits[24] = {};
  size_t d = 0;
  do {
    digits[d++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (d) out[n++] = digits[--d];
  for (const char* s = post; *s; ++s) out[n++] = *s;
  out[n] = 0;
}
consteval BinNames make_bin_names() {
  BinNames b{};
  for (size_t i = 0; i < NFASTBINS; ++i) put_name(b.s[i], "fastbin_", (i + 2) * 16, "_count");
  put_name(b.s[NFASTBINS + 1], "unsorted", 0, "_count");
  for (size_t i = 2; i < 64; ++i) put_name(b.s[NFASTBINS + i], "smallbin_", i * 16, "_count");
  for (size_t i = 64; i < NBINS - 1; ++i) {
    size_t sz = MIN_LARGE_SIZE;
    while (largebin_index(sz) < i) sz += 16;
    put_name(b.s[NFASTBINS + i], "largebin_", sz, "_count");
  }
  return b;
}
constexpr BinNames kBinNames = make_bin_names();
}  // namespace
}  // namespace heapmark::pt::detail

namespace heapmark::pt {
using namespace detail;

size_t Core::stats(heapmark_stat* out, size_t max) noexcept {
  ensure_init();
  size_t committed = 0, free_bins = 0, free_count = 0, top = 0, fast_bytes = 0, fast_count = 0, arenas = 0, ticks = 0;
  size_t releasable = 0;  // what release() would give back now: dirty free-chunk interiors and the tops (pad 0)
  size_t bin_counts[NFASTBINS + NBINS] = {};
  lock(&g_list_mu);
  for (Arena* av = &g_main_arena; av; av = av->next) {
    lock(&av->mutex);
    ++arenas;
    ticks += av->epoch;
    committed += av->system_mem;
    top += chunksize(av->top);
    if (chunksize(av->top) > MINSIZE + 1) releasable += align_down(chunksize(av->top) - MINSIZE - 1, g_page);
    for (size_t i = 0; i < NFASTBINS; ++i)
      for (Chunk* c = av->fastbins[i]; c; c = reveal_ptr<Chunk>(&c->fd, (uintptr_t)c->fd)) {
        fast_bytes += chunksize(c);
        ++fast_count;
        ++bin_counts[i];
      }
    for (size_t i = 1; i < NBINS - 1; ++i) {
      Chunk* bin = bin_at(av, i);
      for (Chunk* c = bin->fd; c != bin; c = c->fd) {
        free_bins += chunksize(c);
        ++free_count;
        const uintptr_t lo = interior_lo(c), hi = interior_hi(c, chunksize(c));
        if (lo < hi && c->page_tag != (g_tag_clean ^ (uintptr_t)c)) releasable += hi - lo;
        ++bin_counts[NFASTBINS + i];
      }
    }
    unlock(&av->mutex);
  }
  unlock(&g_list_mu);
  lock(&g_mmap_mu);
  size_t mapped = g_mt.mapped_bytes, mapped_count = g_mt.used, max_mapped = g_mt.max_mapped_bytes;
  unlock(&g_mmap_mu);
  size_t tc_bytes = 0, tc_count = 0;
  for (size_t i = 0; i < TCACHE_BINS; ++i) {
    tc_count += tl_tc->counts[i];
    tc_bytes += tl_tc->counts[i] * (MINSIZE + 16 * i);
  }
  os::Counters oc = os::counters();
  size_t free_all = free_bins + fast_bytes + top;
  size_t n = 0;
  auto put = [&](const char* name, size_t v) {
    if (n < max) out[n++] = {name, (unsigned long long)v};
  };
  put("committed_bytes", committed);                 // glibc mallinfo2.arena
  put("in_use_bytes", committed - free_all);         // uordblks: tcache chunks count as in use, as in glibc
  put("live_bytes", committed - free_all + mapped);  // what the program holds: in use + mmapped chunks
  put("releasable_bytes", releasable);
  put("free_bytes", free_all);  // fordblks: bins + fastbins + top
  put("top_bytes", top);
  put("fastbin_bytes", fast_bytes);
  put("fastbin_count", fast_count);
  put("bin_free_bytes", free_bins);
  put("bin_free_count", free_count);
  put("mapped_bytes", mapped);
  put("mapped_count", mapped_count);
  put("max_mapped_bytes", max_mapped);
  put("arenas", arenas);
  put("heaps", g_heaps.load(std::memory_order_relaxed));
  put("mmap_threshold", g_mmap_threshold.load(std::memory_order_relaxed));
  put("trim_threshold", g_trim_threshold.load(std::memory_order_relaxed));
  put("release_policy", (size_t)g_set.release);
  put("decay_ticks", ticks);  // summed over arenas
  put("tcache_bytes_this_thread", tc_bytes);
  put("tcache_count_this_thread", tc_count);
  put("os_committed_total", oc.committed);
  put("os_decommitted_total", oc.decommitted);
  for (size_t i = 0; i < NFASTBINS; ++i) put(kBinNames.s[i], bin_counts[i]);
  for (size_t i = 1; i < NBINS - 1; ++i) put(kBinNames.s[NFASTBINS + i], bin_counts[NFASTBINS + i]);
  return n;
}

unsigned long long Core::stat(const char* name) noexcept {
  heapmark_stat s[256];
  size_t n = stats(s, 256);
  for (size_t i = 0; i < n; ++i)
    if (strcmp(s[i].name, name) == 0) return s[i].value;
  return 0;
}

}  // namespace heapmark::pt
