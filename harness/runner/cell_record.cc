#include "harness/runner/cell_record.h"

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <memory>

#include "harness/metrics/fragmentation.h"
#include "harness/metrics/histogram.h"
#include "harness/runner/results.h"
#include "workloads/op.h"

namespace json = boost::json;

namespace heapmark::runner {
namespace {

json::value number_or_null(double v) {
  if (std::isnan(v) || std::isinf(v)) return nullptr;
  return v == 0.0 ? 0.0 : v;  // no "-0.0" in the files
}

std::string cstr(const char* s, size_t cap) { return std::string(s, strnlen(s, cap)); }

// RSS moves in pages: below this much live data a ratio to RSS measures page
// granularity (one 4 KiB page for a 64-byte live set is "F4 = 63"), not the
// allocator, so the fragmentation figures are left undefined.
constexpr uint64_t kMinLiveForRatios = 1 << 20;

int64_t r_of(uint64_t anon, uint64_t r0) { return static_cast<int64_t>(anon) - static_cast<int64_t>(r0); }

}  // namespace

json::object cell_record(const CellPlan& plan, const CellOutcome& out, const std::string& started_at, double sample_hz) {
  json::object rec;
  rec["schema_version"] = kSchemaVersion;
  rec["key"] = plan.key;
  rec["index"] = plan.index;
  rec["block"] = plan.block;
  rec["allocator"] = plan.allocator->name;
  rec["allocator_kind"] = plan.allocator->kind();
  rec["library"] = plan.allocator->library;
  json::object env;
  for (const auto& [k, v] : plan.allocator->env) env[k] = v;
  rec["env"] = env;
  rec["workload"] = plan.workload;
  json::object params;
  for (const auto& [k, v] : plan.params) params[k] = v;
  rec["params"] = params;
  rec["rep"] = plan.rep;
  rec["seed"] = plan.seed;
  rec["status"] = out.ok ? "ok" : "failed";
  rec["cause"] = out.ok ? json::value(nullptr) : json::value(out.cause);
  rec["detail"] = out.detail;
  rec["exit_code"] = out.exit_code;
  rec["signal"] = out.signal ? json::value(out.signal) : json::value(nullptr);
  rec["started_at"] = started_at;
  rec["wall_s"] = static_cast<double>(out.exit_ns - out.spawn_ns) * 1e-9;
  if (!out.stderr_tail.empty()) rec["stderr_tail"] = out.stderr_tail;

  if (!out.have_hello) return rec;
  const cell::Hello& h = out.hello;
  rec["identity"] = json::object{{"ok", h.identity_ok != 0},
                                 {"family", cstr(h.family, sizeof h.family)},
                                 {"version", cstr(h.version, sizeof h.version)},
                                 {"malloc_from", cstr(h.malloc_from, sizeof h.malloc_from)},
                                 {"proof", cstr(h.proof, sizeof h.proof)},
                                 {"release_call", cstr(h.release_call, sizeof h.release_call)}};
  if (!h.identity_ok) return rec;
  rec["return_horizon"] = json::object{{"ms", h.horizon_ms == UINT64_MAX ? json::value(nullptr) : json::value(h.horizon_ms)},
                                       {"background", h.horizon_background != 0},
                                       {"what", cstr(h.horizon_what, sizeof h.horizon_what)}};
  json::object config;
  for (const auto& [k, v] : out.allocator_config) config[k] = v;
  rec["allocator_config"] = std::move(config);
  json::array threads;
  for (const auto& t : out.threads)
    threads.push_back(json::object{{"affinity", cstr(t.affinity, sizeof t.affinity)}, {"ran_on", cstr(t.ran_on, sizeof t.ran_on)}});
  rec["cpus"] = json::object{{"online", h.cpus_online}, {"at_start", cstr(h.cpus_at_start, sizeof h.cpus_at_start)},
                             {"pinned", h.pinned_cpu >= 0 ? json::value(h.pinned_cpu) : json::value(nullptr)},
                             {"threads", std::move(threads)}};

  const double hz = h.tsc_hz;
  // Percentiles are net of the overhead's median, means of its mean: each
  // statistic minus the same statistic of the timer alone.
  const double overhead = static_cast<double>(h.timer_overhead_cycles);
  const double overhead_mean = h.timer_overhead_mean_cycles > 0 ? h.timer_overhead_mean_cycles : overhead;
  auto ns = [&](double cycles) { return hz > 0 ? std::max(0.0, cycles - overhead) * 1e9 / hz : 0.0; };
  auto ns_mean = [&](double cycles) { return hz > 0 ? std::max(0.0, cycles - overhead_mean) * 1e9 / hz : 0.0; };
  rec["timing"] = json::object{{"tsc_hz", hz},
                               {"tsc_invariant", h.tsc_invariant != 0},
                               {"timer_overhead_cycles", h.timer_overhead_cycles},
                               {"timer_overhead_ns", hz > 0 ? overhead * 1e9 / hz : 0.0},
                               {"timer_overhead_mean_cycles", overhead_mean},
                               {"timer_resolution_cycles", h.timer_resolution_cycles},
                               {"timer_resolution_ns", hz > 0 ? static_cast<double>(h.timer_resolution_cycles) * 1e9 / hz : 0.0},
                               {"latency_net_of_timer_overhead", true},
                               {"histogram_relative_error", metrics::Histogram::kRelativeError}};

  const uint64_t t0 = out.have_result && out.result.first_t_ns ? out.result.first_t_ns : h.t_ns;
  auto rel_s = [&](uint64_t t) { return (static_cast<double>(t) - static_cast<double>(t0)) * 1e-9; };

  // Phases with their RSS figures and return ratios.
  json::array phases;
  int64_t prev_r = 0, prev_l = 0;
  double after_free_r = NAN, returned = NAN;
  for (const auto& p : out.phases) {
    json::object po;
    po["index"] = p.begin.index;
    po["name"] = cstr(p.begin.name, sizeof p.begin.name);
    po["begin_s"] = rel_s(p.begin.t_ns);
    if (p.ended) {
      const auto& e = p.end;
      const int64_t r = r_of(e.smaps.anonymous, h.r0_anon);
      const int64_t l = static_cast<int64_t>(e.live_bytes);
      const double rho = metrics::rho(prev_r, r, prev_l, l);
      po["end_s"] = rel_s(e.t_ns);
      po["ops"] = e.ops;
      po["op_ns_mean"] = e.ops ? ns_mean(static_cast<double>(e.op_cycles) / static_cast<double>(e.ops)) : 0.0;
      po["rss"] = e.smaps.rss;
      po["anonymous"] = e.smaps.anonymous;
      po["lazy_free"] = e.smaps.lazy_free;
      po["anon_huge_pages"] = e.smaps.anon_huge_pages;
      po["r"] = r;
      po["live_bytes"] = e.live_bytes;
      po["live_usable"] = e.live_usable;
      po["live_blocks"] = e.live_blocks;
      po["rho"] = number_or_null(rho);
      if (e.wait != 0) {
        json::object w{{"kind", cell::wait_kind_name(static_cast<cell::WaitKind>(e.wait))},
                       {"stop", cell::wait_stop_name(static_cast<cell::WaitStop>(e.wait_stop))},
                       {"planned_ms", e.wait_planned_ms},
                       {"lasted_s", static_cast<double>(e.t_ns - p.begin.t_ns) * 1e-9},
                       {"returned_after_s", e.returned_t_ns ? json::value(static_cast<double>(e.returned_t_ns - p.begin.t_ns) * 1e-9)
                                                            : json::value(nullptr)}};
        if (e.wait == static_cast<uint8_t>(cell::WaitKind::kActivity)) {
          w["activity_calls"] = e.activity_ops;
          w["activity_peak_live"] = e.activity_peak_live;
        }
        po["wait"] = std::move(w);
      }
      // Where R is: live data, empty parts of pages that hold live blocks, resident
      // pages holding none (what a release could return), LazyFree, metadata.
      const uint64_t r_pos = r > 0 ? static_cast<uint64_t>(r) : 0;
      const uint64_t frag = e.live_page_bytes > e.live_bytes ? e.live_page_bytes - e.live_bytes : 0;
      const uint64_t accounted = e.live_page_bytes + e.smaps.lazy_free + e.metadata;
      po["breakdown"] = json::object{{"live", e.live_bytes},
                                     {"fragmentation", frag},
                                     {"retained", r_pos > accounted ? r_pos - accounted : 0},
                                     {"lazy_free", e.smaps.lazy_free},
                                     {"metadata", e.metadata},
                                     {"live_page_bytes", e.live_page_bytes}};
      if (std::isnan(after_free_r) && metrics::frees_a_real_share(prev_l, l)) {  // the headline phase
        after_free_r = static_cast<double>(r);
        returned = rho;
      }
      prev_r = r;
      prev_l = l;
    }
    json::object st;
    for (const auto& [k, v] : p.stats) st[k] = v;
    po["allocator_stats"] = st;
    phases.push_back(po);
  }
  rec["phases"] = phases;

  if (!out.have_result) return rec;
  const cell::Result& res = out.result;
  auto cpu = [&] {
    return json::object{{"user_s", static_cast<double>(res.utime_us) * 1e-6},
                        {"sys_s", static_cast<double>(res.stime_us) * 1e-6},
                        {"minflt", res.minflt},
                        {"majflt", res.majflt},
                        {"nvcsw", res.nvcsw},
                        {"nivcsw", res.nivcsw}};
  };
  if (!out.native_json.empty()) {
    // A self-measuring workload (micro): Google Benchmark's own figures.
    boost::system::error_code ec;
    const json::value gb = json::parse(out.native_json, ec);
    json::array micro;
    if (!ec && gb.is_object())
      if (const auto* list = gb.as_object().if_contains("benchmarks"); list && list->is_array())
        for (const auto& b : list->as_array()) {
          const auto& o = b.as_object();
          auto n = [&](const char* k) { return o.if_contains(k) && o.at(k).is_number() ? o.at(k).to_number<double>() : 0.0; };
          const double scale = o.if_contains("time_unit") && o.at("time_unit") == "ns" ? 1.0
                               : o.if_contains("time_unit") && o.at("time_unit") == "us" ? 1e3 : 1e6;
          micro.push_back(json::object{{"name", o.at("name")},
                                       {"iterations", n("iterations")},
                                       {"real_time_ns", n("real_time") * scale},
                                       {"cpu_time_ns", n("cpu_time") * scale},
                                       // Google Benchmark's items/s: per CPU second, or per real second for
                                       // the UseRealTime (threaded) ones; real_time_ns includes waiting for a CPU.
                                       {"calls_per_second", n("items_per_second")},
                                       {"threads", n("threads")}});
        }
    rec["micro"] = micro;
    rec["micro_source"] = "Google Benchmark JSON, loop time per iteration (no per-op timer); items = allocator calls";
    rec["measured_s"] = static_cast<double>(res.last_t_ns - res.first_t_ns) * 1e-9;
    rec["cpu"] = cpu();
    rec["memory"] = json::object{{"r0_anon", h.r0_anon}, {"r0_rss", h.r0_rss}, {"vm_hwm", res.vm_hwm}};
    if (ec || micro.empty()) {
      rec["status"] = "failed";
      rec["cause"] = "protocol";
      rec["detail"] = "the micro workload's report was not Google Benchmark JSON with benchmarks";
    }
    return rec;
  }
  rec["program"] = json::object{{"checksum", [&] {
                                   char b[24];
                                   std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(res.checksum));
                                   return std::string(b);
                                 }()},
                                {"ops", res.program_ops},
                                {"phases", h.phase_count},
                                {"threads", h.threads},
                                {"pinned_cpu", h.pinned_cpu}};
  json::object ops, lat, hists;
  uint64_t calls = 0;
  // Allocator calls: the timed ops. (Handoffs, phases, idle, activity and
  // release are program structure, not measured calls.)
  for (auto kind : {workloads::OpKind::kAlloc, workloads::OpKind::kFree, workloads::OpKind::kRealloc}) {
    ops[workloads::op_kind_name(kind)] = res.ops[static_cast<int>(kind)];
    calls += res.ops[static_cast<int>(kind)];
  }
  for (const auto& hr : out.histograms) {
    auto hist = std::make_unique<metrics::Histogram>();
    hist->clear();
    json::array buckets;
    for (const auto& b : hr.buckets) {
      if (b.bucket >= metrics::Histogram::kBuckets) continue;
      hist->counts[b.bucket] = b.count;
      buckets.push_back(json::array{metrics::Histogram::bucket_low(b.bucket), b.count});
    }
    hist->total = hr.head.total;
    hist->min = hr.head.min;
    hist->max = hr.head.max;
    hist->sum = hr.head.sum;
    const char* name = workloads::op_kind_name(static_cast<workloads::OpKind>(hr.head.op_kind));
    lat[name] = json::object{{"count", hist->total},
                             {"mean", ns_mean(hist->mean())},
                             {"min", ns(static_cast<double>(hist->min))},
                             {"p50", ns(static_cast<double>(hist->quantile(0.5)))},
                             {"p90", ns(static_cast<double>(hist->quantile(0.9)))},
                             {"p99", ns(static_cast<double>(hist->quantile(0.99)))},
                             {"p999", ns(static_cast<double>(hist->quantile(0.999)))},
                             {"max", ns(static_cast<double>(hist->max))}};
    hists[name] = json::object{{"unit", "cycles, raw (timer overhead included)"}, {"buckets", buckets}};
  }
  rec["ops"] = ops;
  rec["latency_ns"] = lat;
  rec["latency_histogram"] = hists;
  const double measured_s = static_cast<double>(res.last_t_ns - res.first_t_ns) * 1e-9;
  rec["measured_s"] = measured_s;
  rec["throughput_ops_s"] = measured_s > 0 ? static_cast<double>(calls) / measured_s : 0.0;
  rec["cpu"] = cpu();

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
  rec["memory"] = json::object{{"r0_anon", h.r0_anon},
                               {"r0_rss", h.r0_rss},
                               {"harness_scratch", h.scratch_bytes},
                               {"vm_hwm", res.vm_hwm},
                               {"peak_rss_sampled", tl.peak_rss()},
                               {"peak_anon_sampled", tl.peak_anon()},
                               {"peak_r", peak_r},
                               {"live_peak", res.live_peak},
                               {"live_peak_s", res.live_peak_t_ns ? json::value(rel_s(res.live_peak_t_ns)) : json::value(nullptr)},
                               {"live_end", res.live_end},
                               {"r_after_free", number_or_null(after_free_r)},
                               {"returned_after_free", number_or_null(returned)}};
  const bool ratios = res.live_peak >= kMinLiveForRatios;
  auto frag = [&](double v) { return ratios ? number_or_null(v) : json::value(nullptr); };
  rec["fragmentation"] = json::object{{"f4", frag(metrics::f4(peak_r, res.live_peak))},
                                      {"f3", frag(metrics::f3(peak_r, live_at_peak_r))},
                                      {"f1", frag(metrics::f1(tl.integral_r(), tl.integral_l()))},
                                      {"internal", number_or_null(metrics::internal(res.live_usable_at_peak, res.live_peak))}};

  json::array t, rss, anon, live;
  for (const auto& s : tl.points()) {
    t.push_back(rel_s(s.t_ns));
    rss.push_back(s.rss);
    anon.push_back(s.anon);
    live.push_back(s.live);
  }
  rec["timeline"] = json::object{{"sample_hz", sample_hz}, {"samples", tl.samples()}, {"stride", tl.stride()},
                                 {"t_s", t}, {"rss", rss}, {"anon", anon}, {"live", live}};
  return rec;
}

Headline headline(const json::object& rec) {
  Headline h;
  h.ok = rec.at("status").as_string() == "ok";
  if (!h.ok) {
    h.cause = std::string(rec.at("cause").as_string());
    return h;
  }
  auto num = [](const json::value* v) { return v && v->is_number() ? v->to_number<double>() : NAN; };
  if (rec.contains("micro")) {  // no op program: nothing of the table applies
    h.ops_per_s = h.alloc_p50_ns = h.alloc_p99_ns = h.free_p50_ns = NAN;
    h.peak_r_mib = h.live_peak_mib = h.after_free_mib = h.returned = h.f4 = NAN;
    return h;
  }
  h.ops_per_s = num(rec.if_contains("throughput_ops_s"));
  const auto& lat = rec.at("latency_ns").as_object();
  if (const auto* a = lat.if_contains("alloc")) {
    h.alloc_p50_ns = num(a->as_object().if_contains("p50"));
    h.alloc_p99_ns = num(a->as_object().if_contains("p99"));
  }
  if (const auto* f = lat.if_contains("free")) h.free_p50_ns = num(f->as_object().if_contains("p50"));
  const auto& mem = rec.at("memory").as_object();
  h.peak_r_mib = num(mem.if_contains("peak_r")) / 1048576.0;
  h.live_peak_mib = num(mem.if_contains("live_peak")) / 1048576.0;
  h.after_free_mib = num(mem.if_contains("r_after_free")) / 1048576.0;
  h.returned = num(mem.if_contains("returned_after_free"));
  h.f4 = num(rec.at("fragmentation").as_object().if_contains("f4"));
  return h;
}

}  // namespace heapmark::runner
