#include "harness/attach/verdict.h"

#include <cstdio>
#include <tuple>

#include "harness/repro/mechanisms.h"
#include "harness/results/verdicts.h"

namespace heapmark::attach {
namespace json = boost::json;
namespace {

constexpr uint64_t kLittle = 8ull << 20;

// The catalogue keys its texts by allocator: the family, or for the in-house
// family the allocator's own name (the first word of its version).
std::string catalogue_key(const InsideView& in) {
  if (in.family != "in-house") return in.family;
  return in.version.substr(0, in.version.find(' '));
}

std::string percent(uint64_t part, uint64_t whole) {
  char s[32];
  std::snprintf(s, sizeof s, "%.0f%%", whole ? 100.0 * double(part) / double(whole) : 0.0);
  return s;
}

}  // namespace

Assessment assess(const OutsideView& outside, const InsideView& in, pid_t pid) {
  Assessment a;
  a.rss = outside.total;
  using results::Verdict;
  Verdict v = Verdict::kUnknown;
  if (in.injection.ok && in.identity_ok && in.accounting) {
    const AllocatorAccounting& acc = *in.accounting;
    a.live = acc.live;
    if (in.walk && in.walk->ok) {
      a.free_resident = in.walk->free_pages;
      a.release_returns = in.walk->release_returns;
      a.pinned = in.walk->live_pages > in.walk->in_use_bytes ? in.walk->live_pages - in.walk->in_use_bytes : 0;
      a.predicted_from = "heap walk";
    } else {
      uint64_t kept = 0, returns = 0, pinned = 0;
      bool any_resident = false;
      for (const auto& k : acc.kept) {
        if (!k.resident) continue;
        any_resident = true;
        if (k.pinned) pinned += k.bytes;
        else kept += k.bytes;
        if (k.release_returns) returns += k.bytes;
      }
      if (any_resident && acc.live) {
        a.free_resident = kept;
        a.pinned = pinned;
        a.release_returns = returns;
        a.predicted_from = "allocator accounting";
      }
    }
    if (a.free_resident) {
      const uint64_t kept = *a.free_resident, pinned = a.pinned.value_or(0);
      const bool little = kept < kLittle || kept * 10 < a.rss;
      if (pinned > kept && pinned >= kLittle && pinned * 10 >= a.rss) v = Verdict::kFragmentation;
      else if (little) v = Verdict::kReturned;
      else if (*a.release_returns * 2 >= kept) v = Verdict::kUntilRelease;
      else v = Verdict::kNotReturned;
    }
  }
  a.verdict = results::verdict_id(v);
  a.label = results::verdict_label(v);
  if (v == Verdict::kUnknown) {
    a.why = in.missing().empty() ? in.family + " does not tell live from free memory" : in.missing();
  } else if (v == Verdict::kReturned) {
    a.why = "The allocator keeps " + human(*a.free_resident) +
            " of free memory resident: RES is what the program holds (" + human(a.live.value_or(0)) +
            " live) and memory outside the allocator (see the parts above).";
  } else if (const repro::Explanation* e = repro::find_mechanism(catalogue_key(in), a.verdict)) {
    a.why = e->text;                        // one of repro::kAttachExplains
  } else if (v == Verdict::kNotReturned) {  // no scenario measures this in general: attach's own words
    a.why =
        "The allocator keeps this free memory where its release call does not reach (other threads' caches, partly "
        "used slabs and pages): it goes back only as those threads allocate and free again, or exit.";
  }
  if (!in.injection.ok || !in.identity_ok) {
    a.remedy = "none measured: the inside view is missing";
  } else if (in.release_name == "none") {
    a.remedy = in.family + " has no release call heapmark knows";
  } else if (a.release_returns) {
    a.remedy = in.release_name + " would return " + human(*a.release_returns) + " now (predicted from the " +
               a.predicted_from + "): heapmark attach " + std::to_string(pid) + " --apply release";
    if (in.decay_name != "none")
      a.remedy += "; or, to return freed pages at once from now on (a cost on every free), --apply decay:0 (" +
                  in.decay_name + ")";
  } else {
    a.remedy = in.release_name + " may return memory, but " + in.family +
               " gives no figure to predict it: heapmark attach " + std::to_string(pid) +
               " --apply release measures it";
  }
  return a;
}

Applied apply(pid_t pid, const std::string& remedy, const InjectOptions& options, const InsideView& snapshot,
              const Assessment& at_snapshot, const std::vector<std::string>& libraries) {
  Applied a;
  a.remedy = remedy;
  InjectOptions rel = options;
  const bool decay = remedy.rfind("decay:", 0) == 0;
  if (decay) {
    rel.action = Action::kDecay;
    rel.decay_ms = std::stoll(remedy.substr(6));
    a.hook = snapshot.decay_name + " = " + std::to_string(rel.decay_ms) + " ms";
  } else {
    rel.action = Action::kRelease;
    a.hook = snapshot.release_name;
  }
  const OutsideView before = read_outside(pid, libraries);
  const InsideView done = read_inside(pid, rel);
  a.rss_before = before.total;
  a.rss_after = read_outside(pid, libraries).total;
  // A release is measured in its stop: between a reading before gdb stops the process and the stop, a
  // background thread (jemalloc's, redis's) may purge by itself, and that would count as the hook's.
  if (done.injection.rss_in_stop) {
    std::tie(a.rss_before, a.rss_after) = *done.injection.rss_in_stop;
    a.measured_in = "stop";
  }
  a.returned = a.rss_before > a.rss_after ? a.rss_before - a.rss_after : 0;
  a.ok = done.injection.ok && done.released.value_or(false);
  a.error = done.injection.ok ? (a.ok ? "" : "the allocator refused it") : done.injection.error;
  // The prediction made in the same stop as the call (a background thread may
  // have purged some of it since the snapshot). A decay of 0 purges what the
  // hook would; a longer one returns it over its time, so nothing is predicted now.
  a.predicted_at_snapshot = at_snapshot.release_returns;
  if (!decay || rel.decay_ms == 0) {
    a.predicted = assess(before, done, pid).release_returns;
    if (!a.predicted) a.predicted = a.predicted_at_snapshot;
  }
  a.release_ms = done.release_ms;
  a.stopped_ms = done.injection.stopped_ms;
  a.threads = done.injection.threads_released ? done.injection.threads_released : 1;
  return a;
}

json::object to_json(const Applied& a) {
  return {{"remedy", a.remedy},
          {"hook", a.hook},
          {"ok", a.ok},
          {"error", a.error},
          {"rss_before", a.rss_before},
          {"rss_after", a.rss_after},
          {"measured_in", a.measured_in},
          {"returned", a.returned},
          {"predicted", or_null(a.predicted)},
          {"predicted_at_snapshot", or_null(a.predicted_at_snapshot)},
          {"release_ms", a.release_ms},
          {"threads", a.threads},
          {"stopped_ms", a.stopped_ms}};
}

std::string render_text(const Applied& a) {
  char line[512];
  if (!a.ok) {
    std::snprintf(line, sizeof line, "\napplied %s: not done: %s\n", a.hook.c_str(), a.error.c_str());
    return line;
  }
  std::string s;
  std::snprintf(
      line, sizeof line,
      "\napplied %s (in %d thread%s; %.1f ms inside the call, process stopped %.0f ms): RES %s -> %s, returned %s",
      a.hook.c_str(), a.threads, a.threads == 1 ? "" : "s", a.release_ms, a.stopped_ms, human(a.rss_before).c_str(),
      human(a.rss_after).c_str(), human(a.returned).c_str());
  s += line;
  if (a.predicted && *a.predicted > 0)
    std::snprintf(line, sizeof line, "; predicted %s (measured %.1f%% of it)\n", human(*a.predicted).c_str(),
                  100.0 * double(a.returned) / double(*a.predicted));
  else std::snprintf(line, sizeof line, "; no prediction (the allocator gives no figure)\n");
  return s + line;
}

json::object to_json(const Assessment& a) {
  return {{"rss", a.rss},
          {"live", or_null(a.live)},
          {"free_resident", or_null(a.free_resident)},
          {"pinned", or_null(a.pinned)},
          {"release_returns", or_null(a.release_returns)},
          {"predicted_from", a.predicted_from},
          {"verdict", a.verdict},
          {"label", a.label},
          {"why", a.why},
          {"remedy", a.remedy}};
}

std::string render_text(const InsideView& in, const Assessment& a) {
  std::string s;
  const Injection& i = in.injection;
  char line[512];
  if (!i.ok) {
    std::snprintf(line, sizeof line,
                  "\ninside view: missing: %s\n  (the process was stopped %.0f ms; it runs on unchanged)\n",
                  i.error.c_str(), i.stopped_ms);
    return s + line;
  }
  std::snprintf(line, sizeof line,
                "\ninside view (helper loaded through gdb; process stopped %.0f ms, %d thread%s stepped out of the "
                "allocator first)\n",
                i.stopped_ms, i.stepped, i.stepped == 1 ? "" : "s");
  s += line;
  s += "  malloc is " + (in.version.empty() ? in.family : in.version) + " (" + in.family + " family)" +
       (in.identity_ok ? "" : " - NOT proved") + ": " + in.proof + "\n";
  if (in.accounting) {
    const auto& acc = *in.accounting;
    s += "  live (the allocator's count): " + (acc.live ? human(*acc.live) : std::string("not counted")) + "\n";
    for (const auto& k : acc.kept) {
      std::snprintf(line, sizeof line, "  %-10s %-62s %12s%s%s\n",
                    k.pinned ? "pinned:" : "kept free:", k.mechanism.c_str(), human(k.bytes).c_str(),
                    k.resident ? "" : " (resident or not)", k.release_returns ? ", the release hook returns it" : "");
      s += line;
    }
    if (acc.metadata) s += "  metadata: " + human(*acc.metadata) + "\n";
    if (acc.retained) s += "  retained address space (not resident): " + human(*acc.retained) + "\n";
    if (!acc.note.empty()) s += "  note: " + acc.note + "\n";
  }
  if (in.walk) {
    const PageWalk& w = *in.walk;
    if (w.ok) {
      std::snprintf(line, sizeof line,
                    "  heap walk (%llu heaps, %.1f ms): %s resident; pages holding live chunks %s, free pages %s; "
                    "%llu chunks in use (%s), %llu free (%s)\n",
                    static_cast<unsigned long long>(w.heaps), w.ms, human(w.resident).c_str(),
                    human(w.live_pages).c_str(), human(w.free_pages).c_str(),
                    static_cast<unsigned long long>(w.chunks_in_use), human(w.in_use_bytes).c_str(),
                    static_cast<unsigned long long>(w.chunks_free), human(w.free_bytes).c_str());
      s += line;
    } else {
      s += "  heap walk: stopped: " + w.why + "\n";
    }
  }
  s += "\nverdict: " + a.label;
  if (a.live && a.free_resident)
    s += " - of RES " + human(a.rss) + ": " + human(*a.live) + " live (" + percent(*a.live, a.rss) + "), " +
         human(*a.free_resident) + " free kept resident (" + percent(*a.free_resident, a.rss) + ")" +
         (a.pinned ? ", " + human(*a.pinned) + " free on pages live blocks pin" : "");
  s += "\n  why: " + a.why + "\n  remedy: " + a.remedy + "\n";
  return s;
}

}  // namespace heapmark::attach
