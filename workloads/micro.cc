// micro: the allocator fast paths written with Google Benchmark, run inside a
// cell under the preloaded allocator like any workload. It measures itself
// (Google Benchmark's loop timing, no per-op timer), so it has no op program:
// the cell runs it natively and hands Google Benchmark's JSON to the runner.
//   BM_MallocFree/SIZE         malloc+free of one size, 16 B .. 64 KiB
//   BM_BatchAllocFree/SIZE     1000 allocations, then their 1000 frees
//   BM_CrossThreadFree/SIZE    a producer thread allocates, the benchmark thread frees
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "workloads/catalog.h"

namespace heapmark::workloads {
namespace {

void BM_MallocFree(benchmark::State& state) {
  const auto size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* p = std::malloc(size);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
  state.SetItemsProcessed(state.iterations() * 2);  // items = allocator calls
}

void BM_BatchAllocFree(benchmark::State& state) {
  constexpr int kBatch = 1000;
  const auto size = static_cast<size_t>(state.range(0));
  void* ptrs[kBatch];
  for (auto _ : state) {
    for (auto& p : ptrs) {
      p = std::malloc(size);
      benchmark::DoNotOptimize(p);
    }
    for (auto* p : ptrs) std::free(p);
  }
  state.SetItemsProcessed(state.iterations() * 2 * kBatch);
}

// Single-producer single-consumer ring of pointers between the two threads.
struct Ring {
  static constexpr size_t kSlots = 1024;
  std::atomic<size_t> head{0}, tail{0};
  void* slots[kSlots];
};
Ring g_ring;

void BM_CrossThreadFree(benchmark::State& state) {
  const auto size = static_cast<size_t>(state.range(0));
  Ring& r = g_ring;
  if (state.thread_index() == 0) {  // producer
    for (auto _ : state) {
      void* p = std::malloc(size);
      benchmark::DoNotOptimize(p);
      const size_t h = r.head.load(std::memory_order_relaxed);
      while (h - r.tail.load(std::memory_order_acquire) == Ring::kSlots) __builtin_ia32_pause();
      r.slots[h % Ring::kSlots] = p;
      r.head.store(h + 1, std::memory_order_release);
    }
  } else {  // consumer: every free is of a block another thread allocated
    for (auto _ : state) {
      const size_t t = r.tail.load(std::memory_order_relaxed);
      while (r.head.load(std::memory_order_acquire) == t) __builtin_ia32_pause();
      std::free(r.slots[t % Ring::kSlots]);
      r.tail.store(t + 1, std::memory_order_release);
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void register_benchmarks() {
  benchmark::RegisterBenchmark("BM_MallocFree", BM_MallocFree)->RangeMultiplier(4)->Range(16, 64 << 10);
  benchmark::RegisterBenchmark("BM_BatchAllocFree", BM_BatchAllocFree)->Arg(64)->Arg(1024)->Arg(16 << 10);
  benchmark::RegisterBenchmark("BM_CrossThreadFree", BM_CrossThreadFree)->Arg(64)->Arg(1024)->Threads(2)->UseRealTime();
}

std::string run_micro(const Params& p) {
  register_benchmarks();
  // Google Benchmark writes its JSON report to a file: give it an in-memory one.
  const int fd = memfd_create("heapmark-micro", MFD_CLOEXEC);
  if (fd < 0) throw std::runtime_error("memfd_create failed");
  std::string out_arg = "--benchmark_out=/proc/self/fd/" + std::to_string(fd);
  std::string min_time = "--benchmark_min_time=" + p.text("min_time");
  std::string filter = "--benchmark_filter=" + p.text("filter");
  std::string fmt = "--benchmark_out_format=json";
  std::string name = "heapmark-micro";
  char* argv[] = {name.data(), out_arg.data(), fmt.data(), min_time.data(), filter.data(), nullptr};
  int argc = 5;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::string json;
  char buf[65536];
  ssize_t n;
  off_t off = 0;
  while ((n = pread(fd, buf, sizeof buf, off)) > 0) {
    json.append(buf, static_cast<size_t>(n));
    off += n;
  }
  close(fd);
  return json;
}

const WorkloadDef kMicro{
    "micro",
    "Google Benchmark of the fast paths (malloc+free 16 B-64 KiB, batches, cross-thread free) under the cell's "
    "allocator",
    {
        {"min_time",
         "0.1",
         "Google Benchmark --benchmark_min_time per benchmark, seconds",
         ParamType::kChoice,
         0,
         0,
         {"0.05", "0.1", "0.2", "0.5", "1"}},
        {"filter",
         ".",
         "Google Benchmark --benchmark_filter regex",
         ParamType::kChoice,
         0,
         0,
         {".", "MallocFree", "BatchAllocFree", "CrossThreadFree"}},
    },
    nullptr,
    [](const Params&) -> size_t { return 4096; },
    run_micro,
};
const Registrar kRegister{kMicro};

}  // namespace
}  // namespace heapmark::workloads
