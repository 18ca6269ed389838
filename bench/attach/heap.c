// Holds BLOCKS live blocks of SIZE bytes (glibc's brk heap below the mmap
// threshold), every one written; with a third argument, frees every other
// block so the heap also holds as many free chunks. Prints "ready" and waits
// for stdin to close.
//   bench_attach_heap BLOCKS SIZE [holes]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const size_t n = strtoull(argv[1], NULL, 10), size = strtoull(argv[2], NULL, 10);
  const int holes = argc > 3;
  char** b = malloc(n * sizeof *b);
  for (size_t i = 0; i < n; ++i) {
    b[i] = malloc(size);
    memset(b[i], 1, size);
  }
  if (holes)
    for (size_t i = 0; i < n; i += 2) free(b[i]);
  printf("ready\n");
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  return 0;
}
