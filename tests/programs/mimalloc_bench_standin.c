// Stand-ins for mimalloc-bench's programs (which heapmark does not ship), for
// the suite file's test: one source built under each benchmark's name into a
// fake out/bench/. Each does a little allocation work and prints the line its
// suite entry's metric regex reads, so the test checks the suite file's
// commands, placeholders and regexes end to end without the real suite.
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long churn(int rounds) {
  unsigned long sum = 0;
  for (int r = 0; r < rounds; ++r) {
    void* p[256];
    for (int i = 0; i < 256; ++i) p[i] = malloc(16 + (size_t)(i * 37 + r) % 2000), sum += (unsigned long)i;
    for (int i = 0; i < 256; ++i) free(p[i]);
  }
  return sum;
}

int main(int argc, char** argv) {
  const char* name = basename(argv[0]);
  const unsigned long sum = churn(2000);
  if (strcmp(name, "larson") == 0)
    printf("Throughput = %8.0f operations per second, relative time: %.3fs.\n", 1234567.0, 1.5);
  else if (strcmp(name, "xmalloc-test") == 0) printf("rtime: %.3f, free/sec: %.3f M\n", 2.5, 40.0);
  else if (strcmp(name, "rptest") == 0)
    printf("%u memory ops/CPU second (%uMiB peak, %uMiB -> %uMiB bytes sample, %.0f%% overhead)\n", 5000000u, 10u, 1u,
           2u, 5.0);
  else if (strcmp(name, "glibc-thread") == 0) printf("%d iterations\n", 777);
  else if (strcmp(name, "barnes") == 0) {
    char line[256];  // reads its input from stdin, as the real one does
    while (fgets(line, sizeof line, stdin)) {
    }
  } else printf("%s done %lu (%d args)\n", name, sum, argc - 1);
  return 0;
}
