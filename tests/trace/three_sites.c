// Three allocation sites, for the attribution test (trace_test.py sites):
//   A: long-lived 64-byte blocks, interleaved with
//   B: short-lived 4 KiB blocks, all freed once made, and
//   C: large blocks (1 MiB), kept.
// After B's frees a heap that keeps blocks of all sizes together (glibc) holds
// on to nearly every page A lives on; one that keeps size classes apart
// (mimalloc) returns B's pages and A's are dense.
//   three_sites [MIB_OF_B]
#include <stdlib.h>
#include <time.h>

#define N_MAX 65536

static void* a[N_MAX];
static void* b[N_MAX];
static void* c[8];

__attribute__((noinline)) void* site_a_small_long_lived(void) { return malloc(64); }
__attribute__((noinline)) void* site_b_page_short_lived(void) { return malloc(4096); }
__attribute__((noinline)) void* site_c_large(void) { return malloc(1 << 20); }

int main(int argc, char** argv) {
  long n = (argc > 1 ? atol(argv[1]) : 16) * 1048576 / 4096;
  if (n > N_MAX) n = N_MAX;
  for (long i = 0; i < n; ++i) {
    if (!(a[i] = site_a_small_long_lived()) || !(b[i] = site_b_page_short_lived())) return 1;
    ((char*)a[i])[0] = 1;
    ((char*)b[i])[0] = 1;
  }
  for (int i = 0; i < 8; ++i)
    if (!(c[i] = site_c_large())) return 1;
  // A pause at the peak: the recorded clock ticks in milliseconds, and diagnose's
  // peak phase must end before the first of B's frees, not in the same tick.
  const struct timespec pause = {0, 50 * 1000 * 1000};
  nanosleep(&pause, NULL);
  for (long i = 0; i < n; ++i) free(b[i]);
  return 0;  // a[] and c[] live on to the end: what pins memory there
}
