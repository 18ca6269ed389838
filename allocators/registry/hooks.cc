#include "allocators/registry/hooks.h"

#include <dlfcn.h>
#include <link.h>
#include <limits.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>

#include "allocators/registry/registry.h"

namespace heapmark::registry {
namespace {

bool same_file(const char* a, const char* b) {
  char ra[PATH_MAX], rb[PATH_MAX];
  if (!realpath(a, ra) || !realpath(b, rb)) return false;
  return std::strcmp(ra, rb) == 0;
}

// Which object defines the process-wide `name`. A non-PIE executable that
// takes malloc's address (python3) holds a canonical PLT entry for it, which
// dlsym finds first; calls still reach the first library in the global scope
// that defines it, so that library is the answer.
bool resolves_to(const char* name, char* from, size_t len) {
  Dl_info info{};
  link_map* map = nullptr;
  void* s = dlsym(RTLD_DEFAULT, name);
  if (!s || !dladdr1(s, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) || !info.dli_fname) return false;
  if (map && map->l_prev == nullptr)  // the main program
    for (link_map* m = map->l_next; m; m = m->l_next) {
      void* h = m->l_name && m->l_name[0] ? dlopen(m->l_name, RTLD_NOW | RTLD_NOLOAD) : nullptr;
      if (!h) continue;
      const bool defines = own_symbol(h, name) != nullptr;
      dlclose(h);
      if (defines) {
        std::snprintf(from, len, "%s", m->l_name);
        return true;
      }
    }
  std::snprintf(from, len, "%s", info.dli_fname);
  return true;
}

}  // namespace

bool Hooks::malloc_object(char* out, size_t len) noexcept { return resolves_to("malloc", out, len); }

Hooks Hooks::probe(Family& family, const char* library) noexcept {
  Hooks h;
  h.family_ = &family;
  const bool preloaded = library && library[0];

  // 1. Which object do the process-wide malloc and free come from? That is
  // what every caller in the process gets, whatever the library also exports.
  char free_from[256] = "";
  const bool have =
      resolves_to("malloc", h.malloc_from_, sizeof h.malloc_from_) && resolves_to("free", free_from, sizeof free_from);
  void* handle = preloaded ? dlopen(library, RTLD_NOW | RTLD_NOLOAD) : nullptr;
  bool from_ok;
  if (preloaded) from_ok = have && handle && same_file(h.malloc_from_, library) && same_file(free_from, library);
  else from_ok = have && std::strstr(h.malloc_from_, "libc.so") && std::strstr(free_from, "libc.so");
  if (!from_ok) {
    std::snprintf(h.proof_, sizeof h.proof_, "malloc resolves to %s and free to %s, not %s",
                  h.malloc_from_[0] ? h.malloc_from_ : "(unknown)", free_from[0] ? free_from : "(unknown)",
                  preloaded ? library : "libc.so.6");
    return h;
  }

  // 2. The family's introspection. A user's library may speak a known one.
  if (std::strcmp(family.name(), "user") == 0)
    for (Family* f : families())
      if (f != &family && std::strcmp(f->name(), "glibc") != 0 && f->bind(handle)) {
        h.family_ = f;
        break;
      }
  if (h.family_ == &family && !family.bind(handle)) {
    std::snprintf(h.proof_, sizeof h.proof_, "malloc resolves to %s, but it lacks %s's introspection symbols",
                  h.malloc_from_, family.name());
    return h;
  }
  h.usable_size = h.family_->usable_size();

  // 3. Does the allocator claim a fresh probe block?
  char claim[240] = "";
  h.identity_ok_ = h.family_->claim(claim, sizeof claim);
  h.family_->version(h.version_, sizeof h.version_);
  std::snprintf(h.proof_, sizeof h.proof_, "malloc resolves to %s; %s", h.malloc_from_, claim);
  return h;
}

}  // namespace heapmark::registry
