// malloc/free pairs (16 B - 2 KiB, 1024 slots) for SECONDS on one thread;
// prints the pairs per second it managed.
//   bench_attach_throughput SECONDS
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? atof(argv[1]) : 10;
  void* slot[1024] = {0};
  unsigned long long ops = 0;
  unsigned x = 1;
  const double t0 = now();
  for (;;) {
    for (int i = 0; i < 10000; ++i, ++ops) {
      x = x * 1103515245u + 12345u;
      const unsigned k = (x >> 8) & 1023;
      free(slot[k]);
      slot[k] = malloc(16 + (x >> 20) % 2000);
    }
    if (now() - t0 > seconds) break;
  }
  printf("%.0f\n", (double)ops / (now() - t0));
  return 0;
}
