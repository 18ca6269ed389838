#include "harness/repro/remedies.h"

#include <cstdio>
#include <cstdlib>

namespace heapmark::repro {

const std::vector<Remedy>& remedy_catalogue() {
  // A function-local static: scenarios resolve their remedies while static
  // objects are constructed, in an order across files C++ leaves open.
  static const std::vector<Remedy> catalogue{
      {"glibc-trim-threshold",
       "glibc",
       {{"GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0"}},
       "trim the top of the heap on every free that reaches it"},
      {"glibc-fixed-trim-threshold",
       "glibc",
       {{"GLIBC_TUNABLES", "glibc.malloc.trim_threshold=131072"}},
       "a fixed 128 KiB trim threshold; setting it also turns glibc's dynamic mmap threshold off"},
      {"glibc-mmap-threshold",
       "glibc",
       {{"GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072"}},
       "a fixed 128 KiB mmap threshold (setting it turns the dynamic threshold off): larger blocks are "
       "mmapped and munmapped on free"},
      {"glibc-mxfast-0",
       "glibc",
       {{"GLIBC_TUNABLES", "glibc.malloc.mxfast=0"}},
       "no fastbins: freed chunks coalesce at once and the top is trimmed on free"},
      {"glibc-tcache-0",
       "glibc",
       {{"GLIBC_TUNABLES", "glibc.malloc.tcache_count=0"}},
       "no per-thread cache: every free reaches _int_free"},
      {"glibc-arena-max-1", "glibc", {{"MALLOC_ARENA_MAX", "1"}}, "one arena for every thread"},
      {"glibc-tunable-arena-max-2", "glibc", {{"GLIBC_TUNABLES", "glibc.malloc.arena_max=2"}}, "at most two arenas"},
      {"jemalloc-decay-0",
       "jemalloc",
       {{"MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0"}},
       "purge dirty pages at once"},
      {"jemalloc-muzzy-0",
       "jemalloc",
       {{"MALLOC_CONF", "dirty_decay_ms:1000,muzzy_decay_ms:0"}},
       "no muzzy state: decayed dirty pages are purged with MADV_DONTNEED"},
      {"jemalloc-background",
       "jemalloc",
       {{"MALLOC_CONF", "background_thread:true"}},
       "a background thread purges dirty pages on the 10 s decay curve with no allocator calls needed "
       "(the idle phase waits up to that horizon for it)"},
      {"jemalloc-bg-1s",
       "jemalloc",
       {{"MALLOC_CONF", "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"}},
       "background purging on a 1 s decay curve"},
      {"tcmalloc-release-rate",
       "tcmalloc",
       {{"TCMALLOC_RELEASE_RATE", "100"}},
       "return free spans to the OS faster (default 1)"},
      {"tcmalloc-aggressive-decommit",
       "tcmalloc",
       {{"TCMALLOC_AGGRESSIVE_DECOMMIT", "true"}},
       "decommit free spans at once"},
      {"mimalloc-page-reset",
       "mimalloc",
       {{"MIMALLOC_PAGE_RESET", "1"}},
       "reset (MADV_FREE/DONTNEED) a page as soon as it becomes free"},
      {"mimalloc-decommit-0",
       "mimalloc",
       {{"MIMALLOC_DECOMMIT_DELAY", "0"}, {"MIMALLOC_SEGMENT_DECOMMIT_DELAY", "0"}},
       "decommit free memory without delay"},
  };
  return catalogue;
}

Remedy use(std::string_view name, std::string here) {
  for (const auto& r : remedy_catalogue()) {
    if (r.name != name) continue;
    Remedy out = r;
    if (!here.empty()) out.what = std::move(here);
    return out;
  }
  std::fprintf(stderr,
               "heapmark: a scenario names the remedy '%.*s', which harness/repro/remedies.cc does not define\n",
               static_cast<int>(name.size()), name.data());
  std::abort();
}

}  // namespace heapmark::repro
