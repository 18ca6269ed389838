// A walk of glibc's heaps from inside the process, for the glibc family's
// walk() (heapmark attach's helper runs it with every thread stopped outside
// the allocator). It allocates nothing: the maps text and the mincore vector
// live in mmap'd scratch it unmaps before returning.
//
// What it relies on is glibc's chunk layout (malloc/malloc.c, unchanged since
// 2.26): a chunk's size word at +8 with PREV_INUSE (1), IS_MMAPPED (2) and
// NON_MAIN_ARENA (4); a chunk is free when the next chunk's PREV_INUSE is
// clear; the main arena's chunks run from the [heap] mapping's start to
// sbrk(0); another arena's heap starts at a 64 MiB boundary with a heap_info
// whose third word is the heap's used size. The first chunk's offset in an
// arena heap (after heap_info, and the malloc_state in an arena's first heap)
// is found rather than assumed: it is the offset from which the chain of
// sizes lands exactly on the heap's end (its top chunk, or the fenceposts glibc
// leaves at the end of a heap it grew past). A heap whose chain does not land
// stops the walk with a reason, so a glibc with another layout is reported,
// never misread.
//
// The page map (HeapWalk's map) puts every page of the walked heaps in one
// state, in address order heap after heap: pages holding live chunks are
// dense or sparse by their live bytes, resident pages without are retained,
// the rest released.
//
// What malloc_trim(0) returns, as glibc 2.36's mtrim and systrim do: the whole
// pages inside each free chunk past its first 48 bytes (sizeof(struct
// malloc_chunk)), and the main arena's top beyond MINSIZE, from the end.
// Fastbin and tcache chunks look in use here (glibc marks them so); trim's
// consolidation of fastbins can return a little more than predicted.
#pragma once
#include "allocators/registry/family.h"

namespace heapmark::registry {

void walk_glibc_heaps(HeapWalk& out) noexcept;

}  // namespace heapmark::registry
