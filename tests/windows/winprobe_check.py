#!/usr/bin/env python3
"""heapmark-winprobe under Wine: the figures show what the Windows OS contract
does. Usage: winprobe_check.py PROBE.exe WINE_RUN

- buddy-eager and buddy-threshold, 1 block in 64 kept live: decommit lowers the working
  set and the commit charge by most of the freed bytes while the decommitted
  pages stay reserved (the regions are not released: live blocks pin them);
- ptmalloc-eager, same scenario: its purge (decommit and commit again, since
  ptmalloc reuses a free chunk without notice) lowers the working set but not
  the commit charge;
- bad input: one line naming the value and the valid choices, exit status 2.
"""
import json
import subprocess
import sys

probe, wine_run = sys.argv[1], sys.argv[2]
MIB = 32


def run(*args):
    return subprocess.run([wine_run, probe, *args], capture_output=True, text=True, timeout=240)


def phases(allocator, scenario):
    r = run("--allocator", allocator, "--scenario", scenario, "--mib", str(MIB), "--idle-ms", "100", "--json")
    if r.returncode != 0:
        sys.exit(f"FAIL: {allocator}/{scenario} exited {r.returncode}: {r.stderr.strip()}")
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    got = {row["phase"]: row for row in rows}
    if sorted(got) != sorted(["start", "peak", "freed", "idle", "released"]):
        sys.exit(f"FAIL: {allocator}/{scenario}: phases {sorted(got)}")
    if not got["start"]["platform"].startswith("Wine"):
        sys.exit(f"FAIL: platform {got['start']['platform']!r}: expected to run under Wine")
    return got


passed, failures = [], []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    (passed if ok else failures).append(what)


def mib(x):
    return f"{x / 2**20:.1f} MiB"


for allocator in ("buddy-eager", "buddy-threshold"):
    f = phases(allocator, "small-sparse")
    peak, freed = f["peak"], f["freed"]
    freed_bytes = peak["live_bytes"] - freed["live_bytes"]
    drop_commit = peak["private_commit_bytes"] - freed["private_commit_bytes"]
    drop_ws = peak["working_set_bytes"] - freed["working_set_bytes"]
    gain_reserved = freed["private_reserved_bytes"] - peak["private_reserved_bytes"]
    check(drop_commit > freed_bytes // 2,
          f"{allocator}: commit charge drops by {mib(drop_commit)} of {mib(freed_bytes)} freed")
    check(drop_ws > freed_bytes // 2, f"{allocator}: working set drops by {mib(drop_ws)}")
    # Decommitted, not released: what left the commit charge is still reserved.
    check(gain_reserved > drop_commit * 9 // 10,
          f"{allocator}: reservation grows by {mib(gain_reserved)}, the decommitted pages stay reserved")
    check(freed["os_decommitted_bytes"] - peak["os_decommitted_bytes"] >= drop_commit * 9 // 10,
          f"{allocator}: the OS contract decommitted {mib(freed['os_decommitted_bytes'] - peak['os_decommitted_bytes'])}")

f = phases("ptmalloc-eager", "small-sparse")
peak, freed = f["peak"], f["freed"]
freed_bytes = peak["live_bytes"] - freed["live_bytes"]
drop_ws = peak["working_set_bytes"] - freed["working_set_bytes"]
check(drop_ws > freed_bytes // 4, f"ptmalloc-eager: purge lowers the working set by {mib(drop_ws)}")
check(freed["private_commit_bytes"] >= peak["private_commit_bytes"] * 95 // 100,
      f"ptmalloc-eager: purge keeps the commit charge ({mib(peak['private_commit_bytes'])} -> "
      f"{mib(freed['private_commit_bytes'])})")

r = run("--allocator", "jemalloc")
check(r.returncode == 2 and r.stderr.count("\n") == 1 and "buddy-eager" in r.stderr and "'jemalloc'" in r.stderr,
      f"unknown allocator: exit {r.returncode}, {r.stderr.strip()!r}")
r = run("--mib", "0")
check(r.returncode == 2 and "--mib" in r.stderr, f"bad --mib: exit {r.returncode}, {r.stderr.strip()!r}")

print(f"{len(passed)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
