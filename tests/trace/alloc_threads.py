# Allocation-heavy Python with threads, recorded by the trace tests: each
# thread builds and drops dicts, lists and strings; objects made by one thread
# are dropped by another through a queue (cross-thread frees). The main thread
# marks phases on HEAPMARK_PHASE_FD (heapmark record passes one): "work" while
# the threads run, "drop" while it drops what it kept, "dropped" after that.
import os
import queue
import sys
import threading

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
handoff = queue.Queue()
_hm = os.fdopen(int(os.environ["HEAPMARK_PHASE_FD"]), "w", buffering=1) if "HEAPMARK_PHASE_FD" in os.environ else None


def phase(name):
    if _hm:
        _hm.write("phase %s\n" % name)


def worker(seed):
    keep = []
    for i in range(n):
        d = {"k%d" % j: "v" * ((i * 7 + j + seed) % 300) for j in range(4)}
        keep.append(d)
        if len(keep) > 64:
            handoff.put(keep.pop(0))
    handoff.put(None)

def drainer(workers):
    done = 0
    while done < workers:
        if handoff.get() is None:
            done += 1

kept = [bytearray(1000 + i) for i in range(2000)]
phase("work")
threads = [threading.Thread(target=worker, args=(s,)) for s in range(3)]
sink = threading.Thread(target=drainer, args=(len(threads),))
for t in threads + [sink]:
    t.start()
for t in threads + [sink]:
    t.join()
phase("drop")
del kept
phase("dropped")
print("ok")
