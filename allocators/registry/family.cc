// Family registration and the helpers family files share (family.h, registry.h).
#include <dlfcn.h>
#include <glob.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "allocators/registry/registry.h"

namespace heapmark::registry {
namespace {

std::vector<Family*>& registered() {
  static std::vector<Family*> all;
  return all;
}

bool readable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), R_OK) == 0;
}

// Debian installs shared libraries under the multiarch directory.
std::string system_library(const char* soname) {
  static const char* const dirs[] = {"/usr/lib/x86_64-linux-gnu/", "/lib/x86_64-linux-gnu/", "/usr/local/lib/",
                                     "/usr/lib/"};
  for (const char* d : dirs) {
    std::string path = std::string(d) + soname;
    if (readable_file(path)) return path;
  }
  return std::string(dirs[0]) + soname;
}

}  // namespace

const std::vector<Family*>& families() { return registered(); }

FamilyRegistrar::FamilyRegistrar(Family& family) {
  auto& all = registered();
  all.insert(std::upper_bound(all.begin(), all.end(), &family,
                              [](const Family* a, const Family* b) { return a->order() < b->order(); }),
             &family);
}

Family* find_family(std::string_view name) {
  for (Family* f : registered())
    if (name == f->name()) return f;
  return nullptr;
}

void* own_symbol(void* handle, const char* name) noexcept {
  void* s = dlsym(handle ? handle : RTLD_DEFAULT, name);
  if (!s || !handle) return s;
  // dlsym on a handle also searches the object's dependencies (glibc's
  // malloc_usable_size behind a library that has none): keep only its own.
  link_map* map = nullptr;
  Dl_info info{};
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || !map || !dladdr(s, &info) || !info.dli_fname) return nullptr;
  return std::strcmp(info.dli_fname, map->l_name) == 0 ? s : nullptr;
}

// A volatile store makes the probe allocation real: the compiler may delete a
// malloc whose result is only freed.
void* volatile g_probe;
void* probe_allocation() noexcept {
  g_probe = malloc(kProbeSize);
  return g_probe;
}

void set_value(ConfigItem& item, long long v) noexcept { std::snprintf(item.value, sizeof item.value, "%lld", v); }
void set_value(ConfigItem& item, const char* v) noexcept {
  std::snprintf(item.value, sizeof item.value, "%s", v ? v : "");
}

Allocator system_allocator(const Family& f, const char* name, const char* soname, const char* package,
                           const char* summary, Env env, const char* variant_of) {
  Allocator a{name, &f, system_library(soname), std::move(env), summary, true, "", variant_of};
  a.found = readable_file(a.library);
  if (!a.found) a.missing_hint = std::string("apt-get install ") + package;
  return a;
}

Allocator found_allocator(const Family& f, const char* name, std::initializer_list<const char*> candidates,
                          const char* package, const char* summary) {
  Allocator a{name, &f, *candidates.begin(), {}, summary, false, std::string("apt-get install ") + package, ""};
  for (const char* pattern : candidates) {
    glob_t g;
    if (glob(pattern, 0, nullptr, &g) == 0 && g.gl_pathc > 0 && readable_file(g.gl_pathv[g.gl_pathc - 1])) {
      a.library = g.gl_pathv[g.gl_pathc - 1];  // the newest when several versions are installed
      a.found = true;
      a.missing_hint.clear();
    }
    globfree(&g);
    if (a.found) break;
  }
  return a;
}

Allocator in_house_allocator(const Family& f, const std::string& libdir, const char* name, const char* file,
                             const char* summary, Env env, const char* variant_of) {
  Allocator a{name, &f, libdir + "/" + file, std::move(env), summary, true, "", variant_of};
  a.found = readable_file(a.library);
  if (!a.found) a.missing_hint = std::string("build it: cmake --build build --target ") + file;
  return a;
}

}  // namespace heapmark::registry
