# scripts/cluster/slurm.sbatch for real: a single-node Slurm cluster on this
# machine from Debian's slurm-wlm and munge, configured in a temporary
# directory (proctrack/linuxproc, no cgroup plugin: it needs no delegation),
# its daemons started here and stopped at the end, nothing left running.
# A 3-task array of a small matrix is submitted, waited for and merged: the
# merged run holds exactly the plan's cells. Then one task is cancelled while
# it runs, resubmitted alone, and the merge is exact again.
#   slurm_test.py HEAPMARK WORKDIR
import json
import os
import shutil
import signal
import subprocess
import sys
import time

heapmark, work = sys.argv[1:3]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
script = os.path.join(root, "scripts", "cluster", "slurm.sbatch")
if os.geteuid() != 0:
    print("skipped: slurmd must run as root here")
    sys.exit(77)
for tool in ("munged", "slurmctld", "slurmd", "sbatch"):
    if not shutil.which(tool):
        print("FAIL: %s is missing (Debian packages slurm-wlm and munge; scripts/lib/deps.sh installs them)" % tool)
        sys.exit(1)

def stop_leftovers(where):
    """A run of this test that was killed (a ctest timeout, a stopped session)
    leaves its daemons holding the cluster's fixed ports: stop every process
    whose command line names this test's directory before starting anew."""
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read().decode(errors="replace")
        except OSError:
            continue
        if where in cmd and int(pid) != os.getpid():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


stop_leftovers(work)
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
T = os.path.join(work, "slurm")
for d in ("state", "spool"):
    os.makedirs(os.path.join(T, d))
os.chmod(T, 0o700)
# 6 blocks over 3 shards: shard 2 holds two blocks (4 cells), so three are left when its first lands.
matrix = ["--allocators", "glibc,jemalloc", "--workloads", "churn", "-p", "count=300000|600000", "--reps", "3"]


def fail(msg):
    print("FAIL: " + msg)
    for log in ("slurmctld.log", "slurmd.log", "munged.log"):
        p = os.path.join(T, log)
        if os.path.exists(p):
            print("--- %s (end)\n%s" % (log, "".join(open(p).readlines()[-15:])))
    raise SystemExit(1)


def run(cmd, expect=0, **kw):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, **kw)
    if expect is not None and p.returncode != expect:
        fail("%s exited %d (expected %d)\n%s\n%s" % (cmd, p.returncode, expect, p.stdout, p.stderr))
    return p


key = os.path.join(T, "munge.key")
with open(key, "wb") as f:
    f.write(os.urandom(1024))
os.chmod(key, 0o400)
sock = os.path.join(T, "munge.sock")
conf = os.path.join(T, "slurm.conf")
with open(conf, "w") as f:
    f.write("""ClusterName=heapmarktest
SlurmctldHost=localhost
SlurmctldPort=16917
SlurmdPort=16918
AuthType=auth/munge
AuthInfo=socket={sock}
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation={T}/state
SlurmdSpoolDir={T}/spool
SlurmctldPidFile={T}/slurmctld.pid
SlurmdPidFile={T}/slurmd.pid
SlurmctldLogFile={T}/slurmctld.log
SlurmdLogFile={T}/slurmd.log
SlurmUser=root
SlurmdUser=root
ReturnToService=2
MpiDefault=none
NodeName=localhost CPUs={cpus} RealMemory=1000 State=UNKNOWN
PartitionName=heapmark Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""".format(sock=sock, T=T, cpus=os.cpu_count()))
env = dict(os.environ, SLURM_CONF=conf, HEAPMARK=heapmark)
pidfiles = [os.path.join(T, n) for n in ("slurmd.pid", "slurmctld.pid", "munged.pid")]


def stop():
    for pf in pidfiles:
        try:
            pid = int(open(pf).read().strip())
        except (OSError, ValueError):
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)


def squeue(job):
    return run(["squeue", "-h", "-r", "-j", str(job), "-o", "%i %T"], expect=None).stdout.split("\n")


try:
    run(["munged", "--key-file", key, "--socket", sock, "--pid-file", pidfiles[2], "--log-file", os.path.join(T, "munged.log"),
         "--seed-file", os.path.join(T, "munge.seed"), "--force"])
    run(["slurmctld", "-f", conf, "-i"])
    run(["slurmd", "-f", conf, "-N", "localhost"])
    for _ in range(200):
        if "idle" in run(["sinfo", "-h", "-o", "%t"], expect=None).stdout:
            break
        time.sleep(0.1)
    else:
        fail("the node never became idle: " + run(["sinfo"], expect=None).stdout)
    plan = json.loads(run([heapmark, "plan", "--shards", "3"] + matrix).stdout)
    want = {c["key"] for b in plan["blocks"] for c in b["cells"]}

    def merged(name):
        shards = [os.path.join(work, "out", "shards", "shard-%d" % k) for k in (1, 2, 3)]
        run([heapmark, "merge"] + shards + ["-o", os.path.join(work, name)])
        keys = [json.loads(l)["key"] for l in open(os.path.join(work, name, "cells.jsonl"))]
        if len(keys) != len(set(keys)) or set(keys) != want:
            fail("%s: %d cells, %d distinct, plan %d" % (name, len(keys), len(set(keys)), len(want)))

    out = os.path.join(work, "out")
    os.makedirs(out)
    sbatch = ["sbatch", "--parsable", "--chdir", out, "--export=ALL"]
    run(sbatch + ["--wait", "--array=0-2", script, out, "3", "--"] + matrix)
    merged("merged")
    # Again, cancelling the second task while its shard runs; then it alone is submitted again.
    shutil.rmtree(out)
    os.makedirs(out)
    job = run(sbatch + ["--array=0-2", script, out, "3", "--"] + matrix).stdout.strip().split(";")[0]
    cells2 = os.path.join(out, "shards", "shard-2", "cells.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and not (os.path.exists(cells2) and open(cells2).read().count("\n") >= 1):
        time.sleep(0.05)
    if not os.path.exists(cells2):
        fail("task 1 never started its shard")
    # Stop the task's heapmark where it is (its pid is in the shard's lock file)
    # before cancelling, so the cancel cannot lose a race with the shard's end.
    try:
        os.kill(int(open(os.path.join(os.path.dirname(cells2), ".lock")).read().split()[0]), signal.SIGSTOP)
    except (OSError, ValueError, IndexError) as e:
        fail("cannot stop task 1's heapmark: %s" % e)
    run(["scancel", "%s_1" % job])
    while time.time() < deadline and any(l.strip() for l in squeue(job)):
        time.sleep(0.2)
    done = open(cells2).read().count("\n")
    planned = sum(len(b["cells"]) for b in plan["blocks"] if b["shard"] == 2)
    if done >= planned:
        fail("the cancelled task had finished its shard already (%d of %d cells): make the cells longer" % (done, planned))
    run(sbatch + ["--wait", "--array=1", script, out, "3", "--"] + matrix)
    merged("merged-after-cancel")
    print("ok: 3 tasks merged into the plan's %d cells; task 2 cancelled after %d of %d cells, resubmitted, merged exactly" % (
        len(want), done, planned))
finally:
    stop()
