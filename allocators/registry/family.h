// An allocator family: everything heapmark knows about one kind of allocator,
// in one object. Runner side: the built-in allocators it provides and the
// environment variables that configure it. Cell side: how to prove that it
// serves malloc in this process, its version, statistics, self-configuration,
// return horizon and explicit release hook. Attach side (heapmark attach's
// helper, inside a running process): its accounting of live and kept-free
// memory by mechanism, and for glibc a walk of its heap.
//
// Each family is one file in allocators/registry/families/ that defines a
// Family and registers it with a static FamilyRegistrar; nothing else in
// heapmark names a family (the repro catalogue's remedies and mechanism texts
// are the families' too). The cell binds exactly one family per process
// (bind() resolves its symbols once, so the other calls never dlsym and never
// allocate: they run between measured operations).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heapmark::registry {

struct Allocator;

struct StatItem {
  const char* name;  // static storage
  uint64_t value;
};

// One setting the allocator chose for itself (or was given), as text.
struct ConfigItem {
  const char* name;  // static storage, e.g. "opt.narenas"
  char value[40];
};

// The allocator's own account of its memory, read inside the process
// (heapmark attach's helper): what the program holds and the free memory the
// allocator keeps, by mechanism. Bytes; kUnknown where it does not say.
inline constexpr uint64_t kUnknown = UINT64_MAX;
struct Kept {
  const char* mechanism = "";  // static storage: "top chunk", "dirty pages", ...
  uint64_t bytes = 0;
  bool resident = true;          // counted in resident pages (not address space only)
  bool release_returns = false;  // the family's release() gives these back
  bool pinned = false;           // free bytes on pages that live blocks hold: nothing returns them
};
struct Accounting {
  uint64_t live = kUnknown;      // bytes the program holds, as the allocator counts them
  uint64_t metadata = kUnknown;  // the allocator's own structures
  uint64_t retained = kUnknown;  // address space kept without resident pages
  Kept kept[8];
  size_t kept_count = 0;
  const char* note = "";  // static storage: what the figures leave out
  void keep(const char* mechanism, uint64_t bytes, bool release_returns, bool resident = true) noexcept {
    if (kept_count < sizeof kept / sizeof kept[0])
      kept[kept_count++] = Kept{mechanism, bytes, resident, release_returns, false};
  }
  void pin(const char* mechanism, uint64_t bytes) noexcept {
    if (kept_count < sizeof kept / sizeof kept[0]) kept[kept_count++] = Kept{mechanism, bytes, true, false, true};
  }
};

// A walk of the allocator's heap from inside (families whose block layout
// heapmark knows: glibc). Bytes; pages are resident pages (mincore).
struct WalkCounts {
  uint64_t heaps = 0;                            // brk heap + arena heaps walked
  uint64_t chunks_in_use = 0, in_use_bytes = 0;  // tcache and fastbin chunks count as in use, as in mallinfo
  uint64_t chunks_free = 0, free_bytes = 0;      // free chunks and tops
  uint64_t resident = 0;                         // resident bytes of the heaps
  uint64_t live_pages = 0;                       // resident bytes of pages holding part of a chunk in use
  uint64_t free_pages = 0;       // resident bytes of pages inside free chunks (and tops), touching no chunk in use
  uint64_t release_returns = 0;  // resident bytes release() would give back (predicted)
  uint64_t top_resident = 0;     // resident bytes of the tops
};
// The counts by the names heapmark attach's helper writes and the harness reads.
inline constexpr std::pair<const char*, uint64_t WalkCounts::*> kWalkCounts[] = {
    {"heaps", &WalkCounts::heaps},
    {"chunks_in_use", &WalkCounts::chunks_in_use},
    {"in_use_bytes", &WalkCounts::in_use_bytes},
    {"chunks_free", &WalkCounts::chunks_free},
    {"free_bytes", &WalkCounts::free_bytes},
    {"resident", &WalkCounts::resident},
    {"live_pages", &WalkCounts::live_pages},
    {"free_pages", &WalkCounts::free_pages},
    {"top_resident", &WalkCounts::top_resident},
    {"release_returns", &WalkCounts::release_returns}};
struct HeapWalk : WalkCounts {
  bool ok = false;
  char why[160] = "";  // when !ok: what stopped the walk
  // The heaps' pages in address order (heap after heap), in buckets of equal
  // page counts, by state as the catalogue's page map draws them: dense (live
  // bytes fill half the page or more), sparse (fewer: the rest is pinned),
  // retained (resident, no live byte), LazyFree (not told apart here: 0),
  // released (not resident).
  static constexpr size_t kMapBuckets = 512;
  uint64_t map_pages_per_bucket = 0, map_buckets = 0;
  uint64_t map_pages[5] = {};
  uint32_t map[kMapBuckets][5] = {};
};

// How long, at most, the allocator takes to give freed memory back by itself,
// and what does it: a dirty-page decay (jemalloc), a purge delay (mimalloc), a
// decay thread (the in-house ptmalloc-decay). 0 ms: no clock is involved (glibc
// trims inside free; tcmalloc scavenges as pages are freed). `background`: a
// thread returns memory without allocator calls, so an idle process sees it.
struct Horizon {
  uint64_t ms = 0;
  bool background = false;
  char what[120] = "";
};

// What `heapmark repro` says of a family: a remedy is a named environment of
// one of its built-in allocators that changes how memory goes back; a
// mechanism text explains a verdict by the family's own machinery. The
// catalogue (harness/repro) is built from these; texts are static storage.
struct RemedyText {
  const char* name;       // unique over every family: "glibc-mmap-threshold"
  const char* allocator;  // the built-in allocator it configures
  std::vector<std::pair<std::string, std::string>> env;
  const char* what;  // what the settings do
};
struct MechanismText {
  const char* allocator;  // a built-in allocator's name or the family's name
  const char* verdict;    // a verdict id (harness/results/verdicts.h)
  const char* text;
};

class Family {
 public:
  virtual ~Family() = default;

  // "glibc", "jemalloc", ...: recorded as an allocator's kind.
  virtual const char* name() const noexcept = 0;
  // Position in listings (the built-in table, the repro catalogue's columns)
  // and in detection order for a user's library (lower first).
  virtual int order() const noexcept = 0;

  // ---- runner side
  // Built-in allocators of this family; `libdir` holds the in-house libraries.
  virtual void builtins(const std::string& libdir, std::vector<Allocator>& out) const = 0;
  // True for an environment variable that configures this family's allocators:
  // a cell gets it only through the registry, a matrix or --env.
  virtual bool is_config_var(std::string_view var) const noexcept = 0;
  // The remedies it offers and how its mechanisms explain a verdict (above).
  virtual std::vector<RemedyText> remedies() const { return {}; }
  virtual std::vector<MechanismText> mechanisms() const { return {}; }

  // ---- cell side. handle: dlopen(library, RTLD_NOLOAD), or null for the C library.
  // Resolves the family's introspection symbols; false when the library lacks them.
  virtual bool bind(void* handle) noexcept = 0;
  // Allocates a probe block and asks the allocator whether it is its own.
  // Writes what was checked and seen into `how`.
  virtual bool claim(char* how, size_t len) noexcept = 0;
  virtual void version(char* out, size_t len) const noexcept = 0;
  // Up to `max` figures (bytes unless the name says otherwise); returns how many.
  virtual size_t stats(StatItem* out, size_t max) const noexcept { return 0; }
  // Up to `max` self-chosen settings (arena counts, decay times); returns how many.
  virtual size_t config(ConfigItem* out, size_t max) const noexcept { return 0; }
  virtual Horizon horizon() const noexcept { return {}; }
  // The allocator's own "give memory back" call; false when it has none.
  virtual bool release() const noexcept { return false; }
  virtual const char* release_name() const noexcept { return "none"; }
  // release() acts on the calling thread's caches or heap only (attach then
  // calls it in every thread of the process).
  virtual bool release_per_thread() const noexcept { return false; }
  // The allocator's own return delay, set in a running process (jemalloc's
  // dirty and muzzy decay): every arena's and the default for new ones. 0:
  // free pages go back at once, now and on every later free. False when the
  // family has no such setting.
  virtual bool set_decay(int64_t ms) const noexcept { return false; }
  virtual const char* decay_name() const noexcept { return "none"; }
  // ---- attach (inside a running process, every thread stopped outside the allocator)
  // The allocator's own account; false when it exposes none.
  virtual bool accounting(Accounting& out) const noexcept { return false; }
  // A walk of its heap; false when the family has no walker. Allocates nothing.
  virtual bool walk(HeapWalk& out) const noexcept { return false; }
  // malloc_usable_size of this allocator, or null.
  virtual size_t (*usable_size() const noexcept)(void*) { return nullptr; }
};

// Every registered family, by order().
const std::vector<Family*>& families();
// The family called `name`, or null.
Family* find_family(std::string_view name);

struct FamilyRegistrar {
  explicit FamilyRegistrar(Family& family);
};

// Helpers for family files.
// The identity probe: a fresh malloc(kProbeSize) the compiler cannot elide.
inline constexpr size_t kProbeSize = 4000;
void* probe_allocation() noexcept;
// dlsym in `handle` (or the global scope for null) that insists the symbol is
// defined in that very object, not found through its dependencies.
void* own_symbol(void* handle, const char* name) noexcept;
// snprintf of a number into a ConfigItem.
void set_value(ConfigItem& item, long long v) noexcept;
void set_value(ConfigItem& item, const char* v) noexcept;

}  // namespace heapmark::registry
