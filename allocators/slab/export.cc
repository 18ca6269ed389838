// libheapmark_slab.so: the slab Core behind the shared export layer, with its
// malloc and free fast paths inline in the exported functions (internal.h):
// a call less on every malloc and free.
#include "slab/internal.h"
#include "slab/slab_core.h"

namespace {
struct ExportedCore : heapmark::slab::Core {
  static void* alloc(size_t n) noexcept { return heapmark::slab::alloc_fast(n); }
  static void free(void* p) noexcept { heapmark::slab::free_fast(p); }
};
}  // namespace

#define HEAPMARK_EXPORT_CORE ExportedCore
#include "shim/export_malloc.inc"
