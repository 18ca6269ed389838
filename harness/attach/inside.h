// `heapmark attach PID`, the inside view: what the allocator serving malloc
// in a running process says about its memory. gdb attaches (every thread
// stops), inject.py brings each thread out of the allocator and the dynamic
// loader, loads libheapmark_attach.so (helper.cc) and calls it; the helper
// asks the registry's family there for its identity proof, version, settings,
// statistics, accounting and heap walk, and writes them to a file heapmark
// created. While gdb runs, a watcher reads /proc/PID/stat every half
// millisecond: how long the process was stopped is measured from outside.
#pragma once
#include <sys/types.h>

#include <array>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "allocators/registry/family.h"

namespace heapmark::attach {

// How the helper got in (inject.py's report and the watcher's figures).
struct Injection {
  bool ok = false;
  std::string error;  // why not, in one line
  int passes = 0, stepped = 0, sliced = 0, interrupted = 0;
  int threads_released = 0;             // action release of a per-thread hook: the threads it ran in
  std::vector<std::string> busy_first;  // threads inside the allocator when gdb stopped them
  double quiesce_ms = 0, call_ms = 0;
  double stopped_ms = 0;  // first to last moment the main thread was seen in tracing stop (/proc/PID/stat 't')
  double gdb_ms = 0;      // gdb's whole run, start to exit
  // A release: the resident bytes (smaps_rollup) read in the stop just before and just after the calls.
  std::optional<std::pair<uint64_t, uint64_t>> rss_in_stop;
};

struct KeptBytes {
  std::string mechanism;
  uint64_t bytes = 0;
  bool resident = true, release_returns = false, pinned = false;
};

// The registry's Accounting, as the helper reported it; nullopt = unknown.
struct AllocatorAccounting {
  std::optional<uint64_t> live, metadata, retained;
  std::string note;
  std::vector<KeptBytes> kept;
};

// The registry's HeapWalk, as the helper reported it (its counts by
// registry::kWalkCounts, the names both ends use).
struct PageWalk : registry::WalkCounts {
  bool ok = false;
  std::string why;
  double ms = 0;
  // The page map: pages per state (dense, sparse, retained, LazyFree, released)
  // over all the heaps, and per bucket of pages_per_bucket pages in address order.
  uint64_t pages_per_bucket = 0;
  std::array<uint64_t, 5> pages{};
  std::vector<std::array<uint32_t, 5>> buckets;
};

struct InsideView {
  Injection injection;
  // From the helper (empty when the injection failed).
  std::string family, malloc_from, proof, version, release_name, decay_name;
  bool identity_ok = false;
  std::vector<std::pair<std::string, uint64_t>> stats;
  std::vector<std::pair<std::string, std::string>> config;
  uint64_t horizon_ms = 0;
  bool horizon_background = false;
  std::string horizon_what;
  std::optional<AllocatorAccounting> accounting;
  std::optional<PageWalk> walk;
  std::optional<bool> released;  // action "release": the hook's result
  double release_ms = 0;
  // Whatever the helper could not say, in one line.
  std::string missing() const;
};

enum class Action { kSnapshot, kAccounting, kRelease, kDecay };

struct InjectOptions {
  std::string gdb = "gdb";
  std::string helper;  // libheapmark_attach.so
  std::string script;  // heapmark_attach.py
  std::vector<std::string> allocator_libraries;
  Action action = Action::kSnapshot;
  int64_t decay_ms = 0;    // kDecay: the setting
  int deadline_ms = 5000;  // for bringing every thread out of the allocator
};

// Runs gdb on `pid`. Throws EnvironmentError when gdb is missing; every other
// failure is in injection.ok / injection.error, and the process goes on.
InsideView read_inside(pid_t pid, const InjectOptions& options);

// The helper's JSON into the typed view (also for tests); throws
// std::runtime_error naming a field it lacks.
void parse_helper(const boost::json::object& helper, InsideView& view);

boost::json::object to_json(const InsideView& v);

}  // namespace heapmark::attach
