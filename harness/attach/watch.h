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
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/attach/inside.h"
#include "harness/report/openmetrics.h"

namespace heapmark::attach {

struct AccountingSample {
  double t_s = 0;
  bool ok = false;
  std::optional<uint64_t> live, kept;  // kept: free memory the allocator keeps (pinned bytes aside)
  bool kept_resident = true;           // every kept figure counts resident pages (glibc's count free bytes)
  double stopped_ms = 0;
};

// The watch cut into windows of WatchOptions::window_s: what each saw, at full
// sample resolution (the Timeline keeps bounded points; a window keeps its own
// figures). attach --openmetrics writes one exposition per window.
struct WatchWindow {
  double t0_s = 0, t1_s = 0;  // from the watch's start
  double end_unix_s = 0;      // the wall clock at its end
  uint64_t samples = 0;
  uint64_t rss_last = 0, rss_min = 0, rss_peak = 0, anon_last = 0;
  double anon_mean = 0;                        // time-averaged anonymous RSS over the window
  std::optional<AccountingSample> accounting;  // the last one taken in the window
};

struct Watch;

struct WatchOptions {
  double seconds = 0;
  double hz = 1000;
  double accounting_every_s = 10;  // 0: never enter the process
  InjectOptions inject;            // action is set to accounting
  double window_s = 0;             // 0: no windows
  // Called as each window closes (the last may be shorter), with every window so far.
  std::function<void(const std::vector<WatchWindow>&)> on_window;
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
  double window_s = 0;
  std::vector<WatchWindow> windows;
};

// Prints a progress line to stderr every 10 s of a long watch.
Watch watch(pid_t pid, const WatchOptions& options);

boost::json::object to_json(const Watch& w);
std::string render_text(const Watch& w);

using Labels = report::openmetrics::Labels;

// The windows as OpenMetrics gauges (docs/attach.md, "OpenMetrics"), labelled
// pid, program and allocator, added as they close: each window's samples are
// formatted once.
class WatchMetrics {
 public:
  explicit WatchMetrics(Labels labels);
  // Adds a window; returns its own exposition, without timestamps (what a
  // textfile collector scrapes and promtool check metrics reads).
  std::string add(const WatchWindow& w);
  // Every window added, each sample timestamped at its window's end: a backfill
  // of the whole watch (promtool tsdb create-blocks-from openmetrics).
  std::string all() const;

 private:
  Labels labels_;
  std::vector<report::openmetrics::Gauge> all_;
};

}  // namespace heapmark::attach
