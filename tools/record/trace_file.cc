// The trace file: whole writes (one write per chunk on an O_APPEND file, so
// chunks of different threads never interleave), the file header and the
// small chunks of varints (lost, end).
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "tools/record/buffer.h"
#include "tools/record/internal.h"

namespace heapmark::record {

void write_all(const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = write(g_fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // disk full: the trace ends here, the reader reports it truncated
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// One write of the whole header so a reader never sees half of it.
void write_header() {
  uint8_t buf[16384];
  uint8_t* p = buf + sizeof(tr::FileHeader);
  uint8_t* const end = buf + sizeof buf;
  auto put_string = [&](const char* s, size_t n) {
    if (n > static_cast<size_t>(end - p) - 16) n = static_cast<size_t>(end - p) - 16;
    p = tr::put_varint(p, n);
    memcpy(p, s, n);
    p += n;
  };
  char exe[4096];
  const ssize_t en = readlink("/proc/self/exe", exe, sizeof exe);
  put_string(exe, en > 0 ? static_cast<size_t>(en) : 0);
  // Command line: /proc/self/cmdline, NUL-separated.
  char cmd[8192];
  size_t cn = 0;
  const int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t r;
    while (cn < sizeof cmd && (r = read(fd, cmd + cn, sizeof cmd - cn)) > 0) cn += static_cast<size_t>(r);
    close(fd);
  }
  size_t argc = 0;
  for (size_t i = 0; i < cn; ++i) argc += cmd[i] == '\0';
  p = tr::put_varint(p, argc);
  for (size_t i = 0, s = 0; i < cn; ++i)
    if (cmd[i] == '\0') {
      put_string(cmd + s, i - s);
      s = i + 1;
    }
  utsname u;
  char machine[512] = "";
  if (uname(&u) == 0) {
    size_t m = 0;
    const char* const parts[] = {u.nodename, " ", u.sysname, " ", u.release, " ", u.machine};
    for (const char* part : parts)
      for (const char* c = part; *c && m < sizeof machine - 1; ++c) machine[m++] = *c;
    machine[m] = '\0';
  }
  put_string(machine, strlen(machine));
  p = tr::put_varint(p, now_ns(CLOCK_REALTIME));
  p = tr::put_varint(p, static_cast<uint64_t>(getpid()));
  Dl_info where{};  // the allocator recorded: the object defining the malloc the recorder forwards to
  const bool named = dladdr(reinterpret_cast<void*>(g_real.malloc), &where) != 0 && where.dli_fname;
  put_string(named ? where.dli_fname : "", named ? strlen(where.dli_fname) : 0);
  tr::FileHeader h{};
  memcpy(h.magic, tr::kMagic, sizeof h.magic);
  h.version = tr::kVersion;
  h.body_bytes = static_cast<uint32_t>(p - buf - sizeof h);
  h.body_checksum = tr::checksum32(buf + sizeof h, h.body_bytes);
  memcpy(buf, &h, sizeof h);
  write_all(buf, static_cast<size_t>(p - buf));
}

// Writes one chunk of varints (`n` values) in one write.
void write_varint_chunk(tr::ChunkKind kind, const uint64_t* values, size_t n) {
  uint8_t buf[sizeof(tr::ChunkHeader) + 10 * 16];
  uint8_t* p = buf + sizeof(tr::ChunkHeader);
  for (size_t i = 0; i < n && i < 16; ++i) p = tr::put_varint(p, values[i]);
  tr::ChunkHeader h{};
  h.magic = tr::kChunkMagic;
  h.kind = static_cast<uint32_t>(kind);
  h.payload_bytes = static_cast<uint32_t>(p - buf - sizeof h);
  h.checksum = tr::chunk_checksum(h, buf + sizeof h);
  memcpy(buf, &h, sizeof h);
  write_all(buf, static_cast<size_t>(p - buf));
}

}  // namespace heapmark::record
