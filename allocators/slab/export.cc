// libheapmark_slab.so: the slab Core behind the shared export layer.
#include "slab/slab_core.h"
#define HEAPMARK_EXPORT_CORE heapmark::slab::Core
#include "shim/export_malloc.inc"
