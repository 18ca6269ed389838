// The executor's allocator calls, each timed on its own with fenced
// timestamps, and the bookkeeping outside the timed window: the slot of the
// block, live bytes and their peak, touching the memory (or, with verify,
// filling it with a pattern from the block's id and checking it before a free
// or realloc), and every op's checksum and counts.
#include <stdlib.h>

#include <cstdio>
#include <cstring>

#include "harness/cell/executor.h"
#include "harness/cell/executor_internal.h"
#include "harness/metrics/tsc.h"

namespace heapmark::cell {

using workloads::Op;
using workloads::OpKind;
namespace tsc = metrics::tsc;

void* volatile g_sink;

namespace {
// The verify pattern: word k of block `id` holds mix(id) ^ k * golden, so a
// block that overlaps another, or is overwritten, shows the wrong id.
inline uint64_t pattern_word(uint32_t id, uint64_t k) noexcept {
  uint64_t z = (uint64_t{id} + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
  return z ^ (k * 0x94d049bb133111ebull);
}
}  // namespace

void Executor::prepare(void* p, uint32_t id, uint64_t from, uint64_t to) const noexcept {
  if (to <= from) return;
  auto* b = static_cast<unsigned char*>(p);
  if (config_.verify) {
    // Byte-wise up to a word boundary and for the tail, word-wise between.
    uint64_t off = from;
    for (; off < to && off % 8; ++off)
      b[off] = static_cast<unsigned char>(pattern_word(id, off / 8) >> (8 * (off % 8)));
    for (; off + 8 <= to; off += 8) {
      const uint64_t w = pattern_word(id, off / 8);
      std::memcpy(b + off, &w, 8);
    }
    for (; off < to; ++off) b[off] = static_cast<unsigned char>(pattern_word(id, off / 8) >> (8 * (off % 8)));
    return;
  }
  switch (config_.touch) {
    case Touch::kNone: return;
    case Touch::kFull: std::memset(b + from, 0xa5, to - from); return;
    case Touch::kPages: {
      // One write per page the range covers, so RSS reflects the block's size.
      auto* v = static_cast<volatile unsigned char*>(p);
      for (uint64_t off = from; off < to; off += kPage) v[off] = 1;
      v[to - 1] = 1;
      return;
    }
  }
}

void Executor::check(const Slot& s, uint32_t id, uint64_t upto, const char* before) noexcept {
  const auto* b = static_cast<const unsigned char*>(s.p);
  for (uint64_t off = 0; off < upto;) {
    if (off % 8 == 0 && off + 8 <= upto) {  // whole words while they match
      uint64_t w;
      std::memcpy(&w, b + off, 8);
      if (w == pattern_word(id, off / 8)) {
        off += 8;
        continue;
      }
    }
    const auto want = static_cast<unsigned char>(pattern_word(id, off / 8) >> (8 * (off % 8)));
    if (b[off] == want) {  // a word differed: find the first byte that does
      ++off;
      continue;
    }
    char text[256];
    std::snprintf(text, sizeof text,
                  "verify: block id %u (%llu bytes at %p) was overwritten at offset %llu before %s: "
                  "the allocator handed out overlapping blocks or corrupted a live one",
                  id, static_cast<unsigned long long>(s.size), s.p, static_cast<unsigned long long>(off), before);
    fail(ErrorCode::kVerify, kExitVerifyFailed, text);
  }
}

void Executor::add_live(int64_t bytes, int64_t usable, int64_t blocks, uint64_t tsc_now) noexcept {
  // One thread: plain loads and stores (the watcher and the runner only read), no locked adds.
  auto add = [this](std::atomic<int64_t>& a, int64_t d) {
    if (thread_count_ > 1) return a.fetch_add(d, std::memory_order_relaxed) + d;
    const int64_t v = a.load(std::memory_order_relaxed) + d;
    a.store(v, std::memory_order_relaxed);
    return v;
  };
  const int64_t now = add(live_, bytes);
  const int64_t now_usable = add(live_usable_, usable);
  add(live_blocks_, blocks);
  if (now > 0 && static_cast<uint64_t>(now) > peak_.load(std::memory_order_relaxed)) {
    const bool locked = thread_count_ > 1;
    if (locked)
      while (peak_lock_.test_and_set(std::memory_order_acquire)) {
      }
    if (static_cast<uint64_t>(now) > peak_.load(std::memory_order_relaxed)) {
      peak_.store(static_cast<uint64_t>(now), std::memory_order_relaxed);
      peak_usable_ = static_cast<uint64_t>(now_usable);
      peak_tsc_ = tsc_now;
    }
    if (locked) peak_lock_.clear(std::memory_order_release);
  }
  if (config_.shared)
    config_.shared->live_bytes.store(static_cast<uint64_t>(now > 0 ? now : 0), std::memory_order_relaxed);
}

void Executor::do_alloc(Thread& t, const Op& op) noexcept {
  Slot& s = slots_[op.id];
  void* p;
  uint64_t t0, t1;
  if (op.align_log2 == 0) {
    t0 = tsc::begin();
    p = malloc(op.size);
    t1 = tsc::end();
  } else {
    t0 = tsc::begin();
    if (posix_memalign(&p, size_t{1} << op.align_log2, op.size) != 0) p = nullptr;
    t1 = tsc::end();
  }
  t.hist[static_cast<int>(OpKind::kAlloc)].record(t1 - t0);
  ++t.phase_ops;
  t.phase_cycles += t1 - t0;
  g_sink = p;
  if (!p) {
    ++t.failed_allocs;
    s.p = nullptr;
    s.size = s.usable = 0;
    return;
  }
  const uint64_t usable = hooks_.usable_size ? hooks_.usable_size(p) : 0;
  s.p = p;
  s.size = op.size;
  s.usable = usable;
  s.site = op.site;
  s.born_ms = op.born_ms;
  prepare(p, op.id, 0, op.size);
  add_live(static_cast<int64_t>(op.size), static_cast<int64_t>(usable), 1, t1);
}

void Executor::do_free(Thread& t, const Op& op) noexcept {
  Slot& s = slots_[op.id];
  if (!s.p) return;  // its allocation failed
  if (config_.verify) check(s, op.id, s.size, "free");
  const uint64_t t0 = tsc::begin();
  free(s.p);
  const uint64_t t1 = tsc::end();
  t.hist[static_cast<int>(OpKind::kFree)].record(t1 - t0);
  ++t.phase_ops;
  t.phase_cycles += t1 - t0;
  add_live(-static_cast<int64_t>(s.size), -static_cast<int64_t>(s.usable), -1, t1);
  s.p = nullptr;
  s.size = s.usable = 0;
}

void Executor::do_realloc(Thread& t, const Op& op) noexcept {
  Slot& s = slots_[op.id];
  if (config_.verify && s.p) check(s, op.id, s.size, "realloc");
  const uint64_t t0 = tsc::begin();
  void* p = realloc(s.p, op.size);
  const uint64_t t1 = tsc::end();
  t.hist[static_cast<int>(OpKind::kRealloc)].record(t1 - t0);
  ++t.phase_ops;
  t.phase_cycles += t1 - t0;
  g_sink = p;
  if (!p) {
    ++t.failed_allocs;  // the old block stays valid and live
    return;
  }
  const uint64_t old_size = s.p ? s.size : 0;
  const uint64_t usable = hooks_.usable_size ? hooks_.usable_size(p) : 0;
  const int64_t d_usable = static_cast<int64_t>(usable) - static_cast<int64_t>(s.p ? s.usable : 0);
  const int64_t d_blocks = s.p ? 0 : 1;
  s.p = p;
  s.size = op.size;
  s.usable = usable;
  s.site = op.site;
  s.born_ms = op.born_ms;
  if (config_.verify && old_size)
    check(s, op.id, old_size < op.size ? old_size : op.size, "use after realloc (contents not preserved)");
  prepare(p, op.id, old_size, op.size);  // only the grown part is new
  add_live(static_cast<int64_t>(op.size) - static_cast<int64_t>(old_size), d_usable, d_blocks, t1);
}

}  // namespace heapmark::cell
