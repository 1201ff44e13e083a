#!/usr/bin/env bash
# Builds what the npm package ships (run by `npm pack` through `prepack`, so a pack from a clean
# clone is one command): dist/ afresh, the N-API addon as a prebuild for this platform
# (native/prebuilds/<platform>-<arch>/, made by prebuildify and loaded by node-gyp-build; one
# N-API build serves every Node >= 20) and the sandbox launcher, record's tether and the WAL
# batching SQLite extension next to it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --deps-only

tuple=$(node -p 'process.platform + "-" + process.arch')
# Build against the headers installed with Node when present, so nothing is downloaded.
node_prefix=$(dirname "$(dirname "$(command -v node)")")
[ -f "$node_prefix/include/node/node_api.h" ] && export npm_config_nodedir="$node_prefix"
rm -rf native/prebuilds
echo "prebuild: FUSE addon -> native/prebuilds/$tuple" >&2
(cd native && node ../node_modules/prebuildify/bin.js --napi --strip --tag-libc -t "$(node -v | tr -d v)" >/dev/null)
echo "prebuild: sandbox launcher -> native/prebuilds/$tuple/agentfs-sandbox" >&2
cc -O2 -Wall -s -o "native/prebuilds/$tuple/agentfs-sandbox" native/sandbox/launcher.c
echo "prebuild: record's tether -> native/prebuilds/$tuple/agentfs-tether" >&2
cc -O2 -Wall -s -o "native/prebuilds/$tuple/agentfs-tether" native/tether/tether.c
echo "prebuild: WAL batching extension -> native/prebuilds/$tuple/agentfs-walbatch.so" >&2
cc -O2 -Wall -s -shared -fPIC -o "native/prebuilds/$tuple/agentfs-walbatch.so" native/walbatch/wal_batch.c
if [ "$tuple" = linux-x64 ]; then
  echo "prebuild: ptrace supervisor -> native/prebuilds/$tuple/agentfs-ptrace" >&2
  cc -O2 -Wall -s -o "native/prebuilds/$tuple/agentfs-ptrace" native/ptrace/supervisor.c
fi

echo "prebuild: dist/" >&2
rm -rf dist
node node_modules/typescript/bin/tsc -p tsconfig.json
echo "prebuild: the web app of agentfs ui -> dist/ui/assets" >&2
node scripts/build-ui.mjs
