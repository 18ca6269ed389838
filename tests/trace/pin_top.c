// What scenario 2 of heapmark repro (top-pinned) does, as a program of its own:
// MIB MiB of 200-byte blocks, one more allocated last and kept, all others freed.
//   pin_top [MIB]
#include <stdlib.h>

int main(int argc, char** argv) {
  const long n = (argc > 1 ? atol(argv[1]) : 32) * 1048576 / 200;
  void** p = malloc(sizeof(void*) * (size_t)n);
  if (!p) return 1;
  for (long i = 0; i < n; ++i)
    if (!(p[i] = malloc(200))) return 1;
  void* keep = malloc(200);
  for (long i = 0; i < n; ++i) free(p[i]);
  free(p);
  return keep ? 0 : 1;  // no output: stdio's buffer would be one more live block
}
