#include "allocators/registry/registry.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "allocators/registry/elf_exports.h"
#include "common/input_error.h"

namespace heapmark::registry {
namespace {

bool readable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), R_OK) == 0;
}

}  // namespace

const Family& family_named(const std::string& kind) {
  if (const Family* f = find_family(kind)) return *f;
  std::string valid;
  for (const Family* f : families()) valid += (valid.empty() ? "" : ", ") + std::string(f->name());
  throw InputError("unknown allocator kind '" + kind + "' (valid: " + valid + ")");
}

std::vector<Allocator> builtin(const std::string& libdir) {
  std::vector<Allocator> all;
  for (const Family* f : families()) f->builtins(libdir, all);
  return all;
}

std::vector<Allocator> bases(const std::vector<Allocator>& all) {
  std::vector<Allocator> out;
  for (const auto& a : all)
    if (a.is_base() && a.found && !a.on_request && a.family != find_family("user")) out.push_back(a);
  return out;
}

bool is_allocator_config_var(std::string_view var) {
  if (var == "LD_PRELOAD") return true;
  for (const Family* f : families())
    if (f->is_config_var(var)) return true;
  return false;
}

std::string program_preload(const Allocator& a) {
  if (!a.library.empty()) return a.library;
  Dl_info info{};  // heapmark itself runs on the C library's malloc: where that is, is the C library
  if (dladdr(reinterpret_cast<void*>(&::free), &info) && info.dli_fname && std::strstr(info.dli_fname, "/libc.so"))
    return info.dli_fname;
  return "";
}

std::string env_entry_problem(std::string_view var, std::string_view value) {
  if (var == "LD_PRELOAD")
    return "LD_PRELOAD is the allocator's library, which heapmark sets: name your library with --allocator NAME=PATH";
  if (var.starts_with("HEAPMARK_")) return std::string(var) + " belongs to heapmark itself, not to an allocator";
  bool ident = !var.empty() && !std::isdigit(static_cast<unsigned char>(var[0]));
  for (char c : var) ident &= std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  if (!ident)
    return "'" + std::string(var) + "' is not a variable name (letters, digits and _, not starting with a digit)";
  for (char c : value)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return "the value of " + std::string(var) + " holds a control character (newline, tab, ...): give it on one line";
  return {};
}

Allocator user(const std::string& spec, const std::vector<Allocator>& known) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw InputError("--allocator '" + spec + "': expected NAME=/path/to/liballoc.so");
  Allocator a;
  a.name = spec.substr(0, eq);
  a.family = &family_named("user");
  a.library = spec.substr(eq + 1);
  a.summary = "user library";
  for (char c : a.name)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      throw InputError("--allocator '" + spec + "': name '" + a.name +
                       "' may use only letters, digits, '-', '_' and '.'");
  for (const auto& k : known)
    if (k.name == a.name)
      throw InputError("--allocator '" + spec + "': name '" + a.name + "' is already taken by a built-in allocator");
  if (!readable_file(a.library))
    throw InputError("--allocator '" + spec + "': '" + a.library + "' is not a readable file");
  if (const std::string why = preload_problem(a.library); !why.empty())
    throw InputError("--allocator '" + spec + "': '" + a.library + "' " + why);
  if (a.library[0] != '/') {
    char buf[4096];
    if (realpath(a.library.c_str(), buf)) a.library = buf;
  }
  return a;
}

const Allocator* serving(const std::vector<Allocator>& all, const std::string& path) {
  const size_t slash = path.rfind('/');
  const bool libc = path.compare(slash == std::string::npos ? 0 : slash + 1, 7, "libc.so") == 0;
  struct stat want;
  if (!libc && stat(path.c_str(), &want) != 0) return nullptr;
  for (const auto& a : all) {
    if (!a.is_base() || !a.found) continue;
    if (libc) {
      if (a.library.empty() && a.family == find_family("glibc")) return &a;
      continue;
    }
    struct stat got;
    if (!a.library.empty() && stat(a.library.c_str(), &got) == 0 && got.st_dev == want.st_dev &&
        got.st_ino == want.st_ino)
      return &a;
  }
  return nullptr;
}

const Allocator& find(const std::vector<Allocator>& all, const std::string& name) {
  std::string valid;
  for (const auto& a : all) {
    if (a.name == name) {
      if (!a.found)
        throw InputError("allocator '" + name + "': library " + a.library + " is missing (" + a.missing_hint + ")");
      return a;
    }
    valid += (valid.empty() ? "" : ", ") + a.name;
  }
  throw InputError("unknown allocator '" + name + "' (valid: " + valid + ", or --allocator NAME=/path/lib.so)");
}

}  // namespace heapmark::registry
