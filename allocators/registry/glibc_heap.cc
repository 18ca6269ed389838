#include "allocators/registry/glibc_heap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace heapmark::registry {
namespace {

constexpr uint64_t kHeapMax = 64ull << 20;  // HEAP_MAX_SIZE on 64-bit: 2 * DEFAULT_MMAP_THRESHOLD_MAX
constexpr uint64_t kChunkHeader = 16;       // CHUNK_HDR_SZ: prev_size + size
constexpr uint64_t kMinSize = 32;           // MINSIZE
constexpr uint64_t kFreeChunkHead = 48;     // sizeof(struct malloc_chunk): what mtrim leaves of a free chunk
constexpr uint64_t kFlags = 7;

uint64_t page_size() {
  static const uint64_t p = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return p;
}
uint64_t down(uint64_t v) { return v & ~(page_size() - 1); }
uint64_t up(uint64_t v) { return down(v + page_size() - 1); }
uint64_t word(uint64_t addr) {
  uint64_t v;
  std::memcpy(&v, reinterpret_cast<const void*>(addr), sizeof v);
  return v;
}

// Anonymous memory that is not the target's malloc.
struct Scratch {
  void* p = MAP_FAILED;
  size_t len = 0;
  explicit Scratch(size_t bytes) : len(bytes) {
    p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  ~Scratch() {
    if (p != MAP_FAILED) munmap(p, len);
  }
  bool ok() const { return p != MAP_FAILED; }
  unsigned char* bytes() const { return static_cast<unsigned char*>(p); }
};

// Page states of the page map, heap after heap (HeapWalk's map), and the
// buckets they fall in once the total is known.
enum : unsigned char { kDense = 0, kSparse = 1, kRetained = 2, kReleased = 4 };
class PageStates {
 public:
  explicit PageStates(uint64_t max_pages) : states_(max_pages + 1) {}
  void add(unsigned char state) {
    if (states_.ok() && n_ < states_.len) states_.bytes()[n_++] = state;
  }
  void bucket(HeapWalk& out) const {
    if (n_ == 0) return;
    out.map_pages_per_bucket = (n_ + HeapWalk::kMapBuckets - 1) / HeapWalk::kMapBuckets;
    out.map_buckets = (n_ + out.map_pages_per_bucket - 1) / out.map_pages_per_bucket;
    for (uint64_t i = 0; i < n_; ++i) {
      ++out.map[i / out.map_pages_per_bucket][states_.bytes()[i]];
      ++out.map_pages[states_.bytes()[i]];
    }
  }

 private:
  Scratch states_;
  uint64_t n_ = 0;
};

// One heap: [lo, end) holds chunks from `first`; its resident pages, one byte
// each (bit 0 from mincore, bit 1 set here for a page holding a chunk in use),
// and the live bytes on each page.
class Heap {
 public:
  Heap(uint64_t lo, uint64_t end, bool main)
      : lo_(down(lo)),
        end_(end),
        main_(main),
        map_((up(end) - down(lo)) / page_size() + 1),
        live_(((up(end) - down(lo)) / page_size() + 1) * sizeof(uint16_t)) {}

  bool load() {
    if (!map_.ok() || !live_.ok()) return false;
    return mincore(reinterpret_cast<void*>(lo_), up(end_) - lo_, map_.bytes()) == 0;
  }
  // The chain of chunk sizes from `first` lands on the heap's end: at its top
  // chunk, or at the size-0 fencepost glibc leaves within a chunk of the end.
  bool lands(uint64_t first) const {
    uint64_t p = first;
    for (;;) {
      if (p + kChunkHeader > end_) return false;
      const uint64_t size = word(p + 8) & ~kFlags;
      if (size == 0) return end_ - p <= 2 * kMinSize;
      if (size % 16 != 0 || p + size > end_) return false;
      if (p + size == end_) return true;
      p += size;
    }
  }
  void walk(uint64_t first, HeapWalk& out, PageStates& states) {
    mark_live(lo_, first);  // heap_info and malloc_state: the allocator's own
    uint64_t p = first;
    for (;;) {
      const uint64_t size = word(p + 8) & ~kFlags;
      if (size == 0) break;    // fencepost: the end
      if (p + size == end_) {  // the top chunk
        ++out.chunks_free;
        out.free_bytes += size;
        out.top_resident += resident(up(p + kChunkHeader), end_);
        // systrim(0): the main arena's top beyond MINSIZE goes back, whole pages from the end.
        if (main_ && size > kMinSize + 1) out.release_returns += resident(end_ - down(size - kMinSize - 1), end_);
        break;
      }
      if (size == kChunkHeader) {  // the fencepost before the last one
        p += size;
        continue;
      }
      const bool in_use = word(p + size + 8) & 1;  // the next chunk's PREV_INUSE
      if (in_use) {
        ++out.chunks_in_use;
        out.in_use_bytes += size;
        mark_live(p, p + size);
      } else {
        ++out.chunks_free;
        out.free_bytes += size;
        if (size > kFreeChunkHead) out.release_returns += resident(up(p + kFreeChunkHead), down(p + size));
      }
      p += size;
    }
    const uint16_t* live = reinterpret_cast<const uint16_t*>(live_.bytes());
    for (uint64_t i = 0, n = (up(end_) - lo_) / page_size(); i < n; ++i) {
      if (!(map_.bytes()[i] & 1)) {
        states.add(kReleased);
        continue;
      }
      out.resident += page_size();
      if (map_.bytes()[i] & 2) out.live_pages += page_size();
      else out.free_pages += page_size();
      states.add(!(map_.bytes()[i] & 2) ? kRetained : 2u * live[i] >= page_size() ? kDense : kSparse);
    }
    ++out.heaps;
  }

 private:
  // [a, b) is in use: its pages hold live bytes.
  void mark_live(uint64_t a, uint64_t b) {
    uint16_t* live = reinterpret_cast<uint16_t*>(live_.bytes());
    for (uint64_t pg = down(a); pg < b; pg += page_size()) {
      const uint64_t i = (pg - lo_) / page_size();
      map_.bytes()[i] |= 2;
      const uint64_t lo = a > pg ? a : pg, hi = b < pg + page_size() ? b : pg + page_size();
      live[i] = static_cast<uint16_t>(live[i] + (hi - lo));
    }
  }
  uint64_t resident(uint64_t a, uint64_t b) const {
    uint64_t n = 0;
    for (uint64_t pg = a; pg < b; pg += page_size()) n += map_.bytes()[(pg - lo_) / page_size()] & 1;
    return n * page_size();
  }
  uint64_t lo_, end_;
  bool main_;
  Scratch map_, live_;
};

// /proc/self/maps, read into scratch; a line at a time.
class Maps {
 public:
  Maps() : text_(8u << 20) {
    if (!text_.ok()) return;
    const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t r;
    while (len_ < text_.len - 1 && (r = read(fd, text_.bytes() + len_, text_.len - 1 - len_)) > 0)
      len_ += static_cast<size_t>(r);
    close(fd);
    text_.bytes()[len_] = 0;
  }
  bool ok() const { return len_ > 0; }
  void rewind() { pos_ = 0; }  // lines already read end in '\0': next() reads them again
  // Next mapping; false at the end.
  bool next(uint64_t& lo, uint64_t& hi, char perms[5], const char*& path) {
    while (pos_ < len_) {
      char* line = reinterpret_cast<char*>(text_.bytes()) + pos_;
      char* nl = std::strchr(line, '\n');
      if (nl) *nl = 0;
      pos_ += std::strlen(line) + 1;
      unsigned long long a, b;
      int name_at = 0;
      if (std::sscanf(line, "%llx-%llx %4s %*s %*s %*s %n", &a, &b, perms, &name_at) < 3) continue;
      lo = a;
      hi = b;
      path = line + name_at;
      return true;
    }
    return false;
  }

 private:
  Scratch text_;
  size_t len_ = 0, pos_ = 0;
};

void fail(HeapWalk& out, const char* why, uint64_t where) {
  out.ok = false;
  std::snprintf(out.why, sizeof out.why, "%s (heap at 0x%llx)", why, static_cast<unsigned long long>(where));
}

}  // namespace

void walk_glibc_heaps(HeapWalk& out) noexcept {
  out = HeapWalk{};
  out.ok = true;
  Maps maps;
  if (!maps.ok()) return fail(out, "cannot read /proc/self/maps", 0);
  uint64_t lo, hi, prev_lo = 0, prev_hi = 0;
  char perms[5] = "";
  const char* path;
  // The page map's room: every page the heaps could have (each candidate mapping whole).
  uint64_t max_pages = 0;
  while (maps.next(lo, hi, perms, path))
    if (std::strcmp(path, "[heap]") == 0 || (path[0] == 0 && std::strcmp(perms, "rw-p") == 0 && lo % kHeapMax == 0))
      max_pages += (hi - lo) / page_size() + 1;
  maps.rewind();
  PageStates states(max_pages);
  bool prev_candidate = false;
  // An arena heap: an anonymous read-write mapping at a 64 MiB boundary, its
  // PROT_NONE rest right after it (or none, when it grew to the whole 64 MiB).
  auto arena_heap = [&](uint64_t a, uint64_t b) {
    const uint64_t used = word(a + 16);  // heap_info.size
    if (used == 0 || used > b - a || used % page_size() != 0) return fail(out, "heap_info.size is not a used size", a);
    Heap heap(a, a + used, false);
    if (!heap.load()) return fail(out, "mincore failed", a);
    for (uint64_t first = a + 32; first < a + 8192 && first + kChunkHeader < a + used; first += 16)
      if ((word(first + 8) & kFlags) == 5 && heap.lands(first))
        return heap.walk(first, out, states);  // NON_MAIN_ARENA | PREV_INUSE
    fail(out, "no chain of chunk sizes lands on the heap's end", a);
  };
  while (out.ok && maps.next(lo, hi, perms, path)) {
    if (prev_candidate && (std::strcmp(perms, "---p") == 0 && lo == prev_hi && hi - prev_lo == kHeapMax))
      arena_heap(prev_lo, prev_hi);
    prev_candidate = false;
    if (std::strcmp(path, "[heap]") == 0) {
      const uint64_t end = reinterpret_cast<uint64_t>(sbrk(0));
      if (end <= lo || end > hi) {
        fail(out, "sbrk(0) is outside [heap]", lo);
        break;
      }
      Heap heap(lo, end, true);
      if (!heap.load()) fail(out, "mincore failed", lo);
      else if (!heap.lands(lo)) fail(out, "the chain of chunk sizes from [heap]'s start does not reach sbrk(0)", lo);
      else heap.walk(lo, out, states);
    } else if (path[0] == 0 && std::strcmp(perms, "rw-p") == 0 && lo % kHeapMax == 0) {
      if (hi - lo == kHeapMax) arena_heap(lo, hi);
      else prev_candidate = true;
    }
    prev_lo = lo;
    prev_hi = hi;
  }
  if (out.ok && out.heaps == 0) fail(out, "no brk heap and no arena heap", 0);
  if (out.ok) states.bucket(out);
}

}  // namespace heapmark::registry
