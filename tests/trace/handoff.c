// A producer thread allocates N blocks (16..1040 bytes) and hands each to a
// consumer thread through a bounded queue (256 entries); the consumer frees
// them. Few blocks are live at any moment, yet one thread makes all of them
// and another frees all of them: the shape that needs the replay's window.
//   handoff N
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { kQueue = 256 };
static void* queue[kQueue];
static size_t head, tail;  // head: next to take; tail: next free place
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static long n;

static void* consume(void* arg) {
  (void)arg;
  for (long i = 0; i < n; ++i) {
    pthread_mutex_lock(&mu);
    while (head == tail) pthread_cond_wait(&not_empty, &mu);
    void* p = queue[head++ % kQueue];
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&mu);
    free(p);
  }
  return NULL;
}

int main(int argc, char** argv) {
  n = argc > 1 ? atol(argv[1]) : 1000000;
  pthread_t consumer;
  if (pthread_create(&consumer, NULL, consume, NULL) != 0) return 1;
  unsigned x = 12345;
  for (long i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    char* p = malloc(16 + (x >> 16) % 1025);
    if (!p) return 1;
    p[0] = (char)i;
    pthread_mutex_lock(&mu);
    while (tail - head == kQueue) pthread_cond_wait(&not_full, &mu);
    queue[tail++ % kQueue] = p;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&mu);
  }
  pthread_join(consumer, NULL);
  printf("%ld blocks handed over\n", n);
  return 0;
}
