#!/usr/bin/env bash
# Two builds of agentfs mounted side by side, timed in alternating pairs: `tar x` of a tree and
# `rm -rf` of it, ROUNDS times, each round on both mounts in turn (which goes first alternates).
# On a VM whose speed drifts by 2x within minutes, medians of separate runs cannot show a 5%
# change; the median of paired differences can (an A/A run of one build against itself stays
# within about 1.5%). Root; a quiet machine (no other work: it moves the pairs apart).
#
# Usage: bench/ab-mounts.sh OLD_TREE NEW_TREE [ROUNDS] [TARBALL]
#   OLD_TREE, NEW_TREE: checkouts with `npm run build` done (dist/ and the native addon)
#   ROUNDS: default 16; TARBALL: default 2,000 small files in 40 directories made here
#   JOURNAL=1 mounts agents with the journal (the default for `init`; off here, as in the bench)
#   OLD_ENV / NEW_ENV: environment for that side's server (`OLD_ENV=AGENTFS_FUSE_KILLPRIV=0` with
#   one tree for both compares a setting within one build)
#   CLONE=REPO: time `git clone --no-hardlinks REPO` instead of `tar x` (then `rm -rf` of the clone)
set -euo pipefail
old=$(realpath "$1")
new=$(realpath "$2")
rounds=${3:-16}
work=$(mktemp -d /tmp/agentfs-ab-XXXXXX)
pids=()
cleanup() {
  for m in "$work/mo" "$work/mn"; do fusermount3 -u "$m" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

tarball=${4:-}
if [ -z "$tarball" ]; then
  tarball=$work/tree.tar
  python3 - "$work/src" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(40):
    os.makedirs(os.path.join(root, 'd%02d' % d))
    for f in range(50):
        with open(os.path.join(root, 'd%02d' % d, 'f%02d.js' % f), 'w') as out:
            out.write('module.exports = %d;\n' % (d * 50 + f) * 20)
PY
  tar cf "$tarball" -C "$work/src" .
fi

start() { # tree mountpoint db env
  mkdir -p "$2"
  local init=(--no-journal)
  [ -n "${JOURNAL:-}" ] && init=()
  (cd "$1" && node bin/agentfs.js init "$3" "${init[@]}" >/dev/null)
  # shellcheck disable=SC2086 # the env is words on purpose
  (cd "$1" && exec env $4 node bin/agentfs.js mount "$3" "$2" --foreground >"$2.log" 2>&1) &
  pids+=($!)
  for _ in $(seq 200); do grep -qs " $2 " /proc/mounts && return; sleep 0.05; done
  echo "ab-mounts: $1 did not mount (see $2.log)" >&2
  exit 1
}
start "$old" "$work/mo" "$work/o.db" "${OLD_ENV:-}"
start "$new" "$work/mn" "$work/n.db" "${NEW_ENV:-}"

us() { echo $(( ($(date +%s%N) - $1) / 1000 )); }
tx() {
  local s
  if [ -n "${CLONE:-}" ]; then
    s=$(date +%s%N); git clone -q --no-hardlinks "$CLONE" "$1/$2"; us "$s"
  else
    mkdir "$1/$2"; s=$(date +%s%N); tar xf "$tarball" -C "$1/$2"; us "$s"
  fi
}
rmr() { local s; s=$(date +%s%N); rm -rf "${1:?}/$2"; us "$s"; }
tx "$work/mo" warm >/dev/null
tx "$work/mn" warm >/dev/null
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 0 ]; then
    to=$(tx "$work/mo" "r$r"); tn=$(tx "$work/mn" "r$r"); ro=$(rmr "$work/mo" "r$r"); rn=$(rmr "$work/mn" "r$r")
  else
    tn=$(tx "$work/mn" "r$r"); to=$(tx "$work/mo" "r$r"); rn=$(rmr "$work/mn" "r$r"); ro=$(rmr "$work/mo" "r$r")
  fi
  echo "$to $tn $ro $rn"
done >"$work/pairs"

python3 - "$work/pairs" "${CLONE:+git clone}" <<'PY'
import statistics as st, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
for name, (i, j) in ((sys.argv[2] or 'tar x', (0, 1)), ('rm -rf', (2, 3))):
    o = [r[i] for r in rows]; n = [r[j] for r in rows]; d = [r[j] - r[i] for r in rows]
    print('%-9s old %7.1f ms  new %7.1f ms  paired difference %+6.1f ms (%+.1f%%), new faster in %d of %d'
          % (name, st.median(o) / 1000, st.median(n) / 1000, st.median(d) / 1000, 100 * st.median(d) / st.median(o),
             sum(1 for x in d if x < 0), len(d)))
PY
