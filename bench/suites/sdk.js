// SDK throughput: our AgentFS SDK against the Rust AgentFS's TypeScript SDK (agentfs-sdk) in the
// same run, same machine, same file system. Ratio = our ops/s / agentfs-sdk ops/s (higher is better).
// Durability, two levels, each side at the same one:
//   full: every commit fsynced (agentfs-sdk's default, WAL + synchronous=FULL; ours durability 'full');
//   no fsync per commit: agentfs-sdk with synchronous=OFF against our default 'normal' (WAL +
//   synchronous=NORMAL: survives process crashes, durable at fsync, never corrupt on power loss).
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
    // agentfs-sdk's engine knows synchronous FULL (its default) and OFF only: OFF is the
    // no-fsync-per-commit setting to set against our 'normal' (which, unlike OFF, still cannot
    // corrupt the database on power loss).
    const theirsOff = await Theirs.open({ path: join(dir, 'theirs-off.db') });
    await theirsOff.getDatabase().exec('PRAGMA synchronous = OFF');
    const tOff = await workloads(theirsOff);
    await theirsOff.close();
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
      report({ suite: 'sdk', workload: `${w} (no fsync per commit)`, agentfs: d[w], baseline: tOff[w], baselineName: 'agentfs-sdk sync=OFF', unit: 'ops/s', ratio: d[w] / tOff[w], note: 'ours: WAL+NORMAL' });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
