#!/bin/sh
# A C program under the preloaded allocator maps no C++ runtime: the library's
# operator new takes the runtime's own failure path (new_handler, bad_alloc) at
# run time, from the runtime the caller has loaded, so it names none of it.
# glibc's malloc costs a C program no libstdc++ (860 KB of RSS) or libgcc_s.
# usage: no_cxx_runtime.sh <lib.so>
set -eu
lib=$1
maps=$(LD_PRELOAD=$lib cat /proc/self/maps)
if ! printf '%s\n' "$maps" | grep -qF "$lib"; then
  echo "no_cxx_runtime.sh: $lib is not mapped in a process started with LD_PRELOAD=$lib" >&2
  exit 1
fi
if printf '%s\n' "$maps" | grep -E 'libstdc\+\+|libc\+\+|libgcc_s'; then
  echo "no_cxx_runtime.sh: cat (a C program) maps the C++ runtime above under LD_PRELOAD=$lib" >&2
  exit 1
fi
echo "ok: cat under $lib maps no C++ runtime"
