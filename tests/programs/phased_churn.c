// A real program for the program-cell tests: builds a heap of N MiB in
// blocks of mixed sizes, frees it, and marks its phases on the descriptor
// heapmark names in HEAPMARK_PHASE_FD (the snippet docs/own-program.md documents). Its
// stdout is a checksum of what it computed, the same under every allocator;
// with --print-allocator it also prints where malloc resolves, so its output
// differs between allocators (the output_mismatch test).
//
//   phased_churn MIB [--print-allocator]
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE* phase_fd;
static int phase_ack_fd = -1;

// Marks a phase and, where heapmark offers it (HEAPMARK_PHASE_ACK_FD), waits
// until the runner has read the figures of the phase that ends here, so the
// next phase's work cannot leak into them (at most 60 s: a deadline, not a wait).
static void phase(const char* name) {
  if (!phase_fd) return;
  fprintf(phase_fd, "phase %s\n", name), fflush(phase_fd);
  if (phase_ack_fd >= 0) {
    struct pollfd p = {phase_ack_fd, POLLIN, 0};
    char c;
    if (poll(&p, 1, 60000) == 1 && read(phase_ack_fd, &c, 1) != 1) phase_ack_fd = -1;
  }
}

int main(int argc, char** argv) {
  const long mib = argc > 1 ? atol(argv[1]) : 16;
  const char* fd = getenv("HEAPMARK_PHASE_FD");
  if (fd) phase_fd = fdopen(atoi(fd), "w");
  const char* ack = getenv("HEAPMARK_PHASE_ACK_FD");
  if (ack) phase_ack_fd = atoi(ack);
  const size_t total = (size_t)mib << 20;
  size_t n = 0, cap = 1024, used = 0;
  char** blocks = malloc(cap * sizeof *blocks);
  uint64_t sum = 1469598103934665603ull, x = 88172645463325252ull;
  phase("build");
  while (used < total) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const size_t size = 16 + x % 4080;
    if (n == cap) blocks = realloc(blocks, (cap *= 2) * sizeof *blocks);
    blocks[n] = malloc(size);
    memset(blocks[n], (int)(n & 0xff), size);
    sum = (sum ^ size) * 1099511628211ull;
    used += size;
    ++n;
  }
  phase("free");
  for (size_t i = 0; i < n; ++i) free(blocks[i]);
  free(blocks);
  phase("end");
  printf("blocks %zu bytes %zu checksum %016llx\n", n, used, (unsigned long long)sum);
  if (argc > 2 && strcmp(argv[2], "--print-allocator") == 0) {
    Dl_info info;
    if (dladdr(dlsym(RTLD_DEFAULT, "malloc"), &info)) printf("malloc from %s\n", info.dli_fname);
  }
  return 0;
}
