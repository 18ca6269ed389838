// Slab allocator implementation (see slab_core.h).
#include "slab/slab_core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>

#include "os/os.h"
#include "shim/diag.h"
#include "shim/env.h"

namespace heapmark::slab {
namespace {
using buddy::BuddyHeap;
using buddy::Region;
using shim::TextOut;

struct Cache;

// Lives at the end of its slab; objects start at the slab base.
struct Slab {
  Slab* next;
  Slab* prev;
  char* base;
  void* free_list;      // intrusive list of returned objects
  uint32_t free_count;  // free_list length + never-carved objects
  uint32_t carved;      // objects [carved, capacity) were never handed out
  uint32_t capacity;
  uint16_t cls;
  uint8_t list;  // which cache list holds it
  // One byte per object follows the struct: 1 while the object is allocated.
  // Only the object's owner (the user, or the thread cache holding it) changes
  // its byte, so plain loads and stores suffice: no locked read-modify-write on
  // the fast path. Racing frees of one object may both pass, as in glibc.
  uint8_t* state_byte(size_t idx) noexcept { return reinterpret_cast<uint8_t*>(this + 1) + idx; }
  bool allocated(size_t idx) noexcept {
    return std::atomic_ref<uint8_t>(*state_byte(idx)).load(std::memory_order_relaxed) != 0;
  }
};
inline void set_state(uint8_t* state, uint8_t allocated) noexcept {
  std::atomic_ref<uint8_t>(*state).store(allocated, std::memory_order_relaxed);
}
static_assert(sizeof(Slab) <= kSlabFixedHeaderBytes);

enum : uint8_t { kPartial = 0, kEmpty = 1, kFull = 2 };

struct alignas(64) Cache {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  Slab* lists[3] = {};
  size_t counts[3] = {};
};

// Each object carries its slab state byte's address, so malloc marks it
// allocated without looking its slab up.
struct Magazine {
  uint32_t count;
  uint32_t cap;
  void* items[64];
  uint8_t* states[64];
};

struct ThreadCache {
  Magazine mags[kClasses];
  ThreadCache* next_all;
  ThreadCache* prev_all;
};

constexpr Geometry kGeo[kClasses] = {
#define G(i) geometry(i)
    G(0),  G(1),  G(2),  G(3),  G(4),  G(5),  G(6),  G(7),  G(8),  G(9),  G(10), G(11), G(12),
    G(13), G(14), G(15), G(16), G(17), G(18), G(19), G(20), G(21), G(22), G(23), G(24), G(25),
    G(26), G(27), G(28), G(29), G(30), G(31), G(32), G(33), G(34), G(35)
#undef G
};

BuddyHeap g_heap;
Cache g_cache[kClasses];
pthread_mutex_t g_init_mu = PTHREAD_MUTEX_INITIALIZER;
std::atomic<bool> g_ready{false};
pthread_key_t g_key;
size_t g_empty_reserve = 1;
// Registry of thread caches (for census, fork and reuse after thread exit).
pthread_mutex_t g_tc_mu = PTHREAD_MUTEX_INITIALIZER;
ThreadCache* g_all = nullptr;
ThreadCache* g_pool = nullptr;
std::atomic<size_t> g_slab_bytes{0};
std::atomic<size_t> g_slabs_returned{0};
// Threads whose cache was torn down (exit) use this one: every cap is 0, so
// each call goes straight to the slabs under the class lock.
ThreadCache g_dead{};

__thread ThreadCache* t_cache __attribute__((tls_model("initial-exec"))) = nullptr;

[[noreturn]] void fail(const char* check) noexcept { shim::die("slab", check); }

void thread_exit(void* v) noexcept;

void init_global() noexcept {
  pthread_mutex_lock(&g_init_mu);
  if (!g_ready.load(std::memory_order_relaxed)) {
    constexpr const char* kWho = "heapmark slab";
    buddy::Decommit policy = buddy::Decommit::kThreshold;
    size_t threshold = size_t(8) << 20;
    shim::env_choice(kWho, "HEAPMARK_SLAB_DECOMMIT", buddy::kDecommitNames, &policy);
    shim::env_size(kWho, "HEAPMARK_SLAB_DECOMMIT_THRESHOLD", &threshold);
    shim::env_count(kWho, "HEAPMARK_SLAB_EMPTY_RESERVE", &g_empty_reserve);
    g_heap.init("slab", buddy::kPageOrder, policy, threshold);
    pthread_key_create(&g_key, thread_exit);
    g_ready.store(true, std::memory_order_release);
  }
  pthread_mutex_unlock(&g_init_mu);
}

inline void ensure_init() noexcept {
  if (__builtin_expect(!g_ready.load(std::memory_order_acquire), 0)) init_global();
}

// ------------------------------------------------------------------ slab lists
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
inline uint8_t list_for(const Slab* s) noexcept {
  return s->free_count == 0 ? kFull : s->free_count == s->capacity ? kEmpty : kPartial;
}

Slab* slab_of(const void* p, Region** out_region = nullptr) noexcept {
  Region* r = buddy::region_of(p);
  if (!r || r->heap != &g_heap) return nullptr;
  if (out_region) *out_region = r;
  size_t page = size_t(static_cast<const char*>(p) - r->base) >> buddy::kPageOrder;
  return reinterpret_cast<Slab*>(r->pagemap[page].load(std::memory_order_acquire));
}

void set_pagemap(char* base, size_t bytes, Slab* s) noexcept {
  Region* r = buddy::region_of(base);
  size_t first = size_t(base - r->base) >> buddy::kPageOrder;
  for (size_t i = 0; i < (bytes >> buddy::kPageOrder); ++i)
    r->pagemap[first + i].store(reinterpret_cast<uintptr_t>(s), std::memory_order_release);
}

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

// Takes up to n objects of class cls into out[] and their state bytes'
// addresses into states[]; returns how many.
unsigned take_locked(unsigned cls, void** out, uint8_t** states, unsigned n) noexcept {
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
      states[got] = s->state_byte(idx);
      out[got++] = p;
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
void put_locked(unsigned cls, void* const* items, unsigned n) noexcept {
  Cache& c = g_cache[cls];
  for (unsigned i = 0; i < n; ++i) {
    void* p = items[i];
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

void flush_magazine(unsigned cls, Magazine& m, unsigned n) noexcept {
  // Flush the oldest n (bottom of the stack), keep the recently freed, cache-hot ones.
  Cache& c = g_cache[cls];
  pthread_mutex_lock(&c.mu);
  put_locked(cls, m.items, n);
  pthread_mutex_unlock(&c.mu);
  memmove(m.items, m.items + n, (m.count - n) * sizeof(void*));
  memmove(m.states, m.states + n, (m.count - n) * sizeof(uint8_t*));
  m.count -= n;
}

ThreadCache* init_thread() noexcept {
  ensure_init();
  t_cache = &g_dead;  // anything re-entering malloc meanwhile takes the direct path
  pthread_mutex_lock(&g_tc_mu);
  ThreadCache* tc = g_pool;
  if (tc) {
    g_pool = tc->next_all;
  } else {
    tc = static_cast<ThreadCache*>(
        os::reserve_committed((sizeof(ThreadCache) + os::page_size() - 1) & ~(os::page_size() - 1)));
  }
  if (tc) {
    for (unsigned i = 0; i < kClasses; ++i) tc->mags[i] = Magazine{0, magazine_cap(i), {}, {}};
    tc->prev_all = nullptr;
    tc->next_all = g_all;
    if (g_all) g_all->prev_all = tc;
    g_all = tc;
  }
  pthread_mutex_unlock(&g_tc_mu);
  if (!tc) return &g_dead;
  pthread_setspecific(g_key, tc);
  t_cache = tc;
  return tc;
}

void thread_exit(void* v) noexcept {
  ThreadCache* tc = static_cast<ThreadCache*>(v);
  t_cache = &g_dead;
  for (unsigned i = 0; i < kClasses; ++i)
    if (tc->mags[i].count) flush_magazine(i, tc->mags[i], tc->mags[i].count);
  pthread_mutex_lock(&g_tc_mu);
  if (tc->prev_all) tc->prev_all->next_all = tc->next_all;
  else g_all = tc->next_all;
  if (tc->next_all) tc->next_all->prev_all = tc->prev_all;
  tc->next_all = g_pool;
  g_pool = tc;
  pthread_mutex_unlock(&g_tc_mu);
}

inline ThreadCache* cache() noexcept {
  ThreadCache* tc = t_cache;
  return __builtin_expect(tc != nullptr, 1) ? tc : init_thread();
}

void* alloc_small_slow(ThreadCache* tc, unsigned cls) noexcept {
  Magazine& m = tc->mags[cls];
  Cache& c = g_cache[cls];
  void* p = nullptr;
  pthread_mutex_lock(&c.mu);
  uint8_t* state = nullptr;
  if (m.cap == 0) {
    take_locked(cls, &p, &state, 1);
  } else {
    m.count = take_locked(cls, m.items, m.states, m.cap / 2);
    if (m.count) {
      --m.count;
      p = m.items[m.count];
      state = m.states[m.count];
    }
  }
  pthread_mutex_unlock(&c.mu);
  if (p) set_state(state, 1);
  return p;
}

inline void* alloc_small(unsigned cls) noexcept {
  ThreadCache* tc = cache();
  Magazine& m = tc->mags[cls];
  if (__builtin_expect(m.count != 0, 1)) {
    --m.count;
    set_state(m.states[m.count], 1);
    return m.items[m.count];
  }
  return alloc_small_slow(tc, cls);
}

// Index of p in its slab, or aborts naming the failed check.
inline size_t object_index(const Slab* s, const void* p) noexcept {
  size_t off = size_t(static_cast<const char*>(p) - s->base);
  size_t idx = (uint64_t(off) * kGeo[s->cls].inv) >> 40;
  if (idx * class_size(s->cls) != off || idx >= s->capacity)
    fail("free(): invalid pointer (not the start of an object)");
  return idx;
}

}  // namespace

// ------------------------------------------------------------------ Core
void* Core::alloc(size_t n) noexcept {
  if (__builtin_expect(n <= kMaxClass, 1)) return alloc_small(class_of(n));
  ensure_init();
  return g_heap.alloc(n);
}

void* Core::alloc_aligned(size_t align, size_t n) noexcept {
  // Objects sit at base + i * size and slabs are at least 16 KiB aligned, so a
  // class whose size is a multiple of align gives aligned objects.
  size_t want = n > align ? n : align;
  if (want <= kMaxClass)
    for (unsigned cls = class_of(want); cls < kClasses; ++cls)
      if (class_size(cls) % align == 0) return alloc_small(cls);
  ensure_init();
  return g_heap.alloc_aligned(align, n);
}

void Core::free(void* p) noexcept {
  Slab* s = slab_of(p);
  if (!s) {  // a large block, a huge mapping, or not ours: the buddy heap checks which
    ensure_init();
    g_heap.free(p);
    return;
  }
  size_t idx = object_index(s, p);
  if (!s->allocated(idx)) fail("free(): double free detected (object is not allocated)");
  uint8_t* state = s->state_byte(idx);
  set_state(state, 0);
  const unsigned cls = s->cls;
  ThreadCache* tc = cache();
  Magazine& m = tc->mags[cls];
  if (__builtin_expect(m.count < m.cap, 1)) {
    m.states[m.count] = state;
    m.items[m.count++] = p;
    return;
  }
  if (m.cap == 0) {
    Cache& c = g_cache[cls];
    pthread_mutex_lock(&c.mu);
    put_locked(cls, &p, 1);
    pthread_mutex_unlock(&c.mu);
    return;
  }
  flush_magazine(cls, m, m.cap / 2);
  m.states[m.count] = state;
  m.items[m.count++] = p;
}

size_t Core::usable_size(const void* p) noexcept {
  if (Slab* s = slab_of(p)) return class_size(s->cls);
  return g_heap.usable_size(p);
}

bool Core::owns(const void* p) noexcept {
  if (!g_ready.load(std::memory_order_acquire)) return false;
  Slab* s = slab_of(p);
  if (!s) return g_heap.owns(p);
  size_t off = size_t(static_cast<const char*>(p) - s->base);
  size_t idx = (uint64_t(off) * kGeo[s->cls].inv) >> 40;
  if (idx * class_size(s->cls) != off || idx >= s->capacity) return false;
  return s->allocated(idx);
}

void* Core::realloc(void* p, size_t n) noexcept {
  size_t old;
  if (Slab* s = slab_of(p)) {
    if (n <= kMaxClass && class_of(n) == s->cls) return p;
    old = class_size(s->cls);
  } else {
    ensure_init();
    old = g_heap.usable_size(p);
    if (old == 0) g_heap.free(p);  // not a live block: aborts naming the check
    if (n > kMaxClass && n <= old && n > old / 2) return p;
  }
  void* q = alloc(n);
  if (!q) return nullptr;
  memcpy(q, p, old < n ? old : n);
  free(p);
  return q;
}

void flush_thread_cache() noexcept {
  ThreadCache* tc = t_cache;
  if (!tc || tc == &g_dead) return;
  for (unsigned i = 0; i < kClasses; ++i)
    if (tc->mags[i].count) flush_magazine(i, tc->mags[i], tc->mags[i].count);
}

void Core::release() noexcept {
  if (!g_ready.load(std::memory_order_acquire)) return;
  flush_thread_cache();
  for (unsigned i = 0; i < kClasses; ++i) {
    Cache& c = g_cache[i];
    pthread_mutex_lock(&c.mu);
    while (Slab* s = c.lists[kEmpty]) {
      list_remove(c, s);
      return_slab_locked(s);
    }
    pthread_mutex_unlock(&c.mu);
  }
  g_heap.release();
}

buddy::BuddyHeap& page_heap() noexcept {
  ensure_init();
  return g_heap;
}

// ------------------------------------------------------------------ fork
// Fixed order: thread-cache registry, class caches by index, then the heap.
// prefork initialises first so parent and child handlers always see the same lock set.
void Core::prefork() noexcept {
  ensure_init();
  pthread_mutex_lock(&g_tc_mu);
  for (auto& c : g_cache) pthread_mutex_lock(&c.mu);
  g_heap.lock();
}
void Core::postfork_parent() noexcept {
  g_heap.unlock();
  for (unsigned i = kClasses; i-- > 0;) pthread_mutex_unlock(&g_cache[i].mu);
  pthread_mutex_unlock(&g_tc_mu);
}
void Core::postfork_child() noexcept {
  g_heap.reinit_lock_after_fork();
  for (auto& c : g_cache) pthread_mutex_init(&c.mu, nullptr);
  pthread_mutex_init(&g_tc_mu, nullptr);
}

// ------------------------------------------------------------------ stats
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

size_t live_objects(Slab* s) noexcept {
  size_t n = 0;
  for (size_t i = 0; i < s->capacity; ++i) n += s->allocated(i);
  return n;
}
}  // namespace

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
    pthread_mutex_lock(&c.mu);
    for (unsigned l = 0; l < 3; ++l)
      for (Slab* s = c.lists[l]; s; s = s->next) {
        ++per_slabs[i];
        per_live[i] += live_objects(s);
      }
    empty += c.counts[kEmpty];
    empty_bytes += c.counts[kEmpty] * kGeo[i].slab_bytes;
    pthread_mutex_unlock(&c.mu);
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

// ------------------------------------------------------------------ census
bool census(const void* const* live, size_t nlive, char* why, size_t why_len) noexcept {
  ensure_init();
  TextOut o{why, why_len};
  bool ok = true;
  size_t total_live_bits = 0;
  pthread_mutex_lock(&g_tc_mu);
  for (auto& c : g_cache) pthread_mutex_lock(&c.mu);
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
        for (ThreadCache* tc = g_all; tc && ok; tc = tc->next_all)
          for (uint32_t k = 0; k < tc->mags[cls].count && ok; ++k) {
            char* p = static_cast<char*>(tc->mags[cls].items[k]);
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
  for (unsigned i = kClasses; i-- > 0;) pthread_mutex_unlock(&g_cache[i].mu);
  pthread_mutex_unlock(&g_tc_mu);
  if (ok) o.put("ok");
  o.finish();
  return ok;
}

}  // namespace heapmark::slab
