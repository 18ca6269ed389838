# Real-program check under LD_PRELOAD: sort (multi-threaded, large buffer) of a
# generated 400k-line file, by two different keys.
set -eu
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
awk 'BEGIN { for (i = 0; i < 400000; i++) printf "%d %d line-%d\n", (i * 7919) % 100003, (i * 2654435761) % 4294967291, i }' >"$d/in"
sort -S 32M --parallel=2 "$d/in" | md5sum
sort -n -k2,2 --parallel=2 "$d/in" | md5sum
sort -n -k1,1 -k2,2n "$d/in" | tail -3
