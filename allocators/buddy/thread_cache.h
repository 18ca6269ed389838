// The buddy Core's per-thread caches of small blocks (orders min_order to
// min_order+7 below a page: 16 B to 2 KiB by default), glibc's tcache in the
// buddy's terms. A free of a small block pushes it onto its thread's list for
// that order; a malloc pops one. Only a full list (flush half) or an empty one
// (refill half) takes the heap's lock, once per batch. What it borrows and
// what it costs:
//  - from glibc's tcache: singly linked lists through the blocks themselves,
//    a per-process key in each cached block's second word so a double free
//    into the same thread's cache is caught (the list is searched only when
//    the key matches), and caps per list;
//  - from tcmalloc and mimalloc: batched transfer between the thread and the
//    shared heap, half a list at a time, so a thread alternating at a list's
//    edge does not take the lock on every call;
//  - the cost: a cached block stays used in the buddy tree, so it neither
//    coalesces nor lets its page go back until it is flushed; a list holds at
//    most kMaxCachedBytes (256 blocks), a thread at most 316 KiB over its
//    eight lists. release() (malloc_trim) flushes the calling thread's cache,
//    thread exit flushes the thread's, and stats report the bytes held as
//    thread_cache_bytes (not live_bytes; in_use_bytes and the per-order used
//    counts still count them, as the tree does).
//  - a block freed twice by two threads is not caught in general (nor by
//    glibc's tcache); a flush that finds its block's node already free aborts.
// HEAPMARK_BUDDY_THREAD_CACHE=0 turns it off (the seeds' design: every call
// takes the lock and walks the tree).
#pragma once
#include <stddef.h>

#include "buddy/buddy_heap.h"

namespace heapmark::buddy::tcache {

inline constexpr unsigned kOrders = 8;               // cached orders above the heap's min_order, below a page
inline constexpr size_t kMaxCachedBytes = 64 << 10;  // per list (and at most 256 blocks)

// Called once when the Core's heap is set up (before any other call here).
void init(BuddyHeap& heap, bool enabled) noexcept;
bool enabled() noexcept;
// A block of `order` from the calling thread's list, refilled from the heap
// when empty; nullptr when the order is not cached or the heap has none.
void* alloc(unsigned order) noexcept;
// Caches the live block p of `order`; false when that order is not cached (the
// caller frees it to the heap). Aborts on a double free found in the cache.
bool free(void* p, unsigned order) noexcept;
// Returns the calling thread's cached blocks to the heap (release()).
void flush_current() noexcept;
// Bytes held in every thread's cache now (read without stopping the threads).
size_t cached_bytes() noexcept;
// Fork: the registry's lock, taken before the heap's.
void prefork() noexcept;
void postfork_parent() noexcept;
void postfork_child() noexcept;

}  // namespace heapmark::buddy::tcache
