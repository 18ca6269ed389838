#include "allocators/registry/hooks.h"

#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>

#include "allocators/shim/introspect.h"

namespace heapmark::registry {
namespace {

// Symbol types of each family's introspection (their headers are not needed).
using mallctl_t = int (*)(const char*, void*, size_t*, void*, size_t);
using mi_version_t = int (*)();
using mi_collect_t = void (*)(bool);
using mi_is_in_heap_region_t = bool (*)(const void*);
using mi_process_info_t = void (*)(size_t*, size_t*, size_t*, size_t*, size_t*, size_t*, size_t*, size_t*);
using tc_version_t = const char* (*)(int*, int*, const char**);
using tc_get_property_t = int (*)(const char*, size_t*);
using tc_release_t = void (*)();
using tc_ownership_t = int (*)(const void*);
using mallinfo2_t = struct mallinfo2 (*)();
using malloc_trim_t = int (*)(size_t);
using usable_t = size_t (*)(void*);

// gperftools MallocExtension::Ownership: kUnknownOwnership = 0, kOwned = 1, kNotOwned = 2.
constexpr int kTcOwned = 1;
constexpr size_t kProbeSize = 4000;

// The compiler may delete a malloc whose result is only freed; a volatile
// store makes the probe allocation real.
void* volatile g_probe;
void* probe_alloc() {
  g_probe = malloc(kProbeSize);
  return g_probe;
}

void* sym(void* handle, const char* name) { return dlsym(handle ? handle : RTLD_DEFAULT, name); }

bool same_file(const char* a, const char* b) {
  char ra[PATH_MAX], rb[PATH_MAX];
  if (!realpath(a, ra) || !realpath(b, rb)) return false;
  return std::strcmp(ra, rb) == 0;
}

Kind detect_family(void* handle) {
  if (sym(handle, "heapmark_allocator_owns")) return Kind::kInHouse;
  if (sym(handle, "mallctl")) return Kind::kJemalloc;
  if (sym(handle, "mi_version")) return Kind::kMimalloc;
  if (sym(handle, "tc_version")) return Kind::kTcmalloc;
  return Kind::kUser;
}

}  // namespace

Hooks Hooks::probe(Kind kind, const char* library) noexcept {
  Hooks h;
  const bool preloaded = kind != Kind::kGlibc;

  // 1. Which object does the process-wide `malloc` symbol come from?
  Dl_info info{};
  void* malloc_sym = dlsym(RTLD_DEFAULT, "malloc");
  if (malloc_sym && dladdr(malloc_sym, &info) && info.dli_fname)
    std::snprintf(h.malloc_from_, sizeof h.malloc_from_, "%s", info.dli_fname);
  bool from_ok;
  if (preloaded) {
    h.handle_ = dlopen(library, RTLD_NOW | RTLD_NOLOAD);
    from_ok = h.handle_ && info.dli_fname && same_file(info.dli_fname, library);
  } else {
    from_ok = info.dli_fname && std::strstr(info.dli_fname, "libc.so") != nullptr;
  }
  h.family_ = kind == Kind::kUser ? detect_family(h.handle_) : kind;
  h.usable_size = reinterpret_cast<usable_t>(sym(h.handle_, "malloc_usable_size"));
  if (!from_ok) {
    std::snprintf(h.proof_, sizeof h.proof_, "malloc resolves to %s, not %s", h.malloc_from_[0] ? h.malloc_from_ : "(unknown)",
                  preloaded ? library : "libc.so.6");
    return h;
  }

  // 2. Does the allocator claim a fresh probe block? Version while we are here.
  bool claimed = false;
  char claim[200] = "";
  switch (h.family_) {
    case Kind::kGlibc: {
      auto mi2 = reinterpret_cast<mallinfo2_t>(sym(nullptr, "mallinfo2"));
      const size_t before = mi2 ? mi2().uordblks : 0;
      void* p = probe_alloc();
      const size_t after = mi2 ? mi2().uordblks : 0;
      claimed = mi2 && after >= before + kProbeSize;
      std::snprintf(claim, sizeof claim, "mallinfo2().uordblks grew by %zu for malloc(%zu)", after - before, kProbeSize);
      free(p);
      std::snprintf(h.version_, sizeof h.version_, "glibc %s", gnu_get_libc_version());
      break;
    }
    case Kind::kJemalloc: {
      auto mallctl = reinterpret_cast<mallctl_t>(sym(h.handle_, "mallctl"));
      void* p = probe_alloc();
      unsigned arena = 0;
      size_t len = sizeof arena;
      claimed = mallctl(const_cast<char*>("arenas.lookup"), &arena, &len, &p, sizeof p) == 0;
      std::snprintf(claim, sizeof claim, "mallctl(\"arenas.lookup\") places the probe block in arena %u", arena);
      free(p);
      const char* v = nullptr;
      len = sizeof v;
      if (mallctl("version", &v, &len, nullptr, 0) == 0 && v) std::snprintf(h.version_, sizeof h.version_, "jemalloc %s", v);
      break;
    }
    case Kind::kMimalloc: {
      auto in_heap = reinterpret_cast<mi_is_in_heap_region_t>(sym(h.handle_, "mi_is_in_heap_region"));
      auto version = reinterpret_cast<mi_version_t>(sym(h.handle_, "mi_version"));
      void* p = probe_alloc();
      claimed = in_heap && in_heap(p);
      std::snprintf(claim, sizeof claim, "mi_is_in_heap_region(probe block) is %s", claimed ? "true" : "false");
      free(p);
      if (version) {
        const int v = version();  // 209 for 2.0.9
        std::snprintf(h.version_, sizeof h.version_, "mimalloc %d.%d.%d", v / 100, v / 10 % 10, v % 10);
      }
      break;
    }
    case Kind::kTcmalloc: {
      auto owner = reinterpret_cast<tc_ownership_t>(sym(h.handle_, "MallocExtension_GetOwnership"));
      auto version = reinterpret_cast<tc_version_t>(sym(h.handle_, "tc_version"));
      void* p = probe_alloc();
      claimed = owner && owner(p) == kTcOwned;
      std::snprintf(claim, sizeof claim, "MallocExtension_GetOwnership(probe block) is %s", claimed ? "kOwned" : "not kOwned");
      free(p);
      int major = 0, minor = 0;
      const char* patch = "";
      if (version) std::snprintf(h.version_, sizeof h.version_, "%s", version(&major, &minor, &patch));
      break;
    }
    case Kind::kInHouse: {
      auto owns = reinterpret_cast<decltype(&heapmark_allocator_owns)>(sym(h.handle_, "heapmark_allocator_owns"));
      auto name = reinterpret_cast<decltype(&heapmark_allocator_name)>(sym(h.handle_, "heapmark_allocator_name"));
      auto version = reinterpret_cast<decltype(&heapmark_allocator_version)>(sym(h.handle_, "heapmark_allocator_version"));
      void* p = probe_alloc();
      claimed = owns && owns(p) == 1;
      std::snprintf(claim, sizeof claim, "heapmark_allocator_owns(probe block) is %d", owns ? owns(p) : -1);
      free(p);
      std::snprintf(h.version_, sizeof h.version_, "%s %s", name ? name() : "?", version ? version() : "?");
      break;
    }
    case Kind::kUser: {
      // No introspection family: the library must at least export malloc and
      // say the probe block is as big as asked.
      void* p = probe_alloc();
      const size_t usable = h.usable_size ? h.usable_size(p) : 0;
      claimed = h.usable_size ? usable >= kProbeSize : true;
      std::snprintf(claim, sizeof claim, h.usable_size ? "its malloc_usable_size(probe block) is %zu" : "it exports no malloc_usable_size",
                    usable);
      free(p);
      std::snprintf(h.version_, sizeof h.version_, "unknown");
      break;
    }
  }
  h.identity_ok_ = claimed;
  std::snprintf(h.proof_, sizeof h.proof_, "malloc resolves to %s; %s", h.malloc_from_, claim);
  return h;
}

size_t Hooks::stats(StatItem* out, size_t max) const noexcept {
  size_t n = 0;
  auto put = [&](const char* name, uint64_t v) {
    if (n < max) out[n++] = StatItem{name, v};
  };
  switch (family_) {
    case Kind::kGlibc: {
      auto mi2 = reinterpret_cast<mallinfo2_t>(sym(nullptr, "mallinfo2"));
      if (!mi2) break;
      const struct mallinfo2 m = mi2();
      put("arena", m.arena);
      put("hblkhd", m.hblkhd);
      put("uordblks", m.uordblks);
      put("fordblks", m.fordblks);
      put("fsmblks", m.fsmblks);
      put("keepcost", m.keepcost);
      put("ordblks_count", m.ordblks);
      put("hblks_count", m.hblks);
      break;
    }
    case Kind::kJemalloc: {
      auto mallctl = reinterpret_cast<mallctl_t>(sym(handle_, "mallctl"));
      uint64_t epoch = 1;
      size_t len = sizeof epoch;
      mallctl("epoch", &epoch, &len, &epoch, sizeof epoch);  // refresh the cached stats
      for (const char* name : {"stats.allocated", "stats.active", "stats.metadata", "stats.resident", "stats.mapped", "stats.retained"}) {
        size_t v = 0;
        len = sizeof v;
        if (mallctl(name, &v, &len, nullptr, 0) == 0) put(name, v);
      }
      break;
    }
    case Kind::kTcmalloc: {
      auto get = reinterpret_cast<tc_get_property_t>(sym(handle_, "MallocExtension_GetNumericProperty"));
      if (!get) break;
      for (const char* name : {"generic.current_allocated_bytes", "generic.heap_size", "tcmalloc.pageheap_free_bytes",
                               "tcmalloc.pageheap_unmapped_bytes", "tcmalloc.current_total_thread_cache_bytes",
                               "tcmalloc.central_cache_free_bytes", "tcmalloc.transfer_cache_free_bytes"}) {
        size_t v = 0;
        if (get(name, &v)) put(name, v);
      }
      break;
    }
    case Kind::kMimalloc: {
      auto info = reinterpret_cast<mi_process_info_t>(sym(handle_, "mi_process_info"));
      if (!info) break;
      size_t elapsed, user, sys, rss, peak_rss, commit, peak_commit, faults;
      info(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit, &faults);
      put("current_commit", commit);
      put("peak_commit", peak_commit);
      put("current_rss", rss);
      break;
    }
    case Kind::kInHouse: {
      auto get = reinterpret_cast<decltype(&heapmark_allocator_stats)>(sym(handle_, "heapmark_allocator_stats"));
      if (!get) break;
      heapmark_stat items[64];
      const size_t got = get(items, max < 64 ? max : 64);
      for (size_t i = 0; i < got; ++i) put(items[i].name, items[i].value);
      break;
    }
    case Kind::kUser:
      break;
  }
  return n;
}

const char* Hooks::release_name() const noexcept {
  switch (family_) {
    case Kind::kGlibc: return "malloc_trim(0)";
    case Kind::kJemalloc: return "thread.tcache.flush + arena.4096.purge";
    case Kind::kTcmalloc: return "MallocExtension_ReleaseFreeMemory()";
    case Kind::kMimalloc: return "mi_collect(true)";
    case Kind::kInHouse: return "heapmark_allocator_release()";
    case Kind::kUser: return "none";
  }
  return "none";
}

bool Hooks::release() const noexcept {
  switch (family_) {
    case Kind::kGlibc: {
      auto trim = reinterpret_cast<malloc_trim_t>(sym(nullptr, "malloc_trim"));
      if (!trim) return false;
      trim(0);
      return true;
    }
    case Kind::kJemalloc: {
      auto mallctl = reinterpret_cast<mallctl_t>(sym(handle_, "mallctl"));
      mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
      // MALLCTL_ARENAS_ALL == 4096: purge every arena.
      return mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0) == 0;
    }
    case Kind::kTcmalloc: {
      auto rel = reinterpret_cast<tc_release_t>(sym(handle_, "MallocExtension_ReleaseFreeMemory"));
      if (!rel) return false;
      rel();
      return true;
    }
    case Kind::kMimalloc: {
      auto collect = reinterpret_cast<mi_collect_t>(sym(handle_, "mi_collect"));
      if (!collect) return false;
      collect(true);
      return true;
    }
    case Kind::kInHouse: {
      auto rel = reinterpret_cast<decltype(&heapmark_allocator_release)>(sym(handle_, "heapmark_allocator_release"));
      if (!rel) return false;
      rel();
      return true;
    }
    case Kind::kUser:
      return false;
  }
  return false;
}

}  // namespace heapmark::registry
