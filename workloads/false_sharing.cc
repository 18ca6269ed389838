// false-sharing: objects the allocator places so that different threads write
// to the same cache line, after mimalloc-bench's cache-scratch and cache-thrash.
//   passive  (cache-scratch) the main thread allocates one object per thread
//            back to back and hands them out; each thread frees the one it was
//            given and allocates its own of the same size. An allocator that
//            gives the freed block back to that thread keeps the threads'
//            objects side by side.
//   active   (cache-thrash) after a start barrier every thread allocates its
//            own object at the same time; an allocator serving threads from
//            one region puts them side by side.
// Then every thread writes `writes` times into its object (volatile byte stores
// cycling over its bytes). With rounds > 1 it frees the object, allocates
// again and writes again; a round's objects stay live until every thread has
// written its own, so they are disjoint and shared_lines counts real neighbours.
// It measures itself (threads, wall time), so the cell runs it natively and
// hands its Google Benchmark-shaped JSON to the runner.
#include <algorithm>
#include <barrier>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "workloads/catalog.h"
#include "workloads/native_json.h"

namespace heapmark::workloads {
namespace {

constexpr uintptr_t kLine = 64;  // cache line bytes on the x86-64 and arm64 machines heapmark runs on
// passive: objects of the size the main thread takes (and keeps to the end)
// before the handed-out ones, so those come from fresh memory, as at the start
// of cache-scratch, and not from whatever the process's earlier frees left in
// that size's free lists (which would scatter them).
constexpr size_t kDrain = 256;

uint64_t now_ns(clockid_t clock) noexcept {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

using native_json::put_number;
using native_json::put_string;

struct Config {
  bool passive;
  size_t threads, object_size;
  uint64_t writes, rounds;
};

// One thread's state, made before the timed window; a line of its own so the
// harness adds no false sharing of its own.
struct alignas(kLine) Worker {
  void* given = nullptr;         // passive: the object the main thread handed over
  std::vector<uintptr_t> addrs;  // the object written in each round (0: malloc failed)
  uint64_t writes_done = 0;
};

struct Barriers {
  explicit Barriers(size_t threads)
      : start(static_cast<ptrdiff_t>(threads + 1)),
        round(static_cast<ptrdiff_t>(threads)),
        end(static_cast<ptrdiff_t>(threads + 1)) {}
  std::barrier<> start;  // the workers and the main thread, which times from here
  std::barrier<> round;  // the workers: a round's objects are all live and written
  std::barrier<> end;    // the workers and the main thread, which times to here
};

void work(const Config& cfg, Worker& w, Barriers& b) {
  b.start.arrive_and_wait();
  for (uint64_t r = 0; r < cfg.rounds; ++r) {
    if (r == 0 && cfg.passive) std::free(w.given);
    auto* p = static_cast<unsigned char*>(std::malloc(cfg.object_size));
    w.addrs[r] = reinterpret_cast<uintptr_t>(p);
    if (p) {
      volatile unsigned char* q = p;
      size_t k = 0;
      for (uint64_t i = 0; i < cfg.writes; ++i) {
        q[k] = static_cast<unsigned char>(i);
        if (++k == cfg.object_size) k = 0;
      }
      w.writes_done += cfg.writes;
    }
    b.round.arrive_and_wait();
    std::free(p);
  }
  b.end.arrive_and_wait();
}

// Cache lines holding objects of two or more threads, summed over rounds. A
// thread has one object per round, so a line listed twice in a round is shared.
uint64_t shared_lines(const Config& cfg, const std::vector<Worker>& workers) {
  uint64_t shared = 0;
  std::vector<uintptr_t> lines;
  for (uint64_t r = 0; r < cfg.rounds; ++r) {
    lines.clear();
    for (const auto& w : workers)
      if (const uintptr_t a = w.addrs[r])
        for (uintptr_t l = a / kLine; l <= (a + cfg.object_size - 1) / kLine; ++l) lines.push_back(l);
    std::sort(lines.begin(), lines.end());
    for (size_t i = 0; i < lines.size();) {
      size_t j = i;
      while (j < lines.size() && lines[j] == lines[i]) ++j;
      shared += j - i >= 2;
      i = j;
    }
  }
  return shared;
}

std::string run_false_sharing(const Params& p) {
  const Config cfg{p.text("mode") == "passive", static_cast<size_t>(p.integer("threads")),
                   static_cast<size_t>(p.integer("object_size")), static_cast<uint64_t>(p.integer("writes")),
                   static_cast<uint64_t>(p.integer("rounds"))};
  std::vector<Worker> workers(cfg.threads);
  for (auto& w : workers) w.addrs.assign(cfg.rounds, 0);
  Barriers barriers(cfg.threads);
  std::vector<std::thread> pool;
  pool.reserve(cfg.threads);
  for (auto& w : workers) pool.emplace_back(work, std::cref(cfg), std::ref(w), std::ref(barriers));
  // After the threads exist, so their own setup allocations do not sit between the objects.
  std::vector<void*> drained(cfg.passive ? kDrain : 0);
  for (auto& d : drained) d = std::malloc(cfg.object_size);
  if (cfg.passive)
    for (auto& w : workers) w.given = std::malloc(cfg.object_size);

  const uint64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  barriers.start.arrive_and_wait();
  barriers.end.arrive_and_wait();
  const uint64_t wall_ns = now_ns(CLOCK_MONOTONIC) - t0, cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
  for (auto& t : pool) t.join();
  for (void* d : drained) std::free(d);

  uint64_t total = 0, reused = 0;
  bool given_ok = true;
  for (const auto& w : workers) {
    total += w.writes_done;
    reused += cfg.passive && w.given && w.addrs[0] == reinterpret_cast<uintptr_t>(w.given);
    given_ok &= !cfg.passive || w.given;
  }
  if (!given_ok || total != cfg.threads * cfg.writes * cfg.rounds)
    throw std::runtime_error("false-sharing: malloc(" + std::to_string(cfg.object_size) + ") returned NULL");

  const double per_thread = static_cast<double>(cfg.writes * cfg.rounds);
  std::string json = "{\"source\":";
  put_string(json,
             "false-sharing: wall time (CLOCK_MONOTONIC) from the start barrier to the last thread's end, "
             "covering each thread's malloc/free and its volatile byte writes; real_time = wall ns per write of "
             "one thread (its writes run alongside the others'), cpu_time = process CPU ns per write, iterations "
             "= total_writes over all threads, items_per_second = total_writes per wall second; shared_lines = "
             "64-byte lines holding the objects of two or more threads, from the written addresses, summed over "
             "rounds");
  json += ",\"benchmarks\":[{\"name\":";
  put_string(json, std::string("false-sharing/") + p.text("mode"));
  json += ",\"time_unit\":\"ns\"";
  put_number(json, "iterations", static_cast<double>(total));
  put_number(json, "real_time", static_cast<double>(wall_ns) / per_thread);
  put_number(json, "cpu_time", static_cast<double>(cpu_ns) / static_cast<double>(total));
  put_number(json, "items_per_second", wall_ns ? static_cast<double>(total) * 1e9 / static_cast<double>(wall_ns) : 0);
  put_number(json, "threads", static_cast<double>(cfg.threads));
  put_number(json, "shared_lines", static_cast<double>(shared_lines(cfg, workers)));
  put_number(json, "objects", static_cast<double>(cfg.threads * cfg.rounds));
  put_number(json, "object_size", static_cast<double>(cfg.object_size));
  put_number(json, "rounds", static_cast<double>(cfg.rounds));
  put_number(json, "writes_per_thread", per_thread);
  put_number(json, "total_writes", static_cast<double>(total));
  put_number(json, "wall_ns", static_cast<double>(wall_ns));
  put_number(json, "reused_blocks", static_cast<double>(reused));
  json += "}]}";
  return json;
}

const WorkloadDef kFalseSharing{
    "false-sharing",
    "threads writing to their own small objects: cache lines the allocator makes them share (cache-scratch, "
    "cache-thrash)",
    {
        {"mode",
         "passive",
         "passive: each thread frees an object the main thread allocated and allocates its own (cache-scratch); "
         "active: the threads allocate their objects concurrently (cache-thrash)",
         ParamType::kChoice,
         0,
         0,
         {"passive", "active"}},
        {"threads", "2", "writer threads, one object each per round", ParamType::kInt, 2, 64, {}},
        {"object_size", "8", "bytes of each object", ParamType::kInt, 1, 4096, {}},
        {"writes", "2000000", "volatile byte writes per thread per round", ParamType::kInt, 1, 1'000'000'000, {}},
        {"rounds",
         "1",
         "times each thread frees its object, allocates a new one and writes it again",
         ParamType::kInt,
         1,
         1000,
         {}},
    },
    nullptr,
    [](const Params&) -> size_t { return 4096; },
    run_false_sharing,
};
const Registrar kRegister{kFalseSharing};

}  // namespace
}  // namespace heapmark::workloads
