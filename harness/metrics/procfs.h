// Readers for the /proc files heapmark measures with. Parsing works on caller
// buffers and the readers use raw open/pread into caller or static storage, so
// a cell can call them between measured operations without touching the heap.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace heapmark::metrics::procfs {

// /proc/PID/statm, in bytes.
struct Statm {
  uint64_t size = 0;      // virtual size
  uint64_t resident = 0;  // RSS: anonymous + file + shmem
  uint64_t shared = 0;    // file-backed + shmem resident
  uint64_t anon() const noexcept { return resident > shared ? resident - shared : 0; }
};
bool parse_statm(const char* text, size_t len, uint64_t page_size, Statm& out) noexcept;
// Reads an already open statm fd (pread at offset 0, so the fd is reused per sample).
bool read_statm(int fd, uint64_t page_size, Statm& out) noexcept;

// /proc/PID/smaps_rollup fields, in bytes.
struct SmapsRollup {
  uint64_t rss = 0;
  uint64_t pss = 0;
  uint64_t anonymous = 0;
  uint64_t lazy_free = 0;
  uint64_t anon_huge_pages = 0;
  uint64_t swap = 0;
};
bool parse_smaps_rollup(const char* text, size_t len, SmapsRollup& out) noexcept;
bool read_smaps_rollup(const char* path, SmapsRollup& out) noexcept;

// /proc/PID/status VmHWM and VmRSS, in bytes.
struct Status {
  uint64_t vm_hwm = 0;
  uint64_t vm_rss = 0;
};
bool parse_status(const char* text, size_t len, Status& out) noexcept;
bool read_status(const char* path, Status& out) noexcept;

// One line of /proc/PID/maps.
struct Mapping {
  uint64_t lo = 0, hi = 0;
  bool readable = false, writable = false, shared = false;
  bool anonymous = false;  // no file: no path, or a [name] the kernel gave it
  char name[16] = "";      // "[heap]", "[stack]", "[vdso]"...; the file's path is not kept
};
bool parse_maps_line(const char* line, size_t len, Mapping& out) noexcept;
// Reads /proc/self/maps (raw reads into a static buffer) into `out`; returns
// the number of mappings (at most `cap`), or 0 when the file cannot be read.
size_t read_maps(Mapping* out, size_t cap) noexcept;

// Reads a whole small file into buf (NUL-terminated); returns bytes read or -1.
ssize_t read_file(const char* path, char* buf, size_t cap) noexcept;

}  // namespace heapmark::metrics::procfs
