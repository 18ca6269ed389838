/* A broken test-only allocator for --verify: a bump allocator that never
 * reuses memory, except that after HM_TRIGGER calls every 100th block it hands
 * out starts 16 bytes into the block before it. Both stay "live", so writing
 * one overwrites the other: exactly the bug --verify must catch. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define HM_TRIGGER 20000
#define REGION (64ull << 30) /* address space only: MAP_NORESERVE */
#define HEADER 16

static char* region;
static atomic_size_t used;
static atomic_ulong calls;
static _Atomic(char*) last;

static char* bump(size_t n, size_t align) {
  if (!region) {
    void* r = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) return NULL;
    char* expected = NULL;
    if (!__atomic_compare_exchange_n(&region, &expected, (char*)r, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      munmap(r, REGION);
  }
  if (align < HEADER) align = HEADER;
  const size_t need = HEADER + n + align;
  const size_t off = atomic_fetch_add(&used, need);
  if (off + need > REGION) return NULL;
  uintptr_t p = ((uintptr_t)region + off + HEADER + align - 1) & ~(uintptr_t)(align - 1);
  ((size_t*)p)[-1] = n;
  return (char*)p;
}

void* malloc(size_t n) {
  const unsigned long c = atomic_fetch_add(&calls, 1) + 1;
  char* prev = atomic_load(&last);
  if (c > HM_TRIGGER && c % 100 == 0 && prev && ((size_t*)prev)[-1] >= n + 16) {
    char* p = prev + 16;  /* inside the previous block */
    ((size_t*)p)[-1] = n; /* (this clobbers the previous block's bytes 0..7 too) */
    return p;
  }
  char* p = bump(n ? n : 1, HEADER);
  if (!p) errno = ENOMEM;
  else atomic_store(&last, p);
  return p;
}
void free(void* p) { (void)p; }
void* calloc(size_t n, size_t m) {
  if (m && n > SIZE_MAX / m) return NULL;
  void* p = malloc(n * m);
  if (p) memset(p, 0, n * m);
  return p;
}
size_t malloc_usable_size(void* p) { return p ? ((size_t*)p)[-1] : 0; }
void* realloc(void* p, size_t n) {
  void* q = malloc(n);
  if (q && p) memcpy(q, p, malloc_usable_size(p) < n ? malloc_usable_size(p) : n);
  return q;
}
int posix_memalign(void** out, size_t align, size_t n) {
  char* p = bump(n ? n : 1, align);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void* aligned_alloc(size_t align, size_t n) { return bump(n ? n : 1, align); }
void* memalign(size_t align, size_t n) { return bump(n ? n : 1, align); }
