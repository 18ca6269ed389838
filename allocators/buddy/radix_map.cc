// BuddyHeap's radix map: maps p >> kRegionOrder to its Region* (low bit 0) or,
// for a huge mapping's first chunk, (size | heap id << 1 | 1). Two levels over a
// 48-bit address space, shared by every heap; the lookups are inline in
// buddy_heap.h, the slot's creation in internal.h.
#include "buddy/internal.h"

namespace heapmark::buddy {

std::atomic<std::atomic<uintptr_t>*> g_radix[kTopEntries];

}  // namespace heapmark::buddy
