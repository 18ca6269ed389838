/* A bare process, outside heapmark, that prints the arena count jemalloc chose
 * when it initialised (opt.narenas): run it with LD_PRELOAD=libjemalloc.so.2
 * to compare a heapmark cell's recorded figure with a deployed process's. */
#include <dlfcn.h>
#include <stdio.h>

int main(void) {
  int (*mallctl)(const char*, void*, size_t*, void*, size_t) =
      (int (*)(const char*, void*, size_t*, void*, size_t))dlsym(RTLD_DEFAULT, "mallctl");
  unsigned n = 0;
  size_t len = sizeof n;
  if (!mallctl || mallctl("opt.narenas", &n, &len, NULL, 0) != 0) {
    fprintf(stderr, "jemalloc is not preloaded\n");
    return 1;
  }
  printf("%u\n", n);
  return 0;
}
