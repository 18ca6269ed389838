#include "harness/metrics/procfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace heapmark::metrics::procfs {
namespace {

// Large enough for smaps_rollup and status (about 1.5 KiB each on 6.x kernels).
char g_buf[8192];

const char* skip_spaces(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t')) ++p;
  return p;
}

bool parse_u64(const char*& p, const char* end, uint64_t& v) {
  p = skip_spaces(p, end);
  if (p >= end || *p < '0' || *p > '9') return false;
  v = 0;
  while (p < end && *p >= '0' && *p <= '9') v = v * 10 + static_cast<uint64_t>(*p++ - '0');
  return true;
}

// For "Key:   1234 kB" lines: finds each wanted key at a line start and stores bytes.
struct KbField {
  const char* key;
  uint64_t* dest;
  bool found;
};

bool parse_kb_fields(const char* text, size_t len, KbField* fields, size_t n) {
  const char* p = text;
  const char* end = text + len;
  while (p < end) {
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!eol) eol = end;
    const char* colon = static_cast<const char*>(std::memchr(p, ':', static_cast<size_t>(eol - p)));
    if (colon) {
      const size_t klen = static_cast<size_t>(colon - p);
      for (size_t i = 0; i < n; ++i) {
        if (!fields[i].found && std::strlen(fields[i].key) == klen && std::memcmp(fields[i].key, p, klen) == 0) {
          const char* q = colon + 1;
          uint64_t kb;
          if (!parse_u64(q, eol, kb)) return false;
          *fields[i].dest = kb * 1024;
          fields[i].found = true;
        }
      }
    }
    p = eol + 1;
  }
  for (size_t i = 0; i < n; ++i)
    if (!fields[i].found) return false;
  return true;
}

}  // namespace

ssize_t read_file(const char* path, char* buf, size_t cap) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  while (got + 1 < cap) {
    const ssize_t r = ::read(fd, buf + got, cap - 1 - got);
    if (r < 0) {
      ::close(fd);
      return -1;
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  buf[got] = '\0';
  return static_cast<ssize_t>(got);
}

bool parse_statm(const char* text, size_t len, uint64_t page_size, Statm& out) noexcept {
  const char* p = text;
  const char* end = text + len;
  uint64_t size, resident, shared;
  if (!parse_u64(p, end, size) || !parse_u64(p, end, resident) || !parse_u64(p, end, shared)) return false;
  out.size = size * page_size;
  out.resident = resident * page_size;
  out.shared = shared * page_size;
  return true;
}

bool read_statm(int fd, uint64_t page_size, Statm& out) noexcept {
  char buf[128];
  const ssize_t r = ::pread(fd, buf, sizeof buf, 0);
  if (r <= 0) return false;
  return parse_statm(buf, static_cast<size_t>(r), page_size, out);
}

bool parse_smaps_rollup(const char* text, size_t len, SmapsRollup& out) noexcept {
  // Swap and LazyFree exist on every kernel this runs on (4.12+); a file
  // without them is not a smaps_rollup.
  KbField f[] = {{"Rss", &out.rss, false},
                 {"Pss", &out.pss, false},
                 {"Anonymous", &out.anonymous, false},
                 {"LazyFree", &out.lazy_free, false},
                 {"AnonHugePages", &out.anon_huge_pages, false},
                 {"Swap", &out.swap, false}};
  return parse_kb_fields(text, len, f, sizeof f / sizeof f[0]);
}

bool read_smaps_rollup(const char* path, SmapsRollup& out) noexcept {
  const ssize_t n = read_file(path, g_buf, sizeof g_buf);
  return n > 0 && parse_smaps_rollup(g_buf, static_cast<size_t>(n), out);
}

bool parse_status(const char* text, size_t len, Status& out) noexcept {
  KbField f[] = {{"VmHWM", &out.vm_hwm, false}, {"VmRSS", &out.vm_rss, false}};
  return parse_kb_fields(text, len, f, 2);
}

bool read_status(const char* path, Status& out) noexcept {
  const ssize_t n = read_file(path, g_buf, sizeof g_buf);
  return n > 0 && parse_status(g_buf, static_cast<size_t>(n), out);
}

bool parse_maps_line(const char* line, size_t len, Mapping& out) noexcept {
  // lo-hi perms offset dev inode [path]
  const char* p = line;
  const char* const end = line + len;
  auto hex = [&](uint64_t& v) {
    v = 0;
    const char* start = p;
    for (; p < end; ++p) {
      const char c = *p;
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) break;
      v = v * 16 + static_cast<uint64_t>(d);
    }
    return p > start;
  };
  out = Mapping{};
  if (!hex(out.lo) || p >= end || *p++ != '-' || !hex(out.hi) || p >= end || *p++ != ' ') return false;
  if (end - p < 4) return false;
  out.readable = p[0] == 'r';
  out.writable = p[1] == 'w';
  out.shared = p[3] == 's';
  p += 4;
  for (int field = 0; field < 3; ++field) {  // offset, dev, inode
    while (p < end && *p == ' ') ++p;
    while (p < end && *p != ' ') ++p;
  }
  while (p < end && *p == ' ') ++p;
  out.anonymous = p == end || *p == '[';
  if (p < end && *p == '[') {
    size_t n = 0;
    while (p < end && n + 1 < sizeof out.name) out.name[n++] = *p++;
    out.name[n] = '\0';
  }
  return out.hi > out.lo;
}

size_t read_maps(Mapping* out, size_t cap) noexcept {
  const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  static char buf[64 * 1024];
  size_t have = 0, n = 0;
  for (;;) {
    const ssize_t r = ::read(fd, buf + have, sizeof buf - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    have += static_cast<size_t>(r);
    size_t start = 0;
    for (size_t i = 0; i < have; ++i) {
      if (buf[i] != '\n') continue;
      if (n < cap && parse_maps_line(buf + start, i - start, out[n])) ++n;
      start = i + 1;
    }
    std::memmove(buf, buf + start, have - start);
    have -= start;
    if (have == sizeof buf) have = 0;  // a line longer than the buffer: not a mapping we need
  }
  ::close(fd);
  return n;
}

}  // namespace heapmark::metrics::procfs
