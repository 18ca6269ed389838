/* trace_many_threads N [one-by-one]: N threads alive at once, each allocating
 * and freeing one block while all are alive; or, one-by-one, N threads each
 * started after the one before has exited. With N above the trace format's
 * 4096 threads, the recorder cannot record some of them (thread indices count
 * over the whole recording): the trace must say so. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int one_by_one;
static pthread_barrier_t all_alive;
static void* volatile blocks[1 << 16]; /* the blocks escape: the compiler keeps each malloc and free */

static void* worker(void* arg) {
  const size_t i = (size_t)arg;
  if (!one_by_one) pthread_barrier_wait(&all_alive);
  blocks[i] = malloc(100);
  if (!one_by_one) pthread_barrier_wait(&all_alive);
  free(blocks[i]);
  return NULL;
}

int main(int argc, char** argv) {
  const int n = argc > 1 ? atoi(argv[1]) : 4200;
  one_by_one = argc > 2 && strcmp(argv[2], "one-by-one") == 0;
  if (n < 1 || n > (int)(sizeof blocks / sizeof blocks[0])) return 2;
  pthread_t* t = malloc(sizeof *t * (size_t)n);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_barrier_init(&all_alive, NULL, (unsigned)n);
  for (int i = 0; i < n; ++i)
    if (pthread_create(&t[i], &attr, worker, (void*)(size_t)i) != 0) {
      fprintf(stderr, "cannot create thread %d\n", i);
      return 1;
    } else if (one_by_one) {
      pthread_join(t[i], NULL);
    }
  for (int i = 0; !one_by_one && i < n; ++i) pthread_join(t[i], NULL);
  free(t);
  return 0;
}
