#include "harness/attach/watch.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "harness/attach/outside.h"
#include "harness/metrics/procfs.h"
#include "harness/metrics/tsc.h"
#include "harness/report/openmetrics.h"
#include "harness/runner/timeline.h"

namespace heapmark::attach {
namespace json = boost::json;
namespace {

uint64_t now_ns() { return metrics::tsc::monotonic_ns(); }

// A zombie, or a process reaped while its statm was open, reads as all zeros: no memory, it has ended.
bool sample(int fd, metrics::procfs::Statm& m) {
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return metrics::procfs::read_statm(fd, page, m) && m.size != 0;
}

AccountingSample take_accounting(pid_t pid, const InjectOptions& opt, double t_s) {
  AccountingSample a;
  a.t_s = t_s;
  const InsideView in = read_inside(pid, opt);
  a.ok = in.injection.ok && in.identity_ok && in.accounting.has_value();
  a.stopped_ms = in.injection.stopped_ms;
  if (a.ok) {
    a.live = in.accounting->live;
    uint64_t kept = 0;
    for (const auto& k : in.accounting->kept)
      if (!k.pinned) {
        kept += k.bytes;
        a.kept_resident = a.kept_resident && k.resident;
      }
    a.kept = kept;
  }
  return a;
}

}  // namespace

Watch watch(pid_t pid, const WatchOptions& o) {
  Watch w;
  w.hz = o.hz;
  w.seconds = o.seconds;
  InjectOptions acc = o.inject;
  acc.action = Action::kAccounting;
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/statm").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    w.exited = true;
    return w;
  }
  // Closed however the watch ends (on_window may throw: a disk that is full).
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  runner::Timeline timeline(2000);
  timeline.set_baseline(0);
  const uint64_t start = now_ns(), period = static_cast<uint64_t>(1e9 / o.hz),
                 end = start + static_cast<uint64_t>(o.seconds * 1e9);
  uint64_t next = start, next_accounting = start, next_progress = start + 10000000000ull;
  uint64_t last_t = 0, last_anon = 0;
  w.min_rss = UINT64_MAX;
  w.window_s = o.window_s;
  const uint64_t window_ns = static_cast<uint64_t>(o.window_s * 1e9);
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  const double start_unix_s = double(wall.tv_sec) + double(wall.tv_nsec) * 1e-9 - double(now_ns() - start) * 1e-9;
  uint64_t window_end = start + window_ns;
  WatchWindow win;
  double anon_integral = 0;  // byte-seconds over the open window
  size_t accounting_at_open = 0;
  auto close_window = [&](uint64_t t) {
    if (win.samples == 0) return;
    win.t1_s = double(t - start) * 1e-9;
    const double span = win.t1_s - win.t0_s;
    win.anon_mean = span > 0 ? anon_integral / span : double(win.anon_last);
    // The wall clock on the monotonic one's steps: a wall clock set back during the watch cannot make
    // the timestamps go backwards (a backfill refuses them).
    win.end_unix_s = start_unix_s + win.t1_s;
    if (w.accounting.size() > accounting_at_open) win.accounting = w.accounting.back();
    w.windows.push_back(win);
    if (o.on_window) o.on_window(w.windows);
    win = WatchWindow{};
    win.t0_s = double(t - start) * 1e-9;
    anon_integral = 0;
    accounting_at_open = w.accounting.size();
  };
  while (next <= end) {
    timespec at{static_cast<time_t>(next / 1000000000ull), static_cast<long>(next % 1000000000ull)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr);
    const uint64_t t = now_ns();
    metrics::procfs::Statm m;
    if (!sample(fd, m)) {
      w.exited = true;
      break;
    }
    timeline.add(runner::Sample{t - start, m.resident, m.anon(), 0, 1});
    w.min_rss = std::min(w.min_rss, m.resident);
    if (window_ns) {
      // The anonymous RSS holds from one sample to the next (as the Timeline integrates it).
      if (last_t) anon_integral += double(last_anon) * double(t - last_t) * 1e-9;
      win.rss_min = win.samples ? std::min(win.rss_min, m.resident) : m.resident;
      win.rss_peak = std::max(win.rss_peak, m.resident);
      win.rss_last = m.resident;
      win.anon_last = m.anon();
      ++win.samples;
    }
    last_t = t;
    last_anon = m.anon();
    if (o.accounting_every_s > 0 && t >= next_accounting) {
      w.accounting.push_back(take_accounting(pid, acc, double(t - start) * 1e-9));
      w.stopped_ms_total += w.accounting.back().stopped_ms;
      // A whole interval of sampling after each stop, however long the stop took (under load a stop can
      // take a second: on a grid the stops would come back to back).
      next_accounting = now_ns() + static_cast<uint64_t>(o.accounting_every_s * 1e9);
    }
    if (t >= next_progress) {
      std::fprintf(stderr, "heapmark: attach --watch: %.0f of %.0f s, RSS %s\n", double(t - start) * 1e-9, o.seconds,
                   human(m.resident).c_str());
      next_progress += 10000000000ull;
    }
    if (window_ns && t >= window_end) {
      close_window(t);
      window_end = start + ((t - start) / window_ns + 1) * window_ns;  // the next point of the grid after t
    }
    next += period;
    if (next < now_ns()) next = now_ns();  // behind (a stop for the accounting): no burst of catch-up samples
  }
  if (window_ns) close_window(last_t);  // the last, shorter window (nothing when it holds no sample)
  w.samples = timeline.samples();
  w.stride = timeline.stride();
  w.peak_rss = timeline.peak_rss();
  if (w.min_rss == UINT64_MAX) w.min_rss = 0;
  const double span = last_t > start ? double(last_t - start) * 1e-9 : 0;
  w.mean_anon = span > 0 ? timeline.integral_r() / span : double(last_anon);  // baseline 0: the integral of anon
  for (const auto& p : timeline.points()) {
    w.t_s.push_back(double(p.t_ns) * 1e-9);
    w.rss.push_back(p.rss);
    w.anon.push_back(p.anon);
  }
  return w;
}

json::object to_json(const Watch& w) {
  json::array t, rss, anon, acc;
  for (double x : w.t_s) t.push_back(x);
  for (uint64_t x : w.rss) rss.push_back(x);
  for (uint64_t x : w.anon) anon.push_back(x);
  auto accounting_json = [](const AccountingSample& a) {
    return json::object{{"t_s", a.t_s},
                        {"ok", a.ok},
                        {"live", or_null(a.live)},
                        {"kept", or_null(a.kept)},
                        {"kept_resident", a.kept_resident},
                        {"stopped_ms", a.stopped_ms}};
  };
  for (const auto& a : w.accounting) acc.push_back(accounting_json(a));
  json::array windows;
  for (const auto& x : w.windows)
    windows.push_back({{"t0_s", x.t0_s},
                       {"t1_s", x.t1_s},
                       {"end_unix_s", x.end_unix_s},
                       {"samples", x.samples},
                       {"rss_last", x.rss_last},
                       {"rss_min", x.rss_min},
                       {"rss_peak", x.rss_peak},
                       {"anon_last", x.anon_last},
                       {"anon_mean", x.anon_mean},
                       {"accounting", x.accounting ? json::value(accounting_json(*x.accounting)) : nullptr}});
  return {{"hz", w.hz},
          {"seconds", w.seconds},
          {"samples", w.samples},
          {"stride", w.stride},
          {"exited", w.exited},
          {"peak_rss", w.peak_rss},
          {"min_rss", w.min_rss},
          {"mean_anon", w.mean_anon},
          {"stopped_ms_total", w.stopped_ms_total},
          {"accounting", std::move(acc)},
          {"window_s", w.window_s},
          {"windows", std::move(windows)},
          {"timeline", {{"t_s", std::move(t)}, {"rss", std::move(rss)}, {"anon", std::move(anon)}}}};
}

std::string render_text(const Watch& w) {
  char line[512];
  std::snprintf(line, sizeof line,
                "\nwatched %.0f s at %.0f Hz (%llu samples%s): RSS %s to %s, time-averaged anonymous %s; "
                "%zu accounting stops, %.0f ms stopped in all\n",
                w.seconds, w.hz, static_cast<unsigned long long>(w.samples), w.exited ? ", the process exited" : "",
                human(w.min_rss).c_str(), human(w.peak_rss).c_str(), human(static_cast<uint64_t>(w.mean_anon)).c_str(),
                w.accounting.size(), w.stopped_ms_total);
  std::string s = line;
  for (const auto& a : w.accounting) {
    if (!a.ok) std::snprintf(line, sizeof line, "  %7.1f s  accounting missing\n", a.t_s);
    else
      std::snprintf(line, sizeof line, "  %7.1f s  live %s, free kept %s%s (stopped %.0f ms)\n", a.t_s,
                    a.live ? human(*a.live).c_str() : "not counted", a.kept ? human(*a.kept).c_str() : "?",
                    a.kept_resident ? ", resident" : " (resident or not)", a.stopped_ms);
    s += line;
  }
  return s;
}

namespace {

// A gauge family of the windows: its value in a window, or none.
struct Family {
  const char* name;
  const char* unit;
  const char* help;
  std::optional<double> (*value)(const WatchWindow&);
};

std::optional<double> bytes(uint64_t v) { return static_cast<double>(v); }

const Family kFamilies[] = {
    {"heapmark_attach_rss_bytes", "bytes", "RSS at the window's last sample (/proc/PID/statm)",
     [](const WatchWindow& x) -> std::optional<double> { return bytes(x.rss_last); }},
    {"heapmark_attach_rss_peak_bytes", "bytes", "Highest RSS sampled in the window",
     [](const WatchWindow& x) -> std::optional<double> { return bytes(x.rss_peak); }},
    {"heapmark_attach_rss_min_bytes", "bytes", "Lowest RSS sampled in the window",
     [](const WatchWindow& x) -> std::optional<double> { return bytes(x.rss_min); }},
    {"heapmark_attach_anon_mean_bytes", "bytes", "Anonymous RSS averaged over the window's time",
     [](const WatchWindow& x) -> std::optional<double> { return std::optional<double>(x.anon_mean); }},
    {"heapmark_attach_live_bytes", "bytes",
     "Live bytes as the allocator counts them, at the window's last accounting (taken inside the process)",
     [](const WatchWindow& x) -> std::optional<double> {
       return x.accounting && x.accounting->ok && x.accounting->live ? bytes(*x.accounting->live) : std::nullopt;
     }},
    {"heapmark_attach_free_kept_bytes", "bytes",
     "Free memory the allocator keeps by its own account, at the window's last accounting (pinned bytes "
     "aside; glibc counts free bytes, resident or not; the release call returns part of it)",
     [](const WatchWindow& x) -> std::optional<double> {
       return x.accounting && x.accounting->ok && x.accounting->kept ? bytes(*x.accounting->kept) : std::nullopt;
     }},
    {"heapmark_attach_stopped_seconds", "seconds", "Time the process was stopped for the window's accounting",
     [](const WatchWindow& x) -> std::optional<double> {
       return x.accounting ? std::optional<double>(x.accounting->stopped_ms * 1e-3) : std::nullopt;
     }},
    {"heapmark_attach_window_seconds", "seconds", "The window's length",
     [](const WatchWindow& x) -> std::optional<double> { return std::optional<double>(x.t1_s - x.t0_s); }},
};

// Each family's sample of window `x`, added to `gauges` (one per family, in kFamilies' order).
void add_window(std::vector<report::openmetrics::Gauge>& gauges, const WatchWindow& x, const Labels& labels,
                bool timestamped) {
  if (gauges.empty())
    for (const auto& f : kFamilies) gauges.push_back({f.name, f.unit, f.help, ""});
  for (size_t i = 0; i < std::size(kFamilies); ++i)
    if (const auto v = kFamilies[i].value(x))
      gauges[i].add(labels, *v, timestamped ? std::optional<double>(x.end_unix_s) : std::nullopt);
}

}  // namespace

WatchMetrics::WatchMetrics(Labels labels) : labels_(std::move(labels)) {}

std::string WatchMetrics::add(const WatchWindow& w) {
  add_window(all_, w, labels_, true);
  std::vector<report::openmetrics::Gauge> one;
  add_window(one, w, labels_, false);
  return report::openmetrics::exposition(one);
}

std::string WatchMetrics::all() const { return report::openmetrics::exposition(all_); }

}  // namespace heapmark::attach
