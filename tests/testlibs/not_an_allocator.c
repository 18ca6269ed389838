/* A shared library that defines malloc and free, but only at a non-default
 * symbol version (malloc@HM_UNUSED, not malloc@@...): nothing binds to them, so
 * preloading it leaves glibc serving malloc. It passes the up-front check of
 * --allocator (an ELF shared object defining malloc and free), and the cell's
 * identity probe, which looks where malloc and free really resolve, must fail it. */
#include <stddef.h>

extern void* __libc_malloc(size_t);
extern void __libc_free(void*);

void* hm_unbound_malloc(size_t n) { return __libc_malloc(n); }
void hm_unbound_free(void* p) { __libc_free(p); }
__asm__(".symver hm_unbound_malloc, malloc@HM_UNUSED");
__asm__(".symver hm_unbound_free, free@HM_UNUSED");
