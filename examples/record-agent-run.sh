#!/usr/bin/env bash
# Wrap an agent's work so every command it runs is a tool call, and every file it changes is in
# the journal under that call's id:
#   1. `agentfs record` around each command, working in a mount of the agent;
#   2. `agentfs run`, which records the whole sandboxed run as one call of its session.
# The "agent" here is a scripted shell session (plan, write code, build, test, a failing step) so
# the example runs anywhere; put `claude`, `codex` or any other agent CLI in its place.
# Run from a clone after the set-up (npm run setup): bash examples/record-agent-run.sh
# or from an install: bash "$(npm root -g)/agentfs/examples/record-agent-run.sh"
set -euo pipefail
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
# sessions of `agentfs run` live under AGENTFS_HOME (default ~/.agentfs): keep this demo's apart
export AGENTFS_HOME="$work/home"

echo "== 1. agentfs record, against a mount of the agent"
agentfs init coder
mkdir "$mnt"
agentfs mount coder "$mnt"
agentfs record coder --name plan -- sh -c "cd '$mnt' && mkdir -p src && printf '# Plan\n1. write hello.c\n2. build\n3. test\n' > PLAN.md"
agentfs record coder --name write_code -- sh -c "cd '$mnt' && cat > src/hello.c <<'C'
#include <stdio.h>
int main(void) { puts(\"hello from the agent\"); return 0; }
C"
agentfs record coder --name build -- sh -c "cd '$mnt' && cc -o hello src/hello.c"
agentfs record coder --name test -- sh -c "cd '$mnt' && ./hello | tee test.log"
# a step that fails: the call is recorded as an error with the tail of its stderr
agentfs record coder --name lint -- sh -c "cd '$mnt' && echo 'lint: src/hello.c:2: line too long' >&2 && exit 1" || echo "(lint failed with status $?, as intended)"
agentfs unmount "$mnt"

echo
echo "== the session: each command, then the file changes it made (FILE rows carry its id)"
agentfs timeline coder --limit 30
echo
echo "== only the failures"
agentfs timeline coder --status error --calls

echo
echo "== 2. agentfs run: the whole sandboxed run is one tool call of the session"
mkdir project && printf 'v1\n' > project/VERSION
cd project
session="example-run-$$"
if agentfs run --session "$session" -- sh -c 'printf "v2\n" > VERSION && mkdir -p build && echo artifact > build/out.txt' 2>run.err; then
  echo "--- the session's timeline"
  agentfs timeline "$session" --limit 20
  echo "--- what it changed (the host directory is untouched until \`agentfs commit\`)"
  agentfs diff "$session"
  echo "host VERSION is still: $(cat VERSION)"
else
  echo "(agentfs run is not available here: $(tail -1 run.err))"
fi
