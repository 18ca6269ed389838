/* bench_live_blocks N [CHURN]: allocates N blocks of 16-256 bytes and keeps
 * them live, then CHURN times (default N) frees a random live block and
 * allocates a new one in its place, then frees everything. Sizes and choices
 * come from a fixed-seed generator, so every run makes the same calls.
 * Prints a checksum of the sizes so the optimiser keeps the work. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) { /* splitmix64 */
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s N [CHURN]\n", argv[0]);
    return 2;
  }
  const size_t n = strtoull(argv[1], NULL, 10);
  const size_t churn = argc > 2 ? strtoull(argv[2], NULL, 10) : n;
  char** live = malloc(n * sizeof *live);
  if (!live) return 1;
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t size = 16 + next() % 241;
    live[i] = malloc(size);
    live[i][0] = (char)size;
    sum += size;
  }
  for (size_t k = 0; k < churn; ++k) {
    const size_t i = next() % n, size = 16 + next() % 241;
    free(live[i]);
    live[i] = malloc(size);
    live[i][0] = (char)size;
    sum += size;
  }
  for (size_t i = 0; i < n; ++i) free(live[i]);
  free(live);
  printf("%llu\n", (unsigned long long)sum);
  return 0;
}
