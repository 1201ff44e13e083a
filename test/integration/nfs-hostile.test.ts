import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, openSync, closeSync, rmSync, statSync, writeSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { vi } from 'vitest';
import { join } from 'node:path';
import { CLI, ROOT, run, runCli, tempDir } from '../support/cli.js';
import { startNfs } from '../support/nfs-server.js';
import { serveAgentNfs, type AgentNfs } from '../../src/nfs/index.js';
import { handleGeneration } from '../../src/nfs/handles.js';
import { Agent } from '../../src/core/agent.js';
// @ts-expect-error plain JS test support (shared with the bench)
import { ACCEPT, ERR, MOUNT, NFS, NfsClient, PROC, W } from '../support/nfs-client.mjs';

/** What a hostile client does to the server, seen from inside the server process. */
let tmp: { dir: string; cleanup: () => void };
let nfs: AgentNfs;
let c: InstanceType<typeof NfsClient>;
let root: Buffer;

beforeAll(async () => {
  tmp = tempDir('agentfs-nfs-hostile-');
  const db = join(tmp.dir, 'h.db');
  Agent.open({ path: db }, { create: true }).close();
  nfs = await serveAgentNfs({ path: db }, { port: 0 });
  c = await NfsClient.connect(nfs.server.port);
  root = await c.mount('/');
});

afterAll(async () => {
  c?.close();
  await nfs?.close();
  tmp.cleanup();
});

const MiB = 1 << 20;

/** One READ call record (with its record mark) of `count` bytes at offset 0. */
function readCall(xid: number, fh: Buffer, count: number): Buffer {
  const b = new W().u32(0).u32(xid).u32(0).u32(2).u32(NFS).u32(3).u32(PROC.READ).u32(0).u32(0).u32(0).u32(0).opaque(fh).u64(0).u32(count).buf();
  b.writeUInt32BE((0x80000000 | (b.length - 4)) >>> 0, 0);
  return b;
}

describe('a client that does not read its replies', () => {
  it('cannot make the server hold more than a few MiB of replies for it, and still gets every reply once it reads', async () => {
    const f = await c.create(root, 'flood', { how: 0 });
    expect(f.status).toBe(ERR.OK);
    expect((await c.write(f.fh, 0, Buffer.alloc(MiB, 7), 2)).status).toBe(ERR.OK);

    const calls = 300; // ~30 KiB of calls asking for 300 MiB of replies
    const s = connect({ port: nfs.server.port, host: '127.0.0.1' });
    await new Promise((r) => s.once('connect', r));
    s.pause();
    const base = process.memoryUsage().arrayBuffers;
    s.write(Buffer.concat(Array.from({ length: calls }, (_, i) => readCall(1000 + i, f.fh, MiB))));
    // the server answers other clients meanwhile; watch its buffers while the flood sits unread
    let peak = 0;
    for (let i = 0; i < 40; i++) {
      expect(await c.null()).toBe(true);
      await new Promise((r) => setTimeout(r, 10));
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
    }
    expect(peak).toBeLessThan(64 * MiB);

    // reading now brings every reply
    let got = 0;
    const done = new Promise<void>((resolve) => {
      s.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= calls * MiB) resolve();
      });
    });
    s.resume();
    await done;
    expect(got).toBeGreaterThanOrEqual(calls * MiB);
    s.destroy();
  });
});

/** A call whose RPC must succeed; resolves with its nfsstat3 (and the reader after it). */
async function status(proc: number, args: InstanceType<typeof W>): Promise<{ status: number; r: any }> {
  const res = await c.call(NFS, 3, proc, args.buf());
  expect(res.denied).toBe(false);
  expect(res.accept).toBe(ACCEPT.SUCCESS);
  return { status: res.r.u32(), r: res.r };
}

describe('a client that sends its calls and shuts down its side (half-close)', () => {
  it('still gets every reply, then the server ends the connection', async () => {
    const f = await c.create(root, 'half', { how: 0 });
    expect(f.status).toBe(ERR.OK);
    expect((await c.write(f.fh, 0, Buffer.alloc(MiB, 5), 2)).status).toBe(ERR.OK);
    const calls = 100;
    const s = connect({ port: nfs.server.port, host: '127.0.0.1' });
    await new Promise((r) => s.once('connect', r));
    let got = 0;
    s.on('data', (d: Buffer) => (got += d.length));
    const closed = new Promise((r) => s.once('end', r));
    s.end(Buffer.concat(Array.from({ length: calls }, (_, i) => readCall(2000 + i, f.fh, MiB))));
    await closed;
    expect(got).toBeGreaterThanOrEqual(calls * MiB);
    s.destroy();
  });
});

describe('64-bit offsets and sizes beyond what a JS number holds exactly', () => {
  it('READ past 2^53 reads nothing at end of file; WRITE, SETATTR and CREATE there are FBIG; COMMIT takes any offset', async () => {
    const f = await c.create(root, 'far', { how: 0 });
    expect((await c.write(f.fh, 0, Buffer.from('near'), 2)).status).toBe(ERR.OK);
    for (const off of [2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
      const rd = await status(PROC.READ, new W().opaque(f.fh).u64(off).u32(10));
      expect(rd.status).toBe(ERR.OK);
      rd.r.postOpAttr();
      expect([rd.r.u32(), rd.r.bool()]).toEqual([0, true]);
      const wr = await status(PROC.WRITE, new W().opaque(f.fh).u64(off).u32(4).u32(2).opaque(Buffer.from('abcd')));
      expect(wr.status).toBe(27); // NFS3ERR_FBIG
      const sz = await status(PROC.SETATTR, new W().opaque(f.fh).sattr({ size: off }).bool(false));
      expect(sz.status).toBe(27);
      const cm = await status(PROC.COMMIT, new W().opaque(f.fh).u64(off).u32(0));
      expect(cm.status).toBe(ERR.OK);
    }
    // a write that would end beyond 2^53 - 1
    expect((await status(PROC.WRITE, new W().opaque(f.fh).u64(2n ** 53n - 2n).u32(4).u32(2).opaque(Buffer.from('abcd')))).status).toBe(27);
    // CREATE asking for such a size makes no file
    expect((await status(PROC.CREATE, new W().opaque(root).str('far2').u32(0).sattr({ size: 2n ** 60n }))).status).toBe(27);
    expect((await c.lookup(root, 'far2')).status).toBe(ERR.NOENT);
    // nothing changed
    const a = (await c.getattr(f.fh)).attr;
    expect(a.size).toBe(4);
    expect((await c.read(f.fh, 0, 100)).data.toString()).toBe('near');
  });
});

describe('names and symlink targets of any length', () => {
  it('are NAMETOOLONG, never GARBAGE_ARGS, however long', async () => {
    for (const n of [256, 5000, 10_000, 100_000]) {
      const name = 'n'.repeat(n);
      expect((await c.create(root, name, { how: 0 })).status).toBe(63);
      expect((await c.lookup(root, name)).status).toBe(63);
      expect((await c.rename(root, 'far', root, name)).status).toBe(63);
    }
    for (const n of [4096, 5000, 100_000]) {
      const t = await status(PROC.SYMLINK, new W().opaque(root).str('sl').sattr({}).opaque(Buffer.alloc(n, 0x61)));
      expect(t.status).toBe(63);
    }
    expect((await c.lookup(root, 'sl')).status).toBe(ERR.NOENT);
    const ok = await status(PROC.SYMLINK, new W().opaque(root).str('sl').sattr({}).opaque(Buffer.alloc(4095, 0x61)));
    expect(ok.status).toBe(ERR.OK);
  });
});

describe('made-up handles for an overlay', () => {
  it('cost one walk of the tree, not one per call; real handles still resolve after a restart', async () => {
    const base = join(tmp.dir, 'base');
    for (let d = 0; d < 5; d++) {
      mkdirSync(join(base, `d${d}`), { recursive: true });
      for (let f = 0; f < 20; f++) writeFileSync(join(base, `d${d}`, `f${f}`), `${d}/${f}`);
    }
    expect((await runCli(['init', 'ov', '--base', base], { cwd: tmp.dir })).code).toBe(0);
    const db = join(tmp.dir, '.agentfs', 'ov.db');
    let ov = await serveAgentNfs({ path: db }, { port: 0 });
    let oc = await NfsClient.connect(ov.server.port);
    let top = await oc.mount('/');
    const d3 = (await oc.lookup(top, 'd3')).fh;
    const a = (await oc.lookup(d3, 'f7')).fh;
    const b = (await oc.lookup((await oc.lookup(top, 'd1')).fh, 'f2')).fh;
    oc.close();
    await ov.close();

    ov = await serveAgentNfs({ path: db }, { port: 0 });
    try {
      oc = await NfsClient.connect(ov.server.port);
      top = await oc.mount('/');
      const walked = vi.spyOn(ov.agent.fs, 'readdirPlus');
      // made-up inode numbers (a bogus client, or handles of files long gone)
      for (let i = 0; i < 20; i++) {
        const fh = Buffer.from(top);
        fh.writeUInt32BE(0x100000 + i, 16);
        expect((await oc.getattr(fh)).status).toBe(ERR.STALE);
      }
      // the walk reads each of the 6 directories once
      expect(walked.mock.calls.length).toBeLessThanOrEqual(6);
      // the handles a client really holds were learned by that walk
      expect((await oc.read(a, 0, 10)).data.toString()).toBe('3/7');
      expect((await oc.read(b, 0, 10)).data.toString()).toBe('1/2');
      walked.mockRestore();
    } finally {
      oc.close();
      await ov.close();
    }
  });
});

const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const asRoot = process.getuid?.() === 0;

/** `agentfs serve nfs DB --port 0 --json` as nobody; resolves with its port, or rejects with its stderr. */
function serveAsNobody(db: string): { port: Promise<number>; stderr: () => string; stop: () => Promise<unknown> } {
  const child = spawn(setpriv!, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'serve', 'nfs', db, '--port', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise((r) => child.on('exit', (code) => r(code)));
  const port = new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))).port);
    });
    child.on('exit', (code) => reject(Object.assign(new Error(err), { code })));
  });
  port.catch(() => {});
  return {
    port,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

describe.skipIf(!asRoot || !setpriv)('a database file the server may not write', () => {
  it('is served read-only: changes get ROFS (not SERVERFAULT and a stack trace), reads work', async () => {
    const dir = join(tmp.dir, 'ro');
    mkdirSync(dir);
    const db = join(dir, 'ro.db');
    const fresh = join(dir, 'fresh.db');
    const seed = Agent.open({ path: db }, { create: true });
    seed.paths.writeFile('/kept.txt', 'kept');
    seed.close();
    copyFileSync(db, fresh);
    // served once before: its handle generation is stored
    const once = Agent.open({ path: db });
    handleGeneration(once.store);
    once.close();
    // as nobody (root writes any file): the files are read-only, their directory is not
    chmodSync(tmp.dir, 0o711);
    for (const p of [dir, db, fresh]) chownSync(p, 65534, 65534);
    for (const p of [db, fresh]) chmodSync(p, 0o444);

    // never served: it cannot store its handle generation, and says so in one line
    const never = serveAsNobody(fresh);
    const e = await never.port.then(() => undefined, (x: Error & { code: number }) => x);
    await never.stop();
    expect(e?.code).toBe(1);
    expect(e?.message).toMatch(/^agentfs: .*fresh\.db is read-only, and serving it the first time stores its file handle generation in it\n$/);

    const served = serveAsNobody(db);
    try {
      const rc = await NfsClient.connect(await served.port);
      const top = await rc.mount('/');
      expect((await rc.create(top, 'new', { how: 0 })).status).toBe(30); // NFS3ERR_ROFS
      expect((await rc.mkdir(top, 'newdir')).status).toBe(30);
      const kept = await rc.lookup(top, 'kept.txt');
      expect(kept.status).toBe(ERR.OK);
      expect((await rc.write(kept.fh, 0, Buffer.from('x'), 2)).status).toBe(30);
      expect((await rc.read(kept.fh, 0, 10)).data.toString()).toBe('kept');
      rc.close();
      expect(served.stderr()).not.toMatch(/internal error/);
    } finally {
      await served.stop();
    }
  });
});

/** A small tmpfs for a database that fills up (needs root to mount; undefined where it cannot). */
async function smallDisk(bytes: number): Promise<{ dir: string; cleanup: () => Promise<void> } | undefined> {
  if (!asRoot) return undefined;
  const dir = join(tmp.dir, `small-${bytes}`);
  mkdirSync(dir);
  const r = await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  if (r.code !== 0) return undefined;
  return { dir, cleanup: async () => void (await run('umount', ['-l', dir])) };
}

describe('a disk that fills up under UNSTABLE writes', () => {
  it('never lets COMMIT vouch for writes a failed group commit dropped: COMMIT fails or the verifier changes', async (t) => {
    const disk = await smallDisk(4 << 20);
    if (!disk) {
      t.skip(); // no tmpfs here (not root): nothing to fill
      return;
    }
    let full: AgentNfs | undefined;
    let fc: InstanceType<typeof NfsClient> | undefined;
    try {
      // something else on the disk, removed later (as space comes back when other files go)
      const filler = join(disk.dir, 'filler');
      writeFileSync(filler, Buffer.alloc(2 << 20));
      const db = join(disk.dir, 'full.db');
      Agent.open({ path: db }, { create: true }).close();
      full = await serveAgentNfs({ path: db }, { port: 0, onError: () => {} });
      fc = await NfsClient.connect(full.server.port);
      const top = await fc.mount('/');
      const f = await fc.create(top, 'fill', { how: 0 });
      expect(f.status).toBe(ERR.OK);
      let verifier: Buffer | undefined;
      let off = 0;
      for (let i = 0; i < 80; i++) {
        const w = await fc.write(f.fh, off, Buffer.alloc(64 << 10, 1 + (i % 200)), 0);
        if (w.status !== ERR.OK) break;
        verifier ??= w.verifier;
        off += 64 << 10;
        // let group commits happen (and fail) between writes, as with a slow client
        if (i % 8 === 7) await new Promise((r) => setTimeout(r, 30));
      }
      await new Promise((r) => setTimeout(r, 50));
      rmSync(filler);
      const cm = await fc.commit(f.fh);
      const vouched = cm.status === ERR.OK && verifier !== undefined && cm.verifier.equals(verifier);
      if (vouched) {
        // then every byte written must be there
        for (let o = 0; o < off; o += 64 << 10) {
          const r = await fc.read(f.fh, o, 64 << 10);
          expect(r.data.length).toBe(64 << 10);
          expect(r.data[0]).toBe(1 + ((o >> 16) % 200));
        }
      }
      // the database is whole
      expect(Object.values(full.agent.store.db.prepare('PRAGMA integrity_check').get() as object)[0]).toBe('ok');
      expect(await fc.null()).toBe(true);
    } finally {
      fc?.close();
      await full?.close().catch(() => {});
      await disk.cleanup();
    }
  });
});

describe('MOUNT bookkeeping', () => {
  it('remembers at most 1024 mounts for DUMP in all, however many client addresses mount', async () => {
    const clients: InstanceType<typeof NfsClient>[] = [];
    try {
      for (const local of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
        const socket = connect({ port: nfs.server.port, host: '127.0.0.1', localAddress: local });
        await new Promise((r, j) => socket.once('connect', r).once('error', j));
        const mc = new NfsClient(socket, {});
        clients.push(mc);
        // 1100 different spellings of the root
        await Promise.all(Array.from({ length: 1100 }, (_, i) => mc.mount('/' + '/'.repeat(i % 500) + './'.repeat(Math.floor(i / 500)))));
      }
      const dump = await c.call(MOUNT, 3, 2);
      let n = 0;
      while (dump.r.bool()) {
        dump.r.str();
        dump.r.str();
        n++;
      }
      expect(n).toBeLessThanOrEqual(1024);
      // UMNTALL frees a client's entries for others
      await clients[0]!.call(MOUNT, 3, 4);
      await c.mount('/././');
      const again = await c.call(MOUNT, 3, 2);
      let hosts = 0;
      while (again.r.bool()) {
        if (again.r.str() === '127.0.0.1') hosts++;
        again.r.str();
      }
      expect(hosts).toBeGreaterThan(0);
    } finally {
      for (const mc of clients) mc.close();
    }
  });
});

describe('permissions a multi-user client relies on', () => {
  it('a sticky directory: others may not remove or rename away root\'s entries (PERM); their own, yes', async () => {
    const t = await c.mkdir(root, 'sticky', { mode: 0o1777 });
    expect(t.status).toBe(ERR.OK);
    expect((await c.setattr(t.fh, { mode: 0o1777 })).status).toBe(ERR.OK);
    expect((await c.create(t.fh, 'roots', { how: 0 })).status).toBe(ERR.OK);
    expect((await c.mkdir(t.fh, 'rootdir', { mode: 0o777 })).status).toBe(ERR.OK);
    const u = await NfsClient.connect(nfs.server.port, '127.0.0.1', { uid: 1000, gid: 1000 });
    try {
      expect((await u.remove(t.fh, 'roots')).status).toBe(ERR.PERM);
      expect((await u.rmdir(t.fh, 'rootdir')).status).toBe(ERR.PERM);
      expect((await u.rename(t.fh, 'roots', t.fh, 'stolen')).status).toBe(ERR.PERM);
      // nor replace it by renaming over it
      expect((await u.create(t.fh, 'mine', { how: 0 })).status).toBe(ERR.OK);
      expect((await u.rename(t.fh, 'mine', t.fh, 'roots')).status).toBe(ERR.PERM);
      expect((await c.lookup(t.fh, 'roots')).status).toBe(ERR.OK);
      expect((await c.lookup(t.fh, 'rootdir')).status).toBe(ERR.OK);
      // their own entries they may
      expect((await u.rename(t.fh, 'mine', t.fh, 'mine2')).status).toBe(ERR.OK);
      expect((await u.remove(t.fh, 'mine2')).status).toBe(ERR.OK);
    } finally {
      u.close();
    }
  });

  it('moving someone else\'s directory to another parent needs write permission on it (its ".." changes)', async () => {
    const p = await c.mkdir(root, 'open', { mode: 0o777 });
    expect((await c.setattr(p.fh, { mode: 0o777 })).status).toBe(ERR.OK);
    expect((await c.mkdir(p.fh, 'rootsub', { mode: 0o755 })).status).toBe(ERR.OK);
    const q = await c.mkdir(p.fh, 'elsewhere', { mode: 0o777 });
    expect((await c.setattr(q.fh, { mode: 0o777 })).status).toBe(ERR.OK);
    const u = await NfsClient.connect(nfs.server.port, '127.0.0.1', { uid: 1000, gid: 1000 });
    try {
      expect((await u.rename(p.fh, 'rootsub', q.fh, 'moved')).status).toBe(ERR.ACCES);
      // renaming it within its directory changes no '..': allowed
      expect((await u.rename(p.fh, 'rootsub', p.fh, 'renamed')).status).toBe(ERR.OK);
    } finally {
      u.close();
    }
  });

  it('writing, truncating or chowning a setuid/setgid file drops those bits, as the kernel does (root writing keeps them)', async () => {
    const d = await c.mkdir(root, 'setid', { mode: 0o777 });
    expect((await c.setattr(d.fh, { mode: 0o777 })).status).toBe(ERR.OK);
    const prog = async (name: string, mode: number): Promise<Buffer> => {
      const f = await c.create(d.fh, name, { how: 0 });
      expect((await c.setattr(f.fh, { mode })).status).toBe(ERR.OK);
      return f.fh;
    };
    const modeOf = async (fh: Buffer): Promise<number> => (await c.getattr(fh)).attr.mode;
    const u = await NfsClient.connect(nfs.server.port, '127.0.0.1', { uid: 1000, gid: 1000 });
    try {
      // a world-writable setuid-root program written by a user
      const w = await prog('w', 0o6777);
      expect((await u.write(w, 0, Buffer.from('#!/bin/sh\n'), 2)).status).toBe(ERR.OK);
      expect(await modeOf(w)).toBe(0o0777);
      // setgid without group-exec stays for a writer in the file's group, and goes for another (Linux 6.2 on)
      const g = await prog('g', 0o2666);
      expect((await u.write(g, 0, Buffer.from('x'), 2)).status).toBe(ERR.OK);
      expect(await modeOf(g)).toBe(0o0666);
      const gg = await prog('gg', 0o666);
      expect((await c.setattr(gg, { gid: 1000 })).status).toBe(ERR.OK);
      expect((await c.setattr(gg, { mode: 0o2666 })).status).toBe(ERR.OK);
      expect((await u.write(gg, 0, Buffer.from('x'), 2)).status).toBe(ERR.OK);
      expect(await modeOf(gg)).toBe(0o2666);
      // truncation by a user
      const t = await prog('t', 0o4777);
      expect((await u.setattr(t, { size: 0 })).status).toBe(ERR.OK);
      expect(await modeOf(t)).toBe(0o0777);
      // chown, even by root
      const o = await prog('o', 0o4755);
      expect((await c.setattr(o, { uid: 1000 })).status).toBe(ERR.OK);
      expect(await modeOf(o)).toBe(0o0755);
      // root writing keeps them
      const r = await prog('r', 0o4755);
      expect((await c.write(r, 0, Buffer.from('x'), 2)).status).toBe(ERR.OK);
      expect(await modeOf(r)).toBe(0o4755);
    } finally {
      u.close();
    }
  });

  it('a create whose attributes are refused makes nothing (it does not stay behind an error)', async () => {
    const d = await c.mkdir(root, 'shared', { mode: 0o777 });
    expect((await c.setattr(d.fh, { mode: 0o777 })).status).toBe(ERR.OK);
    const u = await NfsClient.connect(nfs.server.port, '127.0.0.1', { uid: 1000, gid: 1000 });
    try {
      expect((await u.create(d.fh, 'as-root', { how: 0, sattr: { mode: 0o644, uid: 0 } })).status).toBe(ERR.PERM);
      expect((await u.mkdir(d.fh, 'dir-as-root', { mode: 0o755, uid: 0 })).status).toBe(ERR.PERM);
      const sym = await u.nfs(PROC.SYMLINK, new W().opaque(d.fh).str('sym-as-root').sattr({ uid: 0 }).str('x'));
      expect(sym.u32()).toBe(ERR.PERM);
      for (const name of ['as-root', 'dir-as-root', 'sym-as-root']) expect((await c.lookup(d.fh, name)).status).toBe(ERR.NOENT);
      // a size in MKDIR's attributes means nothing for a directory
      expect((await c.mkdir(d.fh, 'sized', { mode: 0o755, size: 10 })).status).toBe(ERR.OK);
    } finally {
      u.close();
    }
  });
});

describe('a database damaged on disk', () => {
  it('reads of damaged pages get IO (not SERVERFAULT), logged in one line each; the server serves on', async () => {
    const db = join(tmp.dir, 'damaged.db');
    const seed = Agent.open({ path: db }, { create: true });
    seed.paths.writeFile('/big.bin', Buffer.alloc(2 << 20, 0x11));
    seed.store.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    seed.close();
    // garbage over pages near the end of the file (chunks of big.bin)
    const size = statSync(db).size;
    const fd = openSync(db, 'r+');
    writeSync(fd, Buffer.alloc(256 << 10, 0x5a), 0, 256 << 10, size - (512 << 10));
    closeSync(fd);

    const served = await startNfs(db, tmp.dir);
    try {
      const dc = await NfsClient.connect(served.port);
      const top = await dc.mount('/');
      const f = await dc.lookup(top, 'big.bin');
      expect(f.status).toBe(ERR.OK);
      const statuses = new Set<number>();
      for (let off = 0; off < 2 << 20; off += 64 << 10) statuses.add((await dc.read(f.fh, off, 64 << 10)).status);
      expect(statuses.has(ERR.IO)).toBe(true);
      expect(statuses.has(ERR.SERVERFAULT)).toBe(false);
      expect(await dc.null()).toBe(true);
      dc.close();
      const lines = served.stderr().trim().split('\n');
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line).toMatch(/^agentfs serve nfs: .*damaged\.db: .*\(SQLITE_CORRUPT[A-Z_]*\)$/);
    } finally {
      await served.stop();
    }
  });
});

describe('clients that start large records and never finish them (slow loris)', () => {
  it('cannot hold more than the server\'s budget of unfinished records: the ones past it are dropped, others served', async () => {
    const db = join(tmp.dir, 'loris.db');
    Agent.open({ path: db }, { create: true }).close();
    const small = await serveAgentNfs({ path: db }, { port: 0, maxPartial: 4 * MiB });
    const lorises: import('node:net').Socket[] = [];
    try {
      let closed = 0;
      for (let i = 0; i < 10; i++) {
        const s = connect({ port: small.server.port, host: '127.0.0.1' });
        s.on('error', () => {});
        s.on('close', () => closed++);
        await new Promise((r) => s.once('connect', r));
        const mark = Buffer.alloc(4);
        mark.writeUInt32BE((0x80000000 | MiB) >>> 0);
        // the record's first 600 KiB, the rest never comes
        await new Promise((r) => s.write(Buffer.concat([mark, Buffer.alloc(600 << 10, i)]), r));
        lorises.push(s);
      }
      // the server has read them all once it answers a call made after them
      const probe = await NfsClient.connect(small.server.port);
      expect(await probe.null()).toBe(true);
      for (let i = 0; i < 100 && closed < 4; i++) await new Promise((r) => setTimeout(r, 10));
      // 4 MiB hold at most 6 of the 600 KiB heads
      expect(closed).toBeGreaterThanOrEqual(4);
      // a whole 1 MiB WRITE still fits in what is left
      const top = await probe.mount('/');
      const f = await probe.create(top, 'after-loris', { how: 0 });
      expect((await probe.write(f.fh, 0, Buffer.alloc(MiB, 9), 2)).status).toBe(ERR.OK);
      probe.close();
    } finally {
      for (const s of lorises) s.destroy();
      await small.close();
    }
  });
});

describe('two servers starting on a never-served database at the same moment', () => {
  it('both use the one handle generation stored, not each its own', async () => {
    const db = join(tmp.dir, 'race.db');
    Agent.open({ path: db }, { create: true }).close();
    const ours = Agent.open({ path: db });
    const theirs = 'a1b2c3d4e5f60718';
    // the other server: holds the write lock while it stores its generation
    const other = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('libsql'))(${JSON.stringify(db)});
         db.exec('BEGIN IMMEDIATE');
         db.prepare("INSERT INTO agentfs_meta (key, value) VALUES ('nfs.generation', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(${JSON.stringify(theirs)});
         console.log('locked');
         setTimeout(() => { db.exec('COMMIT'); db.close(); }, 300);`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((r) => other.on('exit', r));
    await new Promise<void>((resolve) => other.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()));
    try {
      const gen = handleGeneration(ours.store).toString('hex');
      expect(gen).toBe(theirs);
      expect(ours.store.getMeta('nfs.generation')).toBe(theirs);
    } finally {
      ours.close();
      await exited;
    }
  });
});

describe('CREATE EXCLUSIVE', () => {
  it('is not fooled by an existing file whose times equal the verifier: EXIST unless it is the empty file the caller made', async () => {
    const v = Buffer.from([0x10, 0, 0, 1, 0x10, 0, 0, 2]);
    const times = { atime: { sec: 0x10000001, nsec: 0 }, mtime: { sec: 0x10000002, nsec: 0 } };
    // someone's file with content, its times set to what a verifier would leave
    const f = await c.create(root, 'excl-data', { how: 0 });
    expect((await c.write(f.fh, 0, Buffer.from('precious'), 2)).status).toBe(ERR.OK);
    expect((await c.setattr(f.fh, times)).status).toBe(ERR.OK);
    expect((await c.create(root, 'excl-data', { how: 2, verifier: v })).status).toBe(ERR.EXIST);
    // an empty one of another user
    const u = await NfsClient.connect(nfs.server.port, '127.0.0.1', { uid: 1000, gid: 1000 });
    try {
      const d = await c.mkdir(root, 'excl-shared', { mode: 0o777 });
      expect((await c.setattr(d.fh, { mode: 0o777 })).status).toBe(ERR.OK);
      const e = await c.create(d.fh, 'lock', { how: 0 });
      expect((await c.setattr(e.fh, times)).status).toBe(ERR.OK);
      expect((await u.create(d.fh, 'lock', { how: 2, verifier: v })).status).toBe(ERR.EXIST);
      // the caller's own retransmission still succeeds
      const mine = await u.create(d.fh, 'mine', { how: 2, verifier: v });
      expect(mine.status).toBe(ERR.OK);
      const again = await u.create(d.fh, 'mine', { how: 2, verifier: v });
      expect(again.status).toBe(ERR.OK);
      expect(again.attr.fileid).toBe(mine.attr.fileid);
    } finally {
      u.close();
    }
  });
});

describe('SIGKILL in the middle of a write flood', () => {
  it('loses nothing acknowledged as FILE_SYNC or COMMITted, and the database stays whole', async () => {
    const dir = join(tmp.dir, 'kill');
    mkdirSync(dir);
    expect((await runCli(['init', 'k'], { cwd: dir })).code).toBe(0);
    let served = await startNfs('k', dir);
    let kc = await NfsClient.connect(served.port);
    let top = await kc.mount('/');
    const files: Buffer[] = [];
    for (let i = 0; i < 4; i++) files.push((await kc.create(top, `k${i}`, { how: 0 })).fh);
    /** "file:offset" -> the byte of the last acknowledged durable write there */
    const durable = new Map<string, number>();
    let n = 0;
    let stop = false;
    const workers = Array.from({ length: 16 }, async (_, w) => {
      while (!stop) {
        const i = n++;
        const file = i % 4;
        const off = (i % 500) * 4096;
        const byte = 1 + (i % 250);
        try {
          const r = await kc.write(files[file], off, Buffer.alloc(4096, byte), w % 2 ? 2 : 0);
          if (r.status !== ERR.OK) continue;
          if (w % 2) durable.set(`${file}:${off}`, byte);
          else {
            const cm = await kc.commit(files[file]);
            if (cm.status === ERR.OK && cm.verifier.equals(r.verifier)) durable.set(`${file}:${off}`, byte);
          }
        } catch {
          return; // the server is gone
        }
      }
    });
    while (durable.size < 200) await new Promise((r) => setTimeout(r, 5));
    served.child.kill('SIGKILL');
    stop = true;
    await Promise.allSettled(workers);
    await served.stop();
    kc.close();

    served = await startNfs('k', dir);
    try {
      kc = await NfsClient.connect(served.port);
      top = await kc.mount('/');
      for (const [key] of durable) {
        const [file, off] = key.split(':').map(Number) as [number, number];
        const r = await kc.read(files[file], off, 4096);
        // that block, or a later write over it: a whole block of one nonzero byte
        expect(r.data.length).toBe(4096);
        expect(r.data[0]).not.toBe(0);
        expect(r.data.every((b: number) => b === r.data[0])).toBe(true);
      }
      kc.close();
    } finally {
      await served.stop();
    }
    const check = Agent.open({ path: join(dir, '.agentfs', 'k.db') });
    try {
      expect(Object.values(check.store.db.prepare('PRAGMA integrity_check').get() as object)[0]).toBe('ok');
    } finally {
      check.close();
    }
  });
});
