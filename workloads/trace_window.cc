// The trace replay's pacing window (trace.cc describes the replay). The slots
// a replay needs are bounded by the sum of each thread's peak; where that sum
// is much larger than the trace's live blocks (one thread allocates, others
// free), the threads are kept within a window of recorded time of each other,
// which bounds the slots by the live blocks over any window plus the window's
// allocations. diagnose keeps every trace of several threads within
// kDiagnosePaceMs.
#include <algorithm>

#include "workloads/trace_replay.h"

namespace heapmark::workloads::trace_replay {

uint64_t live_bound(const tr::TraceFile& file, Shape& sh, uint8_t* buffer, Replay& r, Scratch& s) {
  const uint32_t threads = r.threads;
  uint64_t bound = sh.peak_sum;
  if (threads > 1 && sh.peak_sum > kWindowFromSlots) {
    // Within a window of W ms (the bucket), a thread runs an event only when it is at most W after every
    // thread's next unrun event (T). Then the live blocks are at most those made by T + W less those freed
    // before T: at most allocs up to bucket(T) + 1 less frees before bucket(T).
    const uint64_t bucket_ms = std::max<uint64_t>(16, sh.max_ms / kBuckets + 1);
    auto* allocs = s.array<uint64_t>(kBuckets);
    auto* frees = s.array<uint64_t>(kBuckets);
    count_events(file, sh, buffer, bucket_ms, allocs, frees, nullptr);
    uint64_t windowed = 0, made = allocs[0], freed = 0;  // made: buckets 0..i+1; freed: buckets 0..i-1
    for (uint64_t i = 0; i < kBuckets; ++i) {
      if (i + 1 < kBuckets) made += allocs[i + 1];
      if (i >= 1) freed += frees[i - 1];
      windowed = std::max(windowed, made > freed ? made - freed : 0);
    }
    if (2 * windowed < sh.peak_sum) {
      bound = windowed;
      r.window_ms = bucket_ms;
    }
  }
  // diagnose: threads keep the recorded pace to within kDiagnosePaceMs of one another, so a free another
  // thread made late (a consumer behind its producers) is late here too, and the live bytes at P and F are
  // the recording's. A narrower window holds fewer blocks than the bound above allows.
  if (r.diagnose && threads > 1) r.window_ms = r.window_ms ? std::min(r.window_ms, kDiagnosePaceMs) : kDiagnosePaceMs;
  return bound;
}

}  // namespace heapmark::workloads::trace_replay
