#!/usr/bin/env bash
# Set-up for a fresh Debian machine: system packages, npm dependencies, native addon, TypeScript build.
# Idempotent and quick when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=(fuse3 libfuse3-dev libfuse2 util-linux git build-essential python3 sqlite3 libnfs-utils zsh fish)
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

# TypeScript -> dist/
node node_modules/typescript/bin/tsc -p tsconfig.json
