// Windows implementation of the OS contract (os.h): the only file in the
// allocators that calls VirtualAlloc or VirtualFree. Built by the `windows`
// preset (mingw-w64); os.h says where each call differs from Linux.
#include <windows.h>
// After windows.h: bcrypt.h needs its types.
#include <bcrypt.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"
#include "shared.h"

namespace heapmark::os {
namespace {

struct SystemInfo {
  size_t page, granularity;
};

// Read once; the static's guard takes no allocator lock and allocates nothing.
const SystemInfo& system_info() noexcept {
  static const SystemInfo info = [] {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return SystemInfo{si.dwPageSize ? si.dwPageSize : 4096,
                      si.dwAllocationGranularity ? si.dwAllocationGranularity : 65536};
  }();
  return info;
}

// One line on stderr, with no heap and no stdio (the caller may be malloc), then abort.
[[noreturn]] void fatal(const char* line) noexcept {
  DWORD written;
  WriteFile(GetStdHandle(STD_ERROR_HANDLE), line, DWORD(strlen(line)), &written, nullptr);
  abort();
}

void* reserve_at(void* addr, size_t size) noexcept { return VirtualAlloc(addr, size, MEM_RESERVE, PAGE_NOACCESS); }

}  // namespace

size_t page_size() noexcept { return system_info().page; }

size_t allocation_granularity() noexcept { return system_info().granularity; }

void* reserve(size_t size, size_t align) noexcept {
  const size_t page = page_size();
  if (size == 0 || size % page != 0 || (align & (align - 1)) != 0) return nullptr;
  if (align <= allocation_granularity()) {
    void* p = reserve_at(nullptr, size);
    if (p) tally::add(tally::reserved, size);
    return p;
  }
  if (size + align < size) return nullptr;
  // A reservation cannot be trimmed: find an aligned hole, give it back and
  // reserve exactly there. Another thread may take the hole in between: retry.
  for (int attempt = 0; attempt < 16; ++attempt) {
    void* probe = reserve_at(nullptr, size + align);
    if (!probe) return nullptr;
    const uintptr_t aligned = (reinterpret_cast<uintptr_t>(probe) + align - 1) & ~uintptr_t(align - 1);
    VirtualFree(probe, 0, MEM_RELEASE);
    void* p = reserve_at(reinterpret_cast<void*>(aligned), size);
    if (p == reinterpret_cast<void*>(aligned)) {
      tally::add(tally::reserved, size);
      return p;
    }
    if (p) VirtualFree(p, 0, MEM_RELEASE);
  }
  return nullptr;
}

bool commit(void* addr, size_t size) noexcept {
  if (!VirtualAlloc(addr, size, MEM_COMMIT, PAGE_READWRITE)) return false;
  tally::add(tally::committed, size);
  return true;
}

void* reserve_committed(size_t size, size_t align) noexcept {
  void* p = reserve(size, align);
  if (!p) return nullptr;
  if (!commit(p, size)) {
    release(p, size);
    return nullptr;
  }
  return p;
}

void* remap(void*, size_t, size_t) noexcept { return nullptr; }

void decommit(void* addr, size_t size) noexcept {
  VirtualFree(addr, size, MEM_DECOMMIT);
  tally::add(tally::decommitted, size);
}

bool recommit(void* addr, size_t size) noexcept { return commit(addr, size); }

void purge(void* addr, size_t size) noexcept {
  // Decommit drops the pages; committing again at once keeps the range usable
  // (reads zero), so the commit charge stays where it was. That commit fails
  // only if another thread took the charge in between: the caller will touch
  // the range without asking, so stop here rather than fault somewhere later.
  VirtualFree(addr, size, MEM_DECOMMIT);
  if (!VirtualAlloc(addr, size, MEM_COMMIT, PAGE_READWRITE))
    fatal("heapmark os: purge could not commit the range again (commit limit reached)\n");
  tally::add(tally::decommitted, size);
}

void decommit_lazy(void* addr, size_t size) noexcept {
  VirtualAlloc(addr, size, MEM_RESET, PAGE_READWRITE);
  tally::add(tally::decommitted, size);
}

void release(void* addr, size_t size) noexcept {
  VirtualFree(addr, 0, MEM_RELEASE);  // the size of a release is always the whole reservation
  tally::add(tally::released, size);
}

unsigned online_cpus() noexcept {
  DWORD_PTR process = 0, system = 0;
  if (GetProcessAffinityMask(GetCurrentProcess(), &process, &system) && process)
    return unsigned(__builtin_popcountll(process));
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwNumberOfProcessors ? unsigned(si.dwNumberOfProcessors) : 1;
}

uint64_t entropy() noexcept {
  uint64_t r = 0;
  if (BCryptGenRandom(nullptr, reinterpret_cast<PUCHAR>(&r), sizeof r, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) {
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    r = uint64_t(t.QuadPart) * 0x9E3779B97F4A7C15ull ^ uint64_t(uintptr_t(&r)) ^ uint64_t(GetCurrentProcessId()) << 32;
  }
  return r;
}

uint64_t monotonic_ms() noexcept { return GetTickCount64(); }
bool single_threaded() noexcept { return false; }

void sleep_ms(uint64_t ms) noexcept { Sleep(ms > 0xFFFFFFF0u ? 0xFFFFFFF0u : DWORD(ms)); }

bool start_helper_thread(void* (*fn)(void*), size_t stack_bytes) noexcept {
  return start_detached_thread(fn, stack_bytes);
}

}  // namespace heapmark::os
