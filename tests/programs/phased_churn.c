// A real program for the program-cell tests: builds a heap of N MiB in
// blocks of mixed sizes, frees it, and marks its phases on the descriptor
// heapmark names in HEAPMARK_PHASE_FD (the snippet docs/own-program.md documents). Its
// stdout is a checksum of what it computed, the same under every allocator;
// with --print-allocator it also prints where malloc resolves, so its output
// differs between allocators (the output_mismatch test).
//
//   phased_churn MIB [--print-allocator] [--keep N] [--hold-ms MS] [--huge] [--reexec]
//
// --keep N keeps every Nth block past the free phase (they pin their pages'
// neighbours' free space, as a long-lived cache does), --hold-ms MS holds the
// heap that long in a phase "hold" after the frees (what a release schedule
// acts on) and frees the kept blocks in a phase "release", --huge prints the process's own AnonHugePages after the
// build to stderr (smaps_rollup, read by the program, not by heapmark), and --reexec execs itself once first, as a
// wrapper script does.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static const char* option(int argc, char** argv, const char* name) {
  for (int i = 2; i + 1 < argc; ++i)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return NULL;
}

static int flag(int argc, char** argv, const char* name) {
  for (int i = 2; i < argc; ++i)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

static void print_huge(void) {
  char buf[4096];
  FILE* f = fopen("/proc/self/smaps_rollup", "r");
  if (!f) return;
  while (fgets(buf, sizeof buf, f))
    if (strncmp(buf, "AnonHugePages:", 14) == 0) fprintf(stderr, "anon_huge_pages_kb %ld\n", atol(buf + 14));
  fclose(f);
}

int main(int argc, char** argv) {
  if (flag(argc, argv, "--reexec")) {
    char* args[16];
    int n = 0;
    for (int i = 0; i < argc && n < 15; ++i)
      if (strcmp(argv[i], "--reexec") != 0) args[n++] = argv[i];
    args[n] = NULL;
    execv("/proc/self/exe", args);
    return 127;
  }
  const long mib = argc > 1 ? atol(argv[1]) : 16;
  const char* keep_s = option(argc, argv, "--keep");
  const char* hold_s = option(argc, argv, "--hold-ms");
  const size_t keep = keep_s ? (size_t)atol(keep_s) : 0;
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
  if (flag(argc, argv, "--huge")) print_huge();
  phase("free");
  for (size_t i = 0; i < n; ++i)
    if (!keep || i % keep != 0) free(blocks[i]);
  if (hold_s) {
    phase("hold");
    const long ms = atol(hold_s);
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
    phase("release"); /* the hold phase ends here, before the kept blocks go */
  }
  for (size_t i = 0; keep && i < n; i += keep) free(blocks[i]);
  free(blocks);
  phase("end");
  printf("blocks %zu bytes %zu checksum %016llx\n", n, used, (unsigned long long)sum);
  if (flag(argc, argv, "--print-allocator")) {
    Dl_info info;
    if (dladdr(dlsym(RTLD_DEFAULT, "malloc"), &info)) printf("malloc from %s\n", info.dli_fname);
  }
  return 0;
}
