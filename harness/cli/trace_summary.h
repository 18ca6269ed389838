// What `heapmark trace-info` reports about a trace, computed in one streaming
// pass (workloads/trace_stream.h: TimeMerge); also what `replay` prints beside
// its cells and where `diagnose` finds the trace's peak and marks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "workloads/trace_format.h"
#include "workloads/trace_sites.h"

namespace heapmark::cli {

// Everything trace-info reports, from one pass over the trace.
struct Summary {
  trace::Header header;
  uint64_t file_bytes = 0, events = 0;
  uint64_t counts[trace::kEventKinds] = {};
  uint64_t last_image[trace::kEventKinds] = {};  // what the end chunk's counts cover
  bool complete = false;
  uint64_t recorder[trace::kEventKinds] = {};
  uint64_t lost = 0;  // events the recorder could not record (its lost chunks)
  std::string lost_reason;
  uint32_t threads = 0, images = 1;
  uint64_t forks = 0;
  uint64_t thread_begins = 0, thread_ends = 0;  // thread lifetime events (format 2): 0 in an older trace
  uint64_t t0_ms = 0;  // the first event's time on the trace's clock; the times below are relative to it
  uint64_t duration_ms = 0;
  uint64_t size_hist[65] = {};  // by bit length of the requested size
  uint64_t life_hist[8] = {};   // <1 tick, <10 ms, <100 ms, <1 s, <10 s, longer, still live, freed untracked
  uint64_t peak_live = 0, peak_ms = 0, peak_blocks = 0, live_end = 0, blocks_end = 0;
  uint64_t peak_event = 0;  // how many events (in the pass's order) the peak's state includes
  struct Point {
    uint64_t t_ms, rss, anon, live, own;
  };  // own: the recorder's resident bytes (format 2; else 0)
  std::vector<Point> rss;
  struct Mark {
    uint64_t t_ms;
    uint32_t thread;
    std::string name;
    uint64_t live;
  };
  std::vector<Mark> phases;  // `phase NAME` lines the program wrote to HEAPMARK_PHASE_FD, in time order
  // Allocation sites (recorded with --stacks): the stack table, and per dense
  // site id (0 = no stack) what it allocated and what of it was live at the end.
  trace::SiteTable sites;
  struct SiteStat {
    uint64_t allocs = 0, bytes = 0, live_end = 0, blocks_end = 0;
  };
  std::vector<SiteStat> site_stats;
};

// Reads the whole trace once (throws InputError for a malformed one).
Summary summarize(const std::string& path);

// The sites' figures (SiteStat's *_end fields then mean "at that point") after
// the first `events` events of summarize's pass, stopping earlier at the first
// event recorded after `t_ms` (on the trace's clock); `sites`: the trace's table.
std::vector<Summary::SiteStat> sites_until(const std::string& path, const trace::SiteTable& sites, uint64_t events,
                                           uint64_t t_ms);

// --at: "12.5" or "12.5s" (seconds), "800ms", else the name of a phase mark.
// Returns ms after the first event; throws InputError naming the trace's span
// or its marks.
uint64_t parse_at(const std::string& at, const Summary& s, const std::string& path);

// The recorded time (ms, on the trace's clock) of the live-byte peak among the
// events up to `final_ms`, and the live bytes there and at `final_ms`.
struct PeakPoint {
  uint64_t t_ms = 0, live = 0, live_at_final = 0;
};
PeakPoint peak_until(const std::string& path, uint64_t final_ms);

// "1.50 MiB".
std::string human(uint64_t bytes);

}  // namespace heapmark::cli
