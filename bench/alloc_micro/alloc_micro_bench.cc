// Google Benchmark microbenchmarks of the buddy and slab cores' fast paths,
// called through their prefixed APIs (no symbol override): a malloc+free pair
// per size, a batch of allocations freed in LIFO and FIFO order, and a realloc
// growth chain. Sizes and orders are precomputed outside the timed loop and
// every pointer goes through DoNotOptimize so the pair cannot be elided.
#include <benchmark/benchmark.h>

#include <vector>

#include "buddy/buddy_core.h"
#include "slab/slab_core.h"

namespace {

template <class Core>
void BM_Pair(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  for (auto _ : state) {
    void* p = Core::alloc(n);
    benchmark::DoNotOptimize(p);
    Core::free(p);
  }
}

template <class Core>
void BM_BatchLifo(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  std::vector<void*> v(1000);
  for (auto _ : state) {
    for (auto& p : v) benchmark::DoNotOptimize(p = Core::alloc(n));
    for (size_t i = v.size(); i-- > 0;) Core::free(v[i]);
  }
  state.SetItemsProcessed(state.iterations() * int64_t(v.size()));
}

template <class Core>
void BM_BatchFifo(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  std::vector<void*> v(1000);
  for (auto _ : state) {
    for (auto& p : v) benchmark::DoNotOptimize(p = Core::alloc(n));
    for (void* p : v) Core::free(p);
  }
  state.SetItemsProcessed(state.iterations() * int64_t(v.size()));
}

template <class Core>
void BM_ReallocGrowth(benchmark::State& state) {
  for (auto _ : state) {
    void* p = Core::alloc(16);
    for (size_t n = 32; n <= (size_t(1) << 16); n *= 2) p = Core::realloc(p, n);
    benchmark::DoNotOptimize(p);
    Core::free(p);
  }
}

using heapmark::buddy::Core;
using Slab = heapmark::slab::Core;

BENCHMARK(BM_Pair<Core>)->Name("buddy/pair")->Arg(16)->Arg(64)->Arg(256)->Arg(4096)->Arg(65536);
BENCHMARK(BM_Pair<Slab>)->Name("slab/pair")->Arg(16)->Arg(64)->Arg(256)->Arg(4096)->Arg(65536);
BENCHMARK(BM_BatchLifo<Core>)->Name("buddy/batch_lifo")->Arg(64)->Arg(1000);
BENCHMARK(BM_BatchLifo<Slab>)->Name("slab/batch_lifo")->Arg(64)->Arg(1000);
BENCHMARK(BM_BatchFifo<Core>)->Name("buddy/batch_fifo")->Arg(64)->Arg(1000);
BENCHMARK(BM_BatchFifo<Slab>)->Name("slab/batch_fifo")->Arg(64)->Arg(1000);
BENCHMARK(BM_ReallocGrowth<Core>)->Name("buddy/realloc_growth");
BENCHMARK(BM_ReallocGrowth<Slab>)->Name("slab/realloc_growth");
BENCHMARK(BM_Pair<Slab>)->Name("slab/pair_threads")->Arg(64)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
