#include "harness/cell/attribution.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace heapmark::cell {
namespace {

constexpr uint64_t kPage = 4096;
constexpr size_t kMaxMappings = size_t{1} << 16;  // vm.max_map_count's default is 65530
constexpr uint64_t kShownReleasedRun = 64;        // pages of a non-resident run that the map shows
constexpr size_t kMaxListed = SitesMsg::kMax;
constexpr int kAgeBuckets = 4 * 34;  // 4 per octave up to 2^33 ms

int age_bucket(uint64_t ms) noexcept {
  if (ms == 0) return 0;
  const int octave = 63 - __builtin_clzll(ms);
  const int sub = octave >= 2 ? static_cast<int>((ms >> (octave - 2)) & 3) : 0;
  return std::min(kAgeBuckets - 1, 1 + 4 * octave + sub);
}
// The bucket's middle, in ms.
double age_of_bucket(int b) noexcept {
  if (b == 0) return 0;
  const int octave = (b - 1) / 4, sub = (b - 1) % 4;
  const double lo = std::ldexp(1.0 + sub / 4.0, octave);
  return lo * (1.0 + 0.125);
}

double seconds_now() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

Attribution::Attribution(uint32_t sites, size_t max_blocks, uint32_t threads, workloads::Scratch& scratch)
    : sites_(sites), stack_cap_(threads + 1) {
  blocks_ = scratch.array<LiveBlock>(max_blocks);
  counts_ = scratch.array<Counts>(size_t{sites} + 1);
  order_ = scratch.array<uint32_t>(size_t{sites} + 1);
  listed_ = scratch.array<uint8_t>(size_t{sites} + 1);
  ages_ = scratch.array<uint32_t>((kMaxListed + 1) * kAgeBuckets);
  stacks_ = scratch.array<uintptr_t>(stack_cap_);
  maps_ = scratch.array<metrics::procfs::Mapping>(kMaxMappings);
  heap_ = scratch.array<uint8_t>(kMaxMappings);
  window_ = scratch.array<unsigned char>(kWindow);
}

void Attribution::exclude_mapping_of(uintptr_t inside) noexcept {
  if (stack_count_ < stack_cap_) stacks_[stack_count_++] = inside;
}

void Attribution::exclude_range(uintptr_t lo, uintptr_t hi) noexcept {
  range_lo_ = lo;
  range_hi_ = hi;
}

bool Attribution::excluded_page(uint64_t page) const noexcept {
  const uint64_t a = page * kPage;
  return a >= range_lo_ && a < range_hi_;
}

// A private, writable, anonymous mapping that is neither a stack nor a
// library's .bss (the anonymous tail right after a file mapping) nor the cell's.
bool Attribution::heap_mapping(size_t i) const noexcept {
  const auto& m = maps_[i];
  if (!m.anonymous || !m.readable || !m.writable || m.shared) return false;
  if (std::strcmp(m.name, "[heap]") == 0) return true;
  if (m.name[0] != '\0') return false;  // [stack], [vvar], [vdso], [anon:...]
  if (i > 0 && !maps_[i - 1].anonymous && maps_[i - 1].hi == m.lo) return false;
  for (uint32_t k = 0; k < stack_count_; ++k)
    if (stacks_[k] >= m.lo && stacks_[k] < m.hi) return false;
  return true;
}

int Attribution::find_mapping(uint64_t page) const noexcept {
  const uint64_t a = page * kPage;
  size_t lo = 0, hi = map_count_;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (maps_[mid].hi <= a) lo = mid + 1;
    else hi = mid;
  }
  return lo < map_count_ && maps_[lo].lo <= a ? static_cast<int>(lo) : -1;
}

bool Attribution::resident(uint64_t page) noexcept {
  if (page < window_lo_ || page >= window_hi_) {
    const int m = find_mapping(page);
    if (m < 0) return false;
    const uint64_t end = maps_[m].hi / kPage;
    window_lo_ = page;
    window_hi_ = std::min<uint64_t>(end, page + kWindow);
    if (mincore(reinterpret_cast<void*>(page * kPage), (window_hi_ - window_lo_) * kPage, window_) != 0)
      std::memset(window_, 0, kWindow);
  }
  return window_[page - window_lo_] & 1;
}

// An anonymous page that lost its swap backing: madvise(MADV_FREE) made it
// LazyFree (as smaps counts it). Needs the page frame from pagemap (root only).
bool Attribution::lazy(uint64_t page) noexcept {
  if (pagemap_fd_ == -2) {
    pagemap_fd_ = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    kpageflags_fd_ = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
  }
  if (pagemap_fd_ < 0 || kpageflags_fd_ < 0) return false;
  uint64_t entry = 0, flags = 0;
  if (pread(pagemap_fd_, &entry, sizeof entry, static_cast<off_t>(page * sizeof entry)) != sizeof entry) return false;
  const uint64_t pfn = entry & ((uint64_t{1} << 55) - 1);
  if (!(entry >> 63) || pfn == 0) return false;  // not present, or frames hidden from this process
  if (pread(kpageflags_fd_, &flags, sizeof flags, static_cast<off_t>(pfn * sizeof flags)) != sizeof flags) return false;
  lazy_known_ = true;
  constexpr uint64_t kAnon = uint64_t{1} << 12, kSwapBacked = uint64_t{1} << 14;
  return (flags & kAnon) && !(flags & kSwapBacked);
}

uint64_t Attribution::run(size_t n, uint64_t clock_ms, uint64_t lazy_free, SitesMsg& sites, PageMapMsg& map) noexcept {
  const double t0 = seconds_now();
  std::sort(blocks_, blocks_ + n, [](const LiveBlock& a, const LiveBlock& b) { return a.addr < b.addr; });
  std::memset(counts_, 0, (size_t{sites_} + 1) * sizeof(Counts));
  for (size_t i = 0; i < n; ++i) {
    Counts& c = counts_[blocks_[i].site <= sites_ ? blocks_[i].site : 0];
    c.live += blocks_[i].size;
    ++c.blocks;
  }
  map_count_ = metrics::procfs::read_maps(maps_, kMaxMappings);
  for (size_t i = 0; i < map_count_; ++i) heap_[i] = heap_mapping(i);  // once: both walks and the count use it
  window_lo_ = window_hi_ = 0;
  lazy_known_ = false;
  const bool try_lazy = lazy_free > 0 && pagemap_fd_ != -1;

  // First walk: how many pages the map shows (the same rule as below, on residency alone).
  uint64_t shown = 0;
  for (size_t i = 0; i < map_count_; ++i) {
    if (!heap_[i]) continue;
    uint64_t run = 0;
    for (uint64_t p = maps_[i].lo / kPage; p < maps_[i].hi / kPage; ++p) {
      if (excluded_page(p)) continue;
      if (resident(p)) {
        run = 0;
        ++shown;
      } else if (run++ < kShownReleasedRun) {
        ++shown;
      }
    }
  }
  map = PageMapMsg{};
  map.pages_per_bucket = std::max<uint64_t>(1, (shown + PageMapMsg::kBuckets - 1) / PageMapMsg::kBuckets);
  map.buckets = static_cast<uint32_t>((shown + map.pages_per_bucket - 1) / map.pages_per_bucket);
  map.shown_pages = shown;

  // Second walk: the heap's pages, and the pages of any live block outside them.
  uint64_t live_pages = 0, shown_at = 0;
  size_t j = 0;  // the first block that may reach the current page
  auto block_end = [&](const LiveBlock& b) { return b.addr + std::max<uint64_t>(b.size, 1); };
  // One page: its live bytes and blocks, its pinned shares; returns its state.
  auto page = [&](uint64_t p) -> PageState {
    const uint64_t lo = p * kPage, hi = lo + kPage;
    while (j < n && block_end(blocks_[j]) <= lo) ++j;
    uint64_t live = 0;
    size_t k = j;
    for (; k < n && blocks_[k].addr < hi; ++k)
      live += std::min(block_end(blocks_[k]), hi) - std::max(blocks_[k].addr, lo);
    const bool res = resident(p);
    if (k == j) return res ? (try_lazy && lazy(p) ? PageState::kLazyFree : PageState::kRetained) : PageState::kReleased;
    if (!res) return PageState::kReleased;
    ++live_pages;
    live = std::min(live, kPage);
    const double share = static_cast<double>(kPage - live) / static_cast<double>(k - j);
    if (share > 0)
      for (size_t b = j; b < k; ++b) counts_[blocks_[b].site <= sites_ ? blocks_[b].site : 0].pinned += share;
    return 2 * live >= kPage ? PageState::kDense : PageState::kSparse;
  };
  // Live blocks below `limit` that lie outside the heap's mappings (not drawn).
  uint64_t done_page = 0;  // pages below this were walked
  auto drain = [&](uint64_t limit) {
    while (j < n && blocks_[j].addr < limit) {
      const uint64_t first = std::max(blocks_[j].addr / kPage, done_page);
      const uint64_t last = std::min((block_end(blocks_[j]) - 1) / kPage + 1, limit / kPage);
      const size_t before = j;
      for (uint64_t p = first; p < last; ++p) page(p);
      done_page = std::max(done_page, last);
      if (j != before) continue;
      if (block_end(blocks_[j]) > limit) break;  // it reaches into the mapping at `limit`: walked there
      ++j;                                       // every page of it was walked
    }
  };
  for (size_t i = 0; i < map_count_; ++i) {
    if (!heap_[i]) continue;
    drain(maps_[i].lo);
    uint64_t run = 0;
    for (uint64_t p = maps_[i].lo / kPage; p < maps_[i].hi / kPage; ++p) {
      if (excluded_page(p)) continue;
      const PageState st = page(p);
      ++map.pages[static_cast<int>(st)];
      const bool show = st != PageState::kReleased ? (run = 0, true) : run++ < kShownReleasedRun;
      // The first walk counted on residency alone: a live block's page that is not resident counts as released there
      // too.
      if (show) {
        if (shown_at < shown) ++map.counts[shown_at / map.pages_per_bucket][static_cast<int>(st)];
        ++shown_at;
      }
    }
    done_page = maps_[i].hi / kPage;
  }
  drain(UINT64_MAX);
  for (size_t i = 0; i < map_count_; ++i) map.mappings += heap_[i];
  map.lazyfree_known = lazy_known_;
  select_sites(clock_ms, n, sites);
  sites.seconds = seconds_now() - t0;
  return live_pages * kPage;
}

// The sites that travel: the most pinned, then the most live, up to kMax.
void Attribution::select_sites(uint64_t clock_ms, size_t n, SitesMsg& out) noexcept {
  out = SitesMsg{};
  out.site_count = sites_;
  out.clock_ms = clock_ms;
  std::memset(listed_, 0, size_t{sites_} + 1);
  uint32_t m = 0;
  for (uint32_t s = 1; s <= sites_; ++s)
    if (counts_[s].blocks) order_[m++] = s;
  auto take = [&](auto better, size_t want) {
    const size_t k = std::min<size_t>(m, want);
    std::partial_sort(order_, order_ + k, order_ + m, better);
    for (size_t i = 0; i < k && out.count < kMaxListed; ++i) {
      const uint32_t s = order_[i];
      if (listed_[s]) continue;
      listed_[s] = static_cast<uint8_t>(out.count + 1);
      out.items[out.count++].site = s;
    }
  };
  take(
      [&](uint32_t a, uint32_t b) {
        return counts_[a].pinned != counts_[b].pinned ? counts_[a].pinned > counts_[b].pinned : a < b;
      },
      kMaxListed / 2);
  take([&](uint32_t a,
           uint32_t b) { return counts_[a].live != counts_[b].live ? counts_[a].live > counts_[b].live : a < b; },
       kMaxListed);
  // Ages of the listed sites' blocks (and of site 0's): a histogram each, then the median.
  std::memset(ages_, 0, (kMaxListed + 1) * kAgeBuckets * sizeof(uint32_t));
  if (clock_ms > 0)
    for (size_t i = 0; i < n; ++i) {
      const uint32_t s = blocks_[i].site <= sites_ ? blocks_[i].site : 0;
      const size_t slot = s == 0 ? kMaxListed : listed_[s] ? listed_[s] - 1u : SIZE_MAX;
      if (slot == SIZE_MAX) continue;
      const uint64_t born = blocks_[i].born_ms;
      ++ages_[slot * kAgeBuckets + age_bucket(clock_ms > born ? clock_ms - born : 0)];
    }
  auto median = [&](size_t slot, uint64_t blocks) -> int64_t {
    if (clock_ms == 0 || blocks == 0) return -1;
    uint64_t seen = 0;
    for (int b = 0; b < kAgeBuckets; ++b) {
      seen += ages_[slot * kAgeBuckets + b];
      if (2 * seen >= blocks) return static_cast<int64_t>(age_of_bucket(b));
    }
    return -1;
  };
  auto fill = [&](SiteFigures& f, uint32_t s, size_t slot) {
    f.site = s;
    f.blocks = counts_[s].blocks;
    f.live = counts_[s].live;
    f.pinned = counts_[s].pinned;
    f.median_age_ms = median(slot, counts_[s].blocks);
  };
  for (uint32_t i = 0; i < out.count; ++i) fill(out.items[i], out.items[i].site, i);
  fill(out.unknown, 0, kMaxListed);
  for (uint32_t s = 1; s <= sites_; ++s) {
    if (listed_[s]) continue;
    out.other.blocks += counts_[s].blocks;
    out.other.live += counts_[s].live;
    out.other.pinned += counts_[s].pinned;
  }
  out.other.median_age_ms = -1;
}

}  // namespace heapmark::cell
