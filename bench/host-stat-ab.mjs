// A/B of the overlay base layer's host listing and lstat: the addon (native/host_stat.cc)
// against node:fs, interleaved (the machine is shared). Over an npm-style tree:
// 500 packages x {package.json, README.md, LICENSE, index.js, lib/0..9.js}: 1,000 dirs, 7,000 files.
//   node bench/host-stat-ab.mjs [TREE_DIR] [ROUNDS]     (run `npx tsc` first: reads dist/)
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { BaseReader } from '../dist/core/overlay/base.js';
import { hostFs, nodeHostFs } from '../dist/core/overlay/host-stat.js';

const tree = process.argv[2] ?? '/tmp/agentfs-npm-tree';
const rounds = Number(process.argv[3] ?? 5);

export function makeTree(dir) {
  if (existsSync(join(dir, 'p499', 'lib', '9.js'))) return;
  for (let p = 0; p < 500; p++) {
    const pkg = join(dir, `p${p}`);
    mkdirSync(join(pkg, 'lib'), { recursive: true });
    for (const f of ['package.json', 'README.md', 'LICENSE', 'index.js']) writeFileSync(join(pkg, f), `${f} of p${p}\n`);
    for (let i = 0; i < 10; i++) writeFileSync(join(pkg, 'lib', `${i}.js`), `module.exports = ${i};\n`);
  }
}

makeTree(tree);
const dirs = [];
const files = [];
for (let p = 0; p < 500; p++) {
  dirs.push(`/p${p}`, `/p${p}/lib`);
  for (const f of ['package.json', 'README.md', 'LICENSE', 'index.js']) files.push(`/p${p}/${f}`);
  for (let i = 0; i < 10; i++) files.push(`/p${p}/lib/${i}.js`);
}

const impls = { native: hostFs(), node: nodeHostFs };
if (!impls.native.native) throw new Error('the addon did not load');

function once(host, direct) {
  const r = new BaseReader(tree, { host, direct });
  try {
    let t = process.hrtime.bigint();
    let n = 0;
    for (const d of dirs) n += r.list(d).length; // a fresh reader: nothing cached
    const list = Number(process.hrtime.bigint() - t) / 1e6;
    if (n !== 7000 + 500) throw new Error(`listed ${n}`);
    t = process.hrtime.bigint();
    for (const f of files) if (!r.lstat(f)) throw new Error(f);
    const lstat = Number(process.hrtime.bigint() - t) / 1e6;
    return { list, lstat };
  } finally {
    r.close();
  }
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const direct of [false, true]) {
  const got = { native: { list: [], lstat: [] }, node: { list: [], lstat: [] } };
  for (const name of Object.keys(impls)) once(impls[name], direct); // warm up
  for (let k = 0; k < rounds; k++) {
    for (const name of k % 2 ? ['node', 'native'] : ['native', 'node']) {
      const r = once(impls[name], direct);
      got[name].list.push(r.list);
      got[name].lstat.push(r.lstat);
    }
  }
  console.log(`${direct ? 'direct paths' : 'via /proc/self/fd'}: median of ${rounds}`);
  for (const name of Object.keys(got)) {
    console.log(`  ${name.padEnd(6)} list 1,000 dirs ${median(got[name].list).toFixed(1)} ms   lstat 7,000 files ${median(got[name].lstat).toFixed(1)} ms`);
  }
}
