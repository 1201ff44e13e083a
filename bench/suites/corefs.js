// The inode filesystem core (what FUSE calls per operation) against the host filesystem through
// Node's synchronous fs calls, same machine, same run. Ratio = agentfs / native (higher is better).
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../dist/store/index.js';
import { InodeFs } from '../../dist/core/fs/index.js';

const N = Number(process.env.BENCH_COREFS_N ?? 5000);
const MB = Number(process.env.BENCH_COREFS_MB ?? 64);
const PIECE = 128 * 1024;
const caller = { uid: 1000, gid: 1000 };

function rate(n, fn) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

export async function run(report) {
  const dir = mkdtempSync(join(tmpdir(), 'agentfs-bench-corefs-'));
  try {
    const store = Store.open({ path: join(dir, 'bench.db') }, { create: true });
    const fs = new InodeFs(store);
    const host = join(dir, 'host');
    mkdirSync(host);
    const d = fs.mkdir(1, 'd', 0o755, caller).ino;
    const inos = [];
    const rows = {};
    rows['create empty file'] = [
      rate(N, (i) => {
        const a = fs.create(d, `f${i}`, 0o644, caller);
        fs.open(a.ino, 0);
        fs.release(a.ino);
        inos.push(a.ino);
      }),
      rate(N, (i) => closeSync(openSync(join(host, `f${i}`), 'w'))),
    ];
    rows['lookup + getattr'] = [rate(N, (i) => fs.lookup(d, `f${i}`)), rate(N, (i) => statSync(join(host, `f${i}`)))];
    rows['getattr by inode'] = [rate(N, (i) => fs.getattr(inos[i])), rate(N, (i) => statSync(join(host, `f${i}`)))];
    const small = Buffer.alloc(4096, 7);
    rows['write 4 KiB to a new file'] = [
      rate(N, (i) => fs.write(inos[i], 0, small)),
      rate(N, (i) => {
        const fd = openSync(join(host, `f${i}`), 'r+');
        writeSync(fd, small, 0, small.length, 0);
        closeSync(fd);
      }),
    ];
    rows['unlink'] = [rate(N, (i) => fs.unlink(d, `f${i}`)), rate(N, (i) => unlinkSync(join(host, `f${i}`)))];
    for (const [w, [a, b]] of Object.entries(rows)) {
      report({ suite: 'corefs', workload: w, agentfs: a, baseline: b, baselineName: 'native', unit: 'ops/s', ratio: a / b });
    }

    // sequential throughput in 128 KiB pieces, as FUSE with big_writes sends them
    const buf = Buffer.alloc(PIECE, 1);
    const pieces = (MB * 1024 * 1024) / PIECE;
    const big = fs.create(1, 'big', 0o644, caller).ino;
    const tw = process.hrtime.bigint();
    for (let i = 0; i < pieces; i++) fs.write(big, i * PIECE, buf);
    store.sync();
    const ws = Number(process.hrtime.bigint() - tw) / 1e9;
    const hostBig = join(host, 'big');
    const fd = openSync(hostBig, 'w+');
    const hw = process.hrtime.bigint();
    for (let i = 0; i < pieces; i++) writeSync(fd, buf, 0, PIECE, i * PIECE);
    const hws = Number(process.hrtime.bigint() - hw) / 1e9;
    const tr = process.hrtime.bigint();
    for (let i = 0; i < pieces; i++) fs.read(big, i * PIECE, PIECE);
    const rs = Number(process.hrtime.bigint() - tr) / 1e9;
    const hr = process.hrtime.bigint();
    for (let i = 0; i < pieces; i++) readSync(fd, buf, 0, PIECE, i * PIECE);
    const hrs = Number(process.hrtime.bigint() - hr) / 1e9;
    closeSync(fd);
    report({ suite: 'corefs', workload: `sequential write ${MB} MiB (128 KiB)`, agentfs: MB / ws, baseline: MB / hws, baselineName: 'native', unit: 'MB/s', ratio: hws / ws });
    report({ suite: 'corefs', workload: `sequential read ${MB} MiB (128 KiB)`, agentfs: MB / rs, baseline: MB / hrs, baselineName: 'native', unit: 'MB/s', ratio: hrs / rs, note: 'native from page cache' });
    const tg = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) fs.getattr(big);
    report({ suite: 'corefs', workload: `getattr of a ${MB} MiB file`, agentfs: 1000 / (Number(process.hrtime.bigint() - tg) / 1e9), baseline: undefined, unit: 'ops/s', note: 'blocks = stored bytes, summed per call' });
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
