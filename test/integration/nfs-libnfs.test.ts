import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli, tempDir } from '../support/cli.js';
import { nfsUrl, startNfs, type NfsServe } from '../support/nfs-server.js';
// @ts-expect-error plain JS test support (shared with the bench)
import { NfsClient, pipelined } from '../support/nfs-client.mjs';

/** The server with a real NFS client nobody here wrote: libnfs's nfs-cp, nfs-cat, nfs-ls. */
let tmp: { dir: string; cleanup: () => void };
let server: NfsServe | undefined;
const haveLibnfs = existsSync('/usr/bin/nfs-cp');

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

beforeAll(async () => {
  tmp = tempDir('agentfs-nfs-libnfs-');
  expect((await runCli(['init', 'n1'], { cwd: tmp.dir })).code).toBe(0);
  server = await startNfs('n1', tmp.dir);
});

afterAll(async () => {
  await server?.stop();
  tmp.cleanup();
});

describe.skipIf(!haveLibnfs)('libnfs tools against agentfs serve nfs', () => {
  it('copies a small file in and out byte-exact, and nfs-cat reads it', async () => {
    const src = join(tmp.dir, 'small.txt');
    writeFileSync(src, 'hello over nfs\n'.repeat(1000));
    const put = await run('nfs-cp', [src, nfsUrl(server!.port, '/small.txt')]);
    expect(put.stderr).toBe('');
    expect(put.code).toBe(0);
    const back = join(tmp.dir, 'small.back');
    expect((await run('nfs-cp', [nfsUrl(server!.port, '/small.txt'), back])).code).toBe(0);
    expect(readFileSync(back).equals(readFileSync(src))).toBe(true);
    const cat = await run('nfs-cat', [nfsUrl(server!.port, '/small.txt')]);
    expect(cat.stdout).toBe(readFileSync(src, 'utf8'));
    // the same bytes through the core, from another process
    const viaCli = await runCli(['fs', 'cat', 'n1', '/small.txt'], { cwd: tmp.dir });
    expect(viaCli.stdout).toBe(readFileSync(src, 'utf8'));
  });

  it('copies a 100 MiB file in and out byte-exact', { timeout: 300_000 }, async () => {
    const src = join(tmp.dir, 'big.bin');
    expect((await run('sh', ['-c', `head -c 104857600 /dev/urandom > ${src}`])).code).toBe(0);
    const put = await run('nfs-cp', [src, nfsUrl(server!.port, '/big.bin')], { timeoutMs: 240_000 });
    expect(put.code).toBe(0);
    const back = join(tmp.dir, 'big.back');
    const get = await run('nfs-cp', [nfsUrl(server!.port, '/big.bin'), back], { timeoutMs: 240_000 });
    expect(get.code).toBe(0);
    expect(await sha256(back)).toBe(await sha256(src));
  });

  it('lists a directory of 10,000 entries with nfs-ls', { timeout: 300_000 }, async () => {
    const c = await NfsClient.connect(server!.port);
    try {
      const root = await c.mount('/');
      const dir = await c.mkdir(root, 'many');
      expect(dir.status).toBe(0);
      await pipelined(10_000, 16, async (i: number) => {
        const r = await c.create(dir.fh, `f${String(i).padStart(5, '0')}`, { how: 1, sattr: { mode: 0o644 } });
        expect(r.status).toBe(0);
      });
    } finally {
      c.close();
    }
    const port = server!.port;
    const ls = await run('nfs-ls', [`nfs://127.0.0.1/many?version=3&nfsport=${port}&mountport=${port}`], { timeoutMs: 240_000 });
    expect(ls.code).toBe(0);
    const names = ls.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).pop()!).filter((n) => n !== '.' && n !== '..');
    expect(names.length).toBe(10_000);
    expect(new Set(names).size).toBe(10_000);
    expect(names).toContain('f00000');
    expect(names).toContain('f09999');
  });

  it('attributes changes made through NFS to the tool call in progress (agentfs record), as a mount does', async () => {
    const src = join(tmp.dir, 'recorded.txt');
    writeFileSync(src, 'uploaded inside a recorded call\n');
    const r = await runCli(['record', 'n1', '--name', 'upload', '--', 'nfs-cp', src, nfsUrl(server!.port, '/recorded.txt')], { cwd: tmp.dir });
    expect(r.code).toBe(0);
    const tl = await runCli(['timeline', 'n1', '--format', 'json', '--filter', 'upload'], { cwd: tmp.dir });
    const events = JSON.parse(tl.stdout) as Array<{ id?: number; name?: string; type?: string; op?: string; path?: string; tool_call_id?: number }>;
    const call = events.find((e) => e.name === 'upload')!;
    expect(call).toBeDefined();
    const files = events.filter((e) => e.type === 'file' && e.path === '/recorded.txt');
    // nfs-cp creates, truncates, then writes
    expect(files.map((e) => e.op).sort()).toEqual(['create', 'truncate', 'write']);
    for (const e of files) expect(e.tool_call_id).toBe(call.id);
  });

  it('records what was done through NFS in the journal: timeline shows it after the session', async () => {
    const code = await server!.stop();
    expect(code).toBe(0);
    expect(server!.stderr()).not.toMatch(/internal error/);
    server = undefined;
    const t = await runCli(['timeline', 'n1', '--limit', '50000'], { cwd: tmp.dir });
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/fs:create\s.*\/small\.txt/);
    expect(t.stdout).toMatch(/fs:write\s.*\/big\.bin \[0, /);
    // every byte of the big file is accounted for across its write rows
    const bytes = [...t.stdout.matchAll(/fs:write\s.*\/big\.bin \[\d+, \d+\) (\d+)B/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(bytes).toBe(104857600);
    expect(t.stdout).toMatch(/fs:mkdir\s.*\/many/);
    expect(t.stdout).toMatch(/\/many\/f09999/);
    server = await startNfs('n1', tmp.dir);
  });
});

describe('kernel NFS client', () => {
  const fsList = existsSync('/proc/filesystems') ? readFileSync('/proc/filesystems', 'utf8') : '';
  const kernelNfs = /\bnfs\b/.test(fsList);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!kernelNfs || !isRoot) {
    it.skip(`mount -t nfs (skipped: ${!kernelNfs ? 'this kernel has no NFS client (no "nfs" in /proc/filesystems)' : 'needs root'})`, () => {});
    console.log(`nfs-libnfs: kernel mount part skipped: ${!kernelNfs ? 'this kernel has no NFS client (no "nfs" in /proc/filesystems)' : 'mount needs root'}`);
    return;
  }
  it('mounts with mount -t nfs and reads and writes files', async () => {
    const mnt = join(tmp.dir, 'kmnt');
    mkdirSync(mnt);
    const port = server!.port;
    const m = await run('mount', ['-t', 'nfs', '-o', `vers=3,tcp,port=${port},mountport=${port},nolock`, '127.0.0.1:/', mnt]);
    expect(m.stderr).toBe('');
    try {
      writeFileSync(join(mnt, 'kernel.txt'), 'via the kernel\n');
      expect(readFileSync(join(mnt, 'kernel.txt'), 'utf8')).toBe('via the kernel\n');
      expect((await runCli(['fs', 'cat', 'n1', '/kernel.txt'], { cwd: tmp.dir })).stdout).toBe('via the kernel\n');
    } finally {
      await run('umount', ['-f', '-l', mnt]);
    }
  });
});

describe.skipIf(!haveLibnfs)('overlay agents and run sessions over NFS', () => {
  it('serves an overlay agent: base files readable, changes land in the delta, the base stays as it was', async () => {
    const base = join(tmp.dir, 'base');
    mkdirSync(base);
    writeFileSync(join(base, 'base.txt'), 'from the base\n');
    mkdirSync(join(base, 'sub'));
    expect((await runCli(['init', 'ov', '--base', base], { cwd: tmp.dir })).code).toBe(0);
    const ov = await startNfs('ov', tmp.dir);
    try {
      expect((await run('nfs-cat', [nfsUrl(ov.port, '/base.txt')])).stdout).toBe('from the base\n');
      const src = join(tmp.dir, 'ov-new.txt');
      writeFileSync(src, 'new in the overlay\n');
      expect((await run('nfs-cp', [src, nfsUrl(ov.port, '/added.txt')])).code).toBe(0);
      // nfs-cp never overwrites (it creates GUARDED): change the base file with our own client,
      // statelessly (no open), which copies it up
      const c = await NfsClient.connect(ov.port);
      try {
        const top = await c.mount('/');
        // '..' of a base directory (the overlay cannot look it up: the server remembers it)
        const sub = await c.lookup(top, 'sub');
        expect((await c.lookup(sub.fh, '..')).attr.fileid).toBe((await c.getattr(top)).attr.fileid);
        const l = await c.lookup(top, 'base.txt');
        expect((await c.setattr(l.fh, { size: 0 })).status).toBe(0);
        expect((await c.write(l.fh, 0, Buffer.from('changed over nfs\n'))).status).toBe(0);
      } finally {
        c.close();
      }
      expect((await run('nfs-cat', [nfsUrl(ov.port, '/base.txt')])).stdout).toBe('changed over nfs\n');
    } finally {
      expect(await ov.stop()).toBe(0);
    }
    expect(readFileSync(join(base, 'base.txt'), 'utf8')).toBe('from the base\n');
    expect(existsSync(join(base, 'added.txt'))).toBe(false);
    const diff = await runCli(['diff', 'ov'], { cwd: tmp.dir });
    expect(diff.stdout).toMatch(/^A file\s+added\.txt$/m);
    expect(diff.stdout).toMatch(/^M file\s+base\.txt$/m);
  });

  it('an overlay\'s handles stay valid across a server restart (base files and delta files)', async () => {
    const base = join(tmp.dir, 'base2');
    mkdirSync(join(base, 'a', 'b'), { recursive: true });
    writeFileSync(join(base, 'a', 'b', 'deep.txt'), 'deep in the base\n');
    expect((await runCli(['init', 'ov2', '--base', base], { cwd: tmp.dir })).code).toBe(0);
    let s = await startNfs('ov2', tmp.dir);
    let deep: Buffer;
    let made: Buffer;
    try {
      const c = await NfsClient.connect(s.port);
      const top = await c.mount('/');
      const a = await c.lookup(top, 'a');
      const b = await c.lookup(a.fh, 'b');
      deep = (await c.lookup(b.fh, 'deep.txt')).fh;
      const m = await c.create(b.fh, 'made.txt');
      made = m.fh;
      expect((await c.write(made, 0, Buffer.from('made over nfs\n'))).status).toBe(0);
      c.close();
    } finally {
      await s.stop();
    }
    s = await startNfs('ov2', tmp.dir);
    try {
      const c = await NfsClient.connect(s.port);
      // no MNT, no lookups: the handles from before the restart
      expect((await c.read(deep, 0, 100)).data.toString()).toBe('deep in the base\n');
      expect((await c.read(made, 0, 100)).data.toString()).toBe('made over nfs\n');
      c.close();
    } finally {
      await s.stop();
    }
  });

  it('serves a run session by its id', { timeout: 120_000 }, async () => {
    const work = join(tmp.dir, 'work');
    mkdirSync(work);
    const env = { AGENTFS_HOME: join(tmp.dir, 'home') };
    const r = await runCli(['run', '--session', 'nfs-session', '--', 'sh', '-c', 'echo made in run > made.txt'], { cwd: work, env });
    if (r.code !== 0) {
      console.log(`nfs-libnfs: run session part skipped: agentfs run failed here: ${r.stderr.trim()}`);
      return;
    }
    const s = await startNfs('nfs-session', work, [], env);
    try {
      expect((await run('nfs-cat', [nfsUrl(s.port, '/made.txt')])).stdout).toBe('made in run\n');
    } finally {
      await s.stop();
    }
    expect(existsSync(join(work, 'made.txt'))).toBe(false);
  });
});
