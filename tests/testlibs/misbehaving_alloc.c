/* Test-only "allocators" for the runner's failure handling. Each forwards the
 * malloc family to glibc (__libc_*), and after HM_TRIGGER calls to malloc
 * misbehaves as compiled:
 *   HM_MODE_FORWARD  never misbehaves (a well-behaved user allocator)
 *   HM_MODE_CRASH    raises SIGSEGV
 *   HM_MODE_HANG     sleeps forever
 *   HM_MODE_HOG      leaks and touches 1 MiB per call
 * The trigger count is far above what process start-up and cell setup use,
 * and far below a default churn cell's 100k+ mallocs. */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void __libc_free(void*);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
size_t malloc_usable_size(void*);

#define HM_TRIGGER 20000

static unsigned long calls;

static void misbehave(void) {
  if (++calls < HM_TRIGGER) return;
#if defined(HM_MODE_CRASH)
  raise(SIGSEGV);
#elif defined(HM_MODE_HANG)
  for (;;) pause();
#elif defined(HM_MODE_HOG)
  char* leak = __libc_malloc(1 << 20);
  if (leak) memset(leak, 1, 1 << 20);
#endif
}

void* malloc(size_t n) {
  misbehave();
  return __libc_malloc(n);
}
void free(void* p) { __libc_free(p); }
void* calloc(size_t n, size_t m) { return __libc_calloc(n, m); }
void* realloc(void* p, size_t n) { return __libc_realloc(p, n); }
