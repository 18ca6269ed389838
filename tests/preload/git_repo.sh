# Real-program check under LD_PRELOAD: git creates a repository, commits twice
# and reads it back (log, diff, ls-tree, a repack). Fixed identities and dates
# make the output identical with and without the preload.
set -eu
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
export HOME="$d" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=heapmark GIT_AUTHOR_EMAIL=h@example.invalid \
  GIT_COMMITTER_NAME=heapmark GIT_COMMITTER_EMAIL=h@example.invalid \
  GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z
git init -q -b main .
i=1
while [ $i -le 150 ]; do
  seq $i $((i * 40)) >f$i.txt
  i=$((i + 1))
done
git add .
git commit -q -m first
i=1
while [ $i -le 150 ]; do
  seq $((i * 3)) $((i * 20)) >>f$i.txt
  i=$((i + 7))
done
git commit -q -a -m second
git log --stat --format='%H %s'
git diff HEAD~1 | md5sum
git ls-tree -r HEAD | md5sum
git repack -adq -f --threads=1
git fsck --no-progress 2>&1 | sort
git cat-file -p HEAD
