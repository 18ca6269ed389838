// libheapmark_record.so: LD_PRELOADed by `heapmark record`, it interposes the
// malloc family, FORWARDS every call to the next allocator (dlsym RTLD_NEXT)
// and appends one event per call to a per-thread buffer in the .hmt format
// (workloads/trace_format.h). It is not an allocator and knows nothing of the
// runner: it only reads HEAPMARK_RECORD_FILE / _PID / _RSS_MS / _FAMILY / _STACKS / _WALKER and
// HEAPMARK_PHASE_FD at start-up.
//
// Behaviour worth knowing:
// - Bootstrap: dlsym may call calloc before the real one is known; those calls
//   are served from a static buffer whose blocks are never freed nor recorded.
// - Threads: each thread owns a buffer and writes its own full chunks with one
//   O_APPEND write; the only shared writes on the fast path are the pointer->id
//   table (lock-free, CAS on the slot) and an id batch every 256 allocations.
//   A per-buffer flag, uncontended except at exit, lets exit flush others' buffers.
// - fork: the parent records a fork event. The child stops recording (it
//   forwards only, its buffers are dropped unwritten), or with
//   HEAPMARK_RECORD_FAMILY set (heapmark record --follow-forks) starts a trace
//   of its own, "<family>.<pid>". vfork and posix_spawn run no fork handlers:
//   a child started that way is followed only if it is the recorded pid. exec: the new image records
//   on into the same file after an "image" chunk (ids restart there). A call
//   to execve writes the buffered events first; glibc's execv/execvp/execl*
//   use an internal alias of execve, so before those they are lost. exit() from any thread, or return
//   from main, flushes every buffer and writes the end chunk; _exit and fatal
//   signals leave a trace without it (readers report it as incomplete).
// - operator new/delete are not interposed: libstdc++ implements them with
//   malloc/free through the PLT, so they are recorded as malloc/free.
// - Phase marks: `phase NAME` lines written to the descriptor in
//   HEAPMARK_PHASE_FD are recorded in the writing thread's stream, where it
//   wrote them, by interposing write() and fflush() (stdio's own flushes at
//   exit or of a full buffer use glibc's internal write and are not seen, so a
//   program flushes after each mark, as the README's snippet does).
// - Stacks (HEAPMARK_RECORD_STACKS=DEPTH): each allocation's stack is walked
//   before its event is buffered and named by a site event when it differs
//   from the thread's previous allocation's (tools/record/stacks.h).
//
// This file holds the interposed malloc family and the events it records; the
// other files are listed in README.md.
#include <errno.h>
#include <string.h>

#include "tools/record/buffer.h"
#include "tools/record/internal.h"
#include "tools/record/pointer_table.h"
#include "tools/record/stacks.h"

namespace heapmark::record {
namespace {

void record_alloc(void* p, tr::Tag tag, size_t size, unsigned align_log2) {
  if (!g_active.load(std::memory_order_relaxed)) return;
  const uint32_t site = heapmark::record::stacks_site();  // before enter(): walking may allocate
  Buffer* b = enter();
  if (!b) return;
  const uint64_t id = take_id(b);
  if (table_insert(p, id)) {
    put_site(b, site);
    if (tag == tr::Tag::kAligned) {
      *b->pos++ = static_cast<uint8_t>(uint8_t(tr::Tag::kAligned) | (align_log2 << 3));
      b->pos = tr::put_varint(b->pos, size);
      ++b->counts[int(tr::EventKind::kAligned)];
    } else {
      b->pos = tr::put_tag(b->pos, tag, size);
      ++b->counts[int(tag == tr::Tag::kMalloc ? tr::EventKind::kMalloc : tr::EventKind::kCalloc)];
    }
    ++b->events;
  } else {
    --b->next_id;  // not tracked: give the id back so the stream stays dense
  }
  leave(b);
}

// Called BEFORE the real free, so another thread reusing the address cannot collide with it.
void record_free(void* p) {
  if (!g_active.load(std::memory_order_relaxed)) return;
  // A free of a random old block misses the cache twice, on its slot and on the
  // allocator's header before the block: fetch both at once rather than one
  // after the other (bench_live_blocks: the second miss overlaps the first).
  const auto key = reinterpret_cast<uintptr_t>(p);
  if (key < (uintptr_t{1} << kAddressBits))
    if (std::atomic<uint64_t>* s = slot_for(key, false)) __builtin_prefetch(s, 1);
  __builtin_prefetch(static_cast<char*>(p) - 16, 1);
  uint64_t id;
  if (!table_remove(p, id)) return;
  Buffer* b = enter();
  if (!b) return;  // no buffer: acquire_buffer counted it lost; or the exit flush has begun
  b->pos = tr::put_tag(b->pos, tr::Tag::kFree, back(b, id));
  ++b->events;
  ++b->counts[int(tr::EventKind::kFree)];
  leave(b);
}

unsigned log2_of(size_t a) {
  unsigned l = 0;
  while ((size_t{1} << l) < a && l < 63) ++l;
  return l;
}

}  // namespace
}  // namespace heapmark::record

using namespace heapmark::record;

HM_EXPORT void* malloc(size_t n) noexcept {
  if (!ready()) return boot_alloc(n, 16);
  void* p = g_real.malloc(n);
  if (p) record_alloc(p, tr::Tag::kMalloc, n, 0);
  return p;
}

HM_EXPORT void free(void* p) noexcept {
  if (!p || is_boot(p)) return;
  if (!ready()) return;
  record_free(p);
  g_real.free(p);
}

HM_EXPORT void* calloc(size_t c, size_t n) noexcept {
  size_t total;
  if (__builtin_mul_overflow(c, n, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (!ready()) return boot_alloc(total, 16);
  void* p = g_real.calloc(c, n);
  if (p) record_alloc(p, tr::Tag::kCalloc, total, 0);
  return p;
}

HM_EXPORT void* realloc(void* p, size_t n) noexcept {
  if (!ready() || is_boot(p)) {
    // A bootstrap block moves to the real heap (its size is not known: copy what fits).
    void* q = ready() ? malloc(n) : boot_alloc(n, 16);
    if (q && p) {
      const size_t avail = static_cast<size_t>(g_boot + sizeof g_boot - static_cast<char*>(p));
      memcpy(q, p, n < avail ? n : avail);
    }
    return q;
  }
  if (!p) return malloc(n);
  uint64_t old_id;
  const bool tracked = g_active.load(std::memory_order_relaxed) && table_remove(p, old_id);
  void* q = g_real.realloc(p, n);
  if (!tracked) {
    if (q) record_alloc(q, tr::Tag::kMalloc, n, 0);
    return q;
  }
  if (!q) {
    if (n == 0) {  // glibc: realloc(p, 0) frees p
      if (Buffer* b = enter()) {
        b->pos = tr::put_tag(b->pos, tr::Tag::kFree, back(b, old_id));
        ++b->events;
        ++b->counts[int(tr::EventKind::kFree)];
        leave(b);
      }
    } else {
      table_insert(p, old_id);  // failed: p is unchanged and still live
    }
    return q;
  }
  const uint32_t site = heapmark::record::stacks_site();
  Buffer* b = enter();
  if (!b) return q;
  ensure_id(b);  // the reader resolves the back reference after any new batch, before the result's id
  const uint64_t back_ref = back(b, old_id);
  const uint64_t id = b->next_id++;
  if (table_insert(q, id)) {
    put_site(b, site);
    b->pos = tr::put_tag(b->pos, tr::Tag::kRealloc, back_ref);
    b->pos = tr::put_varint(b->pos, n);
    ++b->events;
    ++b->counts[int(tr::EventKind::kRealloc)];
  } else {
    --b->next_id;
  }
  leave(b);
  return q;
}

HM_EXPORT void* reallocarray(void* p, size_t c, size_t n) noexcept {
  size_t total;
  if (__builtin_mul_overflow(c, n, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, total);
}

HM_EXPORT void* memalign(size_t a, size_t n) noexcept {
  if (!ready()) return boot_alloc(n, a);
  void* p = g_real.memalign(a, n);
  if (p) record_alloc(p, tr::Tag::kAligned, n, log2_of(a));
  return p;
}

HM_EXPORT int posix_memalign(void** out, size_t a, size_t n) noexcept {
  if (!ready()) {
    *out = boot_alloc(n, a);
    return *out ? 0 : ENOMEM;
  }
  const int r = g_real.posix_memalign(out, a, n);
  if (r == 0 && *out) record_alloc(*out, tr::Tag::kAligned, n, log2_of(a));
  return r;
}

HM_EXPORT void* aligned_alloc(size_t a, size_t n) noexcept {
  if (!ready()) return boot_alloc(n, a);
  void* p = g_real.aligned_alloc(a, n);
  if (p) record_alloc(p, tr::Tag::kAligned, n, log2_of(a));
  return p;
}

HM_EXPORT void* valloc(size_t n) noexcept {
  if (!ready()) return boot_alloc(n, 4096);
  void* p = g_real.valloc(n);
  if (p) record_alloc(p, tr::Tag::kAligned, n, 12);
  return p;
}

HM_EXPORT void* pvalloc(size_t n) noexcept {
  if (!ready()) return boot_alloc((n + 4095) & ~size_t{4095}, 4096);
  void* p = g_real.pvalloc(n);
  // pvalloc rounds the size up to whole pages: the replay asks for what was given.
  if (p) record_alloc(p, tr::Tag::kAligned, (n + 4095) & ~size_t{4095}, 12);
  return p;
}
