// libheapmark_trivial.so: the export layer over the trivial test core, so the
// preload machinery is checked without depending on a real allocator.
#include "trivial_core.h"
#define HEAPMARK_EXPORT_CORE heapmark::testing::TrivialCore
#include "shim/export_malloc.inc"
