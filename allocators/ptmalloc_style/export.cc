// libheapmark_ptmalloc.so: the ptmalloc-style core behind the shared shim
// (C semantics + every malloc-family symbol + introspection ABI).
#include "ptmalloc_style/core.h"
#define HEAPMARK_EXPORT_CORE heapmark::pt::Core
#include "shim/export_malloc.inc"
