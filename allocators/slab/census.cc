// Census (test support, slab_core.h): with every lock held, every object of
// every slab is on exactly one of a magazine, its slab's free list (or never
// carved), or allocated, and the allocated ones are exactly the caller's live
// small blocks.
#include "shim/diag.h"
#include "slab/internal.h"

namespace heapmark::slab {

using shim::TextOut;

bool census(const void* const* live, size_t nlive, char* why, size_t why_len) noexcept {
  ensure_init();
  TextOut o{why, why_len};
  bool ok = true;
  size_t total_live_bits = 0;
  g_threads.lock();
  for (auto& l : g_class_lock) pthread_mutex_lock(&l.mu);
  for (unsigned cls = 0; cls < kClasses && ok; ++cls) {
    const size_t size = class_size(cls);
    for (unsigned l = 0; l < 3 && ok; ++l)
      for (Slab* s = g_cache[cls].lists[l]; s && ok; s = s->next) {
        uint64_t seen[kMaxObjectsPerSlab / 64] = {};
        auto claim = [&](size_t idx, const char* where) {
          if (seen[idx >> 6] >> (idx & 63) & 1) {
            o.put("object on two lists: ");
            o.put(where);
            ok = false;
          }
          if (s->allocated(idx)) {
            o.put("object marked allocated is also on ");
            o.put(where);
            ok = false;
          }
          seen[idx >> 6] |= uint64_t(1) << (idx & 63);
        };
        size_t on_list = 0;
        for (void* p = s->free_list; p && ok; p = *static_cast<void**>(p), ++on_list) {
          size_t off = size_t(static_cast<char*>(p) - s->base);
          if (off % size || off / size >= s->carved) {
            o.put("free list entry outside the carved objects");
            ok = false;
            break;
          }
          claim(off / size, "a slab free list");
        }
        for (size_t idx = s->carved; idx < s->capacity && ok; ++idx) claim(idx, "the uncarved tail");
        size_t in_mags = 0;
        for (ThreadCache* tc = g_threads.first(); tc && ok; tc = tc->next_all)
          for (uint32_t k = 0; k < tc->mags[cls].count && ok; ++k) {
            char* p = static_cast<char*>(tc->slots_of(tc->mags[cls])[k].item);
            if (p < s->base || p >= s->base + size_t(s->capacity) * size) continue;
            claim(size_t(p - s->base) / size, "a magazine");
            ++in_mags;
          }
        size_t nlive_bits = live_objects(s);
        total_live_bits += nlive_bits;
        for (size_t idx = 0; idx < s->capacity && ok; ++idx) {
          bool allocated = s->allocated(idx);
          bool elsewhere = seen[idx >> 6] >> (idx & 63) & 1;
          if (!allocated && !elsewhere) {
            o.put("object on no list and not allocated");
            ok = false;
          }
        }
        if (ok && on_list + (s->capacity - s->carved) != s->free_count) {
          o.put("slab free count differs from its free list");
          ok = false;
        }
        if (ok && list_for(s) != s->list) {
          o.put("slab on the wrong cache list");
          ok = false;
        }
      }
  }
  // The allocated objects are exactly the caller's live small blocks.
  size_t expected = 0;
  for (size_t i = 0; i < nlive && ok; ++i) {
    Slab* s = slab_of(live[i]);
    if (!s) continue;
    ++expected;
    size_t off = size_t(static_cast<const char*>(live[i]) - s->base);
    size_t idx = off / class_size(s->cls);
    if (!s->allocated(idx)) {
      o.put("a live block is not marked allocated");
      ok = false;
    }
  }
  if (ok && expected != total_live_bits) {
    o.put("allocated objects differ from the live blocks: ");
    o.num(total_live_bits);
    o.put(" vs ");
    o.num(expected);
    ok = false;
  }
  for (unsigned i = kClassLocks; i-- > 0;) pthread_mutex_unlock(&g_class_lock[i].mu);
  g_threads.unlock();
  if (ok) o.put("ok");
  o.finish();
  return ok;
}

}  // namespace heapmark::slab
