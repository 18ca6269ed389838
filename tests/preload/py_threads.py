# Real-program check under LD_PRELOAD: threads build and drop large dicts and
# lists (many small objects, resizes, frees from other threads via the GC).
# Prints a deterministic summary so the output can be compared with a plain run.
import threading

results = {}


def work(k):
    total = 0
    for rnd in range(12):
        d = {i: str(i) * (1 + i % 7) for i in range(30000 + rnd * 1000)}
        lst = [[j] * (j % 50) for j in range(3000)]
        s = set(d.values())
        total += len(d) + sum(len(x) for x in lst) + len(s)
        big = bytearray(1 << 20 + (rnd % 3))
        total += len(big)
        del d, lst, s, big
    results[k] = total


threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for k in sorted(results):
    print(k, results[k])
