#!/bin/sh
# heapmark report / compare from the command line: one-line errors with exit
# status 2 for a missing directory and a foreign schema_version, and compare's
# exit status under --fail-on-regression on a run made 1.5x slower.
set -u
heapmark=$1
dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
check() {  # check <name> <expected status> <actual status>
  if [ "$2" != "$3" ]; then echo "FAIL: $1: exit status $3, expected $2"; fail=1; else echo "ok: $1"; fi
}
one_line() {  # one_line <name> <file> <text it must contain>
  if [ "$(wc -l < "$2")" -ne 1 ] || ! grep -q "$3" "$2"; then
    echo "FAIL: $1: expected one line naming '$3', got:"; cat "$2"; fail=1
  fi
}

"$heapmark" report "$work/no-such-run" > /dev/null 2> "$work/err"
check "report of a missing directory" 2 $?
one_line "missing directory message" "$work/err" "no-such-run"

cp -r "$dir/fixtures/run-a" "$work/future"
sed -i '3s/"schema_version":1/"schema_version":99/' "$work/future/cells.jsonl"
"$heapmark" report "$work/future" > /dev/null 2> "$work/err"
check "report of schema_version 99" 2 $?
one_line "schema message" "$work/err" "schema_version 99"

"$heapmark" compare "$dir/fixtures/run-a" "$work/missing" > /dev/null 2> "$work/err"
check "compare with a missing directory" 2 $?
one_line "compare missing directory message" "$work/err" "missing"

# A run whose latencies are 1.5x and throughput 1/1.5 of the fixture's.
cp -r "$dir/fixtures/run-a" "$work/slow"
python3 - "$work/slow/cells.jsonl" <<'PY'
import json, sys
path = sys.argv[1]
out = []
for line in open(path):
    c = json.loads(line)
    if c.get("throughput_ops_s"):
        c["throughput_ops_s"] /= 1.5
    for op in c.get("latency_ns", {}).values():
        for k in ("mean", "p50", "p90", "p99", "p999", "max"):
            op[k] *= 1.5
    out.append(json.dumps(c) + "\n")
open(path, "w").writelines(out)
PY

"$heapmark" compare "$dir/fixtures/run-a" "$dir/fixtures/run-a" --fail-on-regression 1 > "$work/out"
check "compare a run with itself" 0 $?
grep -q "same (within noise)" "$work/out" || { echo "FAIL: self-compare shows no 'same'"; fail=1; }

"$heapmark" compare "$dir/fixtures/run-a" "$work/slow" --fail-on-regression 10 \
  --markdown "$work/cmp.md" --html "$work/cmp.html" > "$work/out"
check "compare with a 1.5x slower run, 10% allowed" 3 $?
grep -q "slower" "$work/out" || { echo "FAIL: no 'slower' verdict"; fail=1; }
grep -q "regression(s) beyond 10%" "$work/out" || { echo "FAIL: regressions not listed"; fail=1; }
grep -q "^| " "$work/cmp.md" || { echo "FAIL: no Markdown table"; fail=1; }
grep -q "<table" "$work/cmp.html" || { echo "FAIL: no HTML table"; fail=1; }

"$heapmark" compare "$dir/fixtures/run-a" "$work/slow" --fail-on-regression 80 > /dev/null
check "compare with a 1.5x slower run, 80% allowed" 0 $?

"$heapmark" compare "$dir/fixtures/run-a" "$work/slow" > /dev/null
check "compare without --fail-on-regression" 0 $?
exit $fail
