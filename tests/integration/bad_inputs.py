#!/usr/bin/env python3
"""Runs every row of bad_inputs.tsv against the real heapmark: each bad input
must exit with the row's status, print exactly one line on stderr that holds
the row's fragment, and leave every file already written as it was (nothing
changed, removed or added in the fixture tree).

A row is: STATUS <tab> FRAGMENT <tab> ARGUMENTS (shell words, {NAME} replaced
by a fixture path below). The table grows with every bad input found: add a
row that fails before the fix.

Fixtures (made once, before the rows run):
  {RUN} {RUN2}  two finished results directories (one tiny cell each)
  {TRACE}       a recorded trace; {FILE} an existing text file; {DIR} an empty
                directory; {NEW} a free path in the scratch directory
  {M_*} {S_*} {H_*}  matrix, suite and heaptrack files written below
"""
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

heapmark, table = sys.argv[1], sys.argv[2]
root = tempfile.mkdtemp(prefix="heapmark-bad-inputs-")
fx = os.path.join(root, "fixtures")
scratch = os.path.join(root, "scratch")
os.makedirs(fx)
os.makedirs(scratch)


def sh(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)


def must(r, what):
    if r.returncode != 0:
        print("FAIL: fixture %s: exit %d\n%s%s" % (what, r.returncode, r.stdout, r.stderr))
        sys.exit(1)


tiny = ["--allocators", "glibc", "--workloads", "churn", "-p", "count=2000", "-p", "rounds=1", "--reps", "1", "-q",
        "--out", fx]
must(sh([heapmark, "run", *tiny, "--run-id", "run"]), "run")
must(sh([heapmark, "run", *tiny, "--run-id", "run2"]), "run2")
must(sh([heapmark, "record", "-o", os.path.join(fx, "app.hmt"), "--", "ls", fx]), "record")
open(os.path.join(fx, "notes.txt"), "w").write("kept\n")
os.makedirs(os.path.join(fx, "empty"))

files = {
    "M_BADJSON": "{\"allocators\": [\"glibc\"],",
    "M_DUPWORK": '{"allocators": ["glibc"], "workloads": ["churn", "churn"]}',
    "M_UNKNOWN": '{"allocators": ["glibc"], "workloads": ["churn"], "colour": 1}',
    "M_BASELINE": '{"allocators": ["glibc"], "workloads": ["churn"], "baseline": "jemalloc"}',
    "M_PRELOAD": '{"allocators": [{"name": "g2", "base": "glibc", "env": {"LD_PRELOAD": "/x.so"}}], "workloads": ["churn"]}',
    "M_NEWLINE": '{"allocators": [{"name": "g2", "base": "glibc", "env": {"GLIBC_TUNABLES": "a\\nb"}}], "workloads": ["churn"]}',
    "M_HMVAR": '{"allocators": [{"name": "g2", "base": "glibc", "env": {"HEAPMARK_PHASE_FD": "3"}}], "workloads": ["churn"]}',
    "M_REPSNEG": '{"allocators": ["glibc"], "workloads": ["churn"], "reps": -1}',
    "M_REPSSTR": '{"allocators": ["glibc"], "workloads": ["churn"], "reps": "3"}',
    "M_NOALLOC": '{"allocators": ["nosuch"], "workloads": ["churn"]}',
    "M_NOWORK": '{"allocators": ["glibc"], "workloads": ["nosuch"]}',
    "M_ARRAY": '[1, 2]',
    "S_PLACEHOLDER": '{"suite": "s", "programs": [{"name": "p", "command": ["ls", "{nosuch}"]}]}',
    "S_EMPTY": '{"suite": "s", "programs": []}',
    "S_UNKNOWN": '{"suite": "s", "programs": [{"name": "p", "command": ["ls"], "colour": 1}]}',
    "S_BADNAME": '{"suite": "s", "programs": [{"name": "p q", "command": ["ls"]}]}',
    "S_DIR": '{"suite": "s", "programs": [{"name": "p", "command": ["{dir}/prog"]}]}',
    "S_NOPROG": '{"suite": "s", "programs": [{"name": "p", "command": ["/nonexistent/prog"]}]}',
    "S_TIMEOUT": '{"suite": "s", "programs": [{"name": "p", "command": ["ls"], "timeout_s": -1}]}',
    "H_CUT": "v 10200 3\nX ./app\n+ 1",
    "H_NOTHT": "hello\n",
    "T_GARBAGE": "not a trace\n",
}
paths = {"FX": fx, "RUN": os.path.join(fx, "run"), "RUN2": os.path.join(fx, "run2"), "TRACE": os.path.join(fx, "app.hmt"),
         "FILE": os.path.join(fx, "notes.txt"), "DIR": os.path.join(fx, "empty"), "NEW": os.path.join(scratch, "new"),
         "SCRATCH": scratch, "CELLS": os.path.join(fx, "run", "cells.jsonl")}
for name, text in files.items():
    p = os.path.join(fx, name.lower() + (".txt" if name[0] in "HT" else ".json"))
    open(p, "w").write(text)
    paths[name] = p
os.mkfifo(os.path.join(fx, "fifo"))
paths["FIFO"] = os.path.join(fx, "fifo")


def snapshot():
    state = {}
    for d, _, names in os.walk(fx):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not n == ".lock":
                state[p] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return state


failures, rows = 0, 0
for number, line in enumerate(open(table), 1):
    if not line.strip() or line.startswith("#"):
        continue
    status, fragment, args = line.rstrip("\n").split("\t")
    words = [w.format(**paths) if "{" in w else w for w in shlex.split(args)]
    rows += 1
    before = snapshot()
    try:
        r = subprocess.run([heapmark, *words], capture_output=True, text=True, timeout=120, cwd=scratch, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        print("FAIL %s:%d: hangs: heapmark %s" % (table, number, args))
        failures += 1
        continue
    err = r.stderr.strip().splitlines()
    problems = []
    if r.returncode != int(status):
        problems.append("exit %d, expected %s" % (r.returncode, status))
    if len(err) != 1:
        problems.append("%d lines on stderr, expected one" % len(err))
    if fragment not in r.stderr:
        problems.append("stderr lacks %r" % fragment)
    after = snapshot()
    changed = sorted(p for p in before if after.get(p) != before[p])
    added = sorted(p for p in after if p not in before)
    if changed or added:
        problems.append("files changed %s, added %s" % (changed, added))
    if problems:
        failures += 1
        print("FAIL %s:%d: heapmark %s\n  %s\n  stderr: %r" % (table, number, args, "; ".join(problems), r.stderr[-600:]))
    else:
        print("ok %d: heapmark %s -> %s" % (r.returncode, args, err[0] if err else ""))
    for n in os.listdir(scratch):  # each row starts from an empty scratch directory
        p = os.path.join(scratch, n)
        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)

shutil.rmtree(root, ignore_errors=True)
print("%d rows, %d failed" % (rows, failures))
sys.exit(1 if failures else 0)
