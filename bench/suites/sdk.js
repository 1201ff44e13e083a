// SDK throughput: our AgentFS SDK against the Rust AgentFS's TypeScript SDK (agentfs-sdk) in the
// same run, same machine, same file system. Ratio = our ops/s / agentfs-sdk ops/s (higher is better).
// Durability: agentfs-sdk runs WAL + synchronous=FULL (every commit fsynced); we run the same
// ('full') for the compared rows, and also report our default ('normal': WAL + synchronous=NORMAL,
// crash-safe, durable at fsync) as extra rows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentFS as Ours } from '../../dist/index.js';
import { AgentFS as Theirs } from 'agentfs-sdk';

const N = Number(process.env.BENCH_SDK_N ?? 2000);
const payload = Buffer.alloc(4096, 'a');

async function timeOps(n, fn) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return n / s;
}

async function workloads(agent) {
  const out = {};
  await agent.fs.mkdir('/bench');
  out['writeFile 4 KiB'] = await timeOps(N, (i) => agent.fs.writeFile(`/bench/f${i}`, payload));
  out['readFile 4 KiB'] = await timeOps(N, (i) => agent.fs.readFile(`/bench/f${i}`));
  out['stat existing path'] = await timeOps(N, (i) => agent.fs.stat(`/bench/f${i}`));
  out['kv set'] = await timeOps(N, (i) => agent.kv.set(`key:${i}`, { i, name: 'value', list: [1, 2, 3] }));
  out['kv get'] = await timeOps(N, (i) => agent.kv.get(`key:${i}`));
  const now = Math.floor(Date.now() / 1000);
  out['tool record'] = await timeOps(N, (i) => agent.tools.record('bench_tool', now, now + 1, { i }, { ok: true }));
  return out;
}

export async function run(report) {
  const dir = mkdtempSync(join(tmpdir(), 'agentfs-bench-sdk-'));
  try {
    const theirs = await Theirs.open({ path: join(dir, 'theirs.db') });
    const t = await workloads(theirs);
    await theirs.close();
    const oursFull = await Ours.open({ path: join(dir, 'ours-full.db'), durability: 'full' });
    const o = await workloads(oursFull);
    await oursFull.close();
    const oursNormal = await Ours.open({ path: join(dir, 'ours.db') });
    const d = await workloads(oursNormal);
    await oursNormal.close();
    for (const w of Object.keys(t)) {
      report({ suite: 'sdk', workload: `${w} (full)`, agentfs: o[w], baseline: t[w], baselineName: 'agentfs-sdk', unit: 'ops/s', ratio: o[w] / t[w] });
    }
    for (const w of Object.keys(t)) {
      report({ suite: 'sdk', workload: `${w} (ours normal)`, agentfs: d[w], baseline: t[w], baselineName: 'agentfs-sdk full', unit: 'ops/s', ratio: d[w] / t[w], note: 'different durability' });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
