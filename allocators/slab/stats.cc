// Slab statistics: stats() with slabs and live objects per class, on top of the
// page heap's figures, and the settings and return horizon (the page heap's).
#include <string.h>

#include "slab/internal.h"

namespace heapmark::slab {

namespace {
struct ClassNames {
  char slabs[kClasses][24];
  char live[kClasses][24];
};
constexpr void put_name(char* dst, const char* prefix, size_t v) {
  int n = 0;
  while (*prefix) dst[n++] = *prefix++;
  char t[12] = {};
  int k = 0;
  do t[k++] = char('0' + v % 10);
  while ((v /= 10) != 0);
  while (k) dst[n++] = t[--k];
  dst[n] = 0;
}
constexpr ClassNames make_names() {
  ClassNames names{};
  for (unsigned i = 0; i < kClasses; ++i) {
    put_name(names.slabs[i], "slabs_class_", class_size(i));
    put_name(names.live[i], "live_class_", class_size(i));
  }
  return names;
}
constexpr ClassNames kNames = make_names();
}  // namespace

size_t live_objects(Slab* s) noexcept {
  size_t n = 0;
  for (size_t i = 0; i < s->capacity; ++i) n += s->allocated(i);
  return n;
}

size_t Core::config(heapmark_stat* out, size_t max) noexcept {
  ensure_init();
  size_t n = g_heap.config(out, max);
  if (n < max) out[n++] = heapmark_stat{"empty_slab_reserve", g_empty_reserve};
  return n;
}

heapmark_horizon Core::horizon() noexcept {
  ensure_init();
  return g_heap.horizon();
}

size_t Core::stats(heapmark_stat* out, size_t max) noexcept {
  ensure_init();
  size_t n = 0;
  auto add = [&](const char* name, unsigned long long v) {
    if (n < max) out[n++] = heapmark_stat{name, v};
  };
  size_t live_bytes = 0, slabs = 0, empty = 0, empty_bytes = 0;
  size_t per_slabs[kClasses] = {}, per_live[kClasses] = {};
  for (unsigned i = 0; i < kClasses; ++i) {
    Cache& c = g_cache[i];
    pthread_mutex_lock(lock_of(i));
    for (unsigned l = 0; l < 3; ++l)
      for (Slab* s = c.lists[l]; s; s = s->next) {
        ++per_slabs[i];
        per_live[i] += live_objects(s);
      }
    empty += c.counts[kEmpty];
    empty_bytes += c.counts[kEmpty] * kGeo[i].slab_bytes;
    pthread_mutex_unlock(lock_of(i));
    slabs += per_slabs[i];
    live_bytes += per_live[i] * class_size(i);
  }
  heapmark_stat h[64];
  size_t hn = g_heap.stats(h, 64);
  auto heap_stat = [&](const char* name) -> unsigned long long {
    for (size_t i = 0; i < hn; ++i)
      if (strcmp(h[i].name, name) == 0) return h[i].value;
    return 0;
  };
  const size_t slab_bytes = g_slab_bytes.load(std::memory_order_relaxed);
  const size_t heap_in_use = g_heap.in_use_bytes();
  add("in_use_bytes", live_bytes + (heap_in_use > slab_bytes ? heap_in_use - slab_bytes : 0));
  add("live_bytes", live_bytes + (heap_in_use > slab_bytes ? heap_in_use - slab_bytes : 0));
  add("free_bytes", heap_stat("free_bytes") + (slab_bytes - live_bytes));
  add("committed_bytes", heap_stat("committed_bytes"));
  add("mapped_bytes", heap_stat("mapped_bytes"));
  add("mapped_count", heap_stat("mapped_count"));
  add("slab_bytes", slab_bytes);
  // release() hands the empty slabs to the page heap, which then decommits its dirty free pages.
  add("releasable_bytes", empty_bytes + heap_stat("dirty_free_bytes"));
  // Free slots of slabs that hold live objects: resident, and no release reaches them.
  add("pinned_bytes", slab_bytes > live_bytes + empty_bytes ? slab_bytes - live_bytes - empty_bytes : 0);
  add("slabs", slabs);
  add("empty_slabs", empty);
  add("slabs_returned", g_slabs_returned.load(std::memory_order_relaxed));
  add("regions", heap_stat("regions"));
  add("decommitted_bytes", g_heap.decommitted_bytes());
  for (unsigned i = 0; i < kClasses; ++i) {
    add(kNames.slabs[i], per_slabs[i]);
    add(kNames.live[i], per_live[i]);
  }
  return n;
}

}  // namespace heapmark::slab
