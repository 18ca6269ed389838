#include "workloads/repro/engine.h"

#include <algorithm>
#include <map>

namespace heapmark::workloads::repro {

size_t ReproThread::next(Op* out, size_t cap) noexcept {
  size_t n = 0;
  while (n < cap && phase_ < phases_) {
    if (pending_send_) {
      out[n++] = send_;
      pending_send_ = false;
      continue;
    }
    if (!started_) {
      out[n++] = Op{OpKind::kPhase, 0, 0, phase_, 0};
      started_ = true;
      seg_ = pos_ = 0;
      continue;
    }
    const auto& p = segs_[phase_];
    if (seg_ == p.n) {
      ++phase_;
      started_ = false;
      continue;
    }
    const Seg& s = p.s[seg_];
    if (pos_ == s.count) {
      ++seg_;
      pos_ = 0;
      continue;
    }
    const uint32_t i = pos_++;
    const uint32_t id = s.first + i * s.stride;
    switch (s.kind) {
      case Seg::kAllocRun:
        out[n++] = Op{OpKind::kAlloc, 0, 0, id, s.size2 != 0 && i % 2 == 1 ? s.size2 : s.size};
        if (s.to != kNoSend) pending_send_ = true, send_ = Op{OpKind::kSend, 0, 0, id, s.to};
        break;
      case Seg::kFreeRun:
        if (s.keep == 0 || i % s.keep != s.keep - 1) out[n++] = Op{OpKind::kFree, 0, 0, id, 0};
        break;
      case Seg::kRecvRun: out[n++] = Op{OpKind::kRecv, 0, 0, id, 0}; break;
      case Seg::kOne: out[n++] = s.op; break;
    }
  }
  return n;
}

void ReproThread::add(uint32_t phase, const Seg& s) {
  auto& p = segs_[phase];
  if (p.n < kMaxSegs) p.s[p.n++] = s;
}

void ReproThread::alloc_run(uint32_t phase, uint32_t first, uint32_t count, uint64_t size, uint32_t stride,
                            uint64_t size2, int send_to) {
  Seg s{Seg::kAllocRun};
  s.first = first, s.count = count, s.size = size, s.stride = stride, s.size2 = size2;
  s.to = send_to < 0 ? kNoSend : static_cast<uint32_t>(send_to);
  add(phase, s);
}

void ReproThread::free_run(uint32_t phase, uint32_t first, uint32_t count, uint32_t keep, uint32_t stride) {
  Seg s{Seg::kFreeRun};
  s.first = first, s.count = count, s.keep = keep, s.stride = stride;
  add(phase, s);
}

void ReproThread::recv_run(uint32_t phase, uint32_t first, uint32_t count) {
  Seg s{Seg::kRecvRun};
  s.first = first, s.count = count;
  add(phase, s);
}

void ReproThread::one(uint32_t phase, Op op) {
  Seg s{Seg::kOne};
  s.count = 1, s.op = op;
  add(phase, s);
}

void ReproThread::tail(const Knobs& k, bool waits) {
  set_wait_spec(k.wait);
  if (waits) {
    one(kIdleP, Op{OpKind::kIdle, 0, kUntilReturned, 0, k.idle_ms});
    one(kActP, Op{OpKind::kActivity, 0, static_cast<uint16_t>(k.activity_ms ? 0 : kUntilReturned), 0, k.activity_ms});
  }
  one(kRelP, Op{OpKind::kRelease, 0, 0, 0, 0});
}

ReproThread& Threads::add() {
  auto* t = scratch_.make<ReproThread>();
  out_.push_back(t);
  return *t;
}

uint32_t blocks(uint64_t bytes, uint64_t size) { return static_cast<uint32_t>(std::max<uint64_t>(1, bytes / size)); }

void fill_then_free(const Knobs& k, Threads& threads, uint64_t size, uint32_t keep) {
  const uint32_t n = blocks(k.bytes(), size);
  auto& t = threads.add();
  t.set_ids(n);
  t.alloc_run(kPeak, 0, n, size);
  t.free_run(kFreeP, 0, n, keep);
  t.tail(k);
}

void sixteen_blocks_three_times(const Knobs& k, Threads& threads, uint64_t size) {
  auto& t = threads.add();
  t.set_ids(16);
  for (int round = 0; round < 2; ++round) {
    t.alloc_run(kPeak, 0, 16, size);
    t.free_run(kPeak, 0, 16);
  }
  t.alloc_run(kPeak, 0, 16, size);
  t.free_run(kFreeP, 0, 16);
  t.tail(k);
}

namespace {
std::map<int, Recipe>& recipes() {
  static std::map<int, Recipe> all;
  return all;
}
}  // namespace

RecipeRegistrar::RecipeRegistrar(int id, Recipe recipe) { recipes()[id] = recipe; }

Recipe find_recipe(int id) {
  const auto it = recipes().find(id);
  return it == recipes().end() ? nullptr : it->second;
}

std::vector<int> recipe_ids() {
  std::vector<int> ids;
  for (const auto& [id, _] : recipes()) ids.push_back(id);
  return ids;
}

}  // namespace heapmark::workloads::repro
