// The recording state and the start of a recording: on the first call, if
// this process is the one `heapmark record` asked for (or, with
// --follow-forks, a forked child that exec'd), the settings are read from the
// environment, the trace file opened and its header written, or, for an exec'd
// image of the recorded process, an "image" chunk after which ids restart.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/record/buffer.h"
#include "tools/record/internal.h"
#include "tools/record/pointer_table.h"
#include "tools/record/stacks.h"

namespace heapmark::record {

std::atomic<bool> g_active{false};    // this process records
std::atomic<bool> g_stopping{false};  // exit flush has begun: drop further events
int g_fd = -1;
pid_t g_pid = 0;
uint64_t g_start_ns = 0;
int g_phase_fd = -1;  // HEAPMARK_PHASE_FD while recording
uint64_t g_rss_every_ms = 10;
std::atomic<uint64_t> g_next_rss_ms{0};
std::atomic<uint64_t> g_next_id{0};
std::atomic<uint32_t> g_threads{0};
std::atomic<uint64_t> g_thread_ends{0};  // thread-end events written: each thread's begin says how many came before it
std::atomic<bool> g_first_sample{true};  // the recording's first event samples RSS (its start, before any block)

namespace {
// An exec'd image records on into its process's file: the ms from that
// recording's start (its header's wall-clock start) to now, or 0 if unreadable.
uint64_t ms_since_file_start(const char* path) {
  uint8_t buf[16384];
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const ssize_t n = pread(fd, buf, sizeof buf, 0);
  close(fd);
  tr::FileHeader h;
  if (n < static_cast<ssize_t>(sizeof h)) return 0;
  memcpy(&h, buf, sizeof h);
  const size_t body =
      h.body_bytes < static_cast<size_t>(n) - sizeof h ? h.body_bytes : static_cast<size_t>(n) - sizeof h;
  uint64_t start_ns = 0;
  if (!tr::header_start_unix_ns(buf + sizeof h, buf + sizeof h + body, start_ns)) return 0;
  const uint64_t now = now_ns(CLOCK_REALTIME);
  return now > start_ns ? (now - start_ns) / 1'000'000 : 0;
}
}  // namespace

void start_recording() {
  const char* path = getenv("HEAPMARK_RECORD_FILE");
  const char* pid = getenv("HEAPMARK_RECORD_PID");
  const char* family = getenv("HEAPMARK_RECORD_FAMILY");
  // Only the process `heapmark record` started records, and with --follow-forks
  // a forked child that exec'd: its trace, "<family>.<pid>", was started by
  // on_fork_child in this process (found by pid: a shell execs with its own
  // copy of the environment, not the one the fork handler could change).
  char child[sizeof g_family + 24];
  if (!path || !pid) return;
  if (strtoll(pid, nullptr, 10) != getpid()) {
    if (!family ||
        snprintf(child, sizeof child, "%s.%d", family, static_cast<int>(getpid())) >= static_cast<int>(sizeof child) ||
        access(child, F_OK) != 0)
      return;
    path = child;
  }
  if (const char* ms = getenv("HEAPMARK_RECORD_RSS_MS")) g_rss_every_ms = strtoull(ms, nullptr, 10);
  if (const char* fd = getenv("HEAPMARK_PHASE_FD"); fd && *fd) g_phase_fd = atoi(fd);
  if (g_rss_every_ms == 0) g_rss_every_ms = UINT64_MAX / 2;
  if (const char* family = getenv("HEAPMARK_RECORD_FAMILY"); family && strlen(family) < sizeof g_family)
    memcpy(g_family, family, strlen(family) + 1);
  const char* stacks = getenv("HEAPMARK_RECORD_STACKS");
  const unsigned depth = stacks ? static_cast<unsigned>(strtoul(stacks, nullptr, 10)) : 0;
  const char* walker = getenv("HEAPMARK_RECORD_WALKER");
  const bool fp = walker && strcmp(walker, "frame-pointers") == 0;
  g_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (g_fd < 0) die("cannot open the trace file (HEAPMARK_RECORD_FILE)");
  void* root = mmap(nullptr, kRootEntries * sizeof(std::atomic<Leaf*>), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (root == MAP_FAILED) die("cannot reserve the pointer table's root (512 MiB of address space)");
  g_root = static_cast<std::atomic<Leaf*>*>(root);
  g_start_ns = now_ns(CLOCK_MONOTONIC_COARSE);
  g_pid = getpid();
  if (pthread_key_create(&g_key, thread_exit) != 0) die("pthread_key_create failed");
  struct stat st;
  if (fstat(g_fd, &st) == 0 && st.st_size == 0) {
    write_header();
  } else {
    // An exec'd image of the recorded process: the reader restarts ids here.
    char exe[4096];
    const ssize_t en = readlink("/proc/self/exe", exe, sizeof exe);
    tr::ChunkHeader h{};
    h.magic = tr::kChunkMagic;
    h.kind = static_cast<uint32_t>(tr::ChunkKind::kImage);
    h.start_ms = ms_since_file_start(path);  // this image's times follow on from the earlier images'
    h.payload_bytes = en > 0 ? static_cast<uint32_t>(en) : 0;
    h.checksum = tr::chunk_checksum(h, reinterpret_cast<const uint8_t*>(exe));
    uint8_t buf[sizeof h + sizeof exe];
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, exe, h.payload_bytes);
    write_all(buf, sizeof h + h.payload_bytes);
  }
  if (depth > 0)
    heapmark::record::stacks_start(
        depth, fp ? heapmark::record::Walker::kFramePointers : heapmark::record::Walker::kLibunwind, write_all);
  pthread_atfork(nullptr, on_fork_parent, on_fork_child);
  g_active.store(true, std::memory_order_release);
}

}  // namespace heapmark::record
