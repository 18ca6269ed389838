/* A bare process, outside heapmark, that builds the heap a churn cell builds
 * (100 000 blocks of 16-1024 bytes, then frees them in random order) and times
 * malloc_trim(0) on it with its own clock: what a release schedule's calls
 * should cost on glibc, measured without heapmark. Prints the call's
 * milliseconds and the bytes of RSS it returned, one line per round. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long rss_pages(void) {
  long size = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  if (f) fclose(f);
  return resident;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(void) {
  enum { kBlocks = 100000, kRounds = 3 };
  static void* p[kBlocks];
  static uint32_t order[kBlocks];
  uint64_t x = 88172645463325252ull;
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kBlocks; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const size_t size = 16 + x % 1009;
      p[i] = malloc(size);
      memset(p[i], 1, size);
      order[i] = (uint32_t)i;
    }
    for (int i = kBlocks - 1; i > 0; --i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const uint32_t j = (uint32_t)(x % (uint64_t)(i + 1)), t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (int i = 0; i < kBlocks; ++i) free(p[order[i]]);
    const long before = rss_pages();
    const double t0 = now_ms();
    malloc_trim(0);
    const double took = now_ms() - t0;
    printf("%.3f %ld\n", took, (before - rss_pages()) * sysconf(_SC_PAGESIZE));
  }
  return 0;
}
