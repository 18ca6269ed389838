// Loading a trace for its replay (trace.cc describes the replay): its chunks
// by thread, one pass per thread for the bound on live blocks, the threads'
// begins and ends and the phase marks, then the shared state and one program
// per recorded thread.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>

#include "common/input_error.h"
#include "workloads/trace_live_map.h"
#include "workloads/trace_replay.h"
#include "workloads/trace_sites.h"

namespace heapmark::workloads::trace_replay {
namespace {

Shape shape_of(const tr::TraceFile& file, Scratch& s) {
  Shape sh;
  // Chunk headers twice (counting, then placing), no heap.
  auto* per_thread = s.array<uint64_t>(tr::kMaxThreads);
  sh.layout = tr::scan_chunks(file, [&](uint32_t t, const tr::ChunkRef&) { ++per_thread[t]; });
  if (sh.layout.lost)
    throw InputError(file.name() + ": incomplete trace: " + std::to_string(sh.layout.lost) +
                     " events were not recorded (" + tr::lost_reason_text(sh.layout.lost_reasons) +
                     "): record it again");
  const uint32_t threads = std::max<uint32_t>(sh.layout.threads, 1);
  sh.first = s.array<uint64_t>(threads);
  sh.count = s.array<uint64_t>(threads);
  sh.payload = s.array<uint32_t>(threads);
  sh.chunks = s.array<tr::ChunkRef>(sh.layout.event_chunks);
  for (uint32_t t = 1; t < threads; ++t) sh.first[t] = sh.first[t - 1] + per_thread[t - 1];
  tr::scan_chunks(file, [&](uint32_t t, const tr::ChunkRef& c) {
    sh.chunks[sh.first[t] + sh.count[t]++] = c;
    sh.payload[t] = std::max(sh.payload[t], c.payload_bytes);
  });
  return sh;
}

// The replay's state from one pass over the trace: the threads' recorded
// begins and ends, and the phase marks (diagnosing: the peak point only).
Replay* new_replay(const tr::TraceFile& file, Shape& sh, uint8_t* buffer, const Diagnose& d, Scratch& s) {
  const uint32_t threads = std::max<uint32_t>(sh.layout.threads, 1);
  auto* r = s.make<Replay>();
  r->marks = s.array<Mark>(kMaxMarks);
  r->lifetimes = file.header().version >= 2;
  r->begin_ms = s.array<uint64_t>(threads);
  r->end_ms = s.array<uint64_t>(threads);
  r->end_order = s.array<End>(threads);
  r->begin_after = s.array<uint64_t>(threads);
  r->ended_cap = uint64_t{threads} * 8;  // a thread ends once, or again per round of exit destructors that allocate
  r->ended = s.array<uint32_t>(r->ended_cap);
  std::fill(r->ended, r->ended + r->ended_cap, kNoThread);
  count_events(file, sh, buffer, 0, nullptr, nullptr, r);
  std::sort(r->end_order, r->end_order + r->end_count, [](const End& a, const End& b) { return a.t_ms < b.t_ms; });
  std::stable_sort(r->marks, r->marks + r->mark_count, [](const Mark& a, const Mark& b) {
    return a.t_ms != b.t_ms ? a.t_ms < b.t_ms : a.thread != b.thread ? a.thread < b.thread : a.seq < b.seq;
  });
  if (d.on) {  // the peak point is the one mark; the program's own are skipped
    r->diagnose = true;
    r->mark_count = 1;
    r->marks[0] = Mark{d.peak_ms, kAnyThread, 0, "peak"};
    r->final_ms = d.final_ms;
    r->idle_ms = d.idle_ms;
    r->activity_ms = d.activity_ms;
    r->wait = d.wait;
  }
  return r;
}

// Dense allocation site ids (a trace recorded with --stacks), as SiteTable's.
void read_sites(const tr::TraceFile& file, const Shape& sh, Replay& r, Scratch& s) {
  r.images = sh.layout.images;
  r.site_base = s.array<uint32_t>(r.images);
  if (!sh.layout.site_chunks.empty()) {
    auto* site_buffer = s.array<uint8_t>(tr::kMaxChunkPayload);
    r.site_count = tr::site_bases(file, sh.layout, site_buffer, r.site_base);
  }
}

// The executor slots (the live bound plus what each thread keeps), the lanes
// and the map from recorded ids to slots.
void make_slots(Replay& r, uint64_t live_bound, const std::string& path, Scratch& s) {
  const uint32_t threads = r.threads;
  const uint64_t slots = live_bound + uint64_t{threads} * (2 * kLocalSlots + 1) + 16;
  if (slots >= UINT32_MAX) throw InputError(path + ": more than 2^32 blocks live at once: too many to replay");
  r.pool.capacity = slots;
  r.pool.stack = s.array<uint32_t>(slots);
  r.lanes = s.array<Lane>(threads);
  for (uint32_t t = 0; t < threads; ++t) new (&r.lanes[t]) Lane;
  uint32_t parts = 1;
  while (r.shared && parts < 64 && parts < 4 * threads) parts <<= 1;
  r.map = s.make<LiveMap>(slots, parts, r.shared, r.lanes, s);
}

}  // namespace

// One pass per thread: each thread's peak of allocations minus frees, and the
// recorded time span; with `buckets`, allocations and frees per time bucket.
// With `into`, collects the phase marks (at most kMaxMarks) into them, and the
// threads' begins and ends (the first thread's end is the process's: it runs
// the cell, so it never ends here).
void count_events(const tr::TraceFile& file, Shape& sh, uint8_t* buffer, uint64_t bucket_ms, uint64_t* allocs,
                  uint64_t* frees, Replay* into) {
  const uint32_t threads = std::max<uint32_t>(sh.layout.threads, 1);
  sh.peak_sum = 0;
  for (uint32_t t = 0; t < threads; ++t) {
    tr::ThreadCursor c(file, sh.chunks + sh.first[t], sh.count[t], buffer);
    tr::Event e;
    int64_t net = 0, peak = 0;
    uint32_t seq = 0;
    uint64_t last_ms = 0;
    bool ended = false;
    if (into) {
      into->begin_ms[t] = into->end_ms[t] = kNever;
      into->begin_after[t] = 0;
    }
    while (c.next(e)) {
      last_ms = e.t_ms;
      if (into && e.op == tr::Op::kThreadBegin && into->begin_ms[t] == kNever) {
        into->begin_ms[t] = e.t_ms;
        into->begin_after[t] = e.size;
      }
      if (into && e.op == tr::Op::kThreadEnd && e.size < into->ended_cap) into->ended[e.size] = t;
      ended |= e.op == tr::Op::kThreadEnd;
      if (into && e.op == tr::Op::kPhase) {
        if (into->mark_count == kMaxMarks)
          throw InputError(file.name() + ": more than " + std::to_string(kMaxMarks) + " phase marks (at byte " +
                           std::to_string(e.offset) + "): mark fewer phases");
        Mark& m = into->marks[into->mark_count++];
        m.t_ms = e.t_ms;
        m.thread = t;
        m.seq = seq++;
        if (e.name_len > 0) std::memcpy(m.name, e.name, std::min<size_t>(e.name_len, sizeof m.name - 1));
        else std::snprintf(m.name, sizeof m.name, "phase%u", into->mark_count);
      }
      if (!tr::is_block_op(e.op)) continue;
      sh.max_ms = std::max(sh.max_ms, e.t_ms);
      const uint64_t b = bucket_ms ? std::min(e.t_ms / bucket_ms, kBuckets - 1) : 0;
      if (is_alloc(e.op)) {
        peak = std::max(peak, ++net);
        if (allocs) ++allocs[b];
      } else if (e.op == tr::Op::kFree) {
        --net;
        if (frees) ++frees[b];
      } else {  // a realloc frees one block and makes another: for the bound, the new one first
        peak = std::max(peak, net + 1);
        if (allocs) ++allocs[b];
        if (frees) ++frees[b];
      }
    }
    sh.peak_sum += static_cast<uint64_t>(peak);
    if (into && ended && t != 0) {
      into->end_ms[t] = last_ms;
      into->end_order[into->end_count++] = End{last_ms, t};
    }
  }
}

std::vector<Program*> make_programs(const std::string& path, bool as_recorded, const Diagnose& d, Scratch& s) {
  auto* file = s.make<tr::TraceFile>(path);
  Shape sh = shape_of(*file, s);
  const uint32_t threads = std::max<uint32_t>(sh.layout.threads, 1);
  auto* buffer = s.array<uint8_t>(sizeof(tr::ChunkHeader) + sh.layout.max_payload);
  Replay* r = new_replay(*file, sh, buffer, d, s);
  read_sites(*file, sh, *r, s);
  r->file = file;
  r->threads = threads;
  r->shared = threads > 1;
  r->as_recorded = as_recorded;
  make_slots(*r, live_bound(*file, sh, buffer, *r, s), path, s);

  std::vector<Program*> programs;
  for (uint32_t t = 0; t < threads; ++t) {
    auto* buf = s.array<uint8_t>(sizeof(tr::ChunkHeader) + sh.payload[t]);
    auto* local = s.array<uint32_t>(2 * kLocalSlots + 1);
    programs.push_back(make_trace_program(*r, t, sh.chunks + sh.first[t], sh.count[t], buf, local, s));
  }
  return programs;
}

}  // namespace heapmark::workloads::trace_replay
