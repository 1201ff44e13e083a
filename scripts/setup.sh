#!/usr/bin/env bash
# Set-up for a fresh Debian machine: system packages, npm dependencies, native addon, TypeScript build.
# Idempotent and quick when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the browser tests of `agentfs ui` (driven by playwright-core, no browser download);
# libnfs-utils: the NFS tests' client; zsh, fish: the completion tests
# bindfs, fuse-overlayfs: the C FUSE peers of the bench (mount and run suites)
need_pkgs=(fuse3 libfuse3-dev libsqlite3-dev libfuse2 util-linux git build-essential python3 sqlite3 libnfs-utils zsh fish chromium bindfs fuse-overlayfs)
missing=()
for p in "${need_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm dependencies at the lockfile's versions; re-run only when the lockfile changed.
# `npm install`, not `npm ci`: registries that mirror only this platform's optional binaries
# (rollup, @tursodatabase) make `npm ci` reject the lockfile as out of sync.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies" >&2
  npm install --no-audit --no-fund --loglevel=error
fi

# `--deps-only` (used by scripts/prebuild.sh): system packages and npm dependencies, no build.
[ "${1:-}" = "--deps-only" ] && exit 0

# Native addon(s) in native/, built against this Node.
if [ -f native/binding.gyp ]; then
  if [ ! -f native/build/Release/agentfs_native.node ] || [ -n "$(find native -maxdepth 1 -newer native/build/Release/agentfs_native.node -name '*.[ch]*' -print -quit)" ]; then
    echo "setup: building native addon" >&2
    # Use the headers installed with Node when present, so no download is needed (offline builds).
    nodedir_opt=()
    node_prefix=$(dirname "$(dirname "$(command -v node)")")
    [ -f "$node_prefix/include/node/node_api.h" ] && nodedir_opt=(--nodedir="$node_prefix")
    (cd native && node ../node_modules/node-gyp/bin/node-gyp.js rebuild "${nodedir_opt[@]}" --loglevel=error >/dev/null)
  fi
fi

# Sandbox launcher for `agentfs run` (plain C executable, no Node headers needed).
if [ ! -x native/sandbox/build/agentfs-sandbox ] || [ native/sandbox/launcher.c -nt native/sandbox/build/agentfs-sandbox ]; then
  echo "setup: building the sandbox launcher" >&2
  mkdir -p native/sandbox/build && cc -O2 -Wall -o native/sandbox/build/agentfs-sandbox native/sandbox/launcher.c
fi

# Tether for `agentfs record` (PR_SET_PDEATHSIG: the command dies with its recorder).
if [ ! -x native/tether/build/agentfs-tether ] || [ native/tether/tether.c -nt native/tether/build/agentfs-tether ]; then
  mkdir -p native/tether/build && cc -O2 -Wall -o native/tether/build/agentfs-tether native/tether/tether.c
fi

# The SQLite extension that gathers WAL appends into few writes (src/store/wal-batch.ts).
if [ ! -f native/walbatch/build/agentfs-walbatch.so ] || [ native/walbatch/wal_batch.c -nt native/walbatch/build/agentfs-walbatch.so ]; then
  mkdir -p native/walbatch/build && cc -O2 -Wall -shared -fPIC -o native/walbatch/build/agentfs-walbatch.so native/walbatch/wal_batch.c
fi

# ptrace supervisor for `agentfs run --experimental-sandbox` (Linux x86_64 only).
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] && { [ ! -x native/ptrace/build/agentfs-ptrace ] || [ native/ptrace/supervisor.c -nt native/ptrace/build/agentfs-ptrace ]; }; then
  mkdir -p native/ptrace/build && cc -O2 -Wall -o native/ptrace/build/agentfs-ptrace native/ptrace/supervisor.c
fi

# TypeScript -> dist/
node node_modules/typescript/bin/tsc -p tsconfig.json
# The web app of `agentfs ui` -> dist/ui/assets (esbuild, about a second)
node scripts/build-ui.mjs
