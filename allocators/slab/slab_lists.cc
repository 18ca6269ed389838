// Slab lists: each class cache's full, partial and empty lists, the page map
// from a page to its slab, taking a slab from the page heap and giving it back,
// and moving objects between the slabs and a magazine (under the class lock).
#include <string.h>

#include "slab/internal.h"

namespace heapmark::slab {

void list_remove(Cache& c, Slab* s) noexcept {
  if (s->prev) s->prev->next = s->next;
  else c.lists[s->list] = s->next;
  if (s->next) s->next->prev = s->prev;
  --c.counts[s->list];
}
void list_push(Cache& c, Slab* s, uint8_t list) noexcept {
  s->list = list;
  s->prev = nullptr;
  s->next = c.lists[list];
  if (s->next) s->next->prev = s;
  c.lists[list] = s;
  ++c.counts[list];
}

namespace {
// Points every page of the slab at base (bytes long) at s, or at nothing.
void set_pagemap(char* base, size_t bytes, Slab* s) noexcept {
  Region* r = buddy::region_of(base);
  size_t first = size_t(base - r->base) >> buddy::kPageOrder;
  for (size_t i = 0; i < (bytes >> buddy::kPageOrder); ++i)
    r->pagemap[first + i].store(reinterpret_cast<uintptr_t>(s), std::memory_order_release);
}
}  // namespace

Slab* new_slab_locked(unsigned cls) noexcept {
  const Geometry& g = kGeo[cls];
  char* base = static_cast<char*>(g_heap.alloc(g.slab_bytes));
  if (!base) return nullptr;
  Slab* s = reinterpret_cast<Slab*>(base + g.slab_bytes - g.header_bytes);
  s->base = base;
  s->free_list = nullptr;
  s->free_count = g.capacity;
  s->carved = 0;
  s->capacity = g.capacity;
  s->inv = g.inv;
  s->size = uint32_t(class_size(cls));
  s->cls = uint16_t(cls);
  memset(s + 1, 0, g.capacity);
  set_pagemap(base, g.slab_bytes, s);
  g_slab_bytes.fetch_add(g.slab_bytes, std::memory_order_relaxed);
  return s;
}

void return_slab_locked(Slab* s) noexcept {
  const Geometry& g = kGeo[s->cls];
  set_pagemap(s->base, g.slab_bytes, nullptr);
  g_slab_bytes.fetch_sub(g.slab_bytes, std::memory_order_relaxed);
  g_slabs_returned.fetch_add(1, std::memory_order_relaxed);
  g_heap.free(s->base);
}

unsigned take_locked(unsigned cls, Slot* out, unsigned n) noexcept {
  Cache& c = g_cache[cls];
  const size_t size = class_size(cls);
  unsigned got = 0;
  while (got < n) {
    Slab* s = c.lists[kPartial] ? c.lists[kPartial] : c.lists[kEmpty];
    if (!s) {
      s = new_slab_locked(cls);
      if (!s) break;
      list_push(c, s, kEmpty);
    }
    while (got < n && s->free_count) {
      void* p;
      size_t idx;
      if (s->free_list) {
        p = s->free_list;
        s->free_list = *static_cast<void**>(p);
        idx = (uint64_t(static_cast<char*>(p) - s->base) * kGeo[cls].inv) >> 40;
      } else {
        idx = s->carved++;
        p = s->base + idx * size;
      }
      --s->free_count;
      out[got++] = Slot{p, s->state_byte(idx)};
    }
    uint8_t want = list_for(s);
    if (want != s->list) {
      list_remove(c, s);
      list_push(c, s, want);
    }
  }
  return got;
}

// Returns objects of class cls to their slabs (their live bits are already clear).
void put_locked(unsigned cls, const Slot* items, unsigned n) noexcept {
  Cache& c = g_cache[cls];
  for (unsigned i = 0; i < n; ++i) {
    void* p = items[i].item;
    Slab* s = slab_of(p);
    *static_cast<void**>(p) = s->free_list;
    s->free_list = p;
    ++s->free_count;
    uint8_t want = list_for(s);
    if (want == s->list) continue;
    list_remove(c, s);
    if (want == kEmpty && c.counts[kEmpty] >= g_empty_reserve) {
      return_slab_locked(s);  // beyond the reserve: back to the buddy heap
    } else {
      list_push(c, s, want);
    }
  }
}

}  // namespace heapmark::slab
