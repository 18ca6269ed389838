"""Dict and str churn in rounds: a large dict is filled, most of it deleted, refilled."""
import sys
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
n = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
d = {}
check = 0
for r in range(rounds):
    for i in range(n):
        d["k%d-%d" % (r, i)] = "v" * (i % 61) + str(i)
    for k in [k for k in d if hash(k) % 4 != 0]:
        del d[k]
    check += len(d)
print(check)
