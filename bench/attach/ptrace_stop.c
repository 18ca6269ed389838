// The floor of a stop: seizes every thread of PID, interrupts each, waits for
// each to stop, reads its registers and detaches; prints the milliseconds
// from the first interrupt to the last detach (what an injector of heapmark's
// own would at least cost, against gdb's attach and detach).
//   bench_attach_ptrace PID
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/task", argv[1]);
  DIR* d = opendir(path);
  if (!d) return 1;
  pid_t tids[1024];
  int n = 0;
  for (struct dirent* e; (e = readdir(d)) && n < 1024;)
    if (e->d_name[0] != '.') tids[n++] = atoi(e->d_name);
  closedir(d);
  for (int i = 0; i < n; ++i)
    if (ptrace(PTRACE_SEIZE, tids[i], 0, 0) != 0) return 1;
  const double t0 = now_ms();
  for (int i = 0; i < n; ++i) ptrace(PTRACE_INTERRUPT, tids[i], 0, 0);
  struct user_regs_struct regs;
  unsigned long long sum = 0;
  for (int i = 0; i < n; ++i) {
    int st;
    waitpid(tids[i], &st, __WALL);
    ptrace(PTRACE_GETREGS, tids[i], 0, &regs);
    sum += regs.rip;
  }
  for (int i = 0; i < n; ++i) ptrace(PTRACE_DETACH, tids[i], 0, 0);
  printf("%.3f ms (%d threads, %llx)\n", now_ms() - t0, n, sum & 0xf);
  return 0;
}
