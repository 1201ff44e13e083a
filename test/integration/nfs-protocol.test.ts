import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { runCli, tempDir } from '../support/cli.js';
import { startNfs, type NfsServe } from '../support/nfs-server.js';
// @ts-expect-error plain JS test support (shared with the bench)
import { ACCEPT, ERR, MOUNT, NFS, NfsClient, PORTMAP, PROC, W } from '../support/nfs-client.mjs';

/** NFSv3 semantics the libnfs tools do not reach, through the tests' own RPC client. */
let tmp: { dir: string; cleanup: () => void };
let server: NfsServe;
let c: InstanceType<typeof NfsClient>;
let root: Buffer;

async function connect(): Promise<void> {
  c = await NfsClient.connect(server.port);
  root = await c.mount('/');
}

async function newFile(name: string, content = '', dir = root): Promise<Buffer> {
  const r = await c.create(dir, name, { how: 1, sattr: { mode: 0o644 } });
  expect(r.status).toBe(ERR.OK);
  if (content) expect((await c.write(r.fh, 0, Buffer.from(content))).status).toBe(ERR.OK);
  return r.fh;
}

beforeAll(async () => {
  tmp = tempDir('agentfs-nfs-proto-');
  expect((await runCli(['init', 'p1'], { cwd: tmp.dir })).code).toBe(0);
  expect((await runCli(['init', 'other'], { cwd: tmp.dir })).code).toBe(0);
  server = await startNfs('p1', tmp.dir);
  await connect();
});

afterAll(async () => {
  c?.close();
  await server?.stop();
  tmp.cleanup();
});

describe('RPC layer', () => {
  it('answers NULL, the portmapper, and unknown programs, versions and procedures with the RFC errors', async () => {
    expect(await c.null()).toBe(true);
    const getport = await c.call(PORTMAP, 2, 3, new W().u32(NFS).u32(3).u32(6).u32(0).buf());
    expect(getport.accept).toBe(ACCEPT.SUCCESS);
    expect(getport.r.u32()).toBe(server.port);
    const udp = await c.call(PORTMAP, 2, 3, new W().u32(NFS).u32(3).u32(17).u32(0).buf());
    expect(udp.r.u32()).toBe(0);
    expect((await c.call(100099, 1, 0)).accept).toBe(ACCEPT.PROG_UNAVAIL);
    const v2 = await c.call(NFS, 2, 0);
    expect(v2.accept).toBe(ACCEPT.PROG_MISMATCH);
    expect(v2.mismatch).toEqual([3, 3]);
    expect((await c.call(MOUNT, 1, 0)).accept).toBe(ACCEPT.PROG_MISMATCH);
    expect((await c.call(NFS, 3, 99)).accept).toBe(ACCEPT.PROC_UNAVAIL);
    // GETATTR with its handle cut short
    expect((await c.call(NFS, 3, PROC.GETATTR, new W().u32(20).buf())).accept).toBe(ACCEPT.GARBAGE_ARGS);
    expect(await c.null()).toBe(true);
  });

  it('refuses RPC version 3 (RPC_MISMATCH), unknown credential flavors and malformed AUTH_SYS (AUTH_ERROR)', async () => {
    const raw = await NfsClient.connect(server.port);
    try {
      const replies: Buffer[] = [];
      raw.socket.removeAllListeners('data');
      raw.socket.on('data', (d: Buffer) => replies.push(d));
      const rec = (body: Buffer): Buffer => Buffer.concat([new W().u32(0x80000000 | body.length).buf(), body]);
      raw.raw(rec(new W().u32(7).u32(0).u32(3).u32(NFS).u32(3).u32(0).u32(0).u32(0).u32(0).u32(0).buf()));
      raw.raw(rec(new W().u32(8).u32(0).u32(2).u32(NFS).u32(3).u32(0).u32(6).u32(0).u32(0).u32(0).buf()));
      // AUTH_SYS whose body is cut short: a bad credential too
      raw.raw(rec(new W().u32(9).u32(0).u32(2).u32(NFS).u32(3).u32(0).u32(1).opaque(Buffer.alloc(8)).u32(0).u32(0).buf()));
      await waitFor(() => Buffer.concat(replies).length >= 3 * 4 + 20 + 16 + 16);
      const all = Buffer.concat(replies);
      // xid 7: MSG_DENIED, RPC_MISMATCH 2..2
      expect([all.readUInt32BE(4), all.readUInt32BE(12), all.readUInt32BE(16), all.readUInt32BE(20), all.readUInt32BE(24)]).toEqual([7, 1, 0, 2, 2]);
      const second = all.subarray(4 + (all.readUInt32BE(0) & 0x7fffffff));
      // xid 8: MSG_DENIED, AUTH_ERROR, AUTH_BADCRED
      expect([second.readUInt32BE(4), second.readUInt32BE(12), second.readUInt32BE(16), second.readUInt32BE(20)]).toEqual([8, 1, 1, 1]);
      const third = second.subarray(4 + (second.readUInt32BE(0) & 0x7fffffff));
      expect([third.readUInt32BE(4), third.readUInt32BE(12), third.readUInt32BE(16), third.readUInt32BE(20)]).toEqual([9, 1, 1, 1]);
    } finally {
      raw.close();
    }
  });

  it('answers an oversized record with GARBAGE_ARGS without buffering it, and keeps serving the connection', async () => {
    const big = await NfsClient.connect(server.port);
    try {
      const pending = new Promise<{ accept: number }>((resolve) => big.pending.set(4242, { resolve, reject: () => {} }));
      const head = new W().u32(4242).u32(0).u32(2).u32(NFS).u32(3).u32(PROC.WRITE).u32(0).u32(0).u32(0).u32(0).buf();
      const total = 8 << 20;
      big.raw(new W().u32((0x80000000 | total) >>> 0).buf());
      big.raw(head);
      for (let sent = head.length; sent < total; sent += 1 << 20) big.raw(Buffer.alloc(Math.min(1 << 20, total - sent)));
      expect((await pending).accept).toBe(ACCEPT.GARBAGE_ARGS);
      expect(await big.null()).toBe(true);
    } finally {
      big.close();
    }
  });

  it('MNT refuses a missing path (NOENT) and a file (NOTDIR), and mounts a subdirectory', async () => {
    await newFile('plain');
    await expect(c.mount('/no/such')).rejects.toMatchObject({ status: 2 });
    await expect(c.mount('/plain')).rejects.toMatchObject({ status: 20 });
    const d = await c.mkdir(root, 'sub');
    expect(d.status).toBe(ERR.OK);
    expect((await c.mount('/sub')).equals(d.fh)).toBe(true);
    // '.' and '..' inside it
    const rootId = (await c.getattr(root)).attr.fileid;
    expect((await c.lookup(d.fh, '..')).attr.fileid).toBe(rootId);
    expect((await c.lookup(d.fh, '.')).attr.fileid).toBe(d.attr.fileid);
    expect((await c.lookup(root, '..')).attr.fileid).toBe(rootId);
  });
});

describe('NFSv3 procedures', () => {
  it('SETATTR with a guard: applies when ctime matches, NOT_SYNC (and no change) when it does not', async () => {
    const fh = await newFile('guarded', 'data');
    const a = (await c.getattr(fh)).attr;
    const ok = await c.setattr(fh, { mode: 0o600 }, a.ctime);
    expect(ok.status).toBe(ERR.OK);
    expect(ok.wcc.after.mode).toBe(0o600);
    const stale = await c.setattr(fh, { mode: 0o640 }, a.ctime);
    expect(stale.status).toBe(ERR.NOT_SYNC);
    expect((await c.getattr(fh)).attr.mode).toBe(0o600);
    // truncation through SETATTR
    const cut = await c.setattr(fh, { size: 2 });
    expect(cut.status).toBe(ERR.OK);
    expect((await c.read(fh, 0, 100)).data.toString()).toBe('da');
  });

  it('CREATE: EXCLUSIVE is idempotent for its verifier and EXIST for another; GUARDED refuses, UNCHECKED truncates', async () => {
    const v1 = Buffer.from('verif001');
    const first = await c.create(root, 'excl', { how: 2, verifier: v1 });
    expect(first.status).toBe(ERR.OK);
    const again = await c.create(root, 'excl', { how: 2, verifier: v1 });
    expect(again.status).toBe(ERR.OK);
    expect(again.attr.fileid).toBe(first.attr.fileid);
    expect((await c.create(root, 'excl', { how: 2, verifier: Buffer.from('verif002') })).status).toBe(ERR.EXIST);
    // the client then sets the real attributes
    const set = await c.setattr(first.fh, { mode: 0o640, mtime: { sec: 1_700_000_000, nsec: 5 } });
    expect(set.status).toBe(ERR.OK);
    expect(set.wcc.after.mtime).toEqual({ sec: 1_700_000_000, nsec: 5 });

    const fh = await newFile('unchecked', 'some content');
    expect((await c.create(root, 'unchecked', { how: 1 })).status).toBe(ERR.EXIST);
    const over = await c.create(root, 'unchecked', { how: 0, sattr: { size: 0 } });
    expect(over.status).toBe(ERR.OK);
    expect(over.attr.fileid).toBe((await c.getattr(fh)).attr.fileid);
    expect(over.attr.size).toBe(0);
  });

  it('RENAME over an existing file replaces it; the replaced file\'s handle goes STALE', async () => {
    const a = await newFile('ra', 'from a');
    const b = await newFile('rb', 'was b');
    const r = await c.rename(root, 'ra', root, 'rb');
    expect(r.status).toBe(ERR.OK);
    expect(r.toWcc.after.type).toBe(2);
    expect((await c.lookup(root, 'ra')).status).toBe(ERR.NOENT);
    const now = await c.lookup(root, 'rb');
    expect(now.fh.equals(a)).toBe(true);
    expect((await c.read(now.fh, 0, 100)).data.toString()).toBe('from a');
    expect((await c.getattr(b)).status).toBe(ERR.STALE);
    // a file over a directory is refused
    expect((await c.mkdir(root, 'rdir')).status).toBe(ERR.OK);
    expect((await c.rename(root, 'rb', root, 'rdir')).status).toBe(ERR.ISDIR);
  });

  it('LINK makes a second name for the same file', async () => {
    const fh = await newFile('orig', 'linked');
    const l = await c.link(fh, root, 'second');
    expect(l.status).toBe(ERR.OK);
    expect(l.attr.nlink).toBe(2);
    const s = await c.lookup(root, 'second');
    expect(s.attr.fileid).toBe(l.attr.fileid);
    expect((await c.read(s.fh, 0, 100)).data.toString()).toBe('linked');
    expect((await c.link(fh, root, 'second')).status).toBe(ERR.EXIST);
    expect((await c.remove(root, 'orig')).status).toBe(ERR.OK);
    expect((await c.getattr(fh)).attr.nlink).toBe(1);
  });

  it('READDIRPLUS pages with stable cookies while entries are added and removed: every entry once, new ones at the end', async () => {
    const d = await c.mkdir(root, 'paged');
    const dir = d.fh;
    const initial = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const name = `e${String(i).padStart(4, '0')}`;
      await newFile(name, '', dir);
      initial.add(name);
    }
    const seen: string[] = [];
    let cookie = 0;
    let verifier = Buffer.alloc(8);
    let added = 0;
    let lastCookie = 0;
    for (let page = 0; page < 1000; page++) {
      const r = await c.readdirplus(dir, cookie, verifier, 4096);
      expect(r.status).toBe(ERR.OK);
      if (page > 0) expect(r.verifier.equals(verifier)).toBe(true);
      verifier = r.verifier;
      for (const e of r.entries) {
        expect(e.cookie).toBeGreaterThan(lastCookie);
        lastCookie = e.cookie;
        if (e.name !== '.' && e.name !== '..') {
          seen.push(e.name);
          expect(e.fh).toBeDefined();
          expect(e.attr.fileid).toBe(e.fileid);
        }
      }
      if (r.eof) break;
      const last = r.entries[r.entries.length - 1];
      cookie = last.cookie;
      // the directory changes between pages, even the entry the cookie points after goes
      for (let k = 0; k < 3; k++) await newFile(`new${added++}`, '', dir);
      if (last.name !== '.' && last.name !== '..') expect((await c.remove(dir, last.name)).status).toBe(ERR.OK);
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const name of initial) expect(seen).toContain(name);
    // entries added while paging came after everything that was there
    expect(seen.slice(0, 300).every((n) => initial.has(n))).toBe(true);
    // READDIR (without attributes) agrees and a too small buffer is TOOSMALL
    const plain = await c.readdir(dir, 0, Buffer.alloc(8), 1 << 20);
    const left = plain.entries.filter((e: { name: string }) => e.name.startsWith('e')).length;
    expect(left).toBeGreaterThan(200);
    expect(left).toBeLessThan(300);
    expect((await c.readdir(dir, 0, Buffer.alloc(8), 100)).status).toBe(ERR.TOOSMALL);
  });

  it('WRITE stable modes and COMMIT; the write verifier changes when the server restarts, handles stay valid', async () => {
    const fh = await newFile('durable');
    const w1 = await c.write(fh, 0, Buffer.from('unstable '), 0);
    expect(w1.committed).toBe(0);
    const w2 = await c.write(fh, 9, Buffer.from('filesync'), 2);
    expect(w2.committed).toBe(2);
    expect(w2.verifier.equals(w1.verifier)).toBe(true);
    const c1 = await c.commit(fh);
    expect(c1.status).toBe(ERR.OK);
    expect(c1.verifier.equals(w1.verifier)).toBe(true);

    c.close();
    expect(await server.stop()).toBe(0);
    server = await startNfs('p1', tmp.dir);
    c = await NfsClient.connect(server.port);
    // the old root and file handles still work after the restart (no new MNT)
    expect((await c.getattr(root)).status).toBe(ERR.OK);
    expect((await c.read(fh, 0, 100)).data.toString()).toBe('unstable filesync');
    const c2 = await c.commit(fh);
    expect(c2.status).toBe(ERR.OK);
    expect(c2.verifier.equals(c1.verifier)).toBe(false);
    const w3 = await c.write(fh, 0, Buffer.from('U'), 0);
    expect(w3.verifier.equals(c2.verifier)).toBe(true);
  });

  it('COMMIT makes unstable writes durable: they survive a SIGKILL of the server right after', async () => {
    const fh = await newFile('killed');
    const data = Buffer.alloc(300_000, 'k');
    expect((await c.write(fh, 0, data, 0)).status).toBe(ERR.OK);
    expect((await c.commit(fh)).status).toBe(ERR.OK);
    c.close();
    server.child.kill('SIGKILL');
    await server.stop();
    server = await startNfs('p1', tmp.dir);
    c = await NfsClient.connect(server.port);
    const r = await c.read(fh, 0, 400_000);
    expect(r.status).toBe(ERR.OK);
    expect(r.data.equals(data)).toBe(true);
  });

  it('stale and bad handles: another database STALE, a removed file STALE, a malformed handle BADHANDLE', async () => {
    const other = await startNfs('other', tmp.dir);
    try {
      const oc = await NfsClient.connect(other.port);
      const otherRoot = await oc.mount('/');
      oc.close();
      expect(otherRoot.length).toBe(root.length);
      expect((await c.getattr(otherRoot)).status).toBe(ERR.STALE);
    } finally {
      await other.stop();
    }
    const fh = await newFile('doomed', 'x');
    expect((await c.remove(root, 'doomed')).status).toBe(ERR.OK);
    expect((await c.getattr(fh)).status).toBe(ERR.STALE);
    expect((await c.read(fh, 0, 10)).status).toBe(ERR.STALE);
    expect((await c.lookup(fh, 'x')).status).toBe(ERR.STALE);
    expect((await c.getattr(Buffer.from('nonsense'))).status).toBe(ERR.BADHANDLE);
    expect((await c.getattr(Buffer.alloc(0))).status).toBe(ERR.BADHANDLE);
    expect((await c.write(randomBytes(20), 0, Buffer.from('x'))).status).toBe(ERR.BADHANDLE);
    expect(await c.null()).toBe(true);
  });

  it('checks permissions for the AUTH_SYS caller, as the kernel would', async () => {
    const fh = await newFile('rootonly', 'secret');
    expect((await c.setattr(fh, { mode: 0o600 })).status).toBe(ERR.OK);
    const user = await NfsClient.connect(server.port, '127.0.0.1', { uid: 1000, gid: 1000 });
    try {
      expect((await user.read(fh, 0, 10)).status).toBe(ERR.ACCES);
      expect((await user.write(fh, 0, Buffer.from('x'))).status).toBe(ERR.ACCES);
      expect((await user.create(root, 'mine')).status).toBe(ERR.ACCES);
      expect((await user.setattr(fh, { mode: 0o777 })).status).toBe(ERR.PERM);
      expect((await user.remove(root, 'rootonly')).status).toBe(ERR.ACCES);
    } finally {
      user.close();
    }
  });

  it('SYMLINK, READLINK, MKNOD, ACCESS, RMDIR, FSSTAT, FSINFO, PATHCONF', async () => {
    // SYMLINK + READLINK
    let r = await c.nfs(PROC.SYMLINK, new W().opaque(root).str('ln').sattr({}).str('target/of/link'));
    expect(r.u32()).toBe(ERR.OK);
    expect(r.bool()).toBe(true);
    const ln = r.opaque();
    expect(r.postOpAttr().type).toBe(5);
    r = await c.nfs(PROC.READLINK, new W().opaque(ln));
    expect(r.u32()).toBe(ERR.OK);
    r.postOpAttr();
    expect(r.str()).toBe('target/of/link');
    const f = await newFile('notalink');
    expect((await c.nfs(PROC.READLINK, new W().opaque(f))).u32()).toBe(ERR.INVAL);
    // MKNOD: a fifo; a regular file type is BADTYPE
    r = await c.nfs(PROC.MKNOD, new W().opaque(root).str('fifo').u32(7).sattr({ mode: 0o600 }));
    expect(r.u32()).toBe(ERR.OK);
    r.postOpFh();
    const fifo = r.postOpAttr();
    expect([fifo.type, fifo.mode]).toEqual([7, 0o600]);
    expect((await c.nfs(PROC.MKNOD, new W().opaque(root).str('reg').u32(1))).u32()).toBe(ERR.BADTYPE);
    // ACCESS: root may read/modify/execute a directory's lookups; a user gets less on 0644
    r = await c.nfs(PROC.ACCESS, new W().opaque(root).u32(0x3f));
    expect(r.u32()).toBe(ERR.OK);
    r.postOpAttr();
    expect(r.u32()).toBe(0x1f); // no EXECUTE on a directory
    const user = await NfsClient.connect(server.port, '127.0.0.1', { uid: 1000, gid: 1000 });
    try {
      const ur = await user.nfs(PROC.ACCESS, new W().opaque(f).u32(0x3f));
      expect(ur.u32()).toBe(ERR.OK);
      ur.postOpAttr();
      expect(ur.u32()).toBe(0x1); // READ only
    } finally {
      user.close();
    }
    // RMDIR
    expect((await c.mkdir(root, 'gone')).status).toBe(ERR.OK);
    expect((await c.rmdir(root, 'gone')).status).toBe(ERR.OK);
    expect((await c.lookup(root, 'gone')).status).toBe(ERR.NOENT);
    // FSSTAT, FSINFO, PATHCONF
    r = await c.nfs(PROC.FSSTAT, new W().opaque(root));
    expect(r.u32()).toBe(ERR.OK);
    r.postOpAttr();
    const [tbytes, fbytes] = [r.u64(), r.u64()];
    expect(tbytes).toBeGreaterThanOrEqual(fbytes);
    r = await c.nfs(PROC.FSINFO, new W().opaque(root));
    expect(r.u32()).toBe(ERR.OK);
    r.postOpAttr();
    const [rtmax, , , wtmax] = [r.u32(), r.u32(), r.u32(), r.u32()];
    expect([rtmax, wtmax]).toEqual([1 << 20, 1 << 20]);
    r = await c.nfs(PROC.PATHCONF, new W().opaque(root));
    expect(r.u32()).toBe(ERR.OK);
    r.postOpAttr();
    r.u32();
    expect(r.u32()).toBe(255);
  });

  it('maps errors one for one: NOENT, EXIST, NOTDIR, ISDIR, NOTEMPTY, NAMETOOLONG', async () => {
    expect((await c.lookup(root, 'missing')).status).toBe(ERR.NOENT);
    const f = await newFile('errfile');
    expect((await c.create(root, 'errfile', { how: 1 })).status).toBe(ERR.EXIST);
    expect((await c.lookup(f, 'x')).status).toBe(ERR.NOTDIR);
    const d = await c.mkdir(root, 'errdir');
    expect((await c.read(d.fh, 0, 10)).status).toBe(ERR.ISDIR);
    await newFile('inside', '', d.fh);
    expect((await c.rmdir(root, 'errdir')).status).toBe(ERR.NOTEMPTY);
    expect((await c.create(root, 'n'.repeat(300), { how: 1 })).status).toBe(ERR.NAMETOOLONG);
    // names no client may create or move
    expect((await c.create(root, '.', { how: 1 })).status).toBe(ERR.EXIST);
    expect((await c.create(root, 'a/b', { how: 1 })).status).toBe(ERR.INVAL);
    expect((await c.rename(root, 'errfile', root, '..')).status).toBe(ERR.INVAL);
    expect((await c.rename(root, '..', root, 'x')).status).toBe(ERR.INVAL);
    expect((await c.rmdir(root, '.')).status).toBe(ERR.INVAL);
  });
});

describe('bad input', () => {
  it('survives random and truncated RPC records for a bounded time, then still answers NULL', { timeout: 60_000 }, async () => {
    const valid = [
      new W().opaque(root).buf(),
      new W().opaque(root).str('fuzzname').u32(1).sattr({ mode: 0o644 }).buf(),
      new W().opaque(root).u64(0).fixed(Buffer.alloc(8)).u32(4096).u32(4096).buf(),
      new W().opaque(root).u64(0).u32(4).u32(0).opaque(Buffer.from('data')).buf(),
    ];
    const callBytes = (xid: number, prog: number, vers: number, proc: number, args: Buffer): Buffer => {
      const body = Buffer.concat([new W().u32(xid).u32(0).u32(2).u32(prog).u32(vers).u32(proc).u32(1).opaque(c.credential()).u32(0).u32(0).buf(), args]);
      return Buffer.concat([new W().u32((0x80000000 | body.length) >>> 0).buf(), body]);
    };
    const end = Date.now() + 5000;
    let rounds = 0;
    while (Date.now() < end) {
      const f = await NfsClient.connect(server.port);
      f.socket.on('data', () => {});
      for (let i = 0; i < 50; i++) {
        const kind = Math.floor(Math.random() * 5);
        if (kind === 0) {
          // random bytes with a plausible record mark
          const body = randomBytes(Math.floor(Math.random() * 200));
          f.raw(Buffer.concat([new W().u32((0x80000000 | body.length) >>> 0).buf(), body]));
        } else if (kind === 1) {
          // a real call cut short, its record mark adjusted (GARBAGE_ARGS)
          const whole = callBytes(i, NFS, 3, [1, 8, 17, 7][i % 4]!, valid[i % 4]!);
          const cut = whole.subarray(4, 4 + Math.floor(Math.random() * (whole.length - 4)));
          f.raw(Buffer.concat([new W().u32((0x80000000 | cut.length) >>> 0).buf(), cut]));
        } else if (kind === 2) {
          // random procedure of a random known program with random arguments
          const prog = [NFS, MOUNT, PORTMAP][i % 3]!;
          f.raw(callBytes(i, prog, prog === PORTMAP ? 2 : 3, Math.floor(Math.random() * 24), randomBytes(Math.floor(Math.random() * 120))));
        } else if (kind === 3) {
          // a valid call with some bytes flipped
          const whole = Buffer.from(callBytes(i, NFS, 3, [1, 8, 17, 7][i % 4]!, valid[i % 4]!));
          for (let k = 0; k < 3; k++) whole[4 + Math.floor(Math.random() * (whole.length - 4))] = Math.floor(Math.random() * 256);
          f.raw(whole);
        } else {
          // fragments: a non-last fragment of garbage followed by a last one
          const a = randomBytes(Math.floor(Math.random() * 50));
          const b = randomBytes(Math.floor(Math.random() * 50));
          f.raw(Buffer.concat([new W().u32(a.length).buf(), a, new W().u32((0x80000000 | b.length) >>> 0).buf(), b]));
        }
      }
      // half the time, leave in the middle of a record
      if (rounds % 2 === 0) f.raw(Buffer.concat([new W().u32((0x80000000 | 5000) >>> 0).buf(), randomBytes(100)]));
      await new Promise((r) => setTimeout(r, 10));
      f.close();
      rounds++;
    }
    expect(rounds).toBeGreaterThan(5);
    const fresh = await NfsClient.connect(server.port);
    try {
      expect(await fresh.null()).toBe(true);
      expect((await fresh.getattr(root)).status).toBe(ERR.OK);
    } finally {
      fresh.close();
    }
    expect(await c.null()).toBe(true);
    expect(server.child.exitCode).toBe(null);
    expect(server.stderr()).not.toMatch(/internal error/);
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
