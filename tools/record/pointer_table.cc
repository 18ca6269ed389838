// The pointer -> block id table's state: the root of the radix tree (mapped
// when recording starts), the pages of it the recorder has touched, and the
// overflow table. How the table works: pointer_table.h.
#include "tools/record/pointer_table.h"

namespace heapmark::record {

std::atomic<Leaf*>* g_root = nullptr;
std::atomic<uint64_t> g_root_touched[kRootEntries * sizeof(void*) / 4096 / 64];
std::atomic<uint64_t> g_own_pages{0};
Overflow g_overflow;

}  // namespace heapmark::record
