# scripts/cluster/parallel for real, on this machine: three shards of a small
# matrix on two parallel job slots, merged; then a shard cut short (its last
# cell removed, as a killed job leaves it) is finished by running the same
# command again, and the merge is still exactly the plan.
#   parallel_test.py HEAPMARK WORKDIR
import json
import os
import shutil
import subprocess
import sys

heapmark, work = sys.argv[1:3]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
script = os.path.join(root, "scripts", "cluster", "parallel")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
matrix = ["--allocators", "glibc,jemalloc", "--workloads", "churn", "-p", "count=2000|4000", "--reps", "2"]
env = dict(os.environ, HEAPMARK=heapmark)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(cmd, expect=0):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != expect:
        fail("%s exited %d (expected %d)\n%s\n%s" % (cmd, p.returncode, expect, p.stdout, p.stderr))
    return p


plan = json.loads(run([heapmark, "plan", "--shards", "3"] + matrix).stdout)
want = {c["key"] for b in plan["blocks"] for c in b["cells"]}


def merged_keys():
    keys = [json.loads(l)["key"] for l in open(os.path.join(work, "out", "merged", "cells.jsonl"))]
    if len(keys) != len(set(keys)):
        fail("the merged run holds a cell twice")
    return set(keys)


cmd = [script, "--shards", "3", "--jobs", "2", "--out", os.path.join(work, "out"), "--"] + matrix
run(cmd)
if merged_keys() != want:
    fail("merged cells differ from the plan's: %r" % sorted(merged_keys() ^ want))
log = open(os.path.join(work, "out", "joblog")).read().splitlines()
if len(log) != 4:  # header + one line per shard
    fail("joblog has %d lines: %r" % (len(log), log))
# A shard cut short: its last cell gone. The same command finishes it (resume) and merges again.
cells = os.path.join(work, "out", "shards", "shard-2", "cells.jsonl")
lines = open(cells).read().splitlines(True)
open(cells, "w").write("".join(lines[:-1]))
run(cmd)
if merged_keys() != want:
    fail("after the retry the merged cells differ from the plan's")
if len(open(cells).read().splitlines()) != len(lines):
    fail("the retried shard did not get its missing cell back")
# Bad input to the script: one line, exit 2.
p = run([script, "--shards", "0", "--out", os.path.join(work, "bad"), "--"] + matrix, expect=2)
if "--shards N" not in p.stderr or len(p.stderr.strip().splitlines()) != 1:
    fail("bad --shards: %r" % p.stderr)
print("ok: 3 shards on 2 slots merged into the plan's %d cells, and again after a shard was cut short" % len(want))
