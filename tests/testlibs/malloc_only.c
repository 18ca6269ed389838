/* A library that interposes malloc but not free: blocks it hands out go back
 * to glibc's free. heapmark must not call it the process's allocator (its
 * identity check requires malloc and free to resolve to the same library). */
#include <stddef.h>

extern void* __libc_malloc(size_t);

void* malloc(size_t n) { return __libc_malloc(n); }
