// A process for `heapmark attach` to look at: the main thread keeps MAIN_MIB
// MiB live in glibc's brk heap; THREADS threads each fill their own arena
// with 1 KiB blocks (THREAD_MIB MiB), free 31 of every 32 and stay blocked.
// It prints "ready" once all of that is done, and exits when stdin closes.
//
//   attach_target THREADS THREAD_MIB MAIN_MIB
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int thread_mib;
static pthread_barrier_t built;
static int hold[2];

static void* worker(void* arg) {
  (void)arg;
  const size_t n = (size_t)thread_mib << 10;  // 1 KiB blocks
  char** blocks = malloc(n * sizeof *blocks);
  for (size_t i = 0; i < n; ++i) {
    blocks[i] = malloc(1024);
    memset(blocks[i], 0x5a, 1024);
  }
  for (size_t i = 0; i < n; ++i)
    if (i % 32 != 31) free(blocks[i]);
  pthread_barrier_wait(&built);
  char c;
  while (read(hold[0], &c, 1) > 0) {
  }
  return NULL;
}

int main(int argc, char** argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 4;
  thread_mib = argc > 2 ? atoi(argv[2]) : 16;
  const size_t main_bytes = (size_t)(argc > 3 ? atoi(argv[3]) : 16) << 20;
  if (pipe(hold) != 0) return 1;
  pthread_barrier_init(&built, NULL, (unsigned)threads + 1);
  const size_t chunk = 64 << 10;  // below glibc's mmap threshold: from the brk heap
  for (size_t done = 0; done < main_bytes; done += chunk) memset(malloc(chunk - 64), 0x3c, chunk - 64);
  pthread_t t[64];
  for (int i = 0; i < threads && i < 64; ++i) pthread_create(&t[i], NULL, worker, NULL);
  pthread_barrier_wait(&built);
  printf("ready\n");
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  close(hold[1]);
  for (int i = 0; i < threads && i < 64; ++i) pthread_join(t[i], NULL);
  return 0;
}
