// Whether a file can stand in for malloc under LD_PRELOAD, read from the file
// itself (no dlopen: nothing of the library runs). Checked up front for a
// user's --allocator NAME=PATH, so a wrong file is refused with the reason
// instead of failing every cell's identity probe.
#pragma once
#include <string>

namespace heapmark::registry {

// "" when `path` is an ELF shared object for this machine (64-bit, this
// architecture, ET_DYN) whose dynamic symbol table defines malloc and free (or
// which has no section headers to tell); else what is wrong, e.g. "is not an
// ELF file", "exports no 'free' ...".
std::string preload_problem(const std::string& path);

}  // namespace heapmark::registry
