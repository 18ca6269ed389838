// heapmark's own allocators (ptmalloc-style, buddy, slab): the heapmark_allocator_*
// ABI of allocators/shim/introspect.h.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "allocators/registry/registry.h"
#include "allocators/shim/introspect.h"

namespace heapmark::registry {
namespace {

class InHouse final : public Family {
 public:
  const char* name() const noexcept override { return "in-house"; }
  int order() const noexcept override { return 40; }

  // How its machinery explains a verdict (the repro catalogue and heapmark attach show these).
  std::vector<MechanismText> mechanisms() const override {
    return {
        {"ptmalloc-style", "retained-until-release",
         "The in-house ptmalloc-style allocator follows glibc's policy: only the top of a heap is trimmed "
         "on free; its release hook returns whole free pages inside the heap."},
        {"buddy", "retained-until-activity",
         "The buddy heap has no top to trim: free blocks coalesce with their buddies, and a free page "
         "decays: one still free and dirty at two ticks of the heap (at most one per HEAPMARK_BUDDY_DECAY_MS, "
         "1 s, in calls that take its lock) is decommitted at the second. Idle time does not tick it (there "
         "is no thread), so RSS fell only once the program allocated again."},
        {"buddy", "returned",
         "The buddy heap has no top to trim: free blocks coalesce with their buddies, and under "
         "HEAPMARK_BUDDY_DECOMMIT=eager the free itself decommits the pages of the free block it leaves "
         "(under =threshold, once dirty free pages exceed HEAPMARK_BUDDY_DECOMMIT_THRESHOLD, all of them)."},
        {"slab", "retained-until-activity",
         "Slabs emptied by the frees go back to the page-level buddy heap (one empty slab per class is "
         "kept), whose free pages decay: one still free at two ticks (at most one per "
         "HEAPMARK_SLAB_DECAY_MS, 1 s, offered every 1,024 mallocs and by the slabs' own calls) is "
         "decommitted. Idle time does not tick it, so RSS fell only once the program allocated again."},
        {"slab", "returned",
         "Slabs emptied by the frees go back to the page-level buddy heap (one empty slab per class is "
         "kept), which under HEAPMARK_SLAB_DECOMMIT=eager decommits their pages at once."},
    };
  }

  void builtins(const std::string& dir, std::vector<Allocator>& out) const override {
    const char* pt = "libheapmark_ptmalloc.so";
    out.push_back(in_house_allocator(*this, dir, "ptmalloc-style", pt,
                                     "in-house ptmalloc-style allocator, glibc release policy"));
    out.push_back(in_house_allocator(*this, dir, "ptmalloc-decay", pt,
                                     "in-house ptmalloc-style, returns free pages after a delay",
                                     {{"HEAPMARK_PT_RELEASE", "decay"}}, "ptmalloc-style"));
    out.push_back(in_house_allocator(*this, dir, "ptmalloc-eager", pt,
                                     "in-house ptmalloc-style, returns free pages at once",
                                     {{"HEAPMARK_PT_RELEASE", "eager"}}, "ptmalloc-style"));
    out.push_back(in_house_allocator(*this, dir, "buddy", "libheapmark_buddy.so",
                                     "in-house binary buddy allocator (free pages decay over 1-2 s)"));
    out.push_back(in_house_allocator(*this, dir, "buddy-eager", "libheapmark_buddy.so",
                                     "in-house buddy, decommits every free page run at once",
                                     {{"HEAPMARK_BUDDY_DECOMMIT", "eager"}}, "buddy"));
    out.push_back(
        in_house_allocator(*this, dir, "slab", "libheapmark_slab.so", "in-house slab caches over the buddy allocator"));
    out.push_back(in_house_allocator(*this, dir, "slab-eager", "libheapmark_slab.so",
                                     "in-house slab, decommits free slabs at once",
                                     {{"HEAPMARK_SLAB_DECOMMIT", "eager"}}, "slab"));
  }
  bool is_config_var(std::string_view v) const noexcept override {
    for (std::string_view prefix : {"HEAPMARK_PT_", "HEAPMARK_BUDDY_", "HEAPMARK_SLAB_"})
      if (v.substr(0, prefix.size()) == prefix) return true;
    return false;
  }

  bool bind(void* handle) noexcept override {
    owns_ = reinterpret_cast<decltype(owns_)>(own_symbol(handle, "heapmark_allocator_owns"));
    name_ = reinterpret_cast<decltype(name_)>(own_symbol(handle, "heapmark_allocator_name"));
    version_ = reinterpret_cast<decltype(version_)>(own_symbol(handle, "heapmark_allocator_version"));
    stats_ = reinterpret_cast<decltype(stats_)>(own_symbol(handle, "heapmark_allocator_stats"));
    config_ = reinterpret_cast<decltype(config_)>(own_symbol(handle, "heapmark_allocator_config"));
    horizon_ = reinterpret_cast<decltype(horizon_)>(own_symbol(handle, "heapmark_allocator_horizon"));
    release_ = reinterpret_cast<decltype(release_)>(own_symbol(handle, "heapmark_allocator_release"));
    usable_ = reinterpret_cast<decltype(usable_)>(own_symbol(handle, "malloc_usable_size"));
    return owns_ && name_;
  }
  bool claim(char* how, size_t len) noexcept override {
    void* p = probe_allocation();
    const int owned = owns_(p);
    std::snprintf(how, len, "heapmark_allocator_owns(probe block) is %d", owned);
    free(p);
    return owned == 1;
  }
  void version(char* out, size_t len) const noexcept override {
    std::snprintf(out, len, "%s %s", name_(), version_ ? version_() : "?");
  }
  size_t stats(StatItem* out, size_t max) const noexcept override { return copy(stats_, out, max); }
  size_t config(ConfigItem* out, size_t max) const noexcept override {
    StatItem items[32];
    const size_t got = copy(config_, items, max < 32 ? max : 32);
    for (size_t i = 0; i < got; ++i) {
      out[i].name = items[i].name;
      set_value(out[i], static_cast<long long>(items[i].value));
    }
    return got;
  }
  Horizon horizon() const noexcept override {
    heapmark_horizon in{};
    if (horizon_) horizon_(&in);
    Horizon h;
    h.ms = in.ms;
    h.background = in.background != 0;
    std::snprintf(h.what, sizeof h.what, "%s", in.what ? in.what : "not reported");
    return h;
  }
  bool accounting(Accounting& out) const noexcept override {
    heapmark_stat items[64];
    const size_t got = stats_ ? stats_(items, 64) : 0;
    uint64_t live = kUnknown, free_bytes = kUnknown, releasable = kUnknown, pinned = 0, cached = 0;
    for (size_t i = 0; i < got; ++i) {
      if (std::strcmp(items[i].name, "live_bytes") == 0) live = items[i].value;
      if (std::strcmp(items[i].name, "thread_cache_bytes") == 0) cached = items[i].value;
      if (std::strcmp(items[i].name, "free_bytes") == 0) free_bytes = items[i].value;
      if (std::strcmp(items[i].name, "releasable_bytes") == 0) releasable = items[i].value;
      if (std::strcmp(items[i].name, "pinned_bytes") == 0) pinned = items[i].value;
    }
    if (live == kUnknown) return false;
    out.live = live;
    // Free pages release() reaches are committed and not yet purged: resident.
    if (releasable != kUnknown) out.keep("free pages its release call reaches (not yet purged)", releasable, true);
    if (pinned) out.pin("free slots in slabs that hold live objects", pinned);
    // Freed blocks held in thread caches: written to when freed, so resident; release flushes only its own thread's.
    if (cached) out.keep("freed blocks in thread caches (release flushes the calling thread's)", cached, false, true);
    if (free_bytes != kUnknown && releasable != kUnknown && free_bytes > releasable + pinned)
      out.keep("other free bytes (inside partly used pages, or purged already)", free_bytes - releasable - pinned,
               false, false);
    out.note = "free bytes outside whole unpurged pages are counted, resident or not";
    return true;
  }
  bool release() const noexcept override { return release_ && (release_(), true); }
  const char* release_name() const noexcept override { return "heapmark_allocator_release()"; }
  size_t (*usable_size() const noexcept)(void*) override { return usable_; }

 private:
  static size_t copy(size_t (*get)(heapmark_stat*, size_t), StatItem* out, size_t max) noexcept {
    if (!get) return 0;
    heapmark_stat items[64];
    const size_t got = get(items, max < 64 ? max : 64);
    for (size_t i = 0; i < got; ++i) out[i] = StatItem{items[i].name, items[i].value};
    return got;
  }
  int (*owns_)(const void*) = nullptr;
  const char* (*name_)() = nullptr;
  const char* (*version_)() = nullptr;
  size_t (*stats_)(heapmark_stat*, size_t) = nullptr;
  size_t (*config_)(heapmark_stat*, size_t) = nullptr;
  void (*horizon_)(heapmark_horizon*) = nullptr;
  void (*release_)() = nullptr;
  size_t (*usable_)(void*) = nullptr;
};

InHouse g_family;
const FamilyRegistrar g_reg{g_family};

}  // namespace
}  // namespace heapmark::registry
