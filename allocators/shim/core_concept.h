// The allocator-core contract, stated once: what every Core (buddy, slab,
// ptmalloc-style, the trivial test core) provides to the shim. libc_semantics.h
// and export_malloc.inc static_assert it for the Core they are given.
//
// A Core is a struct of static noexcept functions over one process-wide heap.
// Every function:
//  - may be called from any thread, concurrently with every other, and may be
//    the process's first allocator call (a Core initialises itself lazily; the
//    environment is read with getenv at that point only);
//  - never calls the malloc family, operator new, stdio or anything that may
//    (under LD_PRELOAD the Core IS malloc): memory comes from the OS contract
//    (allocators/os/os.h), text goes out through shim/diag.h;
//  - is not async-signal-safe (Cores take locks), but is fork-safe: the export
//    layer registers prefork/postfork_parent/postfork_child with pthread_atfork.
// The shim (libc_semantics.h) handles errno, zero sizes, null pointers, size
// overflow and alignment validation, so a Core only sees what is listed here.
//
//  alloc(n)              n in [1, PTRDIFF_MAX]. A block of at least n usable
//                        bytes, 16-byte aligned (shim::kMinAlign), distinct from
//                        every live block; nullptr when out of memory.
//  alloc_aligned(a, n)   a a power of two > 16 (smaller alignments go to alloc),
//                        n in [1, PTRDIFF_MAX]. As alloc, aligned to a.
//  free(p)               p non-null and a live block of this Core (returned by
//                        alloc, alloc_aligned or realloc, not freed since). A Core
//                        may detect a double or invalid free; it then aborts
//                        with one line naming the failed check (shim::die).
//  realloc(p, n)         p as for free, n in [1, PTRDIFF_MAX]. p itself or a new
//                        block holding p's first min(n, usable_size(p)) bytes
//                        (p is then freed); nullptr on failure, p still live.
//  usable_size(p)        p as for free. At least the size p was requested with;
//                        the caller may use all of it.
//  owns(p)               p any pointer: null, freed, interior or foreign. True
//                        only for the start of a live block of this Core; must
//                        not fault or read memory the Core does not manage.
//  release()             Returns every free page it can to the OS (the
//                        malloc_trim(0) equivalent); any time, even before the
//                        first allocation.
//  stats(out, max)       Writes at most max figures, returns how many; names in
//  config(out, max)      static storage; must not allocate. stats feeds mallinfo2
//                        by name (in_use_bytes, free_bytes, committed_bytes,
//                        mapped_bytes, mapped_count); config the Core's settings.
//  horizon()             How long freed memory takes to go back by itself
//                        (registry/family.h); its text in static storage.
//  prefork()             Takes every lock of the Core in one fixed order, so no
//  postfork_parent()     lock is held by a thread the child lacks; the parent
//  postfork_child()      releases them, the child makes them usable again. Must
//                        work before the first allocation.
//  name(), version()     Static storage; name() is the registry name
//                        (heapmark_allocator_name).
#pragma once
#include <stddef.h>

#include <concepts>

#include "shim/introspect.h"

namespace heapmark::shim {

template <class C>
concept AllocatorCore = requires(void* p, const void* cp, size_t n, heapmark_stat* out) {
  { C::alloc(n) }
  noexcept->std::same_as<void*>;
  { C::alloc_aligned(n, n) }
  noexcept->std::same_as<void*>;
  { C::free(p) }
  noexcept->std::same_as<void>;
  { C::realloc(p, n) }
  noexcept->std::same_as<void*>;
  { C::usable_size(cp) }
  noexcept->std::same_as<size_t>;
  { C::owns(cp) }
  noexcept->std::same_as<bool>;
  { C::release() }
  noexcept->std::same_as<void>;
  { C::stats(out, n) }
  noexcept->std::same_as<size_t>;
  { C::config(out, n) }
  noexcept->std::same_as<size_t>;
  { C::horizon() }
  noexcept->std::same_as<heapmark_horizon>;
  { C::name() }
  noexcept->std::same_as<const char*>;
  { C::version() }
  noexcept->std::same_as<const char*>;
  // pthread_atfork takes the fork hooks as plain function pointers.
  { &C::prefork } -> std::convertible_to<void (*)()>;
  { &C::postfork_parent } -> std::convertible_to<void (*)()>;
  { &C::postfork_child } -> std::convertible_to<void (*)()>;
  { C::prefork() }
  noexcept;
  { C::postfork_parent() }
  noexcept;
  { C::postfork_child() }
  noexcept;
};

}  // namespace heapmark::shim
