// A process for `heapmark attach` to look at: the main thread keeps MAIN_MIB
// MiB live in glibc's brk heap; THREADS threads each fill their own arena
// with 1 KiB blocks (THREAD_MIB MiB), free 31 of every 32 and stay blocked.
// Once all of that is done it prints its own figures,
//   ready LIVE INUSE
// LIVE: the bytes it holds by its own count (the blocks it kept and their
// tables); INUSE: glibc's mallinfo2 uordblks + hblkhd (0 under another
// allocator, which leaves glibc's arenas empty). It exits when stdin closes.
//
// With "hammer", THREADS more threads then malloc and free in a tight loop
// until stdin closes: every block carries a pattern made from its address and
// size, checked before it is freed and at the end. It prints "checked N"
// (blocks checked) and exits 0, or names the first damaged block and exits 3.
//
//   attach_target THREADS THREAD_MIB MAIN_MIB [hammer]
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int thread_mib;
static pthread_barrier_t built;
static int hold[2];
static atomic_int stop;
static atomic_ullong checked;

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

// The pattern of a block: its first, middle and last words.
static uint64_t mark(const void* p, size_t size) { return (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull ^ size; }
static void put(char* p, size_t size) {
  const uint64_t m = mark(p, size);
  memcpy(p, &m, 8);
  memcpy(p + (size / 2 & ~(size_t)7), &m, 8);
  memcpy(p + size - 8, &m, 8);
}
static void check(const char* p, size_t size) {
  const uint64_t m = mark(p, size);
  uint64_t a, b, c;
  memcpy(&a, p, 8);
  memcpy(&b, p + (size / 2 & ~(size_t)7), 8);
  memcpy(&c, p + size - 8, 8);
  if (a != m || b != m || c != m) {
    printf("damaged block %p of %zu bytes\n", (const void*)p, size);
    fflush(stdout);
    _exit(3);
  }
  atomic_fetch_add_explicit(&checked, 1, memory_order_relaxed);
}

static void* hammer(void* arg) {
  uint64_t x = (uint64_t)(uintptr_t)arg * 0x2545f4914f6cdd1dull + 1;
  enum { kSlots = 256 };
  char* slot[kSlots] = {0};
  size_t size[kSlots] = {0};
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const unsigned k = (unsigned)(x % kSlots);
    if (slot[k]) {
      check(slot[k], size[k]);
      free(slot[k]);
    }
    size[k] = 32 + (size_t)(x >> 20) % 4064;  // from 32: the three pattern words do not overlap
    slot[k] = malloc(size[k]);
    put(slot[k], size[k]);
  }
  for (unsigned k = 0; k < kSlots; ++k)
    if (slot[k]) {
      check(slot[k], size[k]);
      free(slot[k]);
    }
  return NULL;
}

int main(int argc, char** argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 4;
  thread_mib = argc > 2 ? atoi(argv[2]) : 16;
  const size_t main_bytes = (size_t)(argc > 3 ? atoi(argv[3]) : 16) << 20;
  const int hammering = argc > 4 && strcmp(argv[4], "hammer") == 0;
  if (pipe(hold) != 0) return 1;
  pthread_barrier_init(&built, NULL, (unsigned)threads + 1);
  const size_t chunk = 64 << 10;  // below glibc's mmap threshold: from the brk heap
  size_t live = 0;
  for (size_t done = 0; done < main_bytes; done += chunk) {
    memset(malloc(chunk - 64), 0x3c, chunk - 64);
    live += chunk - 64;
  }
  pthread_t t[64];
  for (int i = 0; i < threads && i < 64; ++i) pthread_create(&t[i], NULL, worker, NULL);
  pthread_barrier_wait(&built);
  const size_t n = (size_t)thread_mib << 10;
  live += (size_t)threads * (n / 32 * 1024 + n * sizeof(char*));
  const struct mallinfo2 m = mallinfo2();
  printf("ready %zu %zu\n", live, m.uordblks + m.hblkhd);
  fflush(stdout);
  pthread_t h[64];
  if (hammering)
    for (int i = 0; i < threads && i < 64; ++i) pthread_create(&h[i], NULL, hammer, (void*)(uintptr_t)(i + 1));
  char c;
  while (read(0, &c, 1) > 0) {
  }
  if (hammering) {
    atomic_store(&stop, 1);
    for (int i = 0; i < threads && i < 64; ++i) pthread_join(h[i], NULL);
    printf("checked %llu\n", (unsigned long long)atomic_load(&checked));
    fflush(stdout);
  }
  close(hold[1]);
  for (int i = 0; i < threads && i < 64; ++i) pthread_join(t[i], NULL);
  return 0;
}
