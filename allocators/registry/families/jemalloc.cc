// jemalloc: mallctl for identity (arenas.lookup), stats, options and purging.
#include <sys/types.h>

#include <cstdio>
#include <cstdlib>

#include "allocators/registry/registry.h"

namespace heapmark::registry {
namespace {

class Jemalloc final : public Family {
 public:
  const char* name() const noexcept override { return "jemalloc"; }
  int order() const noexcept override { return 10; }

  // Environments of its allocators that change how memory goes back (the repro catalogue tries them).
  std::vector<RemedyText> remedies() const override {
    return {
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
    };
  }

  // How its machinery explains a verdict (the repro catalogue and heapmark attach show these).
  std::vector<MechanismText> mechanisms() const override {
    return {
        {"jemalloc", "retained-until-activity",
         "Freed memory becomes dirty pages of the arena, purged on a smoothstep curve over dirty_decay_ms "
         "(10 s) as the arena ticks: the activity's calls (thread-cache fills and flushes) tick it, idle "
         "time does not, so RSS fell only once the program allocated again."},
        {"jemalloc", "retained-until-release",
         "Freed memory becomes dirty pages of the arena, purged over dirty_decay_ms (10 s) only as the "
         "arena ticks (allocator calls in the threads using it) or a background thread runs; here nothing "
         "ticked it enough, so only the explicit purge (arena.<i>.purge) returned the pages."},
    };
  }

  void builtins(const std::string&, std::vector<Allocator>& out) const override {
    out.push_back(
        system_allocator(*this, "jemalloc", "libjemalloc.so.2", "libjemalloc2", "jemalloc (Debian libjemalloc2)"));
    out.push_back(system_allocator(*this, "je-bg", "libjemalloc.so.2", "libjemalloc2",
                                   "jemalloc with a background purging thread",
                                   {{"MALLOC_CONF", "background_thread:true"}}, "jemalloc"));
  }
  bool is_config_var(std::string_view v) const noexcept override { return v == "MALLOC_CONF" || v == "JE_MALLOC_CONF"; }

  bool bind(void* handle) noexcept override {
    mallctl_ = reinterpret_cast<decltype(mallctl_)>(own_symbol(handle, "mallctl"));
    usable_ = reinterpret_cast<decltype(usable_)>(own_symbol(handle, "malloc_usable_size"));
    return mallctl_ != nullptr;
  }
  bool claim(char* how, size_t len) noexcept override {
    void* p = probe_allocation();
    unsigned arena = 0;
    size_t n = sizeof arena;
    const bool ok = mallctl_("arenas.lookup", &arena, &n, &p, sizeof p) == 0;
    std::snprintf(how, len, "mallctl(\"arenas.lookup\") places the probe block in arena %u", arena);
    free(p);
    return ok;
  }
  void version(char* out, size_t len) const noexcept override {
    const char* v = nullptr;
    std::snprintf(out, len, "jemalloc %s", get("version", v) && v ? v : "?");
  }
  size_t stats(StatItem* out, size_t max) const noexcept override {
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    mallctl_("epoch", &epoch, &len, &epoch, sizeof epoch);  // refresh the cached stats
    size_t n = 0;
    for (const char* name :
         {"stats.allocated", "stats.active", "stats.metadata", "stats.resident", "stats.mapped", "stats.retained"}) {
      size_t v = 0;
      if (n < max && get(name, v)) out[n++] = StatItem{name, v};
    }
    return n;
  }
  size_t config(ConfigItem* out, size_t max) const noexcept override {
    size_t n = 0;
    auto put = [&](const char* name, auto value) {
      if (n >= max || !get(name, value)) return;
      out[n].name = name;
      if constexpr (std::is_same_v<decltype(value), const char*>) set_value(out[n], value);
      else set_value(out[n], static_cast<long long>(value));
      ++n;
    };
    put("opt.narenas", unsigned{});
    put("arenas.narenas", unsigned{});
    put("opt.dirty_decay_ms", ssize_t{});
    put("opt.muzzy_decay_ms", ssize_t{});
    put("background_thread", bool{});
    put("opt.percpu_arena", static_cast<const char*>(nullptr));
    put("opt.tcache", bool{});
    put("opt.tcache_max", size_t{});
    put("opt.thp", static_cast<const char*>(nullptr));
    put("opt.retain", bool{});
    put("opt.oversize_threshold", size_t{});
    return n;
  }
  Horizon horizon() const noexcept override {
    Horizon h;
    ssize_t dirty = 0, muzzy = 0;
    bool bg = false;
    get("opt.dirty_decay_ms", dirty);
    get("opt.muzzy_decay_ms", muzzy);
    get("background_thread", bg);
    // A negative decay time never purges: no horizon at all.
    h.ms = dirty < 0 || muzzy < 0 ? UINT64_MAX : static_cast<uint64_t>(dirty + muzzy);
    h.background = bg;
    std::snprintf(h.what, sizeof h.what, "dirty-page decay (dirty_decay_ms %zd, muzzy_decay_ms %zd), %s", dirty, muzzy,
                  bg ? "purged by the background thread" : "advanced only by allocator calls");
    return h;
  }
  bool accounting(Accounting& out) const noexcept override {
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    mallctl_("epoch", &epoch, &len, &epoch, sizeof epoch);
    size_t allocated = 0, active = 0, metadata = 0, retained = 0, page = 4096, dirty = 0, muzzy = 0, tcache = 0;
    if (!get("stats.allocated", allocated) || !get("stats.active", active)) return false;
    get("stats.metadata", metadata);
    get("stats.retained", retained);
    get("arenas.page", page);
    get("stats.arenas.4096.pdirty", dirty);  // 4096: MALLCTL_ARENAS_ALL, every arena merged
    get("stats.arenas.4096.pmuzzy", muzzy);
    get("stats.arenas.4096.tcache_bytes", tcache);
    // allocated counts the blocks thread caches hold: the program does not.
    out.live = allocated > tcache ? allocated - tcache : allocated;
    out.metadata = metadata;
    out.retained = retained;
    out.keep("dirty pages (freed, not yet purged: the decay)", dirty * page, true);
    out.keep("muzzy pages (MADV_FREE'd, resident until the kernel needs them)", muzzy * page, true);
    out.keep("thread caches (tcache)", tcache, false);
    out.pin("partly used slabs and size-class rounding (active - allocated)",
            active > allocated ? active - allocated : 0);
    out.note = "thread.tcache.flush acts on the calling thread's cache: heapmark attach calls the hook in every thread";
    return true;
  }
  bool release() const noexcept override {
    mallctl_("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
    return mallctl_("arena.4096.purge", nullptr, nullptr, nullptr, 0) == 0;  // MALLCTL_ARENAS_ALL
  }
  const char* release_name() const noexcept override { return "thread.tcache.flush + arena.4096.purge"; }
  bool release_per_thread() const noexcept override { return true; }  // the tcache flush is the calling thread's
  bool set_decay(int64_t ms) const noexcept override {
    ssize_t v = static_cast<ssize_t>(ms);
    bool ok = mallctl_("arenas.dirty_decay_ms", nullptr, nullptr, &v, sizeof v) == 0;
    ok = mallctl_("arenas.muzzy_decay_ms", nullptr, nullptr, &v, sizeof v) == 0 && ok;
    unsigned narenas = 0;
    get("arenas.narenas", narenas);
    char name[64];
    for (unsigned i = 0; i < narenas; ++i)  // an arena not initialised yet answers EFAULT: it takes the default
      for (const char* which : {"dirty", "muzzy"}) {
        std::snprintf(name, sizeof name, "arena.%u.%s_decay_ms", i, which);
        mallctl_(name, nullptr, nullptr, &v, sizeof v);
      }
    return ok;
  }
  const char* decay_name() const noexcept override { return "arenas.dirty_decay_ms and muzzy_decay_ms, every arena"; }
  size_t (*usable_size() const noexcept)(void*) override { return usable_; }

 private:
  template <class T>
  bool get(const char* name, T& v) const noexcept {
    size_t len = sizeof v;
    return mallctl_(name, &v, &len, nullptr, 0) == 0;
  }
  int (*mallctl_)(const char*, void*, size_t*, void*, size_t) = nullptr;
  size_t (*usable_)(void*) = nullptr;
};

Jemalloc g_family;
const FamilyRegistrar g_reg{g_family};

}  // namespace
}  // namespace heapmark::registry
