#!/usr/bin/env bash
# Mount an agent's state as a folder: what an agent wrote through the SDK becomes an ordinary
# directory that shells, editors, grep and git work on; what you change there, the agent reads
# back through the SDK. Everything stays in one SQLite file.
# Run from a clone after the set-up (npm run setup): bash examples/mount-agent-state.sh
# or from an install: bash "$(npm root -g)/agentfs/examples/mount-agent-state.sh"
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
agentfs() { node "$root/bin/agentfs.js" "$@"; }
work=$(mktemp -d)
mnt="$work/state"
cleanup() {
  agentfs unmount "$mnt" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

section() { printf '\n== %s\n' "$1"; }

# --- an agent at work: it keeps notes and a plan in its filesystem, progress in kv
section "An agent writes its state through the SDK"
cat > agent.mjs <<EOF
import { AgentFS } from '$root/dist/index.js';
const agent = await AgentFS.open({ id: 'researcher' });
await agent.fs.mkdir('/notes', { recursive: true });
await agent.fs.writeFile('/notes/sources.md', '# Sources\n- RFC 9110 (HTTP semantics)\n- RFC 9112 (HTTP/1.1)\n');
await agent.fs.writeFile('/plan.md', '1. read the RFCs\n2. write the summary\n');
await agent.kv.set('progress', { step: 1, of: 2 });
await agent.close();
console.log('wrote /plan.md, /notes/sources.md and kv "progress"');
EOF
node agent.mjs

section "Mount it and use ordinary tools"
mkdir "$mnt"
agentfs mount researcher "$mnt"
echo "\$ ls -la $mnt"
ls -la "$mnt"
echo "\$ grep -rn RFC $mnt"
grep -rn RFC "$mnt"
echo "\$ sed -i 's/1\\. read/1. [done] read/' plan.md   (edit in place, like an editor would)"
sed -i 's/1\. read/1. [done] read/' "$mnt/plan.md"
echo "\$ git init && git add -A && git commit   (version the agent's state inside the mount)"
(cd "$mnt" && git init -q && git add -A &&
  git -c user.name=me -c user.email=me@example.com commit -qm "agent state" && git log --oneline)

section "Another process sees the same files while mounted (the CLI, here)"
echo "\$ agentfs fs cat researcher /plan.md"
agentfs fs cat researcher /plan.md
agentfs unmount "$mnt"

section "The agent reads your edit back through the SDK, after the unmount"
cat > agent2.mjs <<EOF
import { AgentFS } from '$root/dist/index.js';
const agent = await AgentFS.open({ id: 'researcher' });
const plan = await agent.fs.readFile('/plan.md', 'utf8');
console.log(plan.trim());
console.log('git metadata kept in the agent too:', (await agent.fs.readdir('/.git')).includes('HEAD'));
console.log('progress:', JSON.stringify(await agent.kv.get('progress')));
await agent.close();
EOF
node agent2.mjs

section "And the journal lists what changed through the mount (newest first)"
agentfs timeline researcher --files --path '/plan.md' --limit 5
echo
echo "(everything above lives in $(ls .agentfs/researcher.db))"
