"""JSON round trips of a nested document: many short-lived dicts, lists and strings."""
import json, sys
n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
doc = [{"id": i, "name": "item-%d" % i, "tags": ["t%d" % (i % 7), "x" * (i % 13)], "v": i * 0.5} for i in range(n)]
total = 0
for r in range(8):
    text = json.dumps(doc)
    back = json.loads(text)
    total += len(text) + sum(d["id"] for d in back)
    doc = back
print(total)
