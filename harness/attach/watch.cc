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
  runner::Timeline timeline(2000);
  timeline.set_baseline(0);
  const uint64_t start = now_ns(), period = static_cast<uint64_t>(1e9 / o.hz),
                 end = start + static_cast<uint64_t>(o.seconds * 1e9);
  uint64_t next = start, next_accounting = start, next_progress = start + 10000000000ull;
  uint64_t last_t = 0, last_anon = 0;
  w.min_rss = UINT64_MAX;
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
    last_t = t;
    last_anon = m.anon();
    if (o.accounting_every_s > 0 && t >= next_accounting) {
      w.accounting.push_back(take_accounting(pid, acc, double(t - start) * 1e-9));
      w.stopped_ms_total += w.accounting.back().stopped_ms;
      next_accounting = now_ns() + static_cast<uint64_t>(o.accounting_every_s * 1e9);
    }
    if (t >= next_progress) {
      std::fprintf(stderr, "heapmark: attach --watch: %.0f of %.0f s, RSS %s\n", double(t - start) * 1e-9, o.seconds,
                   human(m.resident).c_str());
      next_progress += 10000000000ull;
    }
    next += period;
    if (next < now_ns()) next = now_ns();  // behind (a stop for the accounting): no burst of catch-up samples
  }
  ::close(fd);
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
  for (const auto& a : w.accounting)
    acc.push_back({{"t_s", a.t_s},
                   {"ok", a.ok},
                   {"live", or_null(a.live)},
                   {"kept", or_null(a.kept)},
                   {"kept_resident", a.kept_resident},
                   {"stopped_ms", a.stopped_ms}});
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

}  // namespace heapmark::attach
