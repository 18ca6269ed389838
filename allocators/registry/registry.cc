#include "allocators/registry/registry.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/input_error.h"

namespace heapmark::registry {
namespace {

bool readable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), R_OK) == 0;
}

// Debian installs shared libraries under the multiarch directory.
std::string system_library(const char* soname) {
  static const char* const dirs[] = {"/usr/lib/x86_64-linux-gnu/", "/lib/x86_64-linux-gnu/", "/usr/local/lib/", "/usr/lib/"};
  for (const char* d : dirs) {
    std::string path = std::string(d) + soname;
    if (readable_file(path)) return path;
  }
  return std::string(dirs[0]) + soname;
}

Allocator system(const char* name, Kind kind, const char* soname, const char* package, const char* summary, Env env = {}) {
  Allocator a{name, kind, system_library(soname), std::move(env), summary, true, ""};
  a.found = readable_file(a.library);
  if (!a.found) a.missing_hint = std::string("apt-get install ") + package;
  return a;
}

Allocator in_house(const std::string& libdir, const char* name, const char* file, const char* summary, Env env = {}) {
  Allocator a{name, Kind::kInHouse, libdir + "/" + file, std::move(env), summary, true, ""};
  a.found = readable_file(a.library);
  if (!a.found) a.missing_hint = std::string("build it: cmake --build build --target ") + file;
  return a;
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kGlibc: return "glibc";
    case Kind::kJemalloc: return "jemalloc";
    case Kind::kMimalloc: return "mimalloc";
    case Kind::kTcmalloc: return "tcmalloc";
    case Kind::kInHouse: return "in-house";
    case Kind::kUser: return "user";
  }
  return "?";
}

bool parse_kind(const std::string& text, Kind& out) {
  for (Kind k : {Kind::kGlibc, Kind::kJemalloc, Kind::kMimalloc, Kind::kTcmalloc, Kind::kInHouse, Kind::kUser})
    if (text == kind_name(k)) {
      out = k;
      return true;
    }
  return false;
}

std::vector<Allocator> builtin(const std::string& libdir) {
  std::vector<Allocator> all;
  all.push_back(Allocator{"glibc", Kind::kGlibc, "", {}, "the C library's ptmalloc2 (no preload)", true, ""});
  all.push_back(system("jemalloc", Kind::kJemalloc, "libjemalloc.so.2", "libjemalloc2", "jemalloc (Debian libjemalloc2)"));
  all.push_back(system("je-bg", Kind::kJemalloc, "libjemalloc.so.2", "libjemalloc2",
                       "jemalloc with a background purging thread", {{"MALLOC_CONF", "background_thread:true"}}));
  all.push_back(system("mimalloc", Kind::kMimalloc, "libmimalloc.so.2", "libmimalloc2.0", "mimalloc (Debian libmimalloc2.0)"));
  all.push_back(system("tcmalloc", Kind::kTcmalloc, "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4",
                       "gperftools tcmalloc_minimal (Debian libtcmalloc-minimal4)"));
  all.push_back(in_house(libdir, "ptmalloc-style", "libheapmark_ptmalloc.so", "in-house ptmalloc-style allocator, glibc release policy"));
  all.push_back(in_house(libdir, "ptmalloc-decay", "libheapmark_ptmalloc.so", "in-house ptmalloc-style, returns free pages after a delay",
                         {{"HEAPMARK_PT_RELEASE", "decay"}}));
  all.push_back(in_house(libdir, "ptmalloc-eager", "libheapmark_ptmalloc.so", "in-house ptmalloc-style, returns free pages at once",
                         {{"HEAPMARK_PT_RELEASE", "eager"}}));
  all.push_back(in_house(libdir, "buddy", "libheapmark_buddy.so", "in-house binary buddy allocator (decommits free runs above 8 MiB)"));
  all.push_back(in_house(libdir, "buddy-eager", "libheapmark_buddy.so", "in-house buddy, decommits every free page run at once",
                         {{"HEAPMARK_BUDDY_DECOMMIT", "eager"}}));
  all.push_back(in_house(libdir, "slab", "libheapmark_slab.so", "in-house slab caches over the buddy allocator"));
  all.push_back(in_house(libdir, "slab-eager", "libheapmark_slab.so", "in-house slab, decommits free slabs at once",
                         {{"HEAPMARK_SLAB_DECOMMIT", "eager"}}));
  return all;
}

Allocator user(const std::string& spec, const std::vector<Allocator>& known) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw InputError("--allocator '" + spec + "': expected NAME=/path/to/liballoc.so");
  Allocator a;
  a.name = spec.substr(0, eq);
  a.kind = Kind::kUser;
  a.library = spec.substr(eq + 1);
  a.summary = "user library";
  for (char c : a.name)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      throw InputError("--allocator '" + spec + "': name '" + a.name + "' may use only letters, digits, '-', '_' and '.'");
  for (const auto& k : known)
    if (k.name == a.name) throw InputError("--allocator '" + spec + "': name '" + a.name + "' is already taken by a built-in allocator");
  if (!readable_file(a.library)) throw InputError("--allocator '" + spec + "': '" + a.library + "' is not a readable file");
  if (a.library[0] != '/') {
    char buf[4096];
    if (realpath(a.library.c_str(), buf)) a.library = buf;
  }
  return a;
}

const Allocator& find(const std::vector<Allocator>& all, const std::string& name) {
  std::string valid;
  for (const auto& a : all) {
    if (a.name == name) {
      if (!a.found) throw InputError("allocator '" + name + "': library " + a.library + " is missing (" + a.missing_hint + ")");
      return a;
    }
    valid += (valid.empty() ? "" : ", ") + a.name;
  }
  throw InputError("unknown allocator '" + name + "' (valid: " + valid + ", or --allocator NAME=/path/lib.so)");
}

}  // namespace heapmark::registry
