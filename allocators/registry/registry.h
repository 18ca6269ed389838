// What allocators heapmark knows: their names, the library a cell preloads for
// each, and the environment that configures them. Every fact about a kind of
// allocator lives in its family (allocators/registry/family.h, one file each in
// families/); this table is what the families provide. The runner knows nothing
// of an allocator beyond it; the cell finds each one's introspection through
// its family (allocators/registry/hooks.h).
#pragma once
#include <string>
#include <initializer_list>
#include <utility>
#include <vector>

#include "allocators/registry/family.h"

namespace heapmark::registry {

using Env = std::vector<std::pair<std::string, std::string>>;

struct Allocator {
  std::string name;                // what users type: "glibc", "jemalloc", "je-bg", "mine"
  const Family* family = nullptr;  // never null once built
  std::string library;             // absolute path to LD_PRELOAD; empty for the C library's malloc
  Env env;                         // configuration passed to the cell's environment
  std::string summary;             // one line for `heapmark list allocators`
  bool found = true;               // the library exists on this machine
  std::string missing_hint;        // what to install when it does not
  std::string variant_of;          // empty for a base allocator; else the base it configures ("je-bg": "jemalloc")
  bool on_request = false;         // run only when named (not in repro's default set): scudo, tbbmalloc

  const char* kind() const noexcept { return family->name(); }
  bool is_base() const noexcept { return variant_of.empty(); }
};

// Built-in allocators, family by family. `libdir` is where the in-house
// libraries (libheapmark_*.so) were built: the directory of the heapmark binary.
std::vector<Allocator> builtin(const std::string& libdir);

// The base allocators among `all` that exist on this machine, in the families'
// order (glibc, jemalloc, mimalloc, tcmalloc, the in-house ones), without the
// ones run only on request: what `repro` runs by default.
std::vector<Allocator> bases(const std::vector<Allocator>& all);

// A user's allocator given as NAME=PATH. Throws heapmark::InputError when the
// name is taken or malformed or the file is not a readable regular file.
Allocator user(const std::string& spec, const std::vector<Allocator>& known);

// The base allocator among `all` that is the file `path` (the object that
// served a program's malloc, as a trace or attach names it): the C library's
// for a libc.so, else the one whose library is that same file. Null when none is.
const Allocator* serving(const std::vector<Allocator>& all, const std::string& path);

// Finds `name`; throws InputError naming the valid names (and, for a known but
// missing library, the Debian package to install).
const Allocator& find(const std::vector<Allocator>& all, const std::string& name);

// The family called `kind` (as recorded in results); throws InputError naming the valid ones.
const Family& family_named(const std::string& kind);

// LD_PRELOAD, or a variable some family reads for its configuration.
bool is_allocator_config_var(std::string_view var);

// What a real program's cell preloads so that `a` serves its malloc: the
// allocator's library, or for the C library's malloc (no library of its own)
// the C library itself. A program that links another allocator (Debian's
// redis-server links libjemalloc) is then served by glibc's malloc in its
// "glibc" cell too, since a preloaded object comes before the program's own
// libraries in symbol lookup; the cell's identity check proves it.
std::string program_preload(const Allocator& a);

// Why VAR=VALUE cannot be an allocator's environment, or "" when it can:
// LD_PRELOAD is the allocator's own library (set from the registry, or
// --allocator NAME=PATH), HEAPMARK_* belong to the harness, a name must be a
// shell-style identifier, and a value with a control character (newline, tab)
// would not survive the one-line forms results and logs keep it in.
std::string env_entry_problem(std::string_view var, std::string_view value);

// Helpers for family files: an allocator whose library Debian installs under
// the multiarch directory (found or not), and one built beside heapmark.
Allocator system_allocator(const Family& f, const char* name, const char* soname, const char* package,
                           const char* summary, Env env = {}, const char* variant_of = "");
// The first of `candidates` (glob patterns) that exists, else the first pattern.
Allocator found_allocator(const Family& f, const char* name, std::initializer_list<const char*> candidates,
                          const char* package, const char* summary);
Allocator in_house_allocator(const Family& f, const std::string& libdir, const char* name, const char* file,
                             const char* summary, Env env = {}, const char* variant_of = "");

}  // namespace heapmark::registry
