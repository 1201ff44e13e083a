#!/usr/bin/env bash
# Counts the work of the mount's write path without timing: kernel requests by kind and SQLite
# statements by SQL (AGENTFS_FUSE_TRACE), one fresh mount per workload. Usage:
#   bash bench/trace-write-path.sh [N_CREATE=5000] [N_TAR=1000] [init options, e.g. --no-journal]
# TRACE_SYNC=1 installs sync's change tracking first (as a database that was synced has it).
# Prints one report per workload; `rm -rf` runs after a create of the same files, so its own
# counts are the difference of "create+rm" and "create".
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-5000}
T=${2:-1000}
shift $(( $# > 2 ? 2 : $# )) || true
work=$(mktemp -d /tmp/agentfs-trace-XXXXXX)
export AGENTFS_RUNTIME_DIR=$work/run
cli() { node "$here/bin/agentfs.js" "$@"; }
mkdir -p "$work/tree"
python3 - "$work/tree" "$T" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, 'src', 'p%03d' % (i // 50))
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, 'm%05d.js' % i), 'w').write('module.exports = %d;\n' % i + '// filler\n' * 20)
PY
tar cf "$work/tree.tar" -C "$work/tree" src
# a small repository to clone (as the mount bench's): a few hundred files over three commits
(mkdir -p "$work/repo" && cd "$work/repo" && git init -q && for c in 1 2 3; do for i in $(seq 1 150); do mkdir -p d$((i % 15)); echo "line $c $i" >> d$((i % 15))/f$i.txt; done; git add -A && git -c user.name=b -c user.email=b@b commit -qm c$c; done)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then fusermount3 -u "$work/mnt" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# one workload: a fresh database and mount, the shell snippet run in it ($1 name, $2 snippet)
trace() {
  local name=$1 snippet=$2
  shift 2
  rm -rf "$work/db" "$work/mnt" "$work/trace.txt"; mkdir -p "$work/db" "$work/mnt"
  cli init "$work/db/a.db" "$@" >/dev/null
  if [ -n "${TRACE_SYNC:-}" ]; then
    # as after a first sync: the change-tracking triggers are installed
    node --input-type=module -e "
      const { Store } = await import('$here/dist/store/index.js');
      const { ChangeTracker } = await import('$here/dist/core/sync-state/index.js');
      const s = Store.open({ path: '$work/db/a.db' }); new ChangeTracker(s).enable(); s.close();"
  fi
  AGENTFS_FUSE_TRACE=$work/trace.txt node "$here/bin/agentfs.js" mount "$work/db/a.db" "$work/mnt" --foreground 2>>"$work/log" &
  pid=$!
  for _ in $(seq 100); do grep -qs " $work/mnt " /proc/mounts && break; sleep 0.05; done
  (cd "$work/mnt" && N=$N TAR=$work/tree.tar sh -c "$snippet")
  fusermount3 -u "$work/mnt"
  wait "$pid"; pid=
  echo "== $name"
  cat "$work/trace.txt"
}
CREATE='mkdir many && python3 -c "
import os, sys
for i in range(int(os.environ[\"N\"])):
    with open(\"many/f%05d\" % i, \"w\") as f:
        f.write(\"small file %d\n\" % i)
"'
trace "empty mount" 'true' "$@"
trace "create+write x$N" "$CREATE" "$@"
trace "create+write x$N, then rm -rf" "$CREATE && rm -rf many" "$@"
trace "touch + echo > x$T" 'mkdir e && cd e && i=0; while [ $i -lt '$T' ]; do touch f$i; echo x > f$i; i=$((i+1)); done' "$@"
trace "tar x of $T files" 'mkdir t && tar xf "$TAR" -C t' "$@"
trace "git clone + git status" "git clone -q --no-hardlinks '$work/repo' clone && cd clone && git status --porcelain" "$@"
