#include "harness/cli/trace_summary.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "common/input_error.h"
#include "workloads/trace_stream.h"

namespace heapmark::cli {

namespace tr = heapmark::trace;

namespace {

// What one event does to the sites' figures: an allocation adds its bytes to
// its site (allocated and live), a free or a realloc's old block takes the
// consumed block's bytes off the site that allocated it.
void count_sites(const tr::SiteTable& sites, const tr::TimeMerge::Step& x, std::vector<Summary::SiteStat>& stats) {
  const tr::Event& e = x.e;
  auto site_of = [&](uint64_t id, uint32_t raw) {
    return sites.dense(static_cast<uint32_t>(id >> tr::kImageIdShift), raw);
  };
  if (tr::is_block_op(e.op) && e.op != tr::Op::kFree) {
    Summary::SiteStat& st = stats[site_of(e.id, e.site)];
    ++st.allocs;
    st.bytes += e.size;
    st.live_end += e.size;
    ++st.blocks_end;
  }
  if (x.consumed_live) {
    Summary::SiteStat& st = stats[site_of(e.op == tr::Op::kFree ? e.id : e.old_id, x.consumed_site)];
    st.live_end -= x.consumed_size;
    --st.blocks_end;
  }
}

}  // namespace

// One pass over the events in an order the recorded run could have had (by
// time; a free never before its allocation), reading a chunk per thread at a
// time: memory grows with the live blocks, not with the trace.
Summary summarize(const std::string& path) {
  tr::TraceFile file(path);
  tr::TimeMerge merge(file);
  Summary s;
  s.header = file.header();
  s.file_bytes = file.size();
  s.sites = tr::read_sites(file, merge.layout());
  s.site_stats.resize(s.sites.count() + 1);
  uint64_t t_min = UINT64_MAX, t_max = 0;
  uint32_t image = 0;
  std::vector<tr::TimeMerge::Step> rss;  // kept until t_min is known
  tr::TimeMerge::Step x;
  while (merge.next(x)) {
    const tr::Event& e = x.e;
    if (e.image != image) {
      std::fill(std::begin(s.last_image), std::end(s.last_image), 0);
      image = e.image;
    }
    ++s.events;
    t_min = std::min(t_min, e.t_ms);
    t_max = std::max(t_max, e.t_ms);
    switch (e.op) {
      case tr::Op::kMalloc: ++s.counts[int(tr::EventKind::kMalloc)]; break;
      case tr::Op::kCalloc: ++s.counts[int(tr::EventKind::kCalloc)]; break;
      case tr::Op::kRealloc: ++s.counts[int(tr::EventKind::kRealloc)]; break;
      case tr::Op::kAligned: ++s.counts[int(tr::EventKind::kAligned)]; break;
      case tr::Op::kFree: ++s.counts[int(tr::EventKind::kFree)]; break;
      case tr::Op::kRss: ++s.counts[int(tr::EventKind::kRss)]; break;
      case tr::Op::kFork: ++s.forks; break;
      case tr::Op::kPhase: s.phases.push_back({e.t_ms, e.thread, x.name, merge.live_bytes()}); break;
      case tr::Op::kThreadBegin: ++s.thread_begins; break;
      case tr::Op::kThreadEnd: ++s.thread_ends; break;
    }
    // Op and EventKind share their first six values (kFork is not counted).
    if (const auto op = static_cast<int>(e.op); op < tr::kEventKinds) ++s.last_image[op];
    if (tr::is_block_op(e.op) && e.op != tr::Op::kFree) ++s.size_hist[e.size == 0 ? 0 : 64 - __builtin_clzll(e.size)];
    count_sites(s.sites, x, s.site_stats);
    if (e.op == tr::Op::kFree) {
      if (x.consumed_live) {
        const uint64_t d = e.t_ms - x.born_ms;
        ++s.life_hist[d == 0 ? 0 : d < 10 ? 1 : d < 100 ? 2 : d < 1000 ? 3 : d < 10000 ? 4 : 5];
      } else {
        ++s.life_hist[7];
      }
    }
    if (e.op == tr::Op::kRss) {
      x.consumed_size = merge.live_bytes();
      rss.push_back(x);
    }
    if (merge.live_bytes() > s.peak_live) {
      s.peak_live = merge.live_bytes();
      s.peak_ms = e.t_ms;
      s.peak_blocks = merge.live_blocks();
      s.peak_event = s.events;
    }
  }
  const tr::Layout& layout = merge.layout();
  s.complete = layout.complete;
  s.lost = layout.lost;
  s.lost_reason = tr::lost_reason_text(layout.lost_reasons);
  if (s.complete) std::copy(layout.recorder_counts, layout.recorder_counts + tr::kEventKinds, s.recorder);
  s.threads = std::max<uint32_t>(layout.threads, 1);
  s.images = layout.images;
  s.t0_ms = s.events ? t_min : 0;
  s.duration_ms = s.events ? t_max - t_min : 0;
  if (s.events) s.peak_ms -= std::min(s.peak_ms, t_min);
  for (auto& m : s.phases) m.t_ms -= std::min(m.t_ms, t_min);
  for (const auto& p : rss)
    s.rss.push_back({p.e.t_ms - t_min, p.e.size, p.e.size - std::min(p.e.size, p.e.shared), p.consumed_size, p.e.own});
  s.live_end = merge.live_bytes();
  s.blocks_end = merge.live_blocks();
  s.life_hist[6] = s.blocks_end;
  return s;
}

std::vector<Summary::SiteStat> sites_until(const std::string& path, const tr::SiteTable& sites, uint64_t events,
                                           uint64_t t_ms) {
  tr::TraceFile file(path);
  tr::TimeMerge merge(file);
  std::vector<Summary::SiteStat> stats(sites.count() + 1);
  tr::TimeMerge::Step x;
  for (uint64_t n = 0; n < events && merge.next(x) && x.e.t_ms <= t_ms; ++n) count_sites(sites, x, stats);
  return stats;
}

// --at: "12.5" or "12.5s" (seconds), "800ms", else the name of a phase mark. Returns ms after the first event.
uint64_t parse_at(const std::string& at, const Summary& s, const std::string& path) {
  const double span_s = double(s.duration_ms) / 1000;
  char* end = nullptr;
  const double v = std::strtod(at.c_str(), &end);
  const std::string unit = end ? std::string(end) : "";
  if (end != at.c_str() && (unit.empty() || unit == "s" || unit == "ms")) {
    const double ms = unit == "ms" ? v : v * 1000;
    if (!(ms >= 0) || ms > double(s.duration_ms) || std::isnan(ms)) {
      char b[256];
      std::snprintf(b, sizeof b, "--at %s is outside the trace %s (it spans 0 to %.3f s)", at.c_str(), path.c_str(),
                    span_s);
      throw InputError(b);
    }
    return static_cast<uint64_t>(ms);
  }
  std::string names;
  for (const auto& m : s.phases) {
    if (m.name == at) return m.t_ms;
    names += (names.empty() ? "" : ", ") + m.name;
  }
  throw InputError("--at '" + at + "' is neither a time (12.5, 12.5s, 800ms) nor a phase mark of " + path +
                   (names.empty() ? " (it has no marks)" : " (its marks: " + names + ")"));
}

PeakPoint peak_until(const std::string& path, uint64_t final_ms) {
  tr::TraceFile file(path);
  tr::TimeMerge merge(file);
  PeakPoint p;
  tr::TimeMerge::Step x;
  while (merge.next(x) && x.e.t_ms <= final_ms) {
    if (merge.live_bytes() > p.live) {
      p.live = merge.live_bytes();
      p.t_ms = x.e.t_ms;
    }
    p.live_at_final = merge.live_bytes();
  }
  return p;
}

std::string human(uint64_t b) {
  char buf[32];
  if (b >= (uint64_t{1} << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / double(1 << 30));
  else if (b >= (1u << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", double(b) / double(1 << 20));
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", double(b) / 1024);
  else std::snprintf(buf, sizeof buf, "%" PRIu64 " B", b);
  return buf;
}

}  // namespace heapmark::cli
