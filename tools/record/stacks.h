// Allocation sites for libheapmark_record.so (heapmark record --stacks): walks
// the allocating thread's stack, interns it in a table of distinct stacks and
// queues the table's new entries, with the modules (executable and shared
// libraries, dlopen'ed ones included) their frames lie in, as SiteRecords for a
// kSites chunk (workloads/trace_format.h). Symbols are resolved offline.
// Like the rest of the recorder it runs inside malloc: no heap, no stdio.
#pragma once
#include <cstddef>
#include <cstdint>

namespace heapmark::record {

enum class Walker { kLibunwind, kFramePointers };

// Starts capture (depth 1..kMaxStackDepth). `write` writes one whole chunk (header and payload).
void stacks_start(unsigned depth, Walker walker, void (*write)(const void* data, size_t n)) noexcept;
// The calling allocation's site: its stack's id (from 1), or 0 when stacks are
// off, the stack could not be walked, or the table is full (counted).
uint32_t stacks_site() noexcept;
// Writes the queued records as one kSites chunk (nothing when none are queued).
void stacks_flush() noexcept;
// A forked child starting a trace of its own: the table starts empty again, so
// the child's file defines every stack it uses.
void stacks_restart_in_child() noexcept;

}  // namespace heapmark::record
