// `heapmark export openmetrics RUN_DIR` and `heapmark export pprof SOURCE`: a
// run's figures and a trace's or run's heap profiles in formats the field's
// tools read (harness/report/openmetrics.h, harness/report/pprof.h).
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>

#include "common/input_error.h"
#include "harness/cli/commands.h"
#include "harness/cli/pprof_sources.h"
#include "harness/cli/trace_summary.h"
#include "harness/report/openmetrics.h"
#include "harness/report/results.h"
#include "harness/results/output_file.h"

namespace {

namespace pprof = heapmark::report::pprof;
using heapmark::InputError;

struct PprofOpts {
  std::string source, out, format = "proto", sample, at = "end", allocator;
  bool force = false;
};

int export_pprof(const PprofOpts& o) {
  if (o.format != "proto" && o.format != "legacy")
    throw InputError("--format '" + o.format +
                     "': expected proto (gzipped profile.proto) or legacy (gperftools' text)");
  struct stat st {};
  if (stat(o.source.c_str(), &st) != 0) throw InputError(o.source + ": no such trace file or results directory");
  const bool run = S_ISDIR(st.st_mode);
  if (run && o.at != "end")
    throw InputError("--at " + o.at + ": a run's holders are taken at F; --at applies to a trace");
  if (!run && !o.allocator.empty())
    throw InputError("--allocator " + o.allocator + ": a trace has one recording; --allocator applies to a run");
  heapmark::results::claim_output(o.out, o.force, "--out");
  std::string warnings;
  pprof::Profile p =
      run ? heapmark::cli::run_profile(o.source, o.allocator) : heapmark::cli::trace_profile(o.source, o.at, &warnings);
  if (!o.sample.empty()) {
    if (p.index_of(o.sample) < 0)
      throw InputError("--sample '" + o.sample + "' is not in this profile (valid: " + p.type_list() + ")");
    p.default_type = o.sample;
  }
  std::string bytes;
  if (o.format == "proto") {
    bytes = pprof::gzip(pprof::encode(p));
  } else if (p.index_of("alloc_space") >= 0) {
    if (!o.sample.empty())
      throw InputError("--sample " + o.sample +
                       ": the legacy format from a trace holds all four types, in use and allocated (google-pprof "
                       "--inuse_space, --inuse_objects, --alloc_space, --alloc_objects pick one)");
    bytes = pprof::legacy_heap(p, "inuse_space", "inuse_objects", "alloc_space", "alloc_objects");
  } else {
    if (p.default_type.size() < 6 || p.default_type.compare(p.default_type.size() - 6, 6, "_space") != 0)
      throw InputError("--sample " + p.default_type +
                       ": the legacy format's in-use slot holds bytes (pinned_space or inuse_space); its object "
                       "counts are inuse_objects");
    bytes = pprof::legacy_heap(p, p.default_type, "inuse_objects");
  }
  heapmark::results::write_atomically(o.out, bytes);
  std::fputs(warnings.c_str(), stderr);
  std::fprintf(stderr, "wrote %s: %zu stacks, sample types %s (first: %s), %s\n", o.out.c_str(), p.stacks(),
               p.type_list().c_str(), p.default_type.c_str(), heapmark::cli::human(bytes.size()).c_str());
  std::fprintf(stderr, "  view: %s %s\n", o.format == "proto" ? "go tool pprof -top" : "google-pprof --text",
               o.out.c_str());
  return 0;
}

const heapmark::cli::CommandRegistrar export_cmd{[](CLI::App& app) -> heapmark::cli::Action {
  auto* cmd = app.add_subcommand("export", "Write a run's findings in a format other tools read");
  cmd->require_subcommand(1);
  auto* om = cmd->add_subcommand(
      "openmetrics",
      "A run's figures as an OpenMetrics text exposition (Prometheus, Grafana): one gauge per figure, one sample per "
      "ok cell labelled allocator, workload, params and rep; phase figures carry phase and phase_index "
      "(docs/openmetrics.md)");
  struct Opts {
    std::string dir, out;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  om->add_option("run-dir", o->dir, "Results directory, e.g. results/20261122-031745-a3f9")->required();
  om->add_option("--out", o->out, "Write the exposition to this file (default: standard output)");
  om->add_flag("--force", o->force, "Replace --out if it exists");

  auto* pp = cmd->add_subcommand(
      "pprof",
      "Heap profiles for pprof clients (go tool pprof, google-pprof, Pyroscope, speedscope). From a trace recorded "
      "with --stacks: alloc_objects, alloc_space, inuse_objects and inuse_space by stack at --at. From a diagnose or "
      "repro run: pinned_space (the resident bytes a site's live blocks keep from being returned), inuse_space and "
      "inuse_objects by stack at F, the medians the pinning table shows (docs/pprof.md)");
  auto po = std::make_shared<PprofOpts>();
  pp->add_option("source", po->source, "A trace file (heapmark record --stacks) or a results directory")->required();
  pp->add_option("--out", po->out, "Write the profile here (e.g. heap.pb.gz; heap.prof for --format legacy)")
      ->required();
  pp->add_option("--format", po->format,
                 "proto: gzipped profile.proto (go tool pprof and most tools); legacy: gperftools' text heap "
                 "profile with its symbols inside (google-pprof --text FILE, no binary needed)")
      ->capture_default_str();
  pp->add_option("--sample", po->sample,
                 "The sample type a client shows first (default inuse_space for a trace, pinned_space for a run); "
                 "for --format legacy from a run, the bytes in the in-use slot");
  pp->add_option("--at", po->at,
                 "Trace: where the inuse figures are taken: end, peak (the live-byte peak), a time from the first "
                 "event (12.5s, 800ms) or a phase mark")
      ->capture_default_str();
  pp->add_option("--allocator", po->allocator, "Run: the base allocator whose holders to export (default: the first)");
  pp->add_flag("--force", po->force, "Replace --out if it exists");

  return [cmd, om, o, pp, po]() -> std::optional<int> {
    if (!*cmd) return std::nullopt;
    if (*pp) return export_pprof(*po);
    if (!*om) return 2;
    if (!o->out.empty()) heapmark::results::claim_output(o->out, o->force, "--out");
    const std::string text = heapmark::report::openmetrics_exposition(heapmark::report::read_run(o->dir));
    if (o->out.empty()) std::fwrite(text.data(), 1, text.size(), stdout);
    else heapmark::results::write_atomically(o->out, text);
    return 0;
  };
}};

}  // namespace
