// Settings: read once from the environment at init (core.h lists them; a
// malformed value aborts, naming it: shim/env.h) and reported through the Core.

#include "ptmalloc_style/internal.h"
#include "shim/env.h"

namespace heapmark::pt::detail {

constinit Settings g_set{};
constinit std::atomic<size_t> g_mmap_threshold{0}, g_trim_threshold{0};

namespace {
// HEAPMARK_PT_RELEASE's spelling of each policy, indexed by its value.
constexpr const char* kReleaseNames[] = {"glibc", "eager", "decay"};
}  // namespace

void read_settings() {
  Settings& s = g_set;
  s.release = ReleasePolicy::glibc;
  shim::env_choice(kWho, "HEAPMARK_PT_RELEASE", kReleaseNames, &s.release);
  size_t x;
  uint64_t ms;
  bool on;
  s.decay_ms = 500;
  if (shim::env_ms(kWho, "HEAPMARK_PT_DECAY_MS", &ms)) s.decay_ms = ms < 1 ? 1 : (unsigned)ms;
  s.decay_thread = s.release == ReleasePolicy::decay;
  if (shim::env_flag(kWho, "HEAPMARK_PT_DECAY_THREAD", &on)) s.decay_thread = s.release == ReleasePolicy::decay && on;
  s.trim_threshold = 128 * 1024;
  s.top_pad = 128 * 1024;
  s.mmap_threshold = 128 * 1024;
  s.mmap_dynamic = true;
  if (shim::env_size(kWho, "HEAPMARK_PT_TRIM_THRESHOLD", &x)) {
    s.trim_threshold = x;
    s.mmap_dynamic = false;
  }
  if (shim::env_size(kWho, "HEAPMARK_PT_MMAP_THRESHOLD", &x)) {
    s.mmap_threshold = x > MMAP_THRESHOLD_MAX ? MMAP_THRESHOLD_MAX : x;
    s.mmap_dynamic = false;
  }
  if (shim::env_size(kWho, "HEAPMARK_PT_TOP_PAD", &x)) {
    s.top_pad = x;
    s.mmap_dynamic = false;  // as mallopt(M_TOP_PAD)
  }
  if (shim::env_flag(kWho, "HEAPMARK_PT_MMAP_DYNAMIC", &on)) s.mmap_dynamic = on;
  s.arena_max = 8 * os::online_cpus();
  if (shim::env_count(kWho, "HEAPMARK_PT_ARENA_MAX", &x) && x > 0) s.arena_max = (unsigned)x;
  s.tcache_count = 7;
  if (shim::env_count(kWho, "HEAPMARK_PT_TCACHE_COUNT", &x)) s.tcache_count = x > 65535 ? 65535 : (unsigned)x;
  s.max_fast = 128;
  if (shim::env_size(kWho, "HEAPMARK_PT_MXFAST", &x))
    s.max_fast = x == 0 ? MINSIZE / 2 : ((x > 160 ? 160 : x) + SIZE_SZ) & ~ALIGN_MASK;
  s.main_heap_reserve = size_t(64) << 30;
  if (shim::env_size(kWho, "HEAPMARK_PT_MAIN_HEAP", &x) && x >= (size_t(1) << 20)) s.main_heap_reserve = x;
  g_mmap_threshold.store(s.mmap_threshold, std::memory_order_relaxed);
  g_trim_threshold.store(s.trim_threshold, std::memory_order_relaxed);
}

}  // namespace heapmark::pt::detail

namespace heapmark::pt {
using namespace detail;

const Settings& Core::settings() noexcept {
  ensure_init();
  return g_set;
}
size_t Core::mmap_threshold() noexcept { return g_mmap_threshold.load(std::memory_order_relaxed); }
size_t Core::trim_threshold() noexcept { return g_trim_threshold.load(std::memory_order_relaxed); }

size_t Core::config(heapmark_stat* out, size_t max) noexcept {
  ensure_init();
  const Settings& s = g_set;
  const heapmark_stat items[] = {{"release_policy", static_cast<unsigned long long>(s.release)},
                                 {"decay_ms", s.decay_ms},
                                 {"decay_thread", s.decay_thread},
                                 {"trim_threshold", s.trim_threshold},
                                 {"top_pad", s.top_pad},
                                 {"mmap_threshold", s.mmap_threshold},
                                 {"mmap_dynamic", s.mmap_dynamic},
                                 {"arena_max", s.arena_max},
                                 {"tcache_count", s.tcache_count},
                                 {"max_fast", s.max_fast}};
  size_t n = 0;
  for (const auto& it : items)
    if (n < max) out[n++] = it;
  return n;
}

heapmark_horizon Core::horizon() noexcept {
  ensure_init();
  switch (g_set.release) {
    case ReleasePolicy::glibc:
      return {0, 0, "no timer, as glibc: free() trims the heap top, a later large malloc consolidates fastbins"};
    case ReleasePolicy::eager: return {0, 0, "none needed: free() decommits whole free pages at once"};
    case ReleasePolicy::decay:
      return {g_set.decay_ms, g_set.decay_thread ? 1 : 0,
              g_set.decay_thread ? "page decay after HEAPMARK_PT_DECAY_MS, ticked by its decay thread"
                                 : "page decay after HEAPMARK_PT_DECAY_MS, ticked only by allocator calls"};
  }
  return {0, 0, "?"};
}

}  // namespace heapmark::pt
