#include "workloads/scratch.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstring>

namespace heapmark::workloads {

Scratch::Scratch(size_t capacity) : capacity_(capacity) {
  void* p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  base_ = static_cast<char*>(p);
}

Scratch::~Scratch() { munmap(base_, capacity_); }

void* Scratch::allocate(size_t bytes) {
  const size_t start = (used_ + 63) & ~size_t{63};
  if (start + bytes > capacity_) throw std::bad_alloc();
  used_ = start + bytes;
  // Fault the pages in now: the harness's resident size is then fixed before
  // measurement and counted in the baseline R0, not in the allocator's RSS.
  // Large tables (a trace replay's live map and the executor's slots, tens of
  // MiB, read at random) in transparent huge pages where the machine allows
  // madvise: with 4 KiB pages every lookup also missed the TLB.
  if (bytes >= (size_t{4} << 20)) {
    const uintptr_t a =
        (reinterpret_cast<uintptr_t>(base_ + start) + (size_t{2} << 20) - 1) & ~((uintptr_t{2} << 20) - 1);
    const uintptr_t e = (reinterpret_cast<uintptr_t>(base_ + start + bytes)) & ~((uintptr_t{2} << 20) - 1);
    if (e > a) madvise(reinterpret_cast<void*>(a), e - a, MADV_HUGEPAGE);
  }
  std::memset(base_ + start, 0, bytes);
  return base_ + start;
}

}  // namespace heapmark::workloads
