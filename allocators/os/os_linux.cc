// Linux implementation of the OS contract (os.h): the only file in the
// allocators that calls mmap, munmap, madvise or mprotect.
#include "os.h"
#include "shared.h"

#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

namespace heapmark::os {
namespace {

std::atomic<size_t> g_page{0};

void* map(size_t size, int prot) noexcept {
  void* p = ::mmap(nullptr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// size bytes at a multiple of align (a power of two above the page size, or 0),
// mapped with prot: over-mapped by align, then the misaligned head and the tail
// unmapped. nullptr when size is not whole pages or the system refuses.
void* map_aligned(size_t size, size_t align, int prot) noexcept {
  const size_t page = page_size();
  if (size == 0 || size % page != 0) return nullptr;
  if (align <= page) return map(size, prot);
  if ((align & (align - 1)) != 0) return nullptr;
  const size_t total = size + align;
  if (total < size) return nullptr;
  void* raw = map(total, prot);
  if (!raw) return nullptr;
  const uintptr_t base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (base + align - 1) & ~(uintptr_t)(align - 1);
  const size_t head = aligned - base;
  const size_t tail = total - head - size;
  if (head) ::munmap(raw, head);
  if (tail) ::munmap(reinterpret_cast<void*>(aligned + size), tail);
  return reinterpret_cast<void*>(aligned);
}

}  // namespace

size_t page_size() noexcept {
  size_t p = g_page.load(std::memory_order_relaxed);
  if (p == 0) {
    long v = ::sysconf(_SC_PAGESIZE);
    p = v > 0 ? static_cast<size_t>(v) : 4096;
    g_page.store(p, std::memory_order_relaxed);
  }
  return p;
}

size_t allocation_granularity() noexcept { return page_size(); }

void* reserve(size_t size, size_t align) noexcept {
  void* p = map_aligned(size, align, PROT_NONE);
  if (p) tally::add(tally::reserved, size);
  return p;
}

void* reserve_committed(size_t size, size_t align) noexcept {
  void* p = map_aligned(size, align, PROT_READ | PROT_WRITE);
  if (p) {
    tally::add(tally::reserved, size);
    tally::add(tally::committed, size);
  }
  return p;
}

void* remap(void* addr, size_t old_size, size_t new_size) noexcept {
  void* p = ::mremap(addr, old_size, new_size, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) return nullptr;
  tally::add(tally::released, old_size);
  tally::add(tally::reserved, new_size);
  tally::add(tally::committed, new_size);
  return p;
}

bool commit(void* addr, size_t size) noexcept {
  if (::mprotect(addr, size, PROT_READ | PROT_WRITE) != 0) return false;
  tally::add(tally::committed, size);
  return true;
}

void decommit(void* addr, size_t size) noexcept {
  ::madvise(addr, size, MADV_DONTNEED);
  tally::add(tally::decommitted, size);
}

bool recommit(void*, size_t size) noexcept {
  // MADV_DONTNEED left the range readable and writable: nothing to do.
  tally::add(tally::committed, size);
  return true;
}

void purge(void* addr, size_t size) noexcept { decommit(addr, size); }

void decommit_lazy(void* addr, size_t size) noexcept {
  // MADV_FREE needs Linux 4.5; fall back to DONTNEED where it is refused.
  if (::madvise(addr, size, MADV_FREE) != 0) ::madvise(addr, size, MADV_DONTNEED);
  tally::add(tally::decommitted, size);
}

void release(void* addr, size_t size) noexcept {
  ::munmap(addr, size);
  tally::add(tally::released, size);
}

unsigned online_cpus() noexcept {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return unsigned(n);
  }
  return 1;
}

uint64_t entropy() noexcept {
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != ssize_t(sizeof r)) {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    r = uint64_t(ts.tv_nsec) * 0x9E3779B97F4A7C15ull ^ uint64_t(uintptr_t(&r)) ^ uint64_t(getpid()) << 32;
  }
  return r;
}

uint64_t monotonic_ms() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

void sleep_ms(uint64_t ms) noexcept {
  timespec ts{time_t(ms / 1000), long(ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

bool start_helper_thread(void* (*fn)(void*), size_t stack_bytes) noexcept {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // the new thread inherits the full mask
  bool ok = start_detached_thread(fn, stack_bytes);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ok;
}

}  // namespace heapmark::os
