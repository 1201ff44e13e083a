#!/usr/bin/env bash
# The main job on the embedded default (a local file, no server): create an agent, put a file in it
# with the CLI, then mount it and use it as an ordinary folder with ordinary tools.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
root=$(pwd)
agentfs() { node "$root/bin/agentfs.js" "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
agentfs init demo-agent
agentfs fs write demo-agent /hello.txt "Hello from agentfs"
agentfs kv set demo-agent greeting '"hi"'
echo "--- agentfs fs ls demo-agent /"
agentfs fs ls demo-agent /
echo "--- the same agent mounted as a folder (agentfs exec runs a shell inside the mount):"
agentfs exec demo-agent sh -c 'ls -la && cat hello.txt && echo "written by a shell" > from-shell.txt && mkdir -p src && echo "int main(){return 0;}" > src/main.c'
echo "--- back through the CLI:"
agentfs fs cat demo-agent /from-shell.txt
agentfs fs ls demo-agent /
echo "--- database: $work/.agentfs/demo-agent.db (query it with sqlite3)"
