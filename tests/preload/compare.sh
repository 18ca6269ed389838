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
# Prove the preload takes effect: a process started under it maps the library.
if ! LD_PRELOAD=$lib cat /proc/self/maps | grep -q "$(basename "$lib")"; then
  echo "compare.sh: $lib is not mapped under LD_PRELOAD" >&2
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
