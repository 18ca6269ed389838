// Stack capture and the stack table of the recorder.
//
// Walking: libunwind's unw_backtrace (DWARF unwind info, cached per thread:
// about 90 ns for 11 frames here) is the default, because Debian builds its
// libraries and python3 without frame pointers; frame-pointer walking (about
// 20 ns) is offered for programs built with -fno-omit-frame-pointer. It stays
// inside the thread's stack (bounds read once per thread), so a library
// without frame pointers ends the walk early instead of faulting.
//
// Interning: a stack is hashed and looked up without a lock in an open-
// addressing table (slots are published with a release store of their hash);
// only a stack seen for the first time takes the lock, copies its frames into
// an arena and queues its record. Before queueing it, the loaded-object count
// (dl_iterate_phdr's dlpi_adds) says whether a library was loaded since the
// last module scan, and if so the new modules are queued first.
#include "tools/record/stacks.h"

#define UNW_LOCAL_ONLY
#include <elf.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <new>

#include "workloads/trace_format.h"

namespace tr = heapmark::trace;

namespace heapmark::record {
namespace {

constexpr size_t kSlots = size_t{1} << 20;       // distinct stacks at 3/4 load: 786k
constexpr size_t kArenaWords = size_t{1} << 24;  // 128 MiB of frames reserved, touched as used
constexpr size_t kPendingBytes = 64 * 1024;
constexpr size_t kMaxModules = 4096;

struct Slot {
  std::atomic<uint64_t> hash;  // 0: empty
  uint32_t id;
  uint32_t offset;  // arena word holding the depth, the frames follow
};

unsigned g_depth = 0;
Walker g_walker = Walker::kLibunwind;
void (*g_write)(const void*, size_t) = nullptr;
std::atomic<bool> g_on{false};

pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
Slot* g_slots = nullptr;
uint64_t* g_arena = nullptr;
size_t g_arena_used = 0;
uint32_t g_stacks = 0;
uint64_t g_dropped = 0;
uintptr_t g_self_lo = 0, g_self_hi = 0;  // this library's code: its frames are skipped

struct Range {
  uint64_t bias, lo, hi;
};
Range g_modules[kMaxModules];
size_t g_module_count = 0;
unsigned long long g_seen_adds = 0;  // dlpi_adds at the last module scan

alignas(64) uint8_t g_chunk[sizeof(tr::ChunkHeader) + kPendingBytes];  // a chunk header, then the queued records
uint8_t* const g_pending = g_chunk + sizeof(tr::ChunkHeader);
uint8_t* g_pos = g_pending;
uint32_t g_records = 0;

__thread int tl_walking __attribute__((tls_model("initial-exec"))) = 0;
__thread uintptr_t tl_stack_hi __attribute__((tls_model("initial-exec"))) = 0;

void* reserve(size_t bytes) {
  void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return m == MAP_FAILED ? nullptr : m;
}

void flush_locked() {
  if (g_pos == g_pending) return;
  tr::ChunkHeader h{};
  h.magic = tr::kChunkMagic;
  h.kind = static_cast<uint32_t>(tr::ChunkKind::kSites);
  h.payload_bytes = static_cast<uint32_t>(g_pos - g_pending);
  h.events = g_records;
  h.checksum = tr::chunk_checksum(h, g_pending);
  memcpy(g_chunk, &h, sizeof h);
  g_write(g_chunk, sizeof h + h.payload_bytes);
  g_pos = g_pending;
  g_records = 0;
}

// Room for `n` more bytes of records, flushing first when there is not.
void room(size_t n) {
  if (static_cast<size_t>(g_pending + kPendingBytes - g_pos) < n) flush_locked();
}

void queue_walker() {
  room(64);
  g_pos = tr::put_varint(g_pos, static_cast<uint64_t>(tr::SiteRecord::kWalker));
  g_pos = tr::put_varint(g_pos, g_depth);
  const char* name = g_walker == Walker::kLibunwind ? "libunwind" : "frame-pointers";
  const size_t n = strlen(name);
  g_pos = tr::put_varint(g_pos, n);
  memcpy(g_pos, name, n);
  g_pos += n;
  ++g_records;
}

// GNU build-id of a loaded object, from its PT_NOTE segments in memory.
size_t build_id(const dl_phdr_info* info, const uint8_t** out) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const auto* p = reinterpret_cast<const uint8_t*>(info->dlpi_addr + ph.p_vaddr);
    const uint8_t* const end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const auto* n = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const uint8_t* name = p + sizeof *n;
      const uint8_t* desc = name + ((n->n_namesz + 3) & ~3u);
      if (desc + n->n_descsz > end) break;
      if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
        *out = desc;
        return n->n_descsz;
      }
      p = desc + ((n->n_descsz + 3) & ~3u);
    }
  }
  return 0;
}

int queue_module(dl_phdr_info* info, size_t, void*) {
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    lo = std::min<uint64_t>(lo, info->dlpi_addr + ph.p_vaddr);
    hi = std::max<uint64_t>(hi, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
  }
  g_seen_adds = info->dlpi_adds;
  if (lo >= hi) return 0;
  for (size_t i = 0; i < g_module_count; ++i)
    if (g_modules[i].bias == info->dlpi_addr && g_modules[i].lo == lo && g_modules[i].hi == hi) return 0;
  if (g_module_count == kMaxModules) return 0;
  g_modules[g_module_count++] = Range{info->dlpi_addr, lo, hi};
  char exe[4096];
  const char* path = info->dlpi_name;
  if (!path || !*path) {  // the executable
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    path = exe;
  }
  const size_t path_len = strnlen(path, 4096);
  const uint8_t* id = nullptr;
  const size_t id_len = std::min<size_t>(build_id(info, &id), 64);
  room(1 + 3 * 10 + 2 * 5 + path_len + id_len);
  g_pos = tr::put_varint(g_pos, static_cast<uint64_t>(tr::SiteRecord::kModule));
  g_pos = tr::put_varint(g_pos, info->dlpi_addr);
  g_pos = tr::put_varint(g_pos, lo);
  g_pos = tr::put_varint(g_pos, hi);
  g_pos = tr::put_varint(g_pos, path_len);
  memcpy(g_pos, path, path_len);
  g_pos += path_len;
  g_pos = tr::put_varint(g_pos, id_len);
  if (id_len) memcpy(g_pos, id, id_len);
  g_pos += id_len;
  ++g_records;
  return 0;
}

int read_adds(dl_phdr_info* info, size_t, void* out) {
  *static_cast<unsigned long long*>(out) = info->dlpi_adds;
  return 1;  // the first object says it: stop
}

// Queues the modules loaded since the last scan.
void scan_modules_if_changed() {
  unsigned long long adds = 0;
  dl_iterate_phdr(read_adds, &adds);
  if (adds != g_seen_adds || g_module_count == 0) dl_iterate_phdr(queue_module, nullptr);
}

int find_self(dl_phdr_info* info, size_t, void*) {
  const auto here = reinterpret_cast<uintptr_t>(&stacks_start);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const uintptr_t lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
    if (ph.p_type == PT_LOAD && here >= lo && here < hi) {
      g_self_lo = lo;
      g_self_hi = hi;
      return 1;
    }
  }
  return 0;
}

uint64_t hash_frames(const uint64_t* f, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  for (size_t i = 0; i < n; ++i) {
    h = (h ^ f[i]) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  return h | 1;
}

// Walks by frame pointers inside [sp, the thread's stack top).
__attribute__((noinline)) int walk_frame_pointers(void** out, int max) {
  if (tl_stack_hi == 0) {
    pthread_attr_t attr;
    void* base = nullptr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {  // may allocate: the caller holds tl_walking
      pthread_attr_getstack(&attr, &base, &size);
      pthread_attr_destroy(&attr);
    }
    tl_stack_hi = reinterpret_cast<uintptr_t>(base) + size;
  }
  auto* fp = static_cast<uintptr_t*>(__builtin_frame_address(0));
  int n = 0;
  while (n < max) {
    const auto at = reinterpret_cast<uintptr_t>(fp);
    // (no `at + 16 > hi`: a garbage frame pointer near 2^64 would wrap around)
    if (at % sizeof(uintptr_t) != 0 || at >= tl_stack_hi || tl_stack_hi - at < 2 * sizeof(uintptr_t)) break;
    const uintptr_t ra = fp[1];
    if (ra < 4096) break;
    out[n++] = reinterpret_cast<void*>(ra);
    auto* next = reinterpret_cast<uintptr_t*>(fp[0]);
    if (next <= fp) break;  // frames go up the stack
    fp = next;
  }
  return n;
}

}  // namespace

void stacks_start(unsigned depth, Walker walker, void (*write)(const void*, size_t)) noexcept {
  g_depth = depth < 1 ? 1 : depth > tr::kMaxStackDepth ? tr::kMaxStackDepth : depth;
  g_walker = walker;
  g_write = write;
  g_slots = static_cast<Slot*>(reserve(kSlots * sizeof(Slot)));
  g_arena = static_cast<uint64_t*>(reserve(kArenaWords * sizeof(uint64_t)));
  if (!g_slots || !g_arena) return;  // stacks stay off; allocations are recorded without sites
  dl_iterate_phdr(find_self, nullptr);
  if (walker == Walker::kLibunwind) unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
  pthread_mutex_lock(&g_mu);
  queue_walker();
  pthread_mutex_unlock(&g_mu);
  g_on.store(true, std::memory_order_release);
}

uint32_t stacks_site() noexcept {
  if (!g_on.load(std::memory_order_relaxed) || tl_walking) return 0;  // an allocation made while walking
  tl_walking = 1;
  constexpr int kSkipMax = 8;
  void* raw[tr::kMaxStackDepth + kSkipMax];
  const int want = static_cast<int>(g_depth) + kSkipMax;
  const int got = g_walker == Walker::kLibunwind ? unw_backtrace(raw, want) : walk_frame_pointers(raw, want);
  int first = 0;
  while (first < got && reinterpret_cast<uintptr_t>(raw[first]) >= g_self_lo &&
         reinterpret_cast<uintptr_t>(raw[first]) < g_self_hi)
    ++first;
  const size_t n = static_cast<size_t>(std::min<int>(got - first, static_cast<int>(g_depth)));
  uint64_t frames[tr::kMaxStackDepth];
  for (size_t i = 0; i < n; ++i) frames[i] = reinterpret_cast<uintptr_t>(raw[first + i]);
  const uint64_t h = hash_frames(frames, n);
  uint32_t id = 0;
  for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
    Slot& s = g_slots[i];
    uint64_t sh = s.hash.load(std::memory_order_acquire);
    if (sh == 0) {
      pthread_mutex_lock(&g_mu);
      sh = s.hash.load(std::memory_order_acquire);
      if (sh != 0) {  // another thread filled this slot meanwhile: look at it again
        pthread_mutex_unlock(&g_mu);
        if (sh != h) continue;
      } else {
        if (g_stacks + 1 > kSlots / 4 * 3 || g_arena_used + 1 + n > kArenaWords) {
          ++g_dropped;
          pthread_mutex_unlock(&g_mu);
          break;
        }
        scan_modules_if_changed();
        uint64_t* dst = g_arena + g_arena_used;
        dst[0] = n;
        memcpy(dst + 1, frames, n * sizeof(uint64_t));
        s.id = ++g_stacks;
        s.offset = static_cast<uint32_t>(g_arena_used);
        g_arena_used += 1 + n;
        s.hash.store(h, std::memory_order_release);
        room(1 + 2 * 10 + n * 10);
        g_pos = tr::put_varint(g_pos, static_cast<uint64_t>(tr::SiteRecord::kStack));
        g_pos = tr::put_varint(g_pos, s.id);
        g_pos = tr::put_varint(g_pos, n);
        for (size_t k = 0; k < n; ++k)
          g_pos =
              tr::put_varint(g_pos, k == 0 ? frames[0] : tr::zigzag(static_cast<int64_t>(frames[k] - frames[k - 1])));
        ++g_records;
        id = s.id;
        pthread_mutex_unlock(&g_mu);
        break;
      }
    }
    if (sh == h) {
      const uint64_t* f = g_arena + s.offset;
      if (f[0] == n && memcmp(f + 1, frames, n * sizeof(uint64_t)) == 0) {
        id = s.id;
        break;
      }
    }
  }
  tl_walking = 0;
  return id;
}

void stacks_flush() noexcept {
  if (!g_on.load(std::memory_order_relaxed)) return;
  pthread_mutex_lock(&g_mu);
  if (g_dropped) {
    room(16);
    g_pos = tr::put_varint(g_pos, static_cast<uint64_t>(tr::SiteRecord::kDropped));
    g_pos = tr::put_varint(g_pos, g_dropped);
    ++g_records;
    g_dropped = 0;
  }
  flush_locked();
  pthread_mutex_unlock(&g_mu);
}

void stacks_restart_in_child() noexcept {
  if (!g_on.load(std::memory_order_relaxed)) return;
  new (&g_mu) pthread_mutex_t(PTHREAD_MUTEX_INITIALIZER);            // a thread that is gone may have held it
  Slot* slots = static_cast<Slot*>(reserve(kSlots * sizeof(Slot)));  // the parent's table stays mapped, unread
  uint64_t* arena = static_cast<uint64_t*>(reserve(kArenaWords * sizeof(uint64_t)));
  if (!slots || !arena) {
    g_on.store(false);
    return;
  }
  g_slots = slots;
  g_arena = arena;
  g_arena_used = 0;
  g_stacks = 0;
  g_dropped = 0;
  g_module_count = 0;
  g_seen_adds = 0;
  g_pos = g_pending;
  g_records = 0;
  queue_walker();
}

}  // namespace heapmark::record
