// `heapmark attach PID`, the outside view: where a running process's resident
// memory is, read from /proc without stopping or entering it. Every resident
// byte of the process's mappings (smaps) goes to exactly one part, so the
// parts add up to the total; VmRSS (status) and smaps_rollup are read beside
// it as cross-checks, since the kernel keeps VmRSS in per-CPU counters that
// may lag the page-table walk smaps does.
//
// The parts, by what glibc's and the kernel's layouts say from outside:
//   brk heap      [heap]: glibc's main arena (and whatever else grows brk)
//   arena heaps   glibc's other arenas: a read-write mapping at a 64 MiB
//                 boundary whose PROT_NONE rest follows it (HEAP_MAX_SIZE)
//   thread stacks [stack], and every read-write mapping with a guard page
//                 right below it (glibc's pthread stacks), or holding a
//                 thread's stack pointer (/proc/PID/task/TID/syscall)
//   file-backed   pages of mappings of files: the file's own pages (Rss -
//                 Anonymous) as "file", private copies of them (Anonymous)
//                 as "file, copied"
//   other anonymous  the rest: mmaps of jemalloc, mimalloc, tcmalloc, the
//                 in-house allocators, the program's own
// LazyFree and Swap are reported beside them (LazyFree pages are resident and
// inside the parts; swapped pages are not resident).
#pragma once
#include <sys/types.h>

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace heapmark::attach {

// One mapping of /proc/PID/smaps, the fields the view needs, in bytes.
struct Region {
  uint64_t lo = 0, hi = 0;
  std::string perms;  // "rw-p"
  std::string path;   // file, "[heap]", "[stack]", ... or "" for anonymous
  uint64_t rss = 0, anonymous = 0, lazy_free = 0, swap = 0, anon_huge = 0;
  uint64_t size() const noexcept { return hi - lo; }
  bool file_backed() const noexcept { return !path.empty() && path[0] == '/'; }
};

// Parses the text of /proc/PID/smaps; throws std::runtime_error on text that
// is not smaps (naming the line).
std::vector<Region> parse_smaps(const std::string& text);

enum class Part { kBrkHeap, kArenaHeaps, kThreadStacks, kFile, kFileCopied, kOtherAnonymous, kCount };
const char* part_name(Part p) noexcept;

struct OutsideView {
  pid_t pid = 0;
  std::string comm, exe;
  size_t threads = 0;
  uint64_t parts[static_cast<int>(Part::kCount)] = {};
  uint64_t total = 0;  // sum of every mapping's Rss: the parts add up to this exactly
  uint64_t lazy_free = 0, swap = 0, anon_huge = 0;
  uint64_t vm_rss = 0, rollup_rss = 0;           // cross-checks read beside the walk
  size_t arena_heaps = 0, thread_stacks = 0;     // how many mappings each part counted
  std::vector<std::string> allocator_libraries;  // allocator libraries mapped in the process (the registry's)
  bool dynamic_loader = false;                   // ld.so is mapped: not a static binary, dlopen exists
};

// Assigns every region to a part. `stack_pointers` are threads' stack
// pointers (0 where unknown); a region holding one is a thread stack.
void classify(const std::vector<Region>& regions, const std::vector<uint64_t>& stack_pointers, OutsideView& view);

// Reads /proc/PID/{smaps,status,smaps_rollup,task/*/syscall} of a process
// that check_target (target.h) accepted. `allocator_libraries` are the
// registry's library paths, to say which of them the process has mapped.
OutsideView read_outside(pid_t pid, const std::vector<std::string>& allocator_libraries);

boost::json::object to_json(const OutsideView& v);
// "1.5 MiB", "2.00 GiB", "12 KiB".
std::string human(uint64_t bytes);
// A figure for attach's JSON, null where it is not known.
boost::json::value or_null(const std::optional<uint64_t>& bytes);
std::string render_text(const OutsideView& v);

}  // namespace heapmark::attach
