"""Writes argv[2] pseudo-random text lines to argv[1] (deterministic)."""
import sys
n = int(sys.argv[2]) if len(sys.argv) > 2 else 300000
x = 12345
with open(sys.argv[1], "w") as f:
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7fffffff
        f.write("%08x %s %d\n" % (x, "w" * (x % 40), i))
