"""Threads that each build and drop lists of byte strings (the allocator sees every thread)."""
import sys, threading
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 4
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
sums = [0] * threads
def work(t):
    s = 0
    for r in range(5):
        blocks = [bytes((i + t) % 251 for _ in range(16 + (i % 5) * 64)) for i in range(n // 10)]
        s += sum(len(b) for b in blocks)
        del blocks[::2]
    sums[t] = s
ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(sums))
