// CellResult <-> its cells.jsonl object (see cell_json.h): to_json and
// from_json walk the same sections in the documented order
// (results/SCHEMA.md), each section's writer beside its reader.
#include "harness/results/cell_json.h"

#include "harness/results/cell_json_internal.h"

namespace heapmark::results {
namespace {

using namespace cell_json;

json::object cpu_json(const CpuUse& c) {
  return json::object{{"user_s", c.user_s}, {"sys_s", c.sys_s}, {"minflt", c.minflt},
                      {"majflt", c.majflt}, {"nvcsw", c.nvcsw}, {"nivcsw", c.nivcsw}};
}

json::object memory_json(const Memory& m) {
  json::object o{{"r0_anon", m.r0_anon}, {"r0_rss", m.r0_rss}, {"r0_huge", m.r0_huge}};
  if (m.harness_scratch) o["harness_scratch"] = *m.harness_scratch;
  o["vm_hwm"] = m.vm_hwm;
  if (!m.peak_r) return o;  // a micro cell's memory ends here
  o["peak_rss_sampled"] = opt_int(m.peak_rss_sampled);
  o["peak_anon_sampled"] = opt_int(m.peak_anon_sampled);
  o["peak_r"] = *m.peak_r;
  o["avg_r"] = opt_int(m.avg_r);
  o["live_peak"] = opt_int(m.live_peak);
  o["live_peak_s"] = opt(m.live_peak_s);
  o["live_end"] = opt_int(m.live_end);
  o["r_after_free"] = opt(m.r_after_free);
  o["returned_after_free"] = opt(m.returned_after_free);
  return o;
}

// Who ran (the identity probe), and for a proven allocator its configuration, CPUs, timer and phases.
void write_identity(json::object& rec, const CellResult& c) {
  if (const auto& id = c.identity)
    rec["identity"] = json::object{{"ok", id->ok},           {"family", id->family},
                                   {"version", id->version}, {"malloc_from", id->malloc_from},
                                   {"proof", id->proof},     {"release_call", id->release_call}};
  if (c.proven()) {
    const auto& h = c.return_horizon;
    rec["return_horizon"] = json::object{{"ms", opt_int(h.ms)}, {"background", h.background}, {"what", h.what}};
    rec["allocator_config"] = pairs(c.allocator_config);
    json::array threads;
    for (const auto& t : c.cpus.threads)
      threads.push_back(json::object{{"affinity", t.affinity}, {"ran_on", t.ran_on}});
    rec["cpus"] = json::object{{"online", c.cpus.online},
                               {"at_start", c.cpus.at_start},
                               {"pinned", opt_int(c.cpus.pinned)},
                               {"threads", std::move(threads)}};
    const auto& t = c.timing;
    rec["timing"] = json::object{{"tsc_hz", t.tsc_hz},
                                 {"tsc_invariant", t.tsc_invariant},
                                 {"timer_overhead_cycles", t.timer_overhead_cycles},
                                 {"timer_overhead_ns", t.timer_overhead_ns},
                                 {"timer_overhead_mean_cycles", t.timer_overhead_mean_cycles},
                                 {"timer_resolution_cycles", t.timer_resolution_cycles},
                                 {"timer_resolution_ns", t.timer_resolution_ns},
                                 {"latency_net_of_timer_overhead", t.latency_net_of_timer_overhead},
                                 {"histogram_relative_error", t.histogram_relative_error},
                                 {"timer", t.timer}};
    if (t.batch_calls) rec["timing"].as_object()["batch_calls"] = t.batch_calls;
    json::array phases;
    for (const auto& p : c.phases) phases.push_back(phase_json(p));
    rec["phases"] = std::move(phases);
  }
}

void read_identity(const Reader& rd, const json::object& o, CellResult& c) {
  if (const auto* id = rd.object(o, "identity", ""))
    c.identity = Identity{rd.boolean(*id, "ok", "identity."),  rd.str(*id, "family", "identity."),
                          rd.str(*id, "version", "identity."), rd.str(*id, "malloc_from", "identity."),
                          rd.str(*id, "proof", "identity."),   rd.str(*id, "release_call", "identity.")};
  if (const auto* h = rd.object(o, "return_horizon", ""))
    c.return_horizon =
        ReturnHorizon{rd.integer<uint64_t>(*h, "ms", "return_horizon."),
                      rd.boolean(*h, "background", "return_horizon."), rd.str(*h, "what", "return_horizon.")};
  if (const auto* ac = rd.object(o, "allocator_config", ""))
    c.allocator_config = rd.text_pairs(*ac, "allocator_config.");
  if (const auto* cp = rd.object(o, "cpus", "")) {
    Cpus cpus{rd.integer<uint64_t>(*cp, "online", "cpus.").value_or(0),
              rd.str(*cp, "at_start", "cpus."),
              rd.integer<int64_t>(*cp, "pinned", "cpus."),
              {}};
    if (const auto* ts = rd.array(*cp, "threads", "cpus."))
      for (const auto& t : *ts)
        if (t.is_object())
          cpus.threads.push_back({rd.str(t.get_object(), "affinity", "cpus.threads[]."),
                                  rd.str(t.get_object(), "ran_on", "cpus.threads[].")});
    c.cpus = std::move(cpus);
  }
  if (const auto* t = rd.object(o, "timing", "")) {
    const std::string tp = "timing.";
    c.timing = Timing{rd.num(*t, "tsc_hz", tp).value_or(0),
                      rd.boolean(*t, "tsc_invariant", tp),
                      rd.integer<uint64_t>(*t, "timer_overhead_cycles", tp).value_or(0),
                      rd.num(*t, "timer_overhead_ns", tp).value_or(0),
                      rd.num(*t, "timer_overhead_mean_cycles", tp).value_or(0),
                      rd.integer<uint64_t>(*t, "timer_resolution_cycles", tp).value_or(0),
                      rd.num(*t, "timer_resolution_ns", tp).value_or(0),
                      rd.boolean(*t, "latency_net_of_timer_overhead", tp),
                      rd.num(*t, "histogram_relative_error", tp).value_or(0),
                      rd.find(*t, "timer") ? rd.str(*t, "timer", tp) : "latency",
                      rd.integer<uint64_t>(*t, "batch_calls", tp).value_or(0)};
  }
  if (const auto* ph = rd.array(o, "phases", ""))
    for (size_t i = 0; i < ph->size(); ++i) {
      const std::string path = "phases[" + std::to_string(i) + "].";
      if (!(*ph)[i].is_object()) rd.fail(path, "an object");
      c.phases.push_back(read_phase(rd, (*ph)[i].get_object(), path));
    }
}

// Google Benchmark results (micro cells).
void write_micro(json::object& rec, const CellResult& c) {
  if (c.micro) {
    json::array micro;
    for (const auto& b : *c.micro) {
      json::object mo{{"name", b.name},
                      {"iterations", b.iterations},
                      {"real_time_ns", b.real_time_ns},
                      {"cpu_time_ns", b.cpu_time_ns},
                      {"calls_per_second", b.calls_per_second},
                      {"threads", b.threads}};
      if (!b.counters.empty()) {
        json::object counters;
        for (const auto& [k, v] : b.counters) counters[k] = v;
        mo["counters"] = std::move(counters);
      }
      micro.push_back(std::move(mo));
    }
    rec["micro"] = std::move(micro);
    rec["micro_source"] = c.micro_source;
  }
}

void read_micro(const Reader& rd, const json::object& o, CellResult& c) {
  if (const auto* mi = rd.array(o, "micro", "")) {
    c.micro.emplace();
    for (const auto& b : *mi) {
      if (!b.is_object()) rd.fail("micro[]", "an object");
      const auto& bo = b.get_object();
      c.micro->push_back({rd.str(bo, "name", "micro[]."),
                          rd.num(bo, "iterations", "micro[].").value_or(0),
                          rd.num(bo, "real_time_ns", "micro[].").value_or(0),
                          rd.num(bo, "cpu_time_ns", "micro[].").value_or(0),
                          rd.num(bo, "calls_per_second", "micro[].").value_or(0),
                          rd.num(bo, "threads", "micro[].").value_or(0),
                          {}});
      if (const auto* cs = rd.object(bo, "counters", "micro[]."))
        for (const auto& [k, v] : *cs)
          if (v.is_number()) c.micro->back().counters.emplace_back(std::string(k), v.to_number<double>());
    }
    c.micro_source = rd.str(o, "micro_source", "");
  }
}

// A generator cell's op counts, latencies and their histograms.
void write_program(json::object& rec, const CellResult& c) {
  if (const auto& p = c.program) {
    json::object po{{"checksum", p->checksum},
                    {"ops", p->ops},
                    {"phases", p->phases},
                    {"threads", p->threads},
                    {"pinned_cpu", p->pinned_cpu}};
    if (p->matches_block) po["matches_block"] = *p->matches_block;
    rec["program"] = std::move(po);
    json::object ops;
    for (const auto& [k, v] : c.ops) ops[k] = v;
    rec["ops"] = std::move(ops);
    json::object lat, hists;
    for (const auto& [k, l] : c.latency_ns)
      lat[k] = json::object{{"count", l.count}, {"mean", l.mean}, {"min", l.min},   {"p50", l.p50},
                            {"p90", l.p90},     {"p99", l.p99},   {"p999", l.p999}, {"max", l.max}};
    for (const auto& [k, h] : c.latency_histogram) {
      json::array buckets;
      for (const auto& [low, n] : h.buckets) buckets.push_back(json::array{low, n});
      hists[k] = json::object{{"unit", h.unit}, {"buckets", std::move(buckets)}};
    }
    rec["latency_ns"] = std::move(lat);
    rec["latency_histogram"] = std::move(hists);
    if (const auto& b = c.batch_ns)
      rec["batch_ns_per_call"] = json::object{{"calls", b->calls}, {"batches", b->batches}, {"mean", b->mean},
                                              {"min", b->min},     {"p50", b->p50},         {"p90", b->p90},
                                              {"p99", b->p99},     {"p999", b->p999},       {"max", b->max}};
  }
  if (const auto& r = c.release_schedule)
    rec["release_schedule"] = json::object{{"every_ms", r->every_ms},
                                           {"hook", r->hook},
                                           {"called_in", r->called_in},
                                           {"per_thread", r->per_thread},
                                           {"calls", r->calls},
                                           {"total_ms", number_or_null(r->total_ms)},
                                           {"max_ms", number_or_null(r->max_ms)}};
}

void read_program(const Reader& rd, const json::object& o, CellResult& c) {
  if (const auto* p = rd.object(o, "program", ""))
    c.program = ProgramInfo{
        rd.str(*p, "checksum", "program."),
        rd.integer<uint64_t>(*p, "ops", "program.").value_or(0),
        rd.integer<uint64_t>(*p, "phases", "program.").value_or(0),
        rd.integer<uint64_t>(*p, "threads", "program.").value_or(0),
        rd.integer<int64_t>(*p, "pinned_cpu", "program.").value_or(-1),
        rd.find(*p, "matches_block") ? std::optional<bool>(rd.boolean(*p, "matches_block", "program.")) : std::nullopt};
  if (const auto* ops = rd.object(o, "ops", ""))
    for (const auto& [k, v] : *ops)
      c.ops[std::string(k)] = rd.integer<uint64_t>(*ops, std::string(k).c_str(), "ops.").value_or(0);
  if (const auto* lat = rd.object(o, "latency_ns", ""))
    for (const auto& [k, v] : *lat) {
      const std::string lp = "latency_ns." + std::string(k) + ".";
      if (!v.is_object()) rd.fail(lp, "an object");
      const auto& lo = v.get_object();
      c.latency_ns.emplace_back(
          std::string(k), Latency{rd.integer<uint64_t>(lo, "count", lp).value_or(0), rd.num(lo, "mean", lp).value_or(0),
                                  rd.num(lo, "min", lp).value_or(0), rd.num(lo, "p50", lp).value_or(0),
                                  rd.num(lo, "p90", lp).value_or(0), rd.num(lo, "p99", lp).value_or(0),
                                  rd.num(lo, "p999", lp).value_or(0), rd.num(lo, "max", lp).value_or(0)});
    }
  if (const auto* hs = rd.object(o, "latency_histogram", ""))
    for (const auto& [k, v] : *hs) {
      const std::string hp = "latency_histogram." + std::string(k) + ".";
      if (!v.is_object()) rd.fail(hp, "an object");
      LatencyHistogram h{rd.str(v.get_object(), "unit", hp), {}};
      if (const auto* b = rd.array(v.get_object(), "buckets", hp))
        for (const auto& e : *b) {
          if (!e.is_array() || e.get_array().size() != 2 || !e.get_array()[0].is_number() ||
              !e.get_array()[1].is_number())
            rd.fail(hp + "buckets", "[[lower bound, count], ...]");
          h.buckets.emplace_back(e.get_array()[0].to_number<uint64_t>(), e.get_array()[1].to_number<uint64_t>());
        }
      c.latency_histogram.emplace_back(std::string(k), std::move(h));
    }
  if (const auto* b = rd.object(o, "batch_ns_per_call", "")) {
    const std::string bp = "batch_ns_per_call.";
    c.batch_ns = BatchTiming{rd.integer<uint64_t>(*b, "calls", bp).value_or(0),
                             rd.integer<uint64_t>(*b, "batches", bp).value_or(0),
                             rd.num(*b, "mean", bp).value_or(0),
                             rd.num(*b, "min", bp).value_or(0),
                             rd.num(*b, "p50", bp).value_or(0),
                             rd.num(*b, "p90", bp).value_or(0),
                             rd.num(*b, "p99", bp).value_or(0),
                             rd.num(*b, "p999", bp).value_or(0),
                             rd.num(*b, "max", bp).value_or(0)};
  }
  if (const auto* r = rd.object(o, "release_schedule", "")) {
    const std::string rp = "release_schedule.";
    c.release_schedule = ReleaseSchedule{rd.num(*r, "every_ms", rp).value_or(0),
                                         rd.str(*r, "hook", rp),
                                         rd.str(*r, "called_in", rp),
                                         rd.boolean(*r, "per_thread", rp),
                                         rd.integer<uint64_t>(*r, "calls", rp).value_or(0),
                                         rd.num(*r, "total_ms", rp).value_or(0),
                                         rd.num(*r, "max_ms", rp).value_or(0)};
  }
}

// Kernel event counters over the measured phases.
void write_counters(json::object& rec, const CellResult& c) {
  if (const auto& k = c.counters) {
    json::object events;
    for (const auto& e : k->events) {
      if (e.available)
        events[e.name] =
            json::object{{"total", e.total}, {"per_1k_calls", opt(e.per_1k_calls)}, {"user_only", e.user_only}};
      else events[e.name] = json::object{{"unavailable", true}, {"errno", e.error}, {"reason", e.reason}};
    }
    json::object ko{{"events", std::move(events)}, {"multiplexed", k->multiplexed}};
    if (k->ipc) ko["ipc"] = *k->ipc;
    if (k->threads_at_attach) ko["threads_at_attach"] = *k->threads_at_attach;
    rec["counters"] = std::move(ko);
  }
}

void read_counters(const Reader& rd, const json::object& o, CellResult& c) {
  if (const auto* k = rd.object(o, "counters", "")) {
    Counters cs;
    if (const auto* ev = rd.object(*k, "events", "counters."))
      for (const auto& [name, v] : *ev) {
        const std::string ep = "counters.events." + std::string(name) + ".";
        if (!v.is_object()) rd.fail(ep, "an object");
        const auto& eo = v.get_object();
        CounterFigure f;
        f.name = std::string(name);
        f.available = !rd.boolean(eo, "unavailable", ep);
        f.total = rd.num(eo, "total", ep).value_or(0);
        f.per_1k_calls = rd.num(eo, "per_1k_calls", ep);
        f.user_only = rd.boolean(eo, "user_only", ep);
        f.error = rd.integer<int>(eo, "errno", ep).value_or(0);
        f.reason = rd.str(eo, "reason", ep);
        cs.events.push_back(std::move(f));
      }
    cs.ipc = rd.num(*k, "ipc", "counters.");
    cs.multiplexed = rd.boolean(*k, "multiplexed", "counters.");
    cs.threads_at_attach = rd.integer<uint32_t>(*k, "threads_at_attach", "counters.");
    c.counters = std::move(cs);
  }
}

// A real program's run, measured from outside.
void write_program_run(json::object& rec, const CellResult& c) {
  if (const auto& r = c.run) {
    json::array cmd;
    for (const auto& w : r->command) cmd.push_back(json::string(w));
    rec["program_run"] = json::object{{"command", std::move(cmd)},
                                      {"exit_code", r->exit_code},
                                      {"stdout_bytes", r->stdout_bytes},
                                      {"stdout_digest", r->stdout_digest},
                                      {"check", r->check},
                                      {"metric_name", r->metric_name},
                                      {"metric", opt(r->metric)},
                                      {"metric_higher_is_better", r->metric_higher_is_better},
                                      {"vm_hwm_from", r->vm_hwm_from}};
  }
}

void read_program_run(const Reader& rd, const json::object& o, CellResult& c) {
  if (const auto* pr = rd.object(o, "program_run", "")) {
    const std::string pp = "program_run.";
    ProgramRun r;
    if (const auto* cmd = rd.array(*pr, "command", pp))
      for (const auto& w : *cmd) r.command.push_back(w.is_string() ? std::string(w.as_string()) : json::serialize(w));
    r.exit_code = rd.integer<int64_t>(*pr, "exit_code", pp).value_or(-1);
    r.stdout_bytes = rd.integer<uint64_t>(*pr, "stdout_bytes", pp).value_or(0);
    r.stdout_digest = rd.str(*pr, "stdout_digest", pp);
    r.check = rd.str(*pr, "check", pp);
    r.metric_name = rd.str(*pr, "metric_name", pp);
    r.metric = rd.num(*pr, "metric", pp);
    r.metric_higher_is_better =
        !rd.find(*pr, "metric_higher_is_better") || rd.boolean(*pr, "metric_higher_is_better", pp);
    r.vm_hwm_from = rd.str(*pr, "vm_hwm_from", pp);
    c.run = std::move(r);
  }
}

// The figures of a finished cell: CPU, memory, fragmentation, the RSS timeline.
void write_finished(json::object& rec, const CellResult& c) {
  if (!c.finished()) return;
  rec["measured_s"] = c.measured_s;
  if (c.program) rec["throughput_ops_s"] = c.throughput_ops_s;
  rec["cpu"] = cpu_json(c.cpu);
  rec["memory"] = memory_json(c.memory);
  if (c.program) {
    const auto& f = c.fragmentation;
    rec["fragmentation"] =
        json::object{{"f4", opt(f.f4)}, {"f3", opt(f.f3)}, {"f1", opt(f.f1)}, {"internal", opt(f.internal)}};
  }
  if (c.program || c.run) {
    const auto& t = c.timeline;
    auto arr = [](const std::vector<double>& v, bool integral) {
      json::array a;
      a.reserve(v.size());
      for (double x : v) integral ? a.push_back(static_cast<uint64_t>(x)) : a.push_back(x);
      return a;
    };
    rec["timeline"] = json::object{{"sample_hz", t.sample_hz}, {"samples", t.samples},    {"stride", t.stride},
                                   {"t_s", arr(t.t_s, false)}, {"rss", arr(t.rss, true)}, {"anon", arr(t.anon, true)},
                                   {"live", arr(t.live, true)}};
    if (!t.clock_s.empty()) rec["timeline"].as_object()["clock_s"] = arr(t.clock_s, false);
    if (const auto& h = c.huge_pages)
      rec["huge_pages"] = json::object{
          {"min_interval_ms", h->min_interval_ms}, {"max_duty", h->max_duty},       {"reads", h->reads},
          {"read_us_mean", h->read_us_mean},       {"read_us_max", h->read_us_max}, {"t_s", arr(h->t_s, false)},
          {"bytes", arr(h->bytes, true)}};
  }
}

void read_finished(const Reader& rd, const json::object& o, CellResult& c) {
  c.measured_s = rd.num(o, "measured_s", "").value_or(0);
  c.throughput_ops_s = rd.num(o, "throughput_ops_s", "").value_or(0);
  if (const auto* cu = rd.object(o, "cpu", ""))
    c.cpu = CpuUse{rd.num(*cu, "user_s", "cpu.").value_or(0),
                   rd.num(*cu, "sys_s", "cpu.").value_or(0),
                   rd.integer<uint64_t>(*cu, "minflt", "cpu.").value_or(0),
                   rd.integer<uint64_t>(*cu, "majflt", "cpu.").value_or(0),
                   rd.integer<uint64_t>(*cu, "nvcsw", "cpu.").value_or(0),
                   rd.integer<uint64_t>(*cu, "nivcsw", "cpu.").value_or(0)};
  if (const auto* m = rd.object(o, "memory", "")) {
    const std::string mp = "memory.";
    Memory mem;
    mem.r0_anon = rd.integer<uint64_t>(*m, "r0_anon", mp).value_or(0);
    mem.r0_rss = rd.integer<uint64_t>(*m, "r0_rss", mp).value_or(0);
    mem.r0_huge = rd.integer<uint64_t>(*m, "r0_huge", mp).value_or(0);
    mem.harness_scratch = rd.integer<uint64_t>(*m, "harness_scratch", mp);
    mem.vm_hwm = rd.integer<uint64_t>(*m, "vm_hwm", mp).value_or(0);
    mem.peak_rss_sampled = rd.integer<uint64_t>(*m, "peak_rss_sampled", mp);
    mem.peak_anon_sampled = rd.integer<uint64_t>(*m, "peak_anon_sampled", mp);
    mem.peak_r = rd.integer<uint64_t>(*m, "peak_r", mp);
    mem.avg_r = rd.integer<uint64_t>(*m, "avg_r", mp);
    mem.live_peak = rd.integer<uint64_t>(*m, "live_peak", mp);
    mem.live_peak_s = rd.num(*m, "live_peak_s", mp);
    mem.live_end = rd.integer<uint64_t>(*m, "live_end", mp);
    mem.r_after_free = rd.num(*m, "r_after_free", mp);
    mem.returned_after_free = rd.num(*m, "returned_after_free", mp);
    c.memory = mem;
  }
  if (const auto* f = rd.object(o, "fragmentation", ""))
    c.fragmentation =
        FragmentationFigures{rd.num(*f, "f4", "fragmentation."), rd.num(*f, "f3", "fragmentation."),
                             rd.num(*f, "f1", "fragmentation."), rd.num(*f, "internal", "fragmentation.")};
  if (const auto* t = rd.object(o, "timeline", "")) {
    TimelineSeries& tl = c.timeline;
    tl.sample_hz = rd.num(*t, "sample_hz", "timeline.").value_or(0);
    tl.samples = rd.integer<uint64_t>(*t, "samples", "timeline.").value_or(0);
    tl.stride = rd.integer<uint64_t>(*t, "stride", "timeline.").value_or(1);
    auto series = [&](const char* k, std::vector<double>& out) {
      if (const auto* a = rd.array(*t, k, "timeline.")) out = rd.numbers(*a, std::string("timeline.") + k);
    };
    series("t_s", tl.t_s);
    series("rss", tl.rss);
    series("anon", tl.anon);
    series("live", tl.live);
    series("clock_s", tl.clock_s);
    if (!tl.clock_s.empty() && tl.clock_s.size() != tl.t_s.size())
      rd.fail("timeline.clock_s", "as many points as timeline.t_s");
  }
  if (const auto* h = rd.object(o, "huge_pages", "")) {
    const std::string hp = "huge_pages.";
    HugePageTimeline hu;
    hu.min_interval_ms = rd.num(*h, "min_interval_ms", hp).value_or(0);
    hu.max_duty = rd.num(*h, "max_duty", hp).value_or(0);
    hu.reads = rd.integer<uint64_t>(*h, "reads", hp).value_or(0);
    hu.read_us_mean = rd.num(*h, "read_us_mean", hp).value_or(0);
    hu.read_us_max = rd.num(*h, "read_us_max", hp).value_or(0);
    if (const auto* a = rd.array(*h, "t_s", hp)) hu.t_s = rd.numbers(*a, hp + "t_s");
    if (const auto* a = rd.array(*h, "bytes", hp)) hu.bytes = rd.numbers(*a, hp + "bytes");
    if (hu.t_s.size() != hu.bytes.size()) rd.fail("huge_pages.bytes", "as many points as huge_pages.t_s");
    c.huge_pages = std::move(hu);
  }
}

}  // namespace

const Latency* CellResult::latency(const std::string& op) const {
  for (const auto& [name, l] : latency_ns)
    if (name == op) return &l;
  return nullptr;
}

json::object to_json(const CellResult& c) {
  json::object rec;
  rec["schema_version"] = c.schema_version;
  rec["key"] = c.key;
  if (!c.machine.empty()) rec["machine"] = c.machine;
  rec["index"] = c.index;
  rec["block"] = c.block;
  rec["allocator"] = c.allocator;
  rec["allocator_kind"] = c.allocator_kind;
  rec["library"] = c.library;
  rec["env"] = pairs(c.env);
  rec["workload"] = c.workload;
  json::object params;
  for (const auto& [k, v] : c.params) params[k] = v;
  rec["params"] = std::move(params);
  rec["rep"] = c.rep;
  rec["seed"] = c.seed;
  rec["status"] = c.status;
  rec["cause"] = c.cause.empty() ? json::value(nullptr) : json::value(c.cause);
  rec["detail"] = c.detail;
  rec["exit_code"] = c.exit_code;
  rec["signal"] = opt_int(c.signal);
  rec["started_at"] = c.started_at;
  rec["wall_s"] = c.wall_s;
  if (!c.stderr_tail.empty()) rec["stderr_tail"] = c.stderr_tail;
  write_identity(rec, c);
  write_micro(rec, c);
  write_program(rec, c);
  write_counters(rec, c);
  write_program_run(rec, c);
  write_finished(rec, c);
  return rec;
}

CellResult from_json(const json::object& o, const std::string& where) {
  const Reader rd(where);
  CellResult c;
  c.schema_version = rd.integer<int>(o, "schema_version", "").value_or(0);
  c.key = rd.str(o, "key", "");
  c.machine = rd.str(o, "machine", "");
  c.index = rd.integer<uint64_t>(o, "index", "").value_or(0);
  c.block = rd.integer<uint64_t>(o, "block", "").value_or(0);
  c.allocator = rd.str(o, "allocator", "");
  c.allocator_kind = rd.str(o, "allocator_kind", "");
  c.library = rd.str(o, "library", "");
  if (const auto* env = rd.object(o, "env", "")) c.env = rd.text_pairs(*env, "env.");
  c.workload = rd.str(o, "workload", "");
  if (const auto* p = rd.object(o, "params", ""))
    for (const auto& [k, v] : rd.text_pairs(*p, "params.")) c.params[k] = v;
  c.rep = rd.integer<int64_t>(o, "rep", "").value_or(0);
  c.seed = rd.integer<uint64_t>(o, "seed", "").value_or(0);
  c.status = rd.str(o, "status", "");
  c.cause = rd.str(o, "cause", "");
  c.detail = rd.str(o, "detail", "");
  c.exit_code = rd.integer<int64_t>(o, "exit_code", "").value_or(-1);
  c.signal = rd.integer<int64_t>(o, "signal", "");
  c.started_at = rd.str(o, "started_at", "");
  c.wall_s = rd.num(o, "wall_s", "").value_or(0);
  c.stderr_tail = rd.str(o, "stderr_tail", "");
  read_identity(rd, o, c);
  read_micro(rd, o, c);
  read_program(rd, o, c);
  read_counters(rd, o, c);
  read_program_run(rd, o, c);
  read_finished(rd, o, c);
  return c;
}

}  // namespace heapmark::results
