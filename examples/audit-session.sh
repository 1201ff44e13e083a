#!/usr/bin/env bash
# Audit what an agent did in a session, afterwards: the timeline (tool calls and the file
# changes each made), failures, statistics, the diff against the original files, and SQL over
# the database itself, as in the AgentFS audit guide.
# Run from a clone after the set-up (npm run setup): bash examples/audit-session.sh
# or from an install: bash "$(npm root -g)/agentfs/examples/audit-session.sh"
set -euo pipefail
for tool in python3 sqlite3; do
  command -v "$tool" >/dev/null || { echo "this example needs $tool (Debian: apt-get install $tool)" >&2; exit 1; }
done
root="$(cd "$(dirname "$0")/.." && pwd)"
agentfs() { node "$root/bin/agentfs.js" "$@"; }
work=$(mktemp -d)
mnt="$work/mnt"
cleanup() {
  agentfs unmount "$mnt" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# --- a session to audit: an overlay agent over a small project, changed by recorded commands
mkdir project
printf 'def add(a, b):\n    return a - b\n' > project/calc.py
printf 'from calc import add\nassert add(2, 3) == 5\nprint("ok")\n' > project/test_calc.py
printf 'notes\n' > project/NOTES.txt
agentfs init my-session --base project >/dev/null
mkdir "$mnt"
agentfs mount my-session "$mnt" >/dev/null
agentfs record my-session --name run_tests -- sh -c "cd '$mnt' && python3 test_calc.py" 2>/dev/null || true
agentfs record my-session --name edit_file -- sh -c "cd '$mnt' && sed -i 's/a - b/a + b/' calc.py"
agentfs record my-session --name run_tests -- sh -c "cd '$mnt' && python3 -B test_calc.py > test.log"
agentfs record my-session --name cleanup -- sh -c "cd '$mnt' && rm NOTES.txt && mkdir -p reports && mv test.log reports/"
agentfs unmount "$mnt" >/dev/null
echo "(the project on disk is unchanged: calc.py still says '$(sed -n 2p project/calc.py | xargs)')"

section() { printf '\n== %s\n$ %s\n' "$1" "$2"; }

section "Timeline: tool calls, newest first, each followed (above it) by the file changes it made" "agentfs timeline my-session"
agentfs timeline my-session
section "Only failed calls" "agentfs timeline my-session --status error --calls"
agentfs timeline my-session --status error --calls
section "Everything that touched Python files" "agentfs timeline my-session --path '*.py'"
agentfs timeline my-session --path '*.py'
section "What the edit_file calls changed" "agentfs timeline my-session --filter edit_file --files"
agentfs timeline my-session --filter edit_file --files
section "Per-tool statistics and the most changed paths" "agentfs timeline my-session --stats"
agentfs timeline my-session --stats
section "Compliance export" "agentfs timeline my-session --format json > audit-log.json"
agentfs timeline my-session --format json > audit-log.json
echo "$(grep -c '"id"' audit-log.json) events written to audit-log.json"

section "Diff against the original files" "agentfs diff my-session"
agentfs diff my-session

section "Inspect files" "agentfs fs ls my-session / ; agentfs fs cat my-session /calc.py"
agentfs fs ls my-session /
agentfs fs cat my-session /calc.py

db=.agentfs/my-session.db
sql() { printf -- '-- %s\n' "$1"; sqlite3 -header -column "$db" "$2"; echo; }
section "SQL over the database" "sqlite3 $db"
sql "tool calls that took longer than 100 ms" \
  "SELECT name, duration_ms FROM tool_calls WHERE duration_ms > 100;"
sql "tool usage by type" \
  "SELECT name, COUNT(*) AS count FROM tool_calls GROUP BY name ORDER BY count DESC;"
sql "average duration per tool" \
  "SELECT name, AVG(duration_ms) AS avg_ms, COUNT(*) AS count FROM tool_calls GROUP BY name ORDER BY avg_ms DESC;"
# (the guide writes the mode masks in octal, 0170000 and 0100000; SQLite reads 0170000 as decimal,
# so they are written here in decimal: S_IFMT = 61440, S_IFREG = 32768)
sql "files modified in the last hour" \
  "SELECT ino, size, mtime FROM fs_inode WHERE mtime > strftime('%s', 'now', '-1 hour') AND mode & 61440 = 32768;"
sql "total bytes in regular files (the delta of this overlay)" \
  "SELECT SUM(size) AS total_bytes FROM fs_inode WHERE mode & 61440 = 32768;"
sql "which call changed which path (the journal, our own table)" \
  "SELECT j.id, c.name AS tool, j.op, j.path, j.new_path FROM agentfs_journal j LEFT JOIN tool_calls c ON c.id = j.tool_call_id ORDER BY j.time_ns;"
sql "bytes written per tool" \
  "SELECT c.name AS tool, SUM(j.bytes) AS bytes_written FROM agentfs_journal j JOIN tool_calls c ON c.id = j.tool_call_id WHERE j.op = 'write' GROUP BY c.name;"
