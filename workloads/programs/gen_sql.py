"""Writes an SQL script (argv[1]): create, insert, update, delete, in rounds, with a checksum query."""
import sys
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 60000
with open(sys.argv[1], "w") as f:
    f.write("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, payload BLOB);\nBEGIN;\n")
    for i in range(rows):
        f.write("INSERT INTO t VALUES(%d, 'n%d', randomblob(%d));\n" % (i, i, 32 + (i * 7919) % 480))
    f.write("COMMIT;\nCREATE INDEX t_name ON t(name);\n")
    for r in range(3):
        f.write("UPDATE t SET payload = zeroblob(%d) WHERE id %% 3 = %d;\n" % (64 + r * 200, r))
        f.write("DELETE FROM t WHERE id %% 5 = %d;\n" % r)
    f.write("SELECT count(*), sum(length(payload)) FROM t;\n")
