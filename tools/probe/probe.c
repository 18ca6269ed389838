/* libheapmark_probe.so: preloaded after the allocator into a real program that
 * heapmark runs as a cell (a `program` workload). It proves, in the program's
 * own process, which object serves malloc and free, and reports the process's
 * own peak RSS (VmHWM) at exit, when /proc still has it. It writes text lines
 * to the descriptor named in HEAPMARK_PROBE_FD, only in the process the runner
 * started (its parent is HEAPMARK_PROBE_PARENT): the program's children
 * inherit LD_PRELOAD but stay silent, and so does a forked copy of it. The
 * descriptors stay open across exec: a program started through a wrapper that
 * execs it (a pyenv shim, `exec` in a script) reports again from the image
 * that runs, and the runner sends that image's byte when its identity comes.
 *   identity malloc=<path> free=<path>
 *   release every_ms=<ms> per_thread=<0|1> calls=<n> total_ns=<ns> max_ns=<ns> hook=<name, to the end>
 *   release every_ms=<ms> error=<why, to the end>
 *   exit vm_hwm=<bytes> vm_rss=<bytes>
 * HEAPMARK_PROBE_REGISTRY names libheapmark_attach.so, the registry's
 * families. At exit, once the runner has read the last figures (its samples
 * end there), the probe loads it and has it write the allocator's
 * configuration (arena counts, decay times) as JSON to HEAPMARK_PROBE_CONFIG;
 * the loading is in the process's CPU time and faults, not in its memory
 * figures. With HEAPMARK_PROBE_RELEASE_MS too (a release schedule), it loads
 * the library before main, binds the family serving malloc and starts one
 * thread that calls its release hook every interval, timing each call; release
 * lines carry the totals (once bound, every second, and at exit before the exit
 * line; the runner keeps the last). A family whose hook acts on the calling
 * thread (jemalloc's tcache flush, mimalloc's collect) reaches only that
 * thread's caches: per_thread=1 says so.
 * Before main the process waits (at most 2 s) for one byte on
 * HEAPMARK_PROBE_ACK_FD: the runner sends it once its event counters are
 * attached to the process, so everything from here on is counted. After the
 * exit line the process waits (at most 2 s) for a second byte: the runner
 * first reads the phase marks the program
 * wrote before it exited and each phase's smaps_rollup while the process still
 * has its memory, which a program marking its last phase just before exit()
 * would otherwise win the race against. A program ending in _exit() skips
 * destructors, and so this hold.
 * It allocates nothing itself (raw open/read/write, static buffers); resolving
 * through a canonical PLT entry calls dlopen, which may, and the registry's
 * library allocates its probe block and whatever the family's calls do. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int g_fd = -1, g_ack_fd = -1;
static pid_t g_pid; /* the process the runner started, not a fork of it */

static void say(const char* line) {
  size_t n = strlen(line);
  while (n > 0) {
    const ssize_t w = write(g_fd, line, n);
    if (w <= 0) return;
    line += w;
    n -= (size_t)w;
  }
}

struct definer {
  const char* symbol;
  const char* found;
};

/* The first object after the executable, in load order (which is the global
 * lookup order: preloads, then DT_NEEDED breadth first), that defines symbol. */
static int first_definer(struct dl_phdr_info* obj, size_t size, void* arg) {
  (void)size;
  struct definer* d = arg;
  if (d->found || !obj->dlpi_name || !obj->dlpi_name[0]) return d->found != NULL;
  void* h = dlopen(obj->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
  if (!h) return 0;
  Dl_info info;
  const ElfW(Sym)* sym = NULL;
  void* s = dlsym(h, d->symbol);
  if (s && dladdr1(s, &info, (void**)&sym, RTLD_DL_SYMENT) && info.dli_fname &&
      strcmp(info.dli_fname, obj->dlpi_name) == 0 && info.dli_saddr == s && sym && sym->st_shndx != SHN_UNDEF)
    d->found = obj->dlpi_name;
  dlclose(h);
  return d->found != NULL;
}

/* The object whose definition of symbol the program's calls bind to. A
 * non-PIE executable that takes malloc's address (python3 on Debian) has a
 * canonical PLT entry: dlsym then returns the stub in the executable, which
 * defines nothing, and the definition its calls reach is the first one after
 * it in lookup order. */
static const char* object_of(const char* symbol) {
  Dl_info info;
  const ElfW(Sym)* sym = NULL;
  void* s = dlsym(RTLD_DEFAULT, symbol);
  if (!s || !dladdr1(s, &info, (void**)&sym, RTLD_DL_SYMENT) || !info.dli_fname) return "?";
  /* A definition starts at the address (under this name or an alias: glibc's
   * free is also cfree); a canonical PLT entry is an undefined symbol with a
   * value, which dladdr reports too. */
  if (info.dli_saddr == s && sym && sym->st_shndx != SHN_UNDEF)
    return info.dli_fname[0] ? info.dli_fname : "(the executable)";
  struct definer d = {symbol, NULL};
  dl_iterate_phdr(first_definer, &d);
  return d.found ? d.found : "?";
}

/* The release schedule's thread and what it measured. */
static struct {
  pthread_t thread;
  int running;
  int wake[2]; /* a byte here ends the thread (written at exit) */
  unsigned long long every_ns, calls, total_ns, max_ns, said_ns;
  int per_thread;
  const char* hook;
  int (*release)(void);
  char error[160];
} g_release = {.wake = {-1, -1}};

static unsigned long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

/* The schedule's totals so far (one write: a pipe keeps a line this short whole). */
static void say_release(void) {
  static char line[512];
  if (g_release.hook)
    snprintf(line, sizeof line, "release every_ms=%.3f per_thread=%d calls=%llu total_ns=%llu max_ns=%llu hook=%s\n",
             (double)g_release.every_ns * 1e-6, g_release.per_thread, g_release.calls, g_release.total_ns,
             g_release.max_ns, g_release.hook);
  else
    snprintf(line, sizeof line, "release every_ms=%.3f error=%s\n", (double)g_release.every_ns * 1e-6, g_release.error);
  say(line);
}

/* The thread: the hook every interval, an interval after the last call ended,
 * as in a generator cell (a call longer than the interval does not start the
 * next at once: back to back, malloc_trim(0) every 10 ms held glibc's heap
 * lock and starved a Python program for minutes). The totals go out every
 * second too, so a server stopped by SIGTERM, which runs no exit handler,
 * still has them. */
static void* release_loop(void* unused) {
  (void)unused;
  unsigned long long next = now_ns() + g_release.every_ns;
  for (;;) {
    const unsigned long long now = now_ns();
    const int wait_ms = next > now ? (int)((next - now + 999999ull) / 1000000ull) : 0;
    struct pollfd p = {g_release.wake[0], POLLIN, 0};
    const int r = poll(&p, 1, wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      snprintf(g_release.error, sizeof g_release.error, "poll: %s", strerror(errno));
      g_release.hook = NULL;
      return NULL;
    }
    if (r > 0) return NULL; /* the process is exiting */
    if (now_ns() < next) continue;
    const unsigned long long t0 = now_ns();
    g_release.release();
    const unsigned long long took = now_ns() - t0;
    g_release.calls++;
    g_release.total_ns += took;
    if (took > g_release.max_ns) g_release.max_ns = took;
    next = t0 + took + g_release.every_ns;
    if (t0 + took - g_release.said_ns >= 1000000000ull) {
      g_release.said_ns = t0 + took;
      say_release();
    }
  }
}

static void exit_report(void);

/* Loads the registry's library, binds the family serving malloc and starts the
 * thread, all before main: a program that exits at once then finds the
 * library whole. The exit report is registered after the library's own exit
 * handlers (its families' destructors), so it runs before them: exit
 * handlers run in the reverse order of registration. The thread blocks every
 * signal: the program's handlers never run on it, inside the allocator's
 * release call and its locks. */
static void start_release_schedule(void) {
  const char* ms = getenv("HEAPMARK_PROBE_RELEASE_MS");
  const char* lib = getenv("HEAPMARK_PROBE_REGISTRY");
  if (!ms || !lib) return;
  g_release.every_ns = (unsigned long long)(strtod(ms, NULL) * 1e6);
  if (g_release.every_ns == 0) return;
  void* h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (h) atexit(exit_report);
  const char* (*bind)(int*) = h ? (const char* (*)(int*))dlsym(h, "heapmark_release_hook") : NULL;
  g_release.release = h ? (int (*)(void))dlsym(h, "heapmark_release_now") : NULL;
  if (!bind || !g_release.release) {
    snprintf(g_release.error, sizeof g_release.error, "cannot load %s: %s", lib, dlerror());
  } else if (!(g_release.hook = bind(&g_release.per_thread))) {
    snprintf(g_release.error, sizeof g_release.error, "the allocator serving malloc here has no release hook");
  } else if (pipe2(g_release.wake, O_CLOEXEC) != 0) {
    snprintf(g_release.error, sizeof g_release.error, "pipe: %s", strerror(errno));
    g_release.hook = NULL;
  } else {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    g_release.running = pthread_create(&g_release.thread, NULL, release_loop, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!g_release.running) {
      snprintf(g_release.error, sizeof g_release.error, "cannot start the thread");
      g_release.hook = NULL;
    }
  }
  g_release.said_ns = now_ns();
  say_release(); /* bound (calls=0), or why not */
}

/* Ends the thread and says its totals. Returns 0 when the thread did not end
 * within a second (a program that called exit() from a signal handler while
 * it held a heap lock the release call waits for): the registry's library is
 * then still in use. */
static int stop_release_schedule(void) {
  if (!g_release.running) return 1;
  const char byte = 1;
  const ssize_t w = write(g_release.wake[1], &byte, 1);
  (void)w;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 1;
  const int ended = pthread_timedjoin_np(g_release.thread, NULL, &deadline) == 0;
  g_release.running = 0;
  say_release();
  return ended;
}

/* The allocator's configuration, written by the registry's library. */
static void write_config(void) {
  const char* lib = getenv("HEAPMARK_PROBE_REGISTRY");
  const char* out = getenv("HEAPMARK_PROBE_CONFIG");
  if (!lib || !out) return;
  void* h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  int (*run)(const char*, const char*) = h ? (int (*)(const char*, const char*))dlsym(h, "heapmark_attach_run") : NULL;
  if (run) run("accounting", out);
}

/* "VmHWM:   1234 kB" -> bytes. */
static unsigned long long status_kb(const char* text, const char* key) {
  const char* p = strstr(text, key);
  return p ? strtoull(p + strlen(key), NULL, 10) * 1024ull : 0;
}

/* One byte from the runner, or end of file if it is gone, or 2 s: go on. */
static void wait_for_runner(void) {
  if (g_ack_fd < 0) return;
  struct pollfd p = {g_ack_fd, POLLIN, 0};
  if (poll(&p, 1, 2000) == 1) {
    char ack;
    const ssize_t r = read(g_ack_fd, &ack, 1);
    (void)r;
  }
}

/* The exit report, once: the schedule's totals, VmHWM, then the hold while
 * the runner reads the last figures, then the allocator's configuration (so
 * loading the library is in no memory figure: the runner's samples end at the
 * hold). With a schedule it runs as an exit handler (see
 * start_release_schedule), else from the destructor. */
static void exit_report(void) {
  static int done;
  if (done || g_fd < 0 || getpid() != g_pid) return;
  done = 1;
  const int library_free = stop_release_schedule();
  static char buf[4096];
  const int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  buf[n > 0 ? n : 0] = '\0';
  static char line[128];
  snprintf(line, sizeof line, "exit vm_hwm=%llu vm_rss=%llu\n", status_kb(buf, "VmHWM:"), status_kb(buf, "VmRSS:"));
  say(line);
  wait_for_runner(); /* the runner read the last phase's figures */
  if (library_free) write_config();
}

__attribute__((destructor)) static void report_exit(void) { exit_report(); }

/* A forked copy of the program keeps the descriptors only until it execs
 * something else: its children do not hold the runner's pipes open. */
static void close_on_exec_in_child(void) {
  if (g_fd >= 0) fcntl(g_fd, F_SETFD, FD_CLOEXEC);
  if (g_ack_fd >= 0) fcntl(g_ack_fd, F_SETFD, FD_CLOEXEC);
}

__attribute__((constructor)) static void report_identity(void) {
  const char* fd = getenv("HEAPMARK_PROBE_FD");
  const char* parent = getenv("HEAPMARK_PROBE_PARENT");
  if (!fd || !parent || getppid() != (pid_t)atol(parent)) return;
  g_fd = atoi(fd);
  g_pid = getpid();
  const char* ack = getenv("HEAPMARK_PROBE_ACK_FD");
  if (ack) g_ack_fd = atoi(ack);
  static char line[1100];
  snprintf(line, sizeof line, "identity malloc=%s free=%s\n", object_of("malloc"), object_of("free"));
  say(line);
  wait_for_runner(); /* its counters are attached */
  pthread_atfork(NULL, NULL, close_on_exec_in_child);
  start_release_schedule();
}
