// Memory for generator state and executor tables that stays outside the
// allocator under test: one anonymous mapping, bump-allocated, unmapped at the
// end. Everything a workload needs beyond its parameters comes from here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace heapmark::workloads {

class Scratch {
 public:
  explicit Scratch(size_t capacity);  // reserves address space only
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  // Zeroed, 64-byte aligned, already resident. Throws std::bad_alloc when the mapping is exhausted
  // (only during setup, never inside a measured phase).
  void* allocate(size_t bytes);
  template <class T>
  T* array(size_t n) {
    return static_cast<T*>(allocate(n * sizeof(T)));
  }
  template <class T, class... Args>
  T* make(Args&&... args) {
    return new (allocate(sizeof(T))) T(std::forward<Args>(args)...);
  }
  size_t used() const noexcept { return used_; }
  uintptr_t begin() const noexcept { return reinterpret_cast<uintptr_t>(base_); }
  uintptr_t end() const noexcept { return reinterpret_cast<uintptr_t>(base_) + capacity_; }

 private:
  char* base_;
  size_t capacity_;
  size_t used_ = 0;
};

}  // namespace heapmark::workloads
