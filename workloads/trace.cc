// trace: replays a recorded allocation trace (.hmt, `heapmark record`), one
// program per recorded thread, streaming: each thread decodes its own chunks
// with pread as the executor asks for ops, so the harness holds a few buffers
// and about 100 bytes per live block, however many events the trace has.
//
// Block ids. Ops name executor slots, not recorded ids: a shared map takes a
// recorded id to its slot while the block is live, and slots are reused as
// blocks die. A thread reuses the slots it freed at once (its ops run in
// order); it gives them to others only after its executor has run those frees.
//
// Cross-thread frees. An op chunk that next() returns is executed before the
// thread's next call, so each call first publishes: the allocations it
// decoded last time now exist (a per-thread executed count, and every map
// entry carries the count of the chunk that made it). A thread that must free
// a block another thread made and has not yet executed ends its chunk there
// and, with nothing of its own outstanding, waits. The recorded run happened
// in one order, so some thread can always go on.
//
// Memory. The slots needed are bounded before the replay starts (one pass over
// the trace): the live blocks of any interleaving are at most the sum over
// threads of each thread's peak (its allocations minus its frees). Where that
// sum is much larger than the trace's live blocks (one thread allocates, others
// free), the threads are kept within a window of recorded time of each other,
// which bounds the slots by the live blocks over any window plus the window's
// allocations. timing=as-recorded inserts the recorded gaps as kIdle.
//
// Thread lifetimes (a trace of format 2 says where each thread began and
// ended). A replay thread begins once every other thread has run its events
// recorded before the begin and the threads whose ends the recording wrote
// before it began have exited (the ends are counted: the clock's ticks are too
// coarse to order a begin after an end), and ends (returns from its start routine, so the
// allocator runs its thread-exit path: tcache flush, arena detach, heap
// abandonment) after its last event; no other thread runs an event recorded
// after that end until the thread has exited (the kernel no longer knows its
// tid). An older trace has neither: every thread starts at once and ends after
// its last event, unwaited for.
//
// Pace. Threads run their events as soon as the order allows (compressed),
// within the window below when one is set; diagnose sets one of
// kDiagnosePaceMs for every trace of several threads, so a thread that freed
// late in the recording (a consumer behind its producers) frees late here too.
//
// Phases. Without marks one phase; with the program's `phase NAME` marks,
// "start" and then one phase per mark. With diagnose=yes (heapmark diagnose)
// the five phases of `heapmark repro` instead: peak (up to peak_ms, the
// recorded live peak), free (up to final_ms: the trace's end, a mark or --at;
// later events are not replayed), then idle, activity and release as in
// repro, run by thread 0 and by the threads that have events after final_ms
// (a thread whose events end before it ends there, as it did when recorded;
// with lifetimes, one that was alive at final_ms waits out the tail too).
//
// Files: trace.cc the workload (its parameters, the check before any cell);
// trace_replay.h what the others share; trace_load.cc loading a trace and
// making the programs; trace_window.cc the pacing window; trace_program.cc a
// replay thread's program (next(), the hot path); trace_live_map.h the
// recorded id -> slot map; trace_waits.cc backing off and thread exits.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/input_error.h"
#include "workloads/catalog.h"
#include "workloads/trace_replay.h"

namespace heapmark::workloads {
namespace {

// The replay's parts live in their own namespace (trace_replay.h): names as
// plain as Lane and Mark stay out of the workloads' shared one.
namespace tr = heapmark::trace;
using trace_replay::Diagnose;
using trace_replay::kNever;
using trace_replay::make_programs;

// Checked in the runner before any cell: a readable file that decodes to its
// end and lost no events (one pass, reading a chunk at a time).
std::string replayable_trace(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || access(path.c_str(), R_OK) != 0)
    return "'" + path + "' is not a readable file (record one with: heapmark record -o app.hmt -- ./app)";
  try {
    tr::TraceFile file(path);
    std::vector<tr::ChunkRef> chunks;
    const tr::Layout layout = tr::scan_chunks(file, [&](uint32_t, const tr::ChunkRef& c) { chunks.push_back(c); });
    if (layout.lost)
      return path + ": incomplete trace: " + std::to_string(layout.lost) + " events were not recorded (" +
             tr::lost_reason_text(layout.lost_reasons) + "): record it again";
    std::vector<uint8_t> buffer(sizeof(tr::ChunkHeader) + layout.max_payload);
    tr::ThreadCursor all(file, chunks.data(), chunks.size(), buffer.data());  // file order: every chunk decodes
    tr::Event e;
    while (all.next(e)) {
    }
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
        {"timing",
         "compressed",
         "compressed: calls back to back; as-recorded: the recorded gaps as idle time",
         ParamType::kChoice,
         0,
         0,
         {"compressed", "as-recorded"}},
        {"diagnose",
         "no",
         "yes: the five phases of heapmark repro (peak, free, idle, activity, release), as heapmark diagnose runs it",
         ParamType::kChoice,
         0,
         0,
         {"no", "yes"}},
        {"peak_ms",
         "0",
         "diagnose: the recorded time (ms) where the peak phase ends",
         ParamType::kInt,
         0,
         INT64_MAX,
         {}},
        {"final_ms",
         "0",
         "diagnose: the recorded time (ms) the replay stops at; 0: the trace's end",
         ParamType::kInt,
         0,
         INT64_MAX,
         {}},
        {"idle_ms",
         "500",
         "diagnose: idle phase, no allocator calls (longer, up to the return horizon, for a background purger)",
         ParamType::kInt,
         0,
         3'600'000,
         {}},
        {"activity_ms",
         "0",
         "diagnose: activity phase: 0 until the memory is back or the return horizon has passed; N: N ms",
         ParamType::kInt,
         0,
         3'600'000,
         {}},
        {"max_ms",
         "30000",
         "diagnose: longest an idle or activity phase waits for the allocator",
         ParamType::kInt,
         1,
         3'600'000,
         {}},
    },
    [](const Params& p, uint64_t seed, Scratch& s) -> std::vector<Program*> {
      if (p.text("path").empty()) throw InputError("workload 'trace' needs its trace: -p path=app.hmt");
      Diagnose d;
      d.on = p.text("diagnose") == "yes";
      d.peak_ms = static_cast<uint64_t>(p.integer("peak_ms"));
      d.final_ms = p.integer("final_ms") == 0 ? kNever : static_cast<uint64_t>(p.integer("final_ms"));
      d.idle_ms = static_cast<uint64_t>(p.integer("idle_ms"));
      d.activity_ms = static_cast<uint64_t>(p.integer("activity_ms"));
      d.wait.max_ms = static_cast<uint64_t>(p.integer("max_ms"));
      d.wait.seed = seed;
      if (d.on && d.peak_ms > d.final_ms)
        throw InputError("workload 'trace': peak_ms " + std::to_string(d.peak_ms) + " is after final_ms " +
                         std::to_string(d.final_ms));
      return make_programs(p.text("path"), p.text("timing") == "as-recorded", d, s);
    },
    [](const Params& p) -> size_t {
      struct stat st;
      if (stat(p.text("path").c_str(), &st) != 0) return size_t{1} << 20;
      // Address space only (pages are touched as used): per live block about 100 bytes with the executor's
      // slot, and a block is at least a byte of the file; buffers, the chunk index and the buckets besides.
      return static_cast<size_t>(st.st_size) * 128 + (size_t{64} << 20);
    },
    nullptr,
    "path",  // --workloads trace:app.hmt
};
const Registrar kRegister{kTrace};

}  // namespace
}  // namespace heapmark::workloads
