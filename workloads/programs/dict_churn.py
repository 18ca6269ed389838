"""Dict and str churn in rounds: a large dict is filled, most of it deleted, refilled."""
import sys
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
n = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
d = {}
check = 0
for r in range(rounds):
    for i in range(n):
        d["k%d-%d" % (r, i)] = "v" * (i % 61) + str(i)
    # Deletion by the key's number, not hash(): str hashes are salted per process.
    for k in [k for k in d if int(k.rsplit("-", 1)[1]) % 4 != 0]:
        del d[k]
    check += len(d)
print(check)
