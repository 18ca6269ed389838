// Phase marks: `phase NAME` lines written to the descriptor in
// HEAPMARK_PHASE_FD are recorded in the writing thread's stream, where it wrote
// them, by interposing write() and fflush() (stdio's own flushes at exit or of
// a full buffer use glibc's internal write and are not seen, so a program
// flushes after each mark).
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tools/record/buffer.h"
#include "tools/record/internal.h"

namespace heapmark::record {
namespace {

// Each `phase NAME` line of a write to the phase descriptor, as a phase event
// of the writing thread (before the bytes go out: the mark sits between the
// calls made before and after it).
void record_phase_lines(const char* p, size_t n) {
  if (!g_active.load(std::memory_order_relaxed)) return;
  while (n > 0) {
    const char* nl = static_cast<const char*>(memchr(p, '\n', n));
    const size_t len = nl ? static_cast<size_t>(nl - p) : n;
    if (len >= 6 && memcmp(p, "phase ", 6) == 0) {
      size_t name = len - 6;
      if (name > 0 && p[len - 1] == '\r') --name;
      if (name > tr::kMaxPhaseName) name = tr::kMaxPhaseName;
      if (Buffer* b = enter()) {
        b->pos = tr::put_ext(b->pos, tr::ExtKind::kPhase);
        b->pos = tr::put_varint(b->pos, name);
        memcpy(b->pos, p + 6, name);
        b->pos += name;
        ++b->events;
        leave(b);
      }
    }
    if (!nl) break;
    n -= len + 1;
    p = nl + 1;
  }
}

using WriteFn = ssize_t (*)(int, const void*, size_t);
using FflushFn = int (*)(FILE*);
std::atomic<WriteFn> g_real_write{nullptr};
std::atomic<FflushFn> g_real_fflush{nullptr};

}  // namespace
}  // namespace heapmark::record

using namespace heapmark::record;

HM_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  if (fd == g_phase_fd && fd >= 0 && buf) record_phase_lines(static_cast<const char*>(buf), n);
  WriteFn real = g_real_write.load(std::memory_order_acquire);
  if (!real && !tl_resolving && g_init.load(std::memory_order_acquire) == 2) {
    real = reinterpret_cast<WriteFn>(dlsym(RTLD_NEXT, "write"));
    g_real_write.store(real, std::memory_order_release);
  }
  if (real) return real(fd, buf, n);
  return syscall(SYS_write, fd, buf, n);  // while the malloc family is being resolved
}

HM_EXPORT int fflush(FILE* f) {
  if (f && g_phase_fd >= 0 && f->_fileno == g_phase_fd && f->_IO_write_ptr > f->_IO_write_base)
    record_phase_lines(f->_IO_write_base, static_cast<size_t>(f->_IO_write_ptr - f->_IO_write_base));
  FflushFn real = g_real_fflush.load(std::memory_order_acquire);
  if (!real) {
    real = reinterpret_cast<FflushFn>(dlsym(RTLD_NEXT, "fflush"));
    g_real_fflush.store(real, std::memory_order_release);
  }
  return real ? real(f) : EOF;
}
