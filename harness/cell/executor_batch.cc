// --timing batch: the executor runs up to batch_calls consecutive allocator
// calls back to back between one unfenced timestamp pair, as a benchmark loop
// runs them, and does the bookkeeping (usable sizes, touching the memory,
// live bytes) after the batch from the pointers the calls returned.
#include <stdlib.h>

#include "harness/cell/executor.h"
#include "harness/cell/executor_internal.h"
#include "harness/metrics/tsc.h"

namespace heapmark::cell {

using workloads::Op;
using workloads::OpKind;

// --timing batch: the allocator calls among ops[first..n), up to batch_calls
// of them in a row, run back to back between one unfenced timestamp pair (a
// benchmark loop's timing: the calls overlap in the pipeline as they would in
// a program). The window holds the calls and the pointers they return or
// take, nothing else; live bytes, usable sizes and touching the memory are
// worked out after it from those pointers. Returns the index of the first op
// after the batch.
size_t Executor::run_batch(Thread& t, const Op* ops, size_t first, size_t n) noexcept {
  const bool exact = t.program->checksum_exact();
  size_t end = first;
  while (end < n && end - first < config_.batch_calls && is_call(ops[end].kind)) account(t, ops[end++], exact);
  const uint32_t calls = static_cast<uint32_t>(end - first);
  uint64_t t1;
  const uint64_t cycles = batch_window(t, ops + first, ops + end, t1);
  t.batch_calls += calls;
  t.batch_cycles += cycles;
  t.phase_ops += calls;
  t.phase_cycles += cycles;
  if (config_.tsc_hz > 0)
    t.hist[workloads::kOpKinds].record(
        static_cast<uint64_t>(static_cast<double>(cycles) * 1e12 / config_.tsc_hz / calls));
  int64_t live_delta = 0, usable_delta = 0, blocks_delta = 0;
  batch_sizes(t, ops, first, end, live_delta, usable_delta, blocks_delta);
  batch_settle(t, ops, first, end, usable_delta);
  add_live(live_delta, usable_delta, blocks_delta, t1);
  return end;
}

// The timed window: the calls of ops [begin, end) back to back between one
// unfenced timestamp pair; each call's block (or the block it freed) goes
// into t.batch_ptr, a realloc's old block into t.batch_old. Returns the
// cycles; t1 is the closing timestamp.
uint64_t Executor::batch_window(Thread& t, const Op* begin, const Op* end, uint64_t& t1) noexcept {
  void** got = t.batch_ptr;  // alloc, realloc: the new block (null: failed); free: the block freed (null: none)
  void** old = t.batch_old;  // realloc: the block it was given
  // The block the previous call made stays in a register: a free of it (the
  // malloc+free pair) does not wait for its pointer to come back from the
  // slot through memory, as a loop's own `free(p)` would not.
  uint32_t last_id = UINT32_MAX;
  void* last_p = nullptr;
  // Locals, not members, in the window: the allocator is an opaque call that
  // could change any member, so each would be loaded again after every call.
  Slot* const slots = slots_;
  void** g = got;
  void** o = old;
  const uint64_t t0 = __rdtsc();
  for (const Op* op = begin; op != end; ++op, ++g, ++o) {
    switch (op->kind) {
      case OpKind::kAlloc: {
        void* p;
        if (op->align_log2 == 0) p = malloc(op->size);
        else if (posix_memalign(&p, size_t{1} << op->align_log2, op->size) != 0) p = nullptr;
        slots[op->id].p = *g = last_p = p;
        last_id = op->id;
        break;
      }
      case OpKind::kFree: {
        Slot& s = slots[op->id];
        void* p = op->id == last_id ? last_p : s.p;
        *g = p;
        s.p = nullptr;  // before the call: the slot's address need not survive it
        free(p);        // free(NULL) when its allocation failed: nothing
        last_id = UINT32_MAX;
        break;
      }
      default: {
        Slot& s = slots[op->id];
        void* q = realloc(*o = s.p, op->size);
        *g = q;
        if (q) s.p = q;  // else the old block stays valid and live
        last_id = UINT32_MAX;
        break;
      }
    }
  }
  t1 = __rdtsc();
  return t1 - t0;
}

// After the window, in call order: the live, usable and block deltas of the
// batch and the sizes of its slots.
void Executor::batch_sizes(Thread& t, const Op* ops, size_t first, size_t end, int64_t& live_delta,
                           int64_t& usable_delta, int64_t& blocks_delta) noexcept {
  void** got = t.batch_ptr;
  void** old = t.batch_old;
  // The sizes, in call order: a slot's size and usable size stay as they were
  // before the batch until a call of the batch changes them.
  for (size_t i = first; i < end; ++i) {
    const Op& op = ops[i];
    Slot& s = slots_[op.id];
    void* p = got[i - first];
    if (op.kind == OpKind::kAlloc) {
      if (!p) {
        ++t.failed_allocs;
        continue;
      }
      live_delta += static_cast<int64_t>(op.size);
      ++blocks_delta;
      s.size = op.size;
      s.usable = 0;  // until settled below
    } else if (op.kind == OpKind::kFree) {
      if (!p) continue;
      live_delta -= static_cast<int64_t>(s.size);
      usable_delta -= static_cast<int64_t>(s.usable);
      --blocks_delta;
      s.size = s.usable = 0;
    } else if (!p) {
      ++t.failed_allocs;
    } else {
      const bool had = old[i - first] != nullptr;
      live_delta += static_cast<int64_t>(op.size) - static_cast<int64_t>(had ? s.size : 0);
      usable_delta -= static_cast<int64_t>(had ? s.usable : 0);
      blocks_delta += had ? 0 : 1;
      old[i - first] = reinterpret_cast<void*>(had ? s.size : 0);  // now: where the new bytes start
      s.size = op.size;
      s.usable = 0;
    }
  }
}

// Then from the last call back: each slot the batch left live is sized and
// touched once.
void Executor::batch_settle(Thread& t, const Op* ops, size_t first, size_t end, int64_t& usable_delta) noexcept {
  void** got = t.batch_ptr;
  void** old = t.batch_old;
  // The blocks still live, from the last call back: a slot is settled by the
  // last call of this batch that names it (the stamp); a live block is sized
  // and touched there. A block freed within its own batch is never touched.
  const uint32_t stamp = ++t.batch_seq * thread_count_ + t.index;  // unique among the threads' batches
  for (size_t i = end; i-- > first;) {
    const Op& op = ops[i];
    Slot& s = slots_[op.id];
    if (s.batch_stamp == stamp) continue;
    s.batch_stamp = stamp;
    if (op.kind == OpKind::kFree || !s.p || got[i - first] != s.p) continue;
    s.usable = hooks_.usable_size ? hooks_.usable_size(s.p) : 0;
    usable_delta += static_cast<int64_t>(s.usable);
    s.site = op.site;
    s.born_ms = op.born_ms;
    prepare(s.p, op.id, op.kind == OpKind::kRealloc ? reinterpret_cast<uintptr_t>(old[i - first]) : 0, s.size);
  }
}

}  // namespace heapmark::cell
