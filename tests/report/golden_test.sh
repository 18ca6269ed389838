#!/bin/sh
# Regenerates summary.md and cells.csv from the committed fixture (a real run of
# glibc, jemalloc, mimalloc and a crashing user allocator) and diffs them with
# the committed golden files. It never writes into the source tree: after an
# intended change, scripts/update-golden regenerates them for review.
set -eu
heapmark=$1
dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$heapmark" report "$dir/fixtures/run-a" --out "$work" -q
status=0
for f in summary.md cells.csv; do
  if ! diff -u "$dir/golden/$f" "$work/$f"; then
    echo "FAIL: $f differs from $dir/golden/$f (after an intended change: scripts/update-golden, then review the diff)"
    status=1
  fi
done
# The HTML is not golden (layout changes often) but must be self-contained: its
# one script is inline (svg::script(); tests/report/browser_test.py runs it).
if grep -Eq '<script[^>]*src|<link|https?://[^"]*\.(js|css)|@import|url\(http|fetch\(|XMLHttpRequest' "$work/report.html"; then
  echo "FAIL: report.html refers to external resources or scripts"
  status=1
fi
if [ "$(grep -c '<script' "$work/report.html")" -ne 1 ]; then
  echo "FAIL: report.html should hold exactly one (inline) script"
  status=1
fi
exit $status
