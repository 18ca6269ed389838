// `heapmark attach PID --watch SECONDS`: the live process's RSS sampled from
// outside (/proc/PID/statm, one pread per sample, the process never stops)
// at up to 1 kHz, and the allocator's accounting taken inside (the helper,
// without the heap walk) every few seconds, each of those a stop of the
// process that is measured and reported. The RSS samples go through the
// runner's Timeline (bounded points, full-resolution peak and time integral).
#pragma once
#include <sys/types.h>

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/attach/inside.h"

namespace heapmark::attach {

struct WatchOptions {
  double seconds = 0;
  double hz = 1000;
  double accounting_every_s = 10;  // 0: never enter the process
  InjectOptions inject;            // action is set to accounting
};

struct AccountingSample {
  double t_s = 0;
  bool ok = false;
  std::optional<uint64_t> live, kept;  // kept: free memory the allocator keeps (pinned bytes aside)
  bool kept_resident = true;           // every kept figure counts resident pages (glibc's count free bytes)
  double stopped_ms = 0;
};

struct Watch {
  double hz = 0, seconds = 0;
  uint64_t samples = 0, stride = 1;
  std::vector<double> t_s;
  std::vector<uint64_t> rss, anon;
  uint64_t peak_rss = 0, min_rss = 0;
  double mean_anon = 0;  // time-averaged anonymous RSS
  bool exited = false;   // the process ended before the time was up
  std::vector<AccountingSample> accounting;
  double stopped_ms_total = 0;
};

// Prints a progress line to stderr every 10 s of a long watch.
Watch watch(pid_t pid, const WatchOptions& options);

boost::json::object to_json(const Watch& w);
std::string render_text(const Watch& w);

}  // namespace heapmark::attach
