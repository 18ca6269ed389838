#include "harness/cli/pprof_sources.h"

#include <cstdio>

#include "common/input_error.h"
#include "harness/cli/trace_summary.h"
#include "harness/report/holders.h"
#include "harness/report/results.h"
#include "harness/symbols/symbolize.h"

namespace heapmark::cli {

namespace pp = report::pprof;

namespace {

std::string seconds(uint64_t ms) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f s", double(ms) / 1000);
  return b;
}

}  // namespace

pp::Profile trace_profile(const std::string& path, const std::string& at, std::string* warnings) {
  const Summary s = summarize(path);
  if (s.sites.empty())
    throw InputError(path +
                     ": the trace has no allocation stacks, so a profile has nothing to name; record it with "
                     "heapmark record --stacks");
  // Every figure "as of" one point: allocated since the first event, live there.
  std::vector<Summary::SiteStat> stats;
  std::string where;
  uint64_t until_ms = s.duration_ms;  // from the first event
  if (at == "end") {
    stats = s.site_stats;
    where = "the end (" + seconds(s.duration_ms) + ")";
  } else if (at == "peak") {
    stats = sites_until(path, s.sites, s.peak_event, UINT64_MAX);
    until_ms = s.peak_ms;
    where = "the live-byte peak (" + seconds(s.peak_ms) + ", " + human(s.peak_live) + " live)";
  } else {
    until_ms = parse_at(at, s, path);
    stats = sites_until(path, s.sites, UINT64_MAX, s.t0_ms + until_ms);
    where = seconds(until_ms) + " (--at " + at + ")";
  }
  pp::Profile p;
  p.sample_types = {
      {"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
  p.default_type = "inuse_space";
  p.duration_nanos = static_cast<int64_t>(until_ms) * 1000000;  // what the figures cover: the first event to --at
  p.comments = {"heapmark export pprof " + path,
                "inuse_*: live at " + where + "; alloc_*: allocated from the first event to there",
                "stacks recorded by " + s.sites.walker() + ", depth " + std::to_string(s.sites.depth())};
  symbols::Symbolizer sym(s.sites);
  for (uint32_t site = 0; site < stats.size(); ++site) {
    const Summary::SiteStat& st = stats[site];
    if (st.allocs == 0 && st.blocks_end == 0) continue;
    pp::Sample sample;
    sample.values = {static_cast<int64_t>(st.allocs), static_cast<int64_t>(st.bytes),
                     static_cast<int64_t>(st.blocks_end), static_cast<int64_t>(st.live_end)};
    if (site == 0) {
      sample.stack.push_back(pp::Frame::label("(no stack recorded)"));
    } else {
      for (const symbols::Frame& f : sym.stack(site))
        sample.stack.push_back(pp::Frame{f.function, f.file, f.line, f.module, f.build_id, f.address});
    }
    p.samples.push_back(std::move(sample));
  }
  if (warnings) {
    warnings->clear();
    for (const auto& w : sym.warnings()) *warnings += w + "\n";
  }
  return p;
}

pp::Profile run_profile(const std::string& dir, const std::string& allocator) {
  const report::Run run = report::read_run(dir);
  std::string names;
  for (const auto& h : report::holders(run)) {
    if (h.variant) continue;
    names += (names.empty() ? "" : ", ") + h.allocator;
    if (!allocator.empty() && h.allocator != allocator) continue;
    if (h.site_count == 0)
      throw InputError(dir + ": the cells of " + h.allocator +
                       " name no allocation sites (their trace has no stacks); record it with heapmark record "
                       "--stacks and diagnose that");
    return report::pprof::holders_profile(h);
  }
  if (names.empty())
    throw InputError(dir +
                     ": no cell carries attribution at a phase end; export pprof reads a diagnose or repro run, "
                     "or a trace recorded with --stacks");
  throw InputError("--allocator '" + allocator + "' has no attribution in " + dir + " (valid: " + names + ")");
}

}  // namespace heapmark::cli
