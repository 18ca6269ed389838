// libheapmark_buddy.so: the buddy Core behind the shared export layer, plus
// heapmark_buddy_dump(), a text map of every region's blocks for the report.
#include "buddy/buddy_core.h"
#define HEAPMARK_EXPORT_CORE heapmark::buddy::Core
#include "shim/export_malloc.inc"

// "(off:size)" free, "[off:size]" used, one line per region; returns the buffer
// length needed (output truncated to len-1 chars, always NUL-terminated).
extern "C" __attribute__((visibility("default"))) size_t heapmark_buddy_dump(char* buf, size_t len) {
  return heapmark::buddy::global_heap().dump_text(buf, len);
}
