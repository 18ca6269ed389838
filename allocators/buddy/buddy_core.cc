// The buddy allocator's Core over the process-wide BuddyHeap (see buddy_core.h).
#include "buddy/buddy_core.h"

#include <stdlib.h>
#include <string.h>

namespace heapmark::buddy {
namespace {
BuddyHeap g_heap;

void init_from_env() noexcept {
  // getenv only here, once, before the heap is marked ready.
  Decommit policy = parse_decommit(getenv("HEAPMARK_BUDDY_DECOMMIT"), Decommit::kThreshold);
  size_t threshold = parse_size(getenv("HEAPMARK_BUDDY_DECOMMIT_THRESHOLD"), size_t(8) << 20);
  size_t min_block = parse_size(getenv("HEAPMARK_BUDDY_MIN_BLOCK"), 16);
  unsigned min_order = 4;
  while (min_order < kPageOrder && (size_t(1) << min_order) < min_block) ++min_order;
  g_heap.init("buddy", min_order, policy, threshold);
}

inline BuddyHeap& heap() noexcept {
  if (__builtin_expect(!g_heap.initialised(), 0)) init_from_env();
  return g_heap;
}
}  // namespace

size_t parse_size(const char* s, size_t fallback) noexcept {
  if (!s || !*s) return fallback;
  size_t v = 0;
  for (; *s >= '0' && *s <= '9'; ++s) v = v * 10 + size_t(*s - '0');
  switch (*s) {
    case 'k': case 'K': v <<= 10; ++s; break;
    case 'm': case 'M': v <<= 20; ++s; break;
    case 'g': case 'G': v <<= 30; ++s; break;
    default: break;
  }
  return *s ? fallback : v;
}

BuddyHeap& global_heap() noexcept { return heap(); }

size_t heap_config(const BuddyHeap& h, heapmark_stat* out, size_t max) noexcept {
  const heapmark_stat items[] = {{"decommit_eager", h.policy() == Decommit::kEager},
                                 {"decommit_never", h.policy() == Decommit::kNever},
                                 {"decommit_threshold_bytes", h.threshold()},
                                 {"min_block_bytes", size_t(1) << h.min_order()}};
  size_t n = 0;
  for (const auto& it : items)
    if (n < max) out[n++] = it;
  return n;
}

heapmark_horizon heap_horizon(const BuddyHeap& h) noexcept {
  switch (h.policy()) {
    case Decommit::kEager: return {0, 0, "none needed: free() decommits every free page run at once"};
    case Decommit::kThreshold: return {0, 0, "no timer: free() decommits once dirty free pages exceed the threshold"};
    case Decommit::kNever: return {~0ull, 0, "never: only the release hook decommits"};
  }
  return {0, 0, "?"};
}

void* Core::alloc(size_t n) noexcept { return heap().alloc(n); }
void* Core::alloc_aligned(size_t align, size_t n) noexcept { return heap().alloc_aligned(align, n); }
void Core::free(void* p) noexcept { heap().free(p); }
size_t Core::usable_size(const void* p) noexcept { return heap().usable_size(p); }
bool Core::owns(const void* p) noexcept { return heap().owns(p); }
void Core::release() noexcept { heap().release(); }
size_t Core::stats(heapmark_stat* out, size_t max) noexcept { return heap().stats(out, max); }
size_t Core::config(heapmark_stat* out, size_t max) noexcept { return heap_config(heap(), out, max); }
heapmark_horizon Core::horizon() noexcept { return heap_horizon(heap()); }

void* Core::realloc(void* p, size_t n) noexcept {
  BuddyHeap& h = heap();
  size_t old = h.usable_size(p);
  if (old == 0) h.free(p);  // not a live block: free() names the failed check and aborts
  // Stay in place while the block fits and is not more than twice too big.
  if (n <= old && (n > old / 2 || old <= (size_t(1) << h.min_order()))) return p;
  void* q = h.alloc(n);
  if (!q) return nullptr;
  memcpy(q, p, old < n ? old : n);
  h.free(p);
  return q;
}

void Core::prefork() noexcept { heap().lock(); }
void Core::postfork_parent() noexcept { heap().unlock(); }
void Core::postfork_child() noexcept { heap().reinit_lock_after_fork(); }

}  // namespace heapmark::buddy
