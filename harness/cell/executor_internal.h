// What the executor's files share (executor.h describes the executor; which
// file holds what: the list at the top of executor.cc): the page size, the
// allocation sink, which ops are allocator calls, and the per-op accounting.
// Internal to the cell.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "harness/cell/executor.h"
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

// Every op, timed or not: the checksum and the counts. Inline: the op loop and
// the batch path call it for every op.
inline void Executor::account(Thread& t, const workloads::Op& op, bool exact) noexcept {
  if (exact) t.checksum.add(op);
  else if (op.kind != workloads::OpKind::kPhase)
    t.checksum.add(workloads::Op{op.kind, op.align_log2, op.flags, 0, op.size});
  ++t.program_ops;
  ++t.ops[static_cast<int>(op.kind)];
}

}  // namespace heapmark::cell

#pragma GCC visibility pop
