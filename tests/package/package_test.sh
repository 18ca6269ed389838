#!/usr/bin/env bash
# The Debian package works from its installed files alone: unpacked into a
# temporary root (dpkg-deb -x: a relocated /usr, so nothing can come from the
# build tree by an absolute path), its heapmark finds its parts and shipped
# matrices relative to itself, lists the allocators with the in-house ones from
# the unpacked lib/heapmark/, runs a tiny matrix, and the man page and the bash
# completion are there and work. Usage: package_test.sh heapmark_<v>_amd64.deb
set -euo pipefail
deb=$(realpath "$1")
tmp=$(mktemp -d /tmp/heapmark-package-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "package_test: FAIL: $*" >&2; exit 1; }

control=$(dpkg-deb -f "$deb")
for dep in libboost-json1.81.0 libdw1 libunwind8 libzstd1 libbenchmark1debian; do
  grep -q "^Depends:.*$dep" <<<"$control" || fail "Depends lacks $dep: $control"
done
grep -q "^Recommends:.*libjemalloc2" <<<"$control" || fail "Recommends lacks libjemalloc2"
dpkg-deb -x "$deb" "$tmp/root"
hm=$tmp/root/usr/bin/heapmark

# Output is captured before grep reads it: under pipefail, grep -q leaving early
# would end the writer with SIGPIPE and fail the pipeline when it matched.
version=$("$hm" --version)
grep -Eq '^heapmark [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]' <<<"$version" || fail "--version: $version"
"$hm" list allocators >"$tmp/list" || fail "list allocators exited $?"
grep -Eq "^ptmalloc-style +in-house +found .* $tmp/root/usr/lib/heapmark/libheapmark_ptmalloc.so" "$tmp/list" ||
  fail "the in-house allocators are not found in the unpacked lib/heapmark: $(cat "$tmp/list")"
grep -Eq '^glibc +glibc +found' "$tmp/list" || fail "glibc not found: $(cat "$tmp/list")"

# A shipped matrix by name, from the unpacked share/heapmark.
"$hm" plan --matrix quick >"$tmp/plan.json" || fail "plan --matrix quick exited $?"
grep -q '"schema":"heapmark-plan"' "$tmp/plan.json" || fail "plan: $(head -c 300 "$tmp/plan.json")"
set +e
"$hm" plan --matrix nosuch 2>"$tmp/err"; status=$?
set -e
[[ $status == 2 ]] || fail "plan --matrix nosuch exited $status"
grep -q "no such file, nor a shipped one ($tmp/root/usr/share/heapmark/matrices: default, inhouse, programs, quick)" "$tmp/err" ||
  fail "unknown matrix: $(cat "$tmp/err")"

"$hm" run --allocators glibc,ptmalloc-style --workloads churn -p count=2000 -p rounds=1 --reps 1 --out "$tmp/results" \
  --run-id tiny -q || fail "the tiny run exited $?"
[[ $(grep -c '"status":"ok"' "$tmp/results/tiny/cells.jsonl") == 2 ]] || fail "cells: $(cat "$tmp/results/tiny/cells.jsonl")"
[[ -s $tmp/results/tiny/report.html ]] || fail "no report.html"

man=$tmp/root/usr/share/man/man1/heapmark.1
grep -q '^\.SS "Exit status:"' "$man" || fail "the man page has no exit statuses (the --help footer)"
grep -q 'every cell ran and at least one failed' "$man" || fail "the man page does not explain exit status 4"
grep -q '^\.SH FILES' "$man" || fail "the man page has no FILES section"
grep -q 'Run a benchmark matrix' "$man" || fail "the man page lacks the run subcommand (help2man of --help-all)"

# The completion, as bash calls it (COMP_WORDS, COMP_CWORD), with the unpacked heapmark.
complete_words() {  # prints COMPREPLY for the words given, the last being completed
  PATH=$tmp/root/usr/bin:$PATH bash -c '
    . "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _heapmark; printf "%s\n" "${COMPREPLY[@]}"' _ "$tmp/root/usr/share/bash-completion/completions/heapmark" "$@"
}
expect_completion() {  # $1 = a word expected; the rest: the words
  local want=$1; shift
  local got
  got=$(complete_words "$@")
  grep -qx -- "$want" <<<"$got" || fail "completing '$*' offers no '$want': $(tr '\n' ' ' <<<"$got")"
}
expect_completion run heapmark ru
expect_completion trace-info heapmark tr
expect_completion --workloads heapmark run --work
expect_completion --stacks heapmark record --st
expect_completion glibc heapmark run --allocators gl
expect_completion glibc,jemalloc heapmark run --allocators glibc,je
expect_completion glibc heapmark run --allocators = gl   # --allocators=gl, as bash splits it at '='
expect_completion packets heapmark run --workloads pa
expect_completion connections= heapmark run -p conn
expect_completion workloads heapmark list wo
[[ -z $(complete_words heapmark run --allocators nosuch) ]] || fail "an unknown allocator prefix completes to something"
echo "package_test: ok ($deb)"
