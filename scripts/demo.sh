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
agentfs exec demo-agent sh -c 'ls -la && cat hello.txt && echo && echo "written by a shell" > from-shell.txt && mkdir -p src && echo "int main(){return 0;}" > src/main.c'
echo "--- back through the CLI:"
agentfs fs cat demo-agent /from-shell.txt
agentfs fs ls demo-agent /
echo "--- what changed, from the file-operation journal (agentfs timeline demo-agent --files):"
agentfs timeline demo-agent --files --limit 6
echo "--- and plain SQL over the one database file (.agentfs/demo-agent.db):"
sqlite3 -header -column .agentfs/demo-agent.db "SELECT key, value FROM kv_store; SELECT count(*) AS files FROM fs_inode WHERE (mode & 61440) = 32768;"
echo "--- (the demo's directory is removed on exit; run the same commands anywhere to keep an agent)"
