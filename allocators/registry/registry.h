// What allocators heapmark knows: their names, the library a cell preloads for
// each, and the environment that configures them. The runner knows nothing of
// an allocator beyond this table; the cell finds each one's introspection
// (version, stats, release, identity probe) in allocators/registry/hooks.h.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace heapmark::registry {

// Which introspection family a library speaks. A user's .so is probed inside
// the cell for each family's symbols, so a user-built jemalloc gets jemalloc's
// stats too.
enum class Kind { kGlibc, kJemalloc, kMimalloc, kTcmalloc, kInHouse, kUser };
const char* kind_name(Kind k);
bool parse_kind(const std::string& text, Kind& out);

using Env = std::vector<std::pair<std::string, std::string>>;

struct Allocator {
  std::string name;         // what users type: "glibc", "jemalloc", "je-bg", "mine"
  Kind kind = Kind::kGlibc;
  std::string library;      // absolute path to LD_PRELOAD; empty for glibc
  Env env;                  // configuration passed to the cell's environment
  std::string summary;      // one line for `heapmark list allocators`
  bool found = true;        // the library exists on this machine
  std::string missing_hint; // what to install when it does not
};

// Built-in allocators. `libdir` is where the in-house libraries
// (libheapmark_*.so) were built: the directory of the heapmark binary.
std::vector<Allocator> builtin(const std::string& libdir);

// A user's allocator given as NAME=PATH. Throws heapmark::InputError when the
// name is taken or malformed or the file is not a readable regular file.
Allocator user(const std::string& spec, const std::vector<Allocator>& known);

// Finds `name`; throws InputError naming the valid names (and, for a known but
// missing library, the Debian package to install).
const Allocator& find(const std::vector<Allocator>& all, const std::string& name);

}  // namespace heapmark::registry
