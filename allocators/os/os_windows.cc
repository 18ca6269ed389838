// Windows implementation of the OS contract (os.h): the only file in the
// allocators that calls VirtualAlloc or VirtualFree. Built by the `windows`
// preset (mingw-w64); os.h says where each call differs from Linux.
#include <windows.h>
// After windows.h: bcrypt.h needs its types.
#include <bcrypt.h>
#include <pthread.h>

#include <atomic>

#include "os.h"

namespace heapmark::os {
namespace {

std::atomic<size_t> g_page{0}, g_granularity{0};
std::atomic<size_t> g_reserved{0}, g_committed{0}, g_decommitted{0}, g_released{0};

void read_system_info() noexcept {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  g_granularity.store(si.dwAllocationGranularity ? si.dwAllocationGranularity : 65536, std::memory_order_relaxed);
  g_page.store(si.dwPageSize ? si.dwPageSize : 4096, std::memory_order_relaxed);
}

void* reserve_at(void* addr, size_t size) noexcept {
  return VirtualAlloc(addr, size, MEM_RESERVE, PAGE_NOACCESS);
}

}  // namespace

size_t page_size() noexcept {
  size_t p = g_page.load(std::memory_order_relaxed);
  if (p == 0) {
    read_system_info();
    p = g_page.load(std::memory_order_relaxed);
  }
  return p;
}

size_t allocation_granularity() noexcept {
  size_t g = g_granularity.load(std::memory_order_relaxed);
  if (g == 0) {
    read_system_info();
    g = g_granularity.load(std::memory_order_relaxed);
  }
  return g;
}

void* reserve(size_t size, size_t align) noexcept {
  const size_t page = page_size();
  if (size == 0 || size % page != 0 || (align & (align - 1)) != 0) return nullptr;
  if (align <= allocation_granularity()) {
    void* p = reserve_at(nullptr, size);
    if (p) g_reserved.fetch_add(size, std::memory_order_relaxed);
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
      g_reserved.fetch_add(size, std::memory_order_relaxed);
      return p;
    }
    if (p) VirtualFree(p, 0, MEM_RELEASE);
  }
  return nullptr;
}

bool commit(void* addr, size_t size) noexcept {
  if (!VirtualAlloc(addr, size, MEM_COMMIT, PAGE_READWRITE)) return false;
  g_committed.fetch_add(size, std::memory_order_relaxed);
  return true;
}

void decommit(void* addr, size_t size) noexcept {
  VirtualFree(addr, size, MEM_DECOMMIT);
  g_decommitted.fetch_add(size, std::memory_order_relaxed);
}

bool recommit(void* addr, size_t size) noexcept { return commit(addr, size); }

void purge(void* addr, size_t size) noexcept {
  // Decommit drops the pages; committing again at once keeps the range usable
  // (reads zero), so the commit charge stays where it was.
  VirtualFree(addr, size, MEM_DECOMMIT);
  VirtualAlloc(addr, size, MEM_COMMIT, PAGE_READWRITE);
  g_decommitted.fetch_add(size, std::memory_order_relaxed);
}

void decommit_lazy(void* addr, size_t size) noexcept {
  VirtualAlloc(addr, size, MEM_RESET, PAGE_READWRITE);
  g_decommitted.fetch_add(size, std::memory_order_relaxed);
}

void release(void* addr, size_t size) noexcept {
  VirtualFree(addr, 0, MEM_RELEASE);  // the size of a release is always the whole reservation
  g_released.fetch_add(size, std::memory_order_relaxed);
}

Counters counters() noexcept {
  return Counters{g_reserved.load(std::memory_order_relaxed), g_committed.load(std::memory_order_relaxed),
                  g_decommitted.load(std::memory_order_relaxed), g_released.load(std::memory_order_relaxed)};
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

void sleep_ms(uint64_t ms) noexcept { Sleep(ms > 0xFFFFFFF0u ? 0xFFFFFFF0u : DWORD(ms)); }

bool start_helper_thread(void* (*fn)(void*), size_t stack_bytes) noexcept {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, stack_bytes);
  pthread_t t;
  bool ok = pthread_create(&t, &attr, fn, nullptr) == 0;
  pthread_attr_destroy(&attr);
  return ok;
}

}  // namespace heapmark::os
