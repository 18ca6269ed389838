// Finding the next allocator: its malloc family is looked up with dlsym
// RTLD_NEXT on the first call. dlsym may call calloc before the real one is
// known; those calls are served from a static bootstrap buffer whose blocks are
// never freed nor recorded.
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/record/internal.h"

namespace heapmark::record {

Real g_real;

// 0: not started, 1: resolving symbols, 2: ready.
std::atomic<int> g_init{0};
__thread int tl_resolving __attribute__((tls_model("initial-exec"))) = 0;

alignas(64) char g_boot[kBootBytes];
namespace {
std::atomic<size_t> g_boot_used{0};
}  // namespace

void* boot_alloc(size_t n, size_t align) {
  if (align < 16) align = 16;
  for (;;) {
    size_t used = g_boot_used.load(std::memory_order_relaxed);
    const size_t start = (used + align - 1) & ~(align - 1);
    if (start + n > sizeof g_boot || start + n < start) return nullptr;
    if (g_boot_used.compare_exchange_weak(used, start + n)) return g_boot + start;  // zero: static storage
  }
}

void die(const char* msg) {
  const char prefix[] = "libheapmark_record: ";
  ssize_t r = write(2, prefix, sizeof prefix - 1);
  r = write(2, msg, strlen(msg));
  r = write(2, "\n", 1);
  (void)r;
  abort();
}

void resolve() {
  tl_resolving = 1;
  Real r;
  r.malloc = reinterpret_cast<MallocFn>(dlsym(RTLD_NEXT, "malloc"));
  r.free = reinterpret_cast<FreeFn>(dlsym(RTLD_NEXT, "free"));
  r.calloc = reinterpret_cast<CallocFn>(dlsym(RTLD_NEXT, "calloc"));
  r.realloc = reinterpret_cast<ReallocFn>(dlsym(RTLD_NEXT, "realloc"));
  r.memalign = reinterpret_cast<MemalignFn>(dlsym(RTLD_NEXT, "memalign"));
  r.posix_memalign = reinterpret_cast<PosixMemalignFn>(dlsym(RTLD_NEXT, "posix_memalign"));
  r.aligned_alloc = reinterpret_cast<MemalignFn>(dlsym(RTLD_NEXT, "aligned_alloc"));
  r.valloc = reinterpret_cast<MallocFn>(dlsym(RTLD_NEXT, "valloc"));
  r.pvalloc = reinterpret_cast<MallocFn>(dlsym(RTLD_NEXT, "pvalloc"));
  if (!r.malloc || !r.free || !r.calloc || !r.realloc || !r.memalign || !r.posix_memalign || !r.aligned_alloc ||
      !r.valloc || !r.pvalloc)
    die("cannot find the next allocator's malloc family (dlsym RTLD_NEXT)");
  g_real = r;
  tl_resolving = 0;
}

}  // namespace heapmark::record
