// malloc(SIZE)+free as Google Benchmark measures it: no per-call timer, the
// loop's mean time per iteration. DoNotOptimize keeps the compiler from
// deleting the pair (it may elide malloc/free whose pointer never escapes).
#include <benchmark/benchmark.h>

#include <cstdlib>

static void BM_MallocFree(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* p = std::malloc(size);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}
BENCHMARK(BM_MallocFree)->Arg(64)->Arg(1024)->Arg(16384);

BENCHMARK_MAIN();
