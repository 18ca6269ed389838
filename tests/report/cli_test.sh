#!/bin/sh
# heapmark report / compare from the command line: one-line errors with exit
# status 2 for a missing directory and a foreign schema_version, and compare's
# exit status under --fail-on-regression on a run made 1.5x slower; compare
# --format json parsed and checked against those runs and the text output.
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
# --format json: stdout is one JSON document; the exit status is the same as for text.
"$heapmark" compare "$dir/fixtures/run-a" "$dir/fixtures/run-a" --format json --fail-on-regression 1 > "$work/self.json"
check "compare --format json of a run with itself" 0 $?
"$heapmark" compare "$dir/fixtures/run-a" "$work/slow" --format json --fail-on-regression 10 > "$work/slow10.json"
check "compare --format json, 1.5x slower, 10% allowed" 3 $?
"$heapmark" compare "$dir/fixtures/run-a" "$work/slow" --fail-on-regression 10 > "$work/slow10.txt"
"$heapmark" compare "$dir/fixtures/run-a" "$work/slow" --format json --fail-on-regression 80 > "$work/slow80.json"
check "compare --format json, 1.5x slower, 80% allowed" 0 $?
"$heapmark" compare "$dir/fixtures/run-a" "$work/slow" --format json > "$work/slow.json"
check "compare --format json without --fail-on-regression" 0 $?
python3 - "$work" <<'PY' || fail=1
import json, math, re, sys
work = sys.argv[1]
load = lambda name: json.load(open(f"{work}/{name}"))
errors = []
def expect(cond, what):
    if not cond:
        errors.append(what)

self, s10, s80, s0 = load("self.json"), load("slow10.json"), load("slow80.json"), load("slow.json")
for name, d in (("self", self), ("slow10", s10), ("slow80", s80), ("slow", s0)):
    expect(d["schema"] == "heapmark-compare" and d["schema_version"] == 1, f"{name}: schema")
    expect(d["a"]["run_id"] == "fixture", f"{name}: a.run_id {d['a']['run_id']}")
    t = d["tally"]
    expect(t["comparisons"] == len(d["rows"]) == t["better"] + t["worse"] + t["same"] + t["undecided"], f"{name}: tally {t}")
    expect(d["regressions"] == sum(r["regression"] for r in d["rows"]), f"{name}: regressions count")
    for r in d["rows"]:
        for side in ("a", "b"):
            v = sorted(r[side]["values"])
            expect(r[side]["n"] == len(v), f"{name}: {side}.n")
            if len(v) % 2:  # odd repetitions: the median is the middle value
                expect(r[side]["median"] == v[len(v) // 2], f"{name}: {side}.median")
        c = r["change"]
        if c["point"] is not None and r["verdict"] != "undecided":
            expect(c["lo"] <= c["point"] <= c["hi"], f"{name}: interval {c} of {r['label']} {r['figure']['path']}")
        expect(r["verdict"] in ("better", "worse", "same", "undecided"), f"{name}: verdict {r['verdict']}")

# A run with itself: every figure the same, b equal to a, no change.
expect(self["verdict"] == "same" and self["exit_status"] == 0 and self["regressions"] == 0, "self: overall")
expect(self["tally"]["same"] == len(self["rows"]) > 0, "self: all same")
for r in self["rows"]:
    expect(r["a"]["values"] == r["b"]["values"], "self: b differs from a")
    expect(r["change"]["point"] == (1.0 if r["figure"]["scale"] == "ratio" else 0.0), f"self: change {r['change']}")

# 1.5x slower: throughput ratio 1/1.5, latency ratios 1.5, judged worse; beyond 10% a regression (exit 3), not beyond 80%.
tp = [r for r in s10["rows"] if r["figure"]["path"] == "throughput_ops_s"]
lat = [r for r in s10["rows"] if r["figure"]["path"].startswith("latency_ns.")]
expect(tp and lat, "slow10: no throughput or latency rows")
for r in tp + lat:
    want = 1 / 1.5 if r in tp else 1.5
    expect(math.isclose(r["change"]["point"], want, rel_tol=1e-9), f"slow10: {r['figure']['path']} ratio {r['change']['point']}")
    expect(math.isclose(r["b"]["median"], r["a"]["median"] * want, rel_tol=1e-9), f"slow10: {r['figure']['path']} medians")
    # Three noisy repetitions: the verdict is "worse" exactly when the interval excludes 1.
    excludes = r["change"]["hi"] < 1 if r in tp else r["change"]["lo"] > 1
    expect(r["verdict"] == ("worse" if excludes else "same"), f"slow10: {r['label']} {r['figure']['path']} {r['verdict']} {r['change']}")
    expect(r["regression"] == excludes, f"slow10: {r['label']} {r['figure']['path']} regression {r['regression']}")
    expect(math.isclose(r["worse_by"], 50 if r in lat else 100 / 3, rel_tol=1e-9), f"slow10: worse_by {r['worse_by']}")
expect(sum(r["regression"] for r in tp + lat) >= len(tp + lat) // 2, "slow10: most 1.5x changes are regressions")
expect(s10["verdict"] == "regression" and s10["exit_status"] == 3 and s10["fail_on_regression_pct"] == 10, "slow10: overall")
expect(s80["verdict"] == "worse" and s80["exit_status"] == 0 and s80["regressions"] == 0, "slow80: overall")
expect(s0["fail_on_regression_pct"] is None and s0["exit_status"] == 0 and s0["verdict"] == "worse", "slow: overall")
expect([r["verdict"] for r in s0["rows"]] == [r["verdict"] for r in s10["rows"]], "verdicts depend on the threshold")

# The same facts as the text output: the tally line, the regression count and list.
text = open(f"{work}/slow10.txt").read()
t = s10["tally"]
expect(f"{t['comparisons']} comparisons: {t['better']} better, {t['worse']} worse, {t['same']} same within noise" in text,
       "tally differs from the text output")
m = re.search(r"^(\d+) regression\(s\) beyond 10%", text, re.M)
expect(m and int(m.group(1)) == s10["regressions"], "regression count differs from the text output")
for r in s10["rows"]:
    if r["regression"]:
        expect(f"  {r['label']} / {r['allocator']} / {r['figure']['title']}: " in text, f"text lacks regression {r['label']}")
for e in errors:
    print("FAIL: compare --format json:", e)
if not errors:
    print("ok: compare --format json")
sys.exit(1 if errors else 0)
PY

"$heapmark" compare "$dir/fixtures/run-a" "$dir/fixtures/run-a" --format yaml > "$work/out" 2> "$work/err"
check "compare --format yaml" 2 $?
one_line "unknown --format names the choices" "$work/err" "json"
exit $fail
