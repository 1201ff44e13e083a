// NFS (agentfs serve nfs) next to the FUSE mount (agentfs mount) in the same run, each over its
// own fresh agent: sequential write and read of a large file (nfs-cp from libnfs-utils against dd
// through the mount), and create+write / stat / remove of many small files (the tests' RPC client
// over one connection with up to 16 calls in flight, against a python3 loop on the mount).
// Ratios are NFS / FUSE (higher is better). Sizes: BENCH_NFS_MB (256), BENCH_NFS_FILES (5000),
// rounds: BENCH_NFS_ROUNDS (3, medians reported).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from '../median.js';
import { NfsClient, pipelined } from '../../test/support/nfs-client.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const CLI = join(root, 'bin', 'agentfs.js');
const MB = Number(process.env.BENCH_NFS_MB ?? 256);
const N = Number(process.env.BENCH_NFS_FILES ?? 5000);
const ROUNDS = Math.max(1, Number(process.env.BENCH_NFS_ROUNDS ?? 3));
const DEPTH = 16;

function exec(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
  });
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function dropCaches() {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    /* not root: warm cache */
  }
}

// small files through the mount, one process, timed inside it
const SMALL = String.raw`
import json, os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
out = {}
t = time.perf_counter()
for i in range(n):
    with open(os.path.join(d, 'f%05d' % i), 'w') as f:
        f.write('small file %d\n' % i)
out['create+write'] = n / (time.perf_counter() - t)
t = time.perf_counter()
for i in range(n):
    os.stat(os.path.join(d, 'f%05d' % i))
out['stat'] = n / (time.perf_counter() - t)
t = time.perf_counter()
for i in range(n):
    os.unlink(os.path.join(d, 'f%05d' % i))
out['remove'] = n / (time.perf_counter() - t)
os.rmdir(d)
print(json.dumps(out))
`;

async function fuseRound(mnt, work, src, r) {
  const res = JSON.parse(await exec('python3', [join(work, 'small.py'), join(mnt, `small${r}`), String(N)]));
  const file = join(mnt, `seq${r}.bin`);
  res['seq write'] = MB / (await timed(() => exec('dd', [`if=${src}`, `of=${file}`, 'bs=1M', 'conv=fsync', 'status=none'])));
  dropCaches();
  res['seq read'] = MB / (await timed(() => exec('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M', 'status=none'])));
  await exec('rm', ['-f', file]);
  return res;
}

async function nfsRound(port, src, r) {
  const url = (p) => `nfs://127.0.0.1/${p}?version=3&nfsport=${port}&mountport=${port}`;
  const c = await NfsClient.connect(port);
  const res = {};
  try {
    const top = await c.mount('/');
    const dir = (await c.mkdir(top, `small${r}`)).fh;
    const fhs = new Array(N);
    const name = (i) => `f${String(i).padStart(5, '0')}`;
    const must = (x, what) => {
      if (x.status !== 0) throw new Error(`${what}: nfsstat3 ${x.status}`);
      return x;
    };
    res['create+write'] = N / (await timed(() => pipelined(N, DEPTH, async (i) => {
      fhs[i] = must(await c.create(dir, name(i), { how: 1, sattr: { mode: 0o644 } }), 'CREATE').fh;
      must(await c.write(fhs[i], 0, Buffer.from(`small file ${i}\n`)), 'WRITE');
    })));
    // stat(2) of a path is a LOOKUP (the client's attribute cache aside)
    res.stat = N / (await timed(() => pipelined(N, DEPTH, async (i) => must(await c.lookup(dir, name(i)), 'LOOKUP'))));
    res.remove = N / (await timed(() => pipelined(N, DEPTH, async (i) => must(await c.remove(dir, name(i)), 'REMOVE'))));
    must(await c.rmdir(top, `small${r}`), 'RMDIR');
  } finally {
    c.close();
  }
  res['seq write'] = MB / (await timed(() => exec('nfs-cp', [src, url(`/seq${r}.bin`)])));
  dropCaches();
  const out = `${src}.back`; // nfs-cp cannot write to /dev/null
  res['seq read'] = MB / (await timed(() => exec('nfs-cp', [url(`/seq${r}.bin`), out])));
  rmSync(out, { force: true });
  const c2 = await NfsClient.connect(port);
  try {
    await c2.remove(await c2.mount('/'), `seq${r}.bin`);
  } finally {
    c2.close();
  }
  return res;
}

const UNITS = { 'create+write': 'files/s', stat: 'stats/s', remove: 'files/s', 'seq write': 'MB/s', 'seq read': 'MB/s' };

export async function run(report) {
  if (!existsSync('/usr/bin/nfs-cp')) {
    console.log('nfs: skipped (nfs-cp missing: install Debian libnfs-utils)');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'agentfs-bench-nfs-'));
  const mnt = join(work, 'mnt');
  mkdirSync(mnt);
  writeFileSync(join(work, 'small.py'), SMALL);
  const src = join(work, 'src.bin');
  await exec('sh', ['-c', `head -c ${MB << 20} /dev/urandom > ${src}`]);
  const env = { ...process.env, AGENTFS_RUNTIME_DIR: join(work, 'run') };
  let mounted = false;
  let server;
  try {
    await exec(process.execPath, [CLI, 'init', join(work, 'fuse.db')], { env });
    await exec(process.execPath, [CLI, 'init', join(work, 'nfs.db')], { env });
    await exec(process.execPath, [CLI, 'mount', join(work, 'fuse.db'), mnt], { env });
    mounted = true;
    server = spawn(process.execPath, [CLI, 'serve', 'nfs', join(work, 'nfs.db'), '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise((resolve, reject) => {
      let text = '';
      server.stdout.on('data', (d) => {
        text += d;
        if (text.includes('\n')) resolve(JSON.parse(text.slice(0, text.indexOf('\n'))).port);
      });
      server.on('exit', (code) => reject(new Error(`serve nfs exited (${code})`)));
    });

    const runs = { nfs: [], fuse: [] };
    for (let r = 0; r < ROUNDS; r++) {
      runs.fuse.push(await fuseRound(mnt, work, src, r));
      runs.nfs.push(await nfsRound(port, src, r));
    }
    for (const w of Object.keys(UNITS)) {
      const a = median(runs.nfs.map((x) => x[w]));
      const b = median(runs.fuse.map((x) => x[w]));
      const seq = w.startsWith('seq');
      report({
        suite: 'nfs',
        workload: `${w}${seq ? ` ${MB} MiB` : ` ${N} files`} vs FUSE mount`,
        agentfs: a,
        baseline: b,
        baselineName: 'fuse',
        unit: UNITS[w],
        ratio: a / b,
        note: seq ? 'nfs-cp vs dd; target >= 0.5' : `RPC client, ${DEPTH} in flight, vs python3 on the mount${w === 'stat' ? ' (answered from the kernel attribute cache)' : ''}; target >= 1`,
      });
    }
  } finally {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.on('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    if (mounted) await exec(process.execPath, [CLI, 'unmount', mnt], { env }).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}
