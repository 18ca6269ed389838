#!/bin/sh
# Runs a command without and with LD_PRELOAD=<lib.so> and fails unless both runs
# succeed with byte-identical output (stdout+stderr). Child processes inherit
# the preload, so shell scripts exercise every program they start.
# usage: compare.sh <lib.so> <command> [args...]
set -eu
lib=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Prove the preload takes effect: in a process started under it, the dynamic
# linker binds every reference to malloc and free (the program's and libc's
# own) to the library. Mapping it is not enough: a library that exports no
# malloc is mapped too.
bindings=$(LD_DEBUG=bindings LD_PRELOAD=$lib cat /dev/null 2>&1 | grep -E "normal symbol .(malloc|free)'" || true)
if [ -z "$bindings" ]; then
  echo "compare.sh: the dynamic linker reported no malloc or free bindings under LD_PRELOAD=$lib" >&2
  exit 1
fi
elsewhere=$(printf '%s\n' "$bindings" | grep -v " to $lib \[" || true)
if [ -n "$elsewhere" ]; then
  echo "compare.sh: under LD_PRELOAD=$lib, malloc or free still bind elsewhere:" >&2
  printf '%s\n' "$elsewhere" | head -3 >&2
  exit 1
fi
if ! "$@" >"$tmp/plain" 2>&1; then
  echo "compare.sh: command failed without the preload:" >&2
  cat "$tmp/plain" >&2
  exit 1
fi
if ! LD_PRELOAD=$lib "$@" >"$tmp/preload" 2>&1; then
  echo "compare.sh: command failed under LD_PRELOAD=$lib:" >&2
  cat "$tmp/preload" >&2
  exit 1
fi
if ! cmp -s "$tmp/plain" "$tmp/preload"; then
  echo "compare.sh: output differs under the preload:" >&2
  diff "$tmp/plain" "$tmp/preload" | head -20 >&2
  exit 1
fi
echo "compare.sh: same output ($(wc -c <"$tmp/plain") bytes): $*"
