#include "harness/runner/cell_record.h"

#include <boost/json.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <memory>
#include <set>

#include "harness/metrics/fragmentation.h"
#include "harness/metrics/histogram.h"
#include "harness/metrics/perf.h"
#include "harness/results/results_dir.h"
#include "workloads/op.h"

namespace json = boost::json;

namespace heapmark::runner {
namespace {

std::string cstr(const char* s, size_t cap) { return std::string(s, strnlen(s, cap)); }

// RSS moves in pages: below this much live data a ratio to RSS measures page
// granularity (one 4 KiB page for a 64-byte live set is "F4 = 63"), not the
// allocator, so the fragmentation figures are left undefined.
constexpr uint64_t kMinLiveForRatios = 1 << 20;

int64_t r_of(uint64_t anon, uint64_t r0) { return static_cast<int64_t>(anon) - static_cast<int64_t>(r0); }

std::optional<double> defined(double v) {
  return std::isnan(v) || std::isinf(v) ? std::nullopt : std::optional<double>(v);
}

// Percentiles are net of the timer overhead's median, means of its mean: each
// statistic minus the same statistic of the timer alone, floored at 0.
struct NetOfTimer {
  double hz, overhead, overhead_mean;
  double ns(double cycles) const { return hz > 0 ? std::max(0.0, cycles - overhead) * 1e9 / hz : 0.0; }
  double ns_mean(double cycles) const { return hz > 0 ? std::max(0.0, cycles - overhead_mean) * 1e9 / hz : 0.0; }
};

double rel_seconds(uint64_t t, uint64_t t0) { return (static_cast<double>(t) - static_cast<double>(t0)) * 1e-9; }

// One phase end: R, live bytes, the return ratio since the previous phase end,
// the wait it made, and where R is.
results::PhaseEndResult phase_end(const cell::PhaseEnd& e, const cell::PhaseBegin& b, uint64_t r0, int64_t prev_r,
                                  int64_t prev_l, uint64_t t0, const NetOfTimer& net) {
  results::PhaseEndResult pe;
  const int64_t r = r_of(e.smaps.anonymous, r0);
  const int64_t l = static_cast<int64_t>(e.live_bytes);
  pe.end_s = rel_seconds(e.t_ns, t0);
  pe.ops = e.ops;
  pe.op_ns_mean = e.ops ? net.ns_mean(static_cast<double>(e.op_cycles) / static_cast<double>(e.ops)) : 0.0;
  pe.rss = e.smaps.rss;
  pe.anonymous = e.smaps.anonymous;
  pe.lazy_free = e.smaps.lazy_free;
  pe.anon_huge_pages = e.smaps.anon_huge_pages;
  pe.r = r;
  pe.live_bytes = e.live_bytes;
  pe.live_usable = e.live_usable;
  pe.live_blocks = e.live_blocks;
  pe.rho = defined(metrics::rho(prev_r, r, prev_l, l));
  if (e.wait != 0) {
    results::Wait w;
    w.kind = cell::wait_kind_name(static_cast<cell::WaitKind>(e.wait));
    w.stop = cell::wait_stop_name(static_cast<cell::WaitStop>(e.wait_stop));
    w.planned_ms = e.wait_planned_ms;
    w.lasted_s = static_cast<double>(e.t_ns - b.t_ns) * 1e-9;
    if (e.returned_t_ns) w.returned_after_s = static_cast<double>(e.returned_t_ns - b.t_ns) * 1e-9;
    if (e.wait == static_cast<uint8_t>(cell::WaitKind::kActivity)) {
      w.activity_calls = e.activity_ops;
      w.activity_peak_live = e.activity_peak_live;
    }
    pe.wait = std::move(w);
  }
  // Where R is: live data, empty parts of pages that hold live blocks, resident
  // pages holding none (what a release could return), LazyFree, metadata.
  const uint64_t r_pos = r > 0 ? static_cast<uint64_t>(r) : 0;
  const uint64_t accounted = e.live_page_bytes + e.smaps.lazy_free + e.metadata;
  pe.breakdown = results::Breakdown{e.live_bytes,
                                    e.live_page_bytes > e.live_bytes ? e.live_page_bytes - e.live_bytes : 0,
                                    r_pos > accounted ? r_pos - accounted : 0,
                                    e.smaps.lazy_free,
                                    e.metadata,
                                    e.live_page_bytes};
  return pe;
}

// A self-measuring workload (micro): Google Benchmark's own figures. Returns
// false when its report is not Google Benchmark JSON with benchmarks.
bool micro_figures(const std::string& native, results::CellResult& rec) {
  boost::system::error_code ec;
  const json::value gb = json::parse(native, ec);
  rec.micro.emplace();
  if (!ec && gb.is_object())
    if (const auto* list = gb.as_object().if_contains("benchmarks"); list && list->is_array())
      for (const auto& b : list->as_array()) {
        const auto& o = b.as_object();
        auto n = [&](const char* k) {
          return o.if_contains(k) && o.at(k).is_number() ? o.at(k).to_number<double>() : 0.0;
        };
        const double scale = o.if_contains("time_unit") && o.at("time_unit") == "ns"   ? 1.0
                             : o.if_contains("time_unit") && o.at("time_unit") == "us" ? 1e3
                                                                                       : 1e6;
        // Google Benchmark's items/s: per CPU second, or per real second for
        // the UseRealTime (threaded) ones; real_time_ns includes waiting for a CPU.
        rec.micro->push_back({std::string(o.at("name").as_string()),
                              n("iterations"),
                              n("real_time") * scale,
                              n("cpu_time") * scale,
                              n("items_per_second"),
                              n("threads"),
                              {}});
        // Every other number is the workload's own figure (a user counter).
        static const std::set<std::string> kGoogleBenchmarkKeys = {
            "iterations", "real_time",   "cpu_time",         "items_per_second", "bytes_per_second",
            "threads",    "repetitions", "repetition_index", "family_index",     "per_family_instance_index",
            "time_unit"};
        for (const auto& [k, v] : o)
          if (v.is_number() && !kGoogleBenchmarkKeys.count(std::string(k)))
            rec.micro->back().counters.emplace_back(std::string(k), v.to_number<double>());
      }
  // A self-measuring workload other than Google Benchmark says how it measured.
  const auto* source = !ec && gb.is_object() ? gb.as_object().if_contains("source") : nullptr;
  rec.micro_source = source && source->is_string()
                         ? std::string(source->as_string())
                         : "Google Benchmark JSON, loop time per iteration (no per-op timer); items = allocator calls";
  return !ec && !rec.micro->empty();
}

// What the cell says about its allocator: identity, and once proven its
// return horizon, self-configuration, CPUs and timer.
void describe_allocator(const CellOutcome& out, results::CellResult& rec) {
  const cell::Hello& h = out.hello;
  rec.identity = results::Identity{h.identity_ok != 0,
                                   cstr(h.family, sizeof h.family),
                                   cstr(h.version, sizeof h.version),
                                   cstr(h.malloc_from, sizeof h.malloc_from),
                                   cstr(h.proof, sizeof h.proof),
                                   cstr(h.release_call, sizeof h.release_call)};
  if (!h.identity_ok) return;
  rec.return_horizon = {h.horizon_ms == UINT64_MAX ? std::nullopt : std::optional<uint64_t>(h.horizon_ms),
                        h.horizon_background != 0, cstr(h.horizon_what, sizeof h.horizon_what)};
  rec.allocator_config = out.allocator_config;
  rec.cpus.online = h.cpus_online;
  rec.cpus.at_start = cstr(h.cpus_at_start, sizeof h.cpus_at_start);
  if (h.pinned_cpu >= 0) rec.cpus.pinned = h.pinned_cpu;
  for (const auto& t : out.threads)
    rec.cpus.threads.push_back({cstr(t.affinity, sizeof t.affinity), cstr(t.ran_on, sizeof t.ran_on)});
  const double hz = h.tsc_hz, overhead = static_cast<double>(h.timer_overhead_cycles);
  rec.timing = results::Timing{hz,
                               h.tsc_invariant != 0,
                               h.timer_overhead_cycles,
                               hz > 0 ? overhead * 1e9 / hz : 0.0,
                               h.timer_overhead_mean_cycles > 0 ? h.timer_overhead_mean_cycles : overhead,
                               h.timer_resolution_cycles,
                               hz > 0 ? static_cast<double>(h.timer_resolution_cycles) * 1e9 / hz : 0.0,
                               h.batch_calls == 0,
                               metrics::Histogram::kRelativeError,
                               h.batch_calls ? "batch" : "latency",
                               h.batch_calls};
}

results::SiteShare site_share(const cell::SiteFigures& f) {
  results::SiteShare s{f.site, f.blocks, f.live, f.pinned, std::nullopt};
  if (f.median_age_ms >= 0) s.median_age_ms = f.median_age_ms;
  return s;
}

results::Attribution attribution(const cell::SitesMsg& m) {
  results::Attribution a;
  a.site_count = m.site_count;
  if (m.clock_ms) a.clock_ms = m.clock_ms;
  a.seconds = m.seconds;
  for (uint32_t i = 0; i < m.count && i < cell::SitesMsg::kMax; ++i) a.sites.push_back(site_share(m.items[i]));
  std::sort(a.sites.begin(), a.sites.end(), [](const results::SiteShare& x, const results::SiteShare& y) {
    return x.pinned != y.pinned ? x.pinned > y.pinned : x.live != y.live ? x.live > y.live : x.site < y.site;
  });
  a.unknown = site_share(m.unknown);
  a.other = site_share(m.other);
  return a;
}

results::PageMap page_map(const cell::PageMapMsg& m) {
  results::PageMap pm;
  pm.pages_per_bucket = m.pages_per_bucket;
  pm.shown_pages = m.shown_pages;
  pm.mappings = m.mappings;
  pm.lazyfree_known = m.lazyfree_known != 0;
  for (int s = 0; s < cell::kPageStates; ++s) pm.pages[s] = m.pages[s];
  for (uint32_t b = 0; b < m.buckets && b < cell::PageMapMsg::kBuckets; ++b) {
    std::array<uint32_t, 5> c{};
    for (int s = 0; s < cell::kPageStates; ++s) c[s] = m.counts[b][s];
    pm.buckets.push_back(c);
  }
  return pm;
}

void phase_figures(const CellOutcome& out, uint64_t t0, const NetOfTimer& net, results::CellResult& rec) {
  int64_t prev_r = 0, prev_l = 0;
  for (const auto& p : out.phases) {
    results::PhaseResult pr;
    pr.index = static_cast<int>(p.begin.index);
    pr.name = cstr(p.begin.name, sizeof p.begin.name);
    pr.begin_s = rel_seconds(p.begin.t_ns, t0);
    if (p.ended) {
      pr.end = phase_end(p.end, p.begin, out.hello.r0_anon, prev_r, prev_l, t0, net);
      if (p.sites) pr.end->attribution = attribution(*p.sites);
      if (p.page_map) pr.end->page_map = page_map(*p.page_map);
      for (size_t i = 0; i < metrics::perf::kEvents; ++i)
        if (out.hello.counter_error[i] == 0)
          pr.end->counters.emplace_back(metrics::perf::event_info(i).name, p.end.counters[i]);
      pr.end->counters_multiplexed = p.end.counters_multiplexed != 0;
      prev_r = pr.end->r;
      prev_l = static_cast<int64_t>(p.end.live_bytes);
    }
    pr.allocator_stats = p.stats;
    rec.phases.push_back(std::move(pr));
  }
}

// Calls and latencies of a program that ran to its end.
void program_figures(const CellOutcome& out, const NetOfTimer& net, results::CellResult& rec) {
  const cell::Hello& h = out.hello;
  const cell::Result& res = out.result;
  char checksum[24];
  std::snprintf(checksum, sizeof checksum, "%016llx", static_cast<unsigned long long>(res.checksum));
  rec.program = results::ProgramInfo{checksum, res.program_ops, h.phase_count, h.threads, h.pinned_cpu, std::nullopt};
  uint64_t calls = 0;
  // Allocator calls: the timed ops. (Handoffs, phases, idle, activity and
  // release are program structure, not measured calls.)
  for (auto kind : {workloads::OpKind::kAlloc, workloads::OpKind::kFree, workloads::OpKind::kRealloc}) {
    rec.ops[workloads::op_kind_name(kind)] = res.ops[static_cast<int>(kind)];
    calls += res.ops[static_cast<int>(kind)];
  }
  for (const auto& hr : out.histograms) {
    auto hist = std::make_unique<metrics::Histogram>();
    hist->clear();
    results::LatencyHistogram raw{"cycles, raw (timer overhead included)", {}};
    for (const auto& b : hr.buckets) {
      if (b.bucket >= metrics::Histogram::kBuckets) continue;
      hist->counts[b.bucket] = b.count;
      raw.buckets.emplace_back(metrics::Histogram::bucket_low(b.bucket), b.count);
    }
    hist->total = hr.head.total;
    hist->min = hr.head.min;
    hist->max = hr.head.max;
    hist->sum = hr.head.sum;
    if (hr.head.op_kind == cell::kBatchHistogram) {  // picoseconds per call, one value per batch
      auto ns = [&](uint64_t ps) { return static_cast<double>(ps) * 1e-3; };
      const double hz = out.hello.tsc_hz;
      rec.batch_ns = results::BatchTiming{res.batch_calls,
                                          hist->total,
                                          hz > 0 && res.batch_calls ? static_cast<double>(res.batch_cycles) * 1e9 / hz /
                                                                          static_cast<double>(res.batch_calls)
                                                                    : 0.0,
                                          ns(hist->min),
                                          ns(hist->quantile(0.5)),
                                          ns(hist->quantile(0.9)),
                                          ns(hist->quantile(0.99)),
                                          ns(hist->quantile(0.999)),
                                          ns(hist->max)};
      continue;
    }
    const std::string name = workloads::op_kind_name(static_cast<workloads::OpKind>(hr.head.op_kind));
    auto q = [&](double p) { return net.ns(static_cast<double>(hist->quantile(p))); };
    rec.latency_ns.emplace_back(
        name, results::Latency{hist->total, net.ns_mean(hist->mean()), net.ns(static_cast<double>(hist->min)), q(0.5),
                               q(0.9), q(0.99), q(0.999), net.ns(static_cast<double>(hist->max))});
    rec.latency_histogram.emplace_back(name, std::move(raw));
  }
  rec.throughput_ops_s = rec.measured_s > 0 ? static_cast<double>(calls) / rec.measured_s : 0.0;
}

// The event counters over a generator cell's phases.
void counter_figures(const CellOutcome& out, results::CellResult& rec) {
  namespace perf = metrics::perf;
  perf::Availability avail[perf::kEvents];
  bool any_opened = false;
  for (size_t i = 0; i < perf::kEvents; ++i) {
    avail[i] = {out.hello.counter_error[i], out.hello.counter_user_only[i] != 0};
    any_opened |= avail[i].error != ENODATA;
  }
  if (!any_opened) return;  // --no-counters
  uint64_t calls = 0;
  for (const auto& [k, v] : rec.ops) calls += v;
  double total[perf::kEvents] = {};
  bool multiplexed = false;
  for (const auto& p : out.phases)
    if (p.ended) {
      for (size_t i = 0; i < perf::kEvents; ++i) total[i] += p.end.counters[i];
      multiplexed |= p.end.counters_multiplexed != 0;
    }
  rec.counters = counter_summary(avail, total, multiplexed, calls);
}

// Peak R, live bytes, "returned after free", fragmentation and the timeline.
void memory_figures(const CellOutcome& out, uint64_t t0, double sample_hz, results::CellResult& rec) {
  const cell::Hello& h = out.hello;
  const cell::Result& res = out.result;
  // Peak R from the sampled timeline, or from phase ends if they saw more
  // (a short cell may finish between two samples).
  const Timeline& tl = out.timeline;
  uint64_t peak_r = tl.peak_r(), live_at_peak_r = tl.live_at_peak_r();
  for (const auto& p : out.phases)
    if (p.ended) {
      const int64_t r = r_of(p.end.smaps.anonymous, h.r0_anon);
      if (r > 0 && static_cast<uint64_t>(r) > peak_r) {
        peak_r = static_cast<uint64_t>(r);
        live_at_peak_r = p.end.live_bytes;
      }
    }
  auto& mem = rec.memory;
  mem.harness_scratch = h.scratch_bytes;
  mem.peak_rss_sampled = tl.peak_rss();
  mem.peak_anon_sampled = tl.peak_anon();
  mem.peak_r = peak_r;
  if (tl.span_in_phases_s() > 0) mem.avg_r = std::llround(tl.integral_r() / tl.span_in_phases_s());
  mem.live_peak = res.live_peak;
  if (res.live_peak_t_ns) mem.live_peak_s = rel_seconds(res.live_peak_t_ns, t0);
  mem.live_end = res.live_end;
  // "Returned after free": the first phase that freed a real share of the live bytes.
  int64_t prev_l = 0;
  for (const auto& p : rec.phases) {
    if (!p.end) continue;
    const int64_t l = static_cast<int64_t>(p.end->live_bytes);
    if (metrics::frees_a_real_share(prev_l, l)) {
      mem.r_after_free = static_cast<double>(p.end->r);
      mem.returned_after_free = p.end->rho;
      break;
    }
    prev_l = l;
  }
  const bool ratios = res.live_peak >= kMinLiveForRatios;
  auto frag = [&](double v) { return ratios ? defined(v) : std::nullopt; };
  rec.fragmentation =
      results::FragmentationFigures{frag(metrics::f4(peak_r, res.live_peak)), frag(metrics::f3(peak_r, live_at_peak_r)),
                                    frag(metrics::f1(tl.integral_r(), tl.integral_l())),
                                    defined(metrics::internal(res.live_usable_at_peak, res.live_peak))};
  rec.timeline.sample_hz = sample_hz;
  rec.timeline.samples = tl.samples();
  rec.timeline.stride = tl.stride();
  bool clocked = false;
  for (const auto& s : tl.points()) {
    rec.timeline.t_s.push_back(rel_seconds(s.t_ns, t0));
    rec.timeline.rss.push_back(static_cast<double>(s.rss));
    rec.timeline.anon.push_back(static_cast<double>(s.anon));
    rec.timeline.live.push_back(static_cast<double>(s.live));
    rec.timeline.clock_s.push_back(static_cast<double>(s.clock_ms) / 1000);
    clocked |= s.clock_ms > 0;
  }
  if (!clocked) rec.timeline.clock_s.clear();
}

}  // namespace

results::Counters counter_summary(const metrics::perf::Availability* avail, const double* totals, bool multiplexed,
                                  uint64_t calls) {
  namespace perf = metrics::perf;
  results::Counters cs;
  cs.multiplexed = multiplexed;
  for (size_t i = 0; i < perf::kEvents; ++i) {
    results::CounterFigure f;
    f.name = perf::event_info(i).name;
    f.available = avail[i].error == 0;
    if (f.available) {
      f.total = totals[i];
      if (calls) f.per_1k_calls = totals[i] * 1000.0 / static_cast<double>(calls);
      f.user_only = avail[i].user_only;
    } else {
      char why[256];
      f.error = avail[i].error;
      f.reason = perf::unavailable_reason(i, avail[i], why, sizeof why);
    }
    cs.events.push_back(std::move(f));
  }
  auto event = [&](const char* name) -> const results::CounterFigure* {
    for (const auto& e : cs.events)
      if (e.name == name && e.available) return &e;
    return nullptr;
  };
  if (const auto* cyc = event("cycles"), *ins = event("instructions"); cyc && ins && cyc->total > 0)
    cs.ipc = ins->total / cyc->total;
  return cs;
}

results::CellResult planned_result(const CellPlan& plan, const std::string& started_at) {
  results::CellResult rec;
  rec.schema_version = results::kSchemaVersion;
  rec.key = plan.key;
  rec.index = plan.index;
  rec.block = plan.block;
  rec.allocator = plan.allocator->name;
  rec.allocator_kind = plan.allocator->kind();
  rec.library = plan.allocator->library;
  rec.env = plan.allocator->env;
  rec.workload = plan.workload;
  rec.params = plan.params;
  rec.rep = plan.rep;
  rec.seed = plan.seed;
  rec.started_at = started_at;
  return rec;
}

results::CellResult cell_result(const CellPlan& plan, const CellOutcome& out, const std::string& started_at,
                                double sample_hz) {
  results::CellResult rec = planned_result(plan, started_at);
  rec.status = out.ok ? "ok" : "failed";
  rec.cause = out.ok ? "" : out.cause;
  rec.detail = out.detail;
  rec.exit_code = out.exit_code;
  if (out.signal) rec.signal = out.signal;
  rec.wall_s = static_cast<double>(out.exit_ns - out.spawn_ns) * 1e-9;
  rec.stderr_tail = out.stderr_tail;

  if (!out.have_hello) return rec;
  describe_allocator(out, rec);
  if (!out.hello.identity_ok) return rec;
  const NetOfTimer net = {rec.timing.tsc_hz, static_cast<double>(out.hello.timer_overhead_cycles),
                          rec.timing.timer_overhead_mean_cycles};
  const uint64_t t0 = out.have_result && out.result.first_t_ns ? out.result.first_t_ns : out.hello.t_ns;
  phase_figures(out, t0, net, rec);
  if (!out.have_result) return rec;
  const cell::Result& res = out.result;
  rec.measured_s = static_cast<double>(res.last_t_ns - res.first_t_ns) * 1e-9;
  rec.cpu = results::CpuUse{static_cast<double>(res.utime_us) * 1e-6,
                            static_cast<double>(res.stime_us) * 1e-6,
                            res.minflt,
                            res.majflt,
                            res.nvcsw,
                            res.nivcsw};
  rec.memory.r0_anon = out.hello.r0_anon;
  rec.memory.r0_rss = out.hello.r0_rss;
  rec.memory.r0_huge = out.hello.r0_huge;
  rec.memory.vm_hwm = res.vm_hwm;
  if (plan.release_every_ns) {
    const double ms_per_cycle = rec.timing.tsc_hz > 0 ? 1e3 / rec.timing.tsc_hz : 0;
    rec.release_schedule =
        results::ReleaseSchedule{static_cast<double>(plan.release_every_ns) * 1e-6,
                                 out.hello.release_call,
                                 out.hello.release_per_thread ? "every thread" : "thread 0",
                                 out.hello.release_per_thread != 0,
                                 res.scheduled_releases,
                                 static_cast<double>(res.scheduled_release_cycles) * ms_per_cycle,
                                 static_cast<double>(res.scheduled_release_max_cycles) * ms_per_cycle};
  }
  if (plan.release_every_ns && cstr(out.hello.release_call, sizeof out.hello.release_call) == "none") {
    rec.status = "failed";
    rec.cause = "release";
    rec.detail = "--release-every: the allocator serving malloc here (family " +
                 cstr(out.hello.family, sizeof out.hello.family) +
                 ") has no release call to schedule; run it without the schedule, or with release_every off";
    return rec;
  }
  if (!out.native_json.empty()) {
    if (!micro_figures(out.native_json, rec)) {
      rec.status = "failed";
      rec.cause = "protocol";
      rec.detail = "the micro workload's report was not Google Benchmark JSON with benchmarks";
    }
    return rec;
  }
  program_figures(out, net, rec);
  counter_figures(out, rec);
  memory_figures(out, t0, sample_hz, rec);
  if (plan.thp_axis) rec.huge_pages = huge_page_timeline(out.huge_pages, t0);
  return rec;
}

Headline headline(const results::CellResult& r) {
  Headline h;
  h.ok = r.ok();
  if (!h.ok) {
    h.cause = r.cause;
    return h;
  }
  const double nan = NAN;
  if (r.micro) {  // no op program: nothing of the table applies
    h.ops_per_s = h.alloc_p50_ns = h.alloc_p99_ns = h.free_p50_ns = nan;
    h.peak_r_mib = h.live_peak_mib = h.after_free_mib = h.returned = h.f4 = nan;
    return h;
  }
  h.ops_per_s = r.throughput_ops_s;
  const auto* a = r.latency("alloc");
  const auto* f = r.latency("free");
  h.alloc_p50_ns = a ? a->p50 : nan;
  h.alloc_p99_ns = a ? a->p99 : nan;
  h.free_p50_ns = f ? f->p50 : nan;
  if (r.batch_ns) {  // --timing batch: the columns are ns per call over batches (the header says so)
    h.alloc_p50_ns = r.batch_ns->p50;
    h.alloc_p99_ns = r.batch_ns->p99;
  }
  const auto& m = r.memory;
  constexpr double kMiB = 1048576.0;
  h.peak_r_mib = m.peak_r ? static_cast<double>(*m.peak_r) / kMiB : nan;
  h.live_peak_mib = m.live_peak ? static_cast<double>(*m.live_peak) / kMiB : nan;
  h.after_free_mib = m.r_after_free ? *m.r_after_free / kMiB : nan;
  h.returned = m.returned_after_free.value_or(nan);
  h.f4 = r.fragmentation.f4.value_or(nan);
  return h;
}

}  // namespace heapmark::runner
