// trace: replays a recorded allocation trace (.hmt, `heapmark record`) as op
// programs, one per recorded thread. Sizes and alignments are kept; a block
// freed (or reallocated) by another thread than the one that made it is handed
// over with kSend right after it is made and kRecv right before it is used,
// which orders the threads the way the recorded run did. timing=as-recorded
// inserts the recorded gaps between a thread's calls as kIdle.
//
// Everything is converted in make(), from the mapped file into Scratch: no
// heap, and next() only copies ops. Block ids are renumbered densely, each
// thread reusing the ids it freed, so max_ids tracks the peak live blocks.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "common/input_error.h"
#include "workloads/catalog.h"
#include "workloads/trace_format.h"

namespace heapmark::workloads {
namespace {

namespace tr = heapmark::trace;

class TraceProgram final : public Program {
 public:
  TraceProgram(const Op* ops, size_t n, const uint32_t* max_ids) : ops_(ops), n_(n), max_ids_(max_ids) {}
  size_t next(Op* out, size_t cap) noexcept override {
    size_t k = 0;
    while (k < cap && pos_ < n_) out[k++] = ops_[pos_++];
    return k;
  }
  uint32_t max_ids() const noexcept override { return *max_ids_ > 0 ? *max_ids_ : 1; }
  const char* phase_name(uint32_t) const noexcept override { return "replay"; }
  uint32_t phase_count() const noexcept override { return 1; }

 private:
  const Op* ops_;
  size_t n_;
  size_t pos_ = 0;
  const uint32_t* max_ids_;
};

bool is_alloc(tr::Op op) { return op == tr::Op::kMalloc || op == tr::Op::kCalloc || op == tr::Op::kAligned; }

std::vector<Program*> make_programs(const std::string& path, bool as_recorded, Scratch& s) {
  tr::MappedFile file(path);
  tr::Event e;
  // Pass 1: shape (threads, ids).
  uint64_t events = 0;
  uint32_t threads = 0;
  uint64_t max_id = 0;
  {
    tr::Reader r(file.data(), file.size(), path);
    while (r.next(e)) ++events;
    threads = r.threads();
    max_id = r.max_id();
    if (r.lost())
      throw InputError(path + ": incomplete trace: " + std::to_string(r.lost()) + " events were not recorded (" +
                       tr::lost_reason_text(r.lost_reasons()) + "): record it again");
  }
  if (max_id >= UINT32_MAX) throw InputError(path + ": more than 2^32 blocks: too long to replay");
  // Per recorded block: who made it, who consumed it (free/realloc), what a realloc made of it.
  auto* creator = s.array<uint16_t>(max_id + 1);  // thread + 1, 0 = never made in the trace
  auto* consumer = s.array<uint16_t>(max_id + 1);
  auto* successor = s.array<uint32_t>(max_id + 1);
  auto* pred = s.array<uint32_t>(max_id + 1);     // realloc source + 1
  auto* rebirth = s.array<uint8_t>(max_id + 1);   // made by a realloc replayed as free + alloc
  {
    tr::Reader r(file.data(), file.size(), path);
    while (r.next(e)) {
      const auto t1 = static_cast<uint16_t>(e.thread + 1);
      if (is_alloc(e.op)) creator[e.id] = t1;
      if (e.op == tr::Op::kFree && consumer[e.id] == 0) consumer[e.id] = t1;
      if (e.op == tr::Op::kRealloc) {
        creator[e.id] = t1;
        if (consumer[e.old_id] == 0) {
          consumer[e.old_id] = t1;
          successor[e.old_id] = static_cast<uint32_t>(e.id);
          pred[e.id] = static_cast<uint32_t>(e.old_id) + 1;
        }
      }
    }
  }
  // The executor's handoff flag is per id, not per receiver, so an id may be
  // sent only once in its life: where a realloc chain would hand the same id
  // over a second time, that realloc is replayed as free + alloc (the live
  // bytes after it are the same) and the chain goes on under a new id.
  for (uint64_t r = 0; r < max_id; ++r) {
    if (creator[r] == 0 || (pred[r] != 0 && creator[pred[r] - 1] != 0)) continue;  // not a chain's first block
    int sends = 0;
    for (uint64_t x = r;;) {
      if (consumer[x] != 0 && consumer[x] != creator[x]) {
        if (sends > 0) {
          rebirth[x] = 1;
          sends = 0;
        }
        ++sends;
      }
      if (consumer[x] == 0 || successor[x] == 0 || pred[successor[x]] != x + 1) break;
      x = successor[x];
    }
  }
  // A consume is replayed when the block was made in the trace and this is its (one) consumer.
  auto consumes = [&](uint64_t id, uint32_t t) { return creator[id] != 0 && consumer[id] == t + 1; };
  auto hands_over = [&](uint64_t id, uint32_t t) { return consumer[id] != 0 && consumer[id] != t + 1; };
  // Pass 2: ops per thread; pass 3 writes them with recorded ids.
  auto* count = s.array<uint64_t>(threads);
  auto* last_ms = s.array<uint64_t>(threads);
  auto* seen = s.array<uint8_t>(threads);
  auto visit = [&](auto&& emit) {
    tr::Reader r(file.data(), file.size(), path);
    while (r.next(e)) {
      const uint32_t t = e.thread;
      if (as_recorded && seen[t] && e.t_ms > last_ms[t])
        emit(t, Op{OpKind::kIdle, 0, 0, 0, e.t_ms - last_ms[t]});
      seen[t] = 1;
      last_ms[t] = e.t_ms;
      const auto id = static_cast<uint32_t>(e.id);
      if (is_alloc(e.op)) {
        emit(t, Op{OpKind::kAlloc, e.op == tr::Op::kAligned ? e.align_log2 : uint8_t{0}, 0, id, e.size});
        if (hands_over(e.id, t)) emit(t, Op{OpKind::kSend, 0, 0, id, consumer[e.id] - 1u});
      } else if (e.op == tr::Op::kFree) {
        if (!consumes(e.id, t)) continue;
        if (creator[e.id] != t + 1) emit(t, Op{OpKind::kRecv, 0, 0, id, 0});
        emit(t, Op{OpKind::kFree, 0, 0, id, 0});
      } else if (e.op == tr::Op::kRealloc) {
        if (consumes(e.old_id, t)) {
          const auto old = static_cast<uint32_t>(e.old_id);
          if (creator[e.old_id] != t + 1) emit(t, Op{OpKind::kRecv, 0, 0, old, 0});
          if (rebirth[e.id]) {
            emit(t, Op{OpKind::kFree, 0, 0, old, 0});
            emit(t, Op{OpKind::kAlloc, 0, 0, id, e.size});
          } else {
            emit(t, Op{OpKind::kRealloc, 0, 0, old, e.size});  // renumbered to the result's id later
          }
        } else {
          emit(t, Op{OpKind::kAlloc, 0, 0, id, e.size});  // its source was never recorded
        }
        if (hands_over(e.id, t)) emit(t, Op{OpKind::kSend, 0, 0, id, consumer[e.id] - 1u});
      }
    }
  };
  for (uint32_t t = 0; t < threads; ++t) count[t] = 1;  // the phase mark
  visit([&](uint32_t t, const Op&) { ++count[t]; });
  auto** ops = s.array<Op*>(threads);
  auto* fill = s.array<uint64_t>(threads);
  for (uint32_t t = 0; t < threads; ++t) {
    ops[t] = s.array<Op>(count[t]);
    ops[t][0] = Op{OpKind::kPhase, 0, 0, 0, 0};
    fill[t] = 1;
    seen[t] = 0;
  }
  visit([&](uint32_t t, const Op& op) { ops[t][fill[t]++] = op; });

  // Renumber: run the threads' programs in an order the handoffs allow (the
  // recorded run was one), giving each allocation an id its thread freed,
  // else a new one. An id that was ever sent is not reused (see above).
  auto* rid = s.array<uint32_t>(max_id + 1);
  auto* sent = s.array<uint8_t>(max_id + 1);
  auto* rid_sent = s.array<uint8_t>(max_id + 1);
  auto* pool_next = s.array<uint32_t>(max_id + 2);  // free-list links by replay id + 1
  auto* pool_head = s.array<uint32_t>(threads);
  auto* cursor = s.array<uint64_t>(threads);
  auto* max_ids = s.array<uint32_t>(1);
  uint32_t next_rid = 0;
  auto take = [&](uint32_t t) {
    if (pool_head[t] == 0) return next_rid++;
    const uint32_t r = pool_head[t] - 1;
    pool_head[t] = pool_next[r];
    return r;
  };
  for (uint32_t t = 0; t < threads; ++t) cursor[t] = 1;
  for (uint64_t done = 0; done < threads;) {
    bool progress = false;
    done = 0;
    for (uint32_t t = 0; t < threads; ++t) {
      for (; cursor[t] < count[t]; ++cursor[t], progress = true) {
        Op& op = ops[t][cursor[t]];
        const uint32_t rec = op.id;
        switch (op.kind) {
          case OpKind::kAlloc: rid[rec] = take(t); break;
          case OpKind::kRecv:
            if (!sent[rec]) goto blocked;
            break;
          case OpKind::kSend:
            sent[rec] = 1;
            rid_sent[rid[rec]] = 1;
            break;
          case OpKind::kFree:
            if (rid_sent[rid[rec]]) break;
            pool_next[rid[rec]] = pool_head[t];
            pool_head[t] = rid[rec] + 1;
            break;
          case OpKind::kRealloc: rid[successor[rec]] = rid[rec]; break;
          default: continue;
        }
        op.id = rid[rec];
      }
      ++done;
    blocked:;
    }
    if (!progress && done < threads)
      throw InputError(path + ": bad trace: its cross-thread frees form a cycle (no thread can proceed)");
  }
  *max_ids = next_rid;
  std::vector<Program*> programs;
  for (uint32_t t = 0; t < threads; ++t) programs.push_back(s.make<TraceProgram>(ops[t], count[t], max_ids));
  return programs;
}

// Checked in the runner before any cell: a readable file that decodes to its
// end and lost no events (one pass, no memory beyond the mapping).
std::string replayable_trace(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || access(path.c_str(), R_OK) != 0)
    return "'" + path + "' is not a readable file (record one with: heapmark record -o app.hmt -- ./app)";
  try {
    tr::MappedFile file(path);
    tr::Reader r(file.data(), file.size(), path);
    tr::Event e;
    while (r.next(e)) {
    }
    if (r.lost())
      return path + ": incomplete trace: " + std::to_string(r.lost()) + " events were not recorded (" +
             tr::lost_reason_text(r.lost_reasons()) + "): record it again";
  } catch (const InputError& err) {
    return err.what();
  }
  return "";
}

const WorkloadDef kTrace{
    "trace",
    "replays a recorded allocation trace (heapmark record): threads, sizes, alignments and handoffs as recorded",
    {
        {"path", "", "the .hmt trace to replay (required)", ParamType::kText, 0, 0, {}, replayable_trace},
        {"timing", "compressed", "compressed: calls back to back; as-recorded: the recorded gaps as idle time",
         ParamType::kChoice, 0, 0, {"compressed", "as-recorded"}},
    },
    [](const Params& p, uint64_t, Scratch& s) -> std::vector<Program*> {
      if (p.text("path").empty()) throw InputError("workload 'trace' needs its trace: -p path=app.hmt");
      return make_programs(p.text("path"), p.text("timing") == "as-recorded", s);
    },
    [](const Params& p) -> size_t {
      struct stat st;
      if (stat(p.text("path").c_str(), &st) != 0) return size_t{1} << 20;
      // At most 3 ops (48 bytes) per event and about 20 bytes per block id; an event is at least a byte.
      return static_cast<size_t>(st.st_size) * 80 + (size_t{1} << 20);
    },
    nullptr,
    "path",  // --workloads trace:app.hmt
};
const Registrar kRegister{kTrace};

}  // namespace
}  // namespace heapmark::workloads
