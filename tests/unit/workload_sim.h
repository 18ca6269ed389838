// Test helpers for op-program generators. drain() runs a one-thread program to
// its end in odd-sized chunks; simulate() runs every thread's program
// round-robin, one op at a time, the way the executor's rules allow (kRecv
// waits for its kSend, phases are global), and checks the bookkeeping the
// executor relies on: a block is allocated only when not live, freed or
// reallocated only when live and by the thread that owns it (it allocated or
// received it), and an id is sent again only after it was received.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "workloads/catalog.h"

struct Drained {
  std::vector<heapmark::workloads::Op> ops;
  uint64_t checksum = 0;
  std::vector<std::string> phases;
};

inline Drained drain(const std::string& workload, std::map<std::string, std::string> given, uint64_t seed) {
  using namespace heapmark::workloads;
  const auto& def = find_workload(workload);
  const Params p = Params::resolve(def.name, def.params, given);
  Scratch scratch(def.scratch_bytes(p) + (1 << 20));
  auto programs = def.make(p, seed, scratch);
  EXPECT_EQ(programs.size(), 1u);
  Drained d;
  Checksum c;
  Op buf[333];  // an odd chunk size exercises resumption mid-phase
  size_t n;
  while ((n = programs[0]->next(buf, 333)) > 0)
    for (size_t i = 0; i < n; ++i) {
      d.ops.push_back(buf[i]);
      c.add(buf[i]);
      if (buf[i].kind == OpKind::kPhase) d.phases.push_back(programs[0]->phase_name(buf[i].id));
      EXPECT_LT(buf[i].id, programs[0]->max_ids());
    }
  d.checksum = c.h;
  return d;
}

struct SimFree {
  uint32_t id;
  uint32_t alloc_thread;  // the thread that allocated the block
  uint32_t free_thread;
  uint32_t phase;  // index of the phase the free ran in
  uint64_t size;   // the block's size when freed
};

struct SimResult {
  std::vector<uint32_t> free_thread;  // per free op, in execution order
  uint64_t allocs = 0, frees = 0, live_end = 0;
  std::vector<SimFree> freed;                             // every free, in execution order
  std::vector<std::vector<heapmark::workloads::Op>> ops;  // each thread's program
  uint64_t checksum = 0;                                  // as the executor combines the threads'
  std::vector<std::string> phases;
  bool deadlock = false;
};

inline SimResult simulate(const std::string& workload, std::map<std::string, std::string> given, uint64_t seed = 5) {
  using namespace heapmark::workloads;
  const auto& def = find_workload(workload);
  const Params p = Params::resolve(def.name, def.params, given);
  Scratch scratch(def.scratch_bytes(p) + (1 << 20));
  auto programs = def.make(p, seed, scratch);
  SimResult r;
  r.ops.resize(programs.size());
  uint32_t ids = 0;
  Checksum all;
  for (size_t t = 0; t < programs.size(); ++t) {
    EXPECT_EQ(programs[t]->phase_count(), programs[0]->phase_count());
    Op buf[100];
    size_t n;
    Checksum c;
    while ((n = programs[t]->next(buf, 100)) > 0) {
      r.ops[t].insert(r.ops[t].end(), buf, buf + n);
      for (size_t i = 0; i < n; ++i) {
        c.add(buf[i]);
        EXPECT_LT(buf[i].id, programs[t]->max_ids()) << "thread " << t;
      }
    }
    all.add(Op{OpKind::kPhase, 0, 0, static_cast<uint32_t>(t), c.h});
    ids = std::max(ids, programs[t]->max_ids());
    if (programs.size() == 1) r.checksum = c.h;
  }
  if (programs.size() > 1) r.checksum = all.h;
  std::vector<char> live(ids), sent(ids);
  std::vector<uint32_t> owner(ids), allocator(ids);
  std::vector<uint64_t> size(ids);
  std::vector<size_t> pc(programs.size(), 0);
  uint32_t phase = 0;
  for (;;) {
    bool progressed = false, all_done = true;
    // A phase op is taken only when every thread stands at one (or has ended).
    bool all_at_phase = true;
    for (size_t t = 0; t < r.ops.size(); ++t)
      if (pc[t] < r.ops[t].size() && r.ops[t][pc[t]].kind != OpKind::kPhase) all_at_phase = false;
    for (size_t t = 0; t < r.ops.size(); ++t) {
      if (pc[t] >= r.ops[t].size()) continue;
      all_done = false;
      const Op& op = r.ops[t][pc[t]];
      const auto tt = static_cast<uint32_t>(t);
      switch (op.kind) {
        case OpKind::kPhase:
          if (!all_at_phase) continue;
          if (t == 0) r.phases.push_back(programs[0]->phase_name(op.id));
          phase = op.id;
          break;
        case OpKind::kRecv:
          if (!sent[op.id]) continue;
          sent[op.id] = 0;
          if (live[op.id]) owner[op.id] = tt;
          break;
        case OpKind::kSend:
          EXPECT_FALSE(sent[op.id]) << "thread " << t << " sends id " << op.id << " again before it was received";
          if (live[op.id]) {
            EXPECT_EQ(owner[op.id], tt) << "thread " << t << " sends id " << op.id << " it does not own";
          }
          sent[op.id] = 1;
          break;
        case OpKind::kAlloc:
          EXPECT_FALSE(live[op.id]) << "id " << op.id << " allocated while live";
          live[op.id] = 1;
          owner[op.id] = allocator[op.id] = tt;
          size[op.id] = op.size;
          ++r.allocs;
          break;
        case OpKind::kRealloc:
          EXPECT_TRUE(live[op.id]) << "id " << op.id << " reallocated while not live";
          EXPECT_EQ(owner[op.id], tt) << "thread " << t << " reallocates id " << op.id << " it does not own";
          size[op.id] = op.size;
          break;
        case OpKind::kFree:
          EXPECT_TRUE(live[op.id]) << "id " << op.id << " freed while not live";
          EXPECT_EQ(owner[op.id], tt) << "thread " << t << " frees id " << op.id << " it does not own";
          live[op.id] = 0;
          ++r.frees;
          r.free_thread.push_back(tt);
          r.freed.push_back(SimFree{op.id, allocator[op.id], tt, phase, size[op.id]});
          break;
        default: break;
      }
      ++pc[t];
      progressed = true;
    }
    if (all_done) break;
    if (!progressed) {
      ADD_FAILURE() << "deadlock: every thread waits";
      r.deadlock = true;
      break;
    }
  }
  for (char l : live) r.live_end += l;
  return r;
}
