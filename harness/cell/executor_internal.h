// What the executor's files share (executor.h describes the executor; which
// file holds what: the list at the top of executor.cc): the page size, the
// allocation sink and which ops are allocator calls. Internal to the cell.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "workloads/op.h"

// Hidden: resolved inside the cell's own link, without the GOT.
#pragma GCC visibility push(hidden)

namespace heapmark::cell {

constexpr uint64_t kPage = 4096;

// The compiler may not delete an allocation whose pointer reaches this (executor_calls.cc).
extern void* volatile g_sink;

inline bool is_call(workloads::OpKind k) noexcept {
  return k == workloads::OpKind::kAlloc || k == workloads::OpKind::kFree || k == workloads::OpKind::kRealloc;
}

}  // namespace heapmark::cell

#pragma GCC visibility pop
