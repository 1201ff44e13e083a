// Sync to a remote over Hrana/HTTP: a 10k-file, 100 MiB agent pushed to the loopback test server
// (a separate process over a real libSQL file), then an incremental push after one file changed,
// then a pull of everything into a fresh agent. Each transfer runs as the real CLI under
// /usr/bin/time, so the peak RSS reported is that of the agentfs process.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from '../../dist/core/agent.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'bin', 'agentfs.js');
const SERVER = join(ROOT, 'test', 'support', 'hrana-server.mjs');
const FILES = 10_000;
const FILE_BYTES = 10 * 1024 + 496; // 10k files * ~10.5 KiB = 100 MiB
const TOKEN = 'bench-token';

function exec(cmd, args, cwd, env = {}) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve({ out, err }) : reject(new Error(`${cmd} ${args.join(' ')}: ${code} ${err}`))));
  });
}

function startServer(db) {
  const child = spawn(process.execPath, [SERVER, '--db', db, '--token', TOKEN], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`hrana server exited ${code}`)));
    child.stdout.once('data', (d) => {
      const { port } = JSON.parse(String(d).split('\n')[0]);
      resolve({ url: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) });
    });
  });
}

/** Runs `agentfs sync ...` under /usr/bin/time; returns the JSON result and the peak RSS in MB. */
async function sync(work, args) {
  const timed = existsSync('/usr/bin/time');
  const cmd = timed ? '/usr/bin/time' : process.execPath;
  const argv = timed ? ['-f', 'maxrss_kb=%M', process.execPath, CLI, 'sync', ...args, '--json'] : [CLI, 'sync', ...args, '--json'];
  const { out, err } = await exec(cmd, argv, work, { TURSO_AUTH_TOKEN: TOKEN });
  const kb = /maxrss_kb=(\d+)/.exec(err);
  return { result: JSON.parse(out.trim().split('\n').pop()), rssMb: kb ? Number(kb[1]) / 1024 : NaN };
}

const mib = (n) => (n / 1048576).toFixed(1);

export async function run(report) {
  const work = mkdtempSync(join(tmpdir(), 'agentfs-bench-sync-'));
  let server;
  try {
    const db = join(work, '.agentfs', 'big.db');
    const a = Agent.open({ path: db }, { create: true });
    try {
      const buf = Buffer.alloc(FILE_BYTES);
      for (let d = 0; d < 100; d++) {
        a.paths.mkdir(`/d${d}`);
        a.store.transaction(() => {
          for (let f = 0; f < FILES / 100; f++) {
            buf.fill((d * 100 + f) & 255);
            buf.writeUInt32LE(d * 100 + f, 0);
            a.paths.writeFile(`/d${d}/f${f}.bin`, buf);
          }
        });
      }
    } finally {
      a.close();
    }
    server = await startServer(join(work, 'remote.db'));
    const full = await sync(work, ['big', 'push', '--remote', server.url]);
    const fr = full.result;
    report({
      suite: 'sync',
      workload: `full push ${FILES} files ${mib(FILES * FILE_BYTES)} MiB`,
      agentfs: fr.seconds,
      unit: 's',
      note: `${fr.requests} requests, ${mib(fr.bytes)} MiB on the wire, ${fr.rows} rows, peak RSS ${full.rssMb.toFixed(0)} MB`,
    });
    const b = Agent.open({ path: db });
    try {
      const h = b.paths.open('/d42/f17.bin', 'r+');
      b.fs.write(h.ino, 4096, Buffer.alloc(100, 0xab));
      b.paths.close(h.ino);
    } finally {
      b.close();
    }
    const inc = await sync(work, ['big', 'push', '--remote', server.url]);
    const ir = inc.result;
    report({
      suite: 'sync',
      workload: 'incremental push, 1 file changed',
      agentfs: ir.bytes / 1024,
      unit: 'KiB',
      baseline: fr.bytes / 1024,
      baselineName: 'full push',
      ratio: ir.bytes / fr.bytes,
      note: `${((100 * ir.bytes) / fr.bytes).toFixed(3)}% of the full push (limit 1%), ${ir.seconds.toFixed(2)} s, ${ir.requests} requests, ${ir.rows} rows, peak RSS ${inc.rssMb.toFixed(0)} MB`,
    });
    await exec(process.execPath, [CLI, 'init', 'copy'], work);
    const pull = await sync(work, ['copy', 'pull', '--remote', server.url]);
    const pr = pull.result;
    report({
      suite: 'sync',
      workload: `full pull into a fresh agent`,
      agentfs: pr.seconds,
      unit: 's',
      note: `${pr.requests} requests, ${mib(pr.bytes)} MiB on the wire, ${pr.rows} rows, peak RSS ${pull.rssMb.toFixed(0)} MB`,
    });
  } finally {
    if (server) await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
