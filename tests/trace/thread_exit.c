// Worker threads that fill, free most and exit, then the program measures its
// own memory: the case where a replay must end its threads where the program
// did (jemalloc returns an exiting thread's arena memory; a replay whose threads
// are still alive at F keeps it).
//
//   trace_thread_exit [WORKERS] [MIB_PER_WORKER] [together|one-by-one]
//
// The workers run together, or one by one (each starts after the one before
// it has exited, as a pool of one thread would). Each worker allocates MIB_PER_WORKER MiB in blocks of 512 B to 1.3
// KiB, keeps one in 32 and frees the rest, then exits. After joining them the main thread prints one line:
//   anon_start=BYTES anon_end=BYTES kept=BYTES
// its anonymous RSS (statm resident - shared) before the first worker and after
// the last one exited, and the bytes the workers left allocated.
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t g_bytes_per_worker;
static void** g_kept[64];
static size_t g_kept_count[64];
static size_t g_kept_bytes[64];

static uint64_t anon_bytes(void) {
  char text[128];
  const int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return 0;
  const ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  unsigned long long size = 0, resident = 0, shared = 0;
  if (sscanf(text, "%llu %llu %llu", &size, &resident, &shared) != 3) return 0;
  return (resident - shared) * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void* worker(void* arg) {
  const size_t w = (size_t)(uintptr_t)arg;
  uint64_t x = 0x9e3779b97f4a7c15ull * (w + 1);
  const size_t max_blocks = g_bytes_per_worker / 512 + 1;
  void** blocks = malloc(max_blocks * sizeof *blocks);
  size_t* sizes = malloc(max_blocks * sizeof *sizes);
  size_t n = 0, bytes = 0;
  while (bytes < g_bytes_per_worker && n < max_blocks) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const size_t size = 512 + (size_t)(x % 820);
    blocks[n] = malloc(size);
    memset(blocks[n], (int)n, size);
    sizes[n] = size;
    bytes += size;
    ++n;
  }
  g_kept[w] = malloc((n / 32 + 1) * sizeof(void*));
  for (size_t i = 0; i < n; ++i) {
    if (i % 32 == 0) {
      g_kept[w][g_kept_count[w]++] = blocks[i];
      g_kept_bytes[w] += sizes[i];
    } else {
      free(blocks[i]);
    }
  }
  free(sizes);
  free(blocks);
  return NULL;
}

int main(int argc, char** argv) {
  const size_t workers = argc > 1 ? (size_t)atoi(argv[1]) : 4;
  const size_t mib = argc > 2 ? (size_t)atoi(argv[2]) : 48;
  const int one_by_one = argc > 3 && strcmp(argv[3], "one-by-one") == 0;
  if (workers < 1 || workers > 64 || mib < 1 || (argc > 3 && !one_by_one && strcmp(argv[3], "together") != 0)) {
    fprintf(stderr, "usage: trace_thread_exit [WORKERS 1-64] [MIB_PER_WORKER] [together|one-by-one]\n");
    return 2;
  }
  g_bytes_per_worker = mib << 20;
  const uint64_t start = anon_bytes();
  pthread_t t[64];
  for (size_t i = 0; i < workers; ++i) {
    pthread_create(&t[i], NULL, worker, (void*)(uintptr_t)i);
    if (one_by_one) pthread_join(t[i], NULL);
  }
  for (size_t i = 0; !one_by_one && i < workers; ++i) pthread_join(t[i], NULL);
  const uint64_t end = anon_bytes();
  size_t kept = 0;
  for (size_t i = 0; i < workers; ++i) kept += g_kept_bytes[i];
  char line[160];
  const int len = snprintf(line, sizeof line, "anon_start=%llu anon_end=%llu kept=%zu\n", (unsigned long long)start,
                           (unsigned long long)end, kept);
  return write(1, line, (size_t)len) == len ? 0 : 1;
}
