#include "harness/attach/outside.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "harness/metrics/procfs.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace heapmark::attach {
namespace {

// glibc's HEAP_MAX_SIZE on 64-bit: 2 x DEFAULT_MMAP_THRESHOLD_MAX (32 MiB). A
// non-main arena's heap is reserved at this alignment, its unused rest PROT_NONE.
constexpr uint64_t kArenaHeapMax = 64ull << 20;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool anonymous_mapping(const Region& r) { return r.path.empty(); }

std::string real(const std::string& p) {
  char buf[PATH_MAX];
  return realpath(p.c_str(), buf) ? std::string(buf) : p;
}

}  // namespace

std::vector<Region> parse_smaps(const std::string& text) {
  std::vector<Region> out;
  std::istringstream lines(text);
  size_t n = 0;
  for (std::string line; std::getline(lines, line);) {
    ++n;
    unsigned long long lo = 0, hi = 0;
    char perms[8] = "";
    int consumed = 0;
    // A mapping's header: "lo-hi perms offset dev inode [path]"; its fields: "Key:   N kB".
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %*s %*s %*s %n", &lo, &hi, perms, &consumed) >= 3 &&
        std::strlen(perms) == 4 && line.find(':') > line.find(' ')) {
      Region r;
      r.lo = lo, r.hi = hi, r.perms = perms;
      if (consumed > 0 && static_cast<size_t>(consumed) <= line.size())
        r.path = line.substr(static_cast<size_t>(consumed));
      while (!r.path.empty() && r.path.back() == ' ') r.path.pop_back();
      out.push_back(std::move(r));
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string::npos)
      throw std::runtime_error("smaps line " + std::to_string(n) + " is neither a mapping nor a field");
    if (out.empty()) throw std::runtime_error("smaps line " + std::to_string(n) + ": a field before any mapping");
    const std::string key = line.substr(0, colon);
    const uint64_t bytes = std::strtoull(line.c_str() + colon + 1, nullptr, 10) * 1024;
    Region& r = out.back();
    if (key == "Rss") r.rss = bytes;
    else if (key == "Anonymous") r.anonymous = bytes;
    else if (key == "LazyFree") r.lazy_free = bytes;
    else if (key == "Swap") r.swap = bytes;
    else if (key == "AnonHugePages") r.anon_huge = bytes;
  }
  return out;
}

const char* part_name(Part p) noexcept {
  switch (p) {
    case Part::kBrkHeap: return "brk heap";
    case Part::kArenaHeaps: return "arena heaps";
    case Part::kThreadStacks: return "thread stacks";
    case Part::kFile: return "file";
    case Part::kFileCopied: return "file, copied";
    case Part::kOtherAnonymous: return "other anonymous";
    case Part::kCount: break;
  }
  return "?";
}

void classify(const std::vector<Region>& regions, const std::vector<uint64_t>& stack_pointers, OutsideView& v) {
  auto add = [&](Part p, uint64_t bytes) { v.parts[static_cast<int>(p)] += bytes; };
  for (size_t i = 0; i < regions.size(); ++i) {
    const Region& r = regions[i];
    v.total += r.rss;
    v.lazy_free += r.lazy_free;
    v.swap += r.swap;
    v.anon_huge += r.anon_huge;
    const uint64_t anon = std::min(r.anonymous, r.rss);
    // Pages that are not anonymous belong to a file, shared memory or the kernel's own ([vdso]).
    add(Part::kFile, r.rss - anon);
    if (r.file_backed()) {
      add(Part::kFileCopied, anon);
    } else if (r.path == "[heap]") {
      add(Part::kBrkHeap, anon);
    } else if (r.path == "[stack]") {
      add(Part::kThreadStacks, anon);
      v.thread_stacks += 1;
    } else if (anonymous_mapping(r) && r.perms.rfind("rw", 0) == 0) {
      const Region* before = i > 0 && regions[i - 1].hi == r.lo ? &regions[i - 1] : nullptr;
      const Region* after = i + 1 < regions.size() && regions[i + 1].lo == r.hi ? &regions[i + 1] : nullptr;
      const bool holds_sp = std::any_of(stack_pointers.begin(), stack_pointers.end(),
                                        [&](uint64_t sp) { return sp >= r.lo && sp < r.hi; });
      const bool guard_below = before && anonymous_mapping(*before) && before->perms.rfind("---", 0) == 0;
      const bool arena_heap =
          r.lo % kArenaHeapMax == 0 &&
          (r.size() == kArenaHeapMax || (after && anonymous_mapping(*after) && after->perms.rfind("---", 0) == 0 &&
                                         after->hi - r.lo == kArenaHeapMax));
      if (holds_sp || (guard_below && !arena_heap)) {
        add(Part::kThreadStacks, anon);
        v.thread_stacks += 1;
      } else if (arena_heap) {
        add(Part::kArenaHeaps, anon);
        v.arena_heaps += 1;
      } else {
        add(Part::kOtherAnonymous, anon);
      }
    } else {
      add(Part::kOtherAnonymous, anon);
    }
  }
}

OutsideView read_outside(pid_t pid, const std::vector<std::string>& allocator_libraries) {
  const std::string proc = "/proc/" + std::to_string(pid);
  OutsideView v;
  v.pid = pid;
  v.comm = slurp(proc + "/comm");
  while (!v.comm.empty() && v.comm.back() == '\n') v.comm.pop_back();
  std::error_code ec;
  v.exe = fs::read_symlink(proc + "/exe", ec).string();
  // Each thread's stack pointer, where the kernel shows it (blocked threads; a running one says "running").
  std::vector<uint64_t> sps;
  for (const auto& t : fs::directory_iterator(proc + "/task", ec)) {
    ++v.threads;
    std::istringstream words(slurp(t.path().string() + "/syscall"));
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    if (w.size() >= 3 && w[0] != "running") sps.push_back(std::strtoull(w[w.size() - 2].c_str(), nullptr, 16));
  }
  const std::vector<Region> regions = parse_smaps(slurp(proc + "/smaps"));
  classify(regions, sps, v);
  // The cross-checks through the readers the cells use (harness/metrics/procfs).
  metrics::procfs::Status status;
  if (metrics::procfs::read_status((proc + "/status").c_str(), status)) v.vm_rss = status.vm_rss;
  metrics::procfs::SmapsRollup rollup;
  if (metrics::procfs::read_smaps_rollup((proc + "/smaps_rollup").c_str(), rollup)) v.rollup_rss = rollup.rss;
  std::set<std::string> mapped;
  for (const auto& r : regions) {
    if (r.file_backed()) mapped.insert(real(r.path));
    if (r.path.find("/ld-linux") != std::string::npos) v.dynamic_loader = true;
  }
  std::set<std::string> seen;  // variants share their base's library: each library once
  for (const auto& lib : allocator_libraries)
    if (!lib.empty() && mapped.count(real(lib)) && seen.insert(real(lib)).second) v.allocator_libraries.push_back(lib);
  return v;
}

json::object to_json(const OutsideView& v) {
  json::object parts;
  for (int p = 0; p < static_cast<int>(Part::kCount); ++p) parts[part_name(static_cast<Part>(p))] = v.parts[p];
  json::array libs;
  for (const auto& l : v.allocator_libraries) libs.push_back(json::string(l));
  return json::object{{"schema", "heapmark-attach"},
                      {"schema_version", 1},
                      {"pid", v.pid},
                      {"comm", v.comm},
                      {"exe", v.exe},
                      {"threads", v.threads},
                      {"resident", v.total},
                      {"parts", std::move(parts)},
                      {"arena_heaps", v.arena_heaps},
                      {"thread_stacks", v.thread_stacks},
                      {"lazy_free", v.lazy_free},
                      {"swap", v.swap},
                      {"anon_huge_pages", v.anon_huge},
                      {"vm_rss", v.vm_rss},
                      {"smaps_rollup_rss", v.rollup_rss},
                      {"allocator_libraries", std::move(libs)},
                      {"dynamic", v.dynamic_loader}};
}

json::value or_null(const std::optional<uint64_t>& bytes) { return bytes ? json::value(*bytes) : json::value(nullptr); }

std::string human(uint64_t b) {
  char s[32];
  if (b >= (1ull << 30)) std::snprintf(s, sizeof s, "%.2f GiB", double(b) / double(1ull << 30));
  else if (b >= (1ull << 20)) std::snprintf(s, sizeof s, "%.1f MiB", double(b) / double(1ull << 20));
  else std::snprintf(s, sizeof s, "%.0f KiB", double(b) / 1024.0);
  return s;
}

std::string render_text(const OutsideView& v) {
  std::string s;
  char line[256];
  std::snprintf(line, sizeof line, "heapmark attach %d (%s, %s), %zu thread%s: where RES is, from outside (smaps)\n",
                static_cast<int>(v.pid), v.comm.c_str(), v.exe.c_str(), v.threads, v.threads == 1 ? "" : "s");
  s += line;
  std::snprintf(line, sizeof line, "  resident %s (every mapping's Rss; VmRSS %s, smaps_rollup %s)\n",
                human(v.total).c_str(), human(v.vm_rss).c_str(), human(v.rollup_rss).c_str());
  s += line;
  for (int p = 0; p < static_cast<int>(Part::kCount); ++p) {
    std::string name = part_name(static_cast<Part>(p));
    if (p == static_cast<int>(Part::kArenaHeaps)) name += " (" + std::to_string(v.arena_heaps) + ")";
    if (p == static_cast<int>(Part::kThreadStacks)) name += " (" + std::to_string(v.thread_stacks) + ")";
    std::snprintf(line, sizeof line, "  %-22s %12s  %5.1f%%\n", name.c_str(), human(v.parts[p]).c_str(),
                  v.total ? 100.0 * double(v.parts[p]) / double(v.total) : 0.0);
    s += line;
  }
  std::snprintf(line, sizeof line,
                "  LazyFree %s (resident, inside the parts: freed with MADV_FREE); swap %s; huge pages %s\n",
                human(v.lazy_free).c_str(), human(v.swap).c_str(), human(v.anon_huge).c_str());
  s += line;
  std::string libs;
  for (const auto& l : v.allocator_libraries) libs += (libs.empty() ? "" : ", ") + fs::path(l).filename().string();
  s += "  allocator libraries mapped: " +
       (libs.empty() ? std::string("none of heapmark's (glibc's malloc, or one it does not know)") : libs) + "\n";
  return s;
}

}  // namespace heapmark::attach
