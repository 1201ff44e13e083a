import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  F_OK, R_OK, ROOT_INO, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, W_OK, X_OK,
} from '../../src/core/types.js';
import { InodeFs, checkAccess } from '../../src/core/fs/index.js';
import { Store } from '../../src/store/index.js';
import { toNs } from '../../src/core/fs/time.js';
import { ME, code, fsFixture, inodeRow, type FsFixture } from '../support/fs-fixture.js';

describe('InodeFs: nodes, names and links', () => {
  let fx: FsFixture;
  beforeEach(() => (fx = fsFixture()));
  afterEach(() => fx.cleanup());

  it('has root inode 1, a directory with mode 0o040755 and nlink 2', () => {
    const root = fx.fs.getattr(ROOT_INO);
    expect(root.ino).toBe(1);
    expect(root.mode).toBe(0o040755);
    expect(root.nlink).toBe(2);
    expect(fx.fs.rootIno).toBe(1);
    expect(fx.store.db.prepare('SELECT COUNT(*) AS n FROM fs_dentry WHERE ino = 1').get()).toMatchObject({ n: 0 });
  });

  it('creates files with mode bits, owner, nlink 1 and ns timestamps; lookup finds them', () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const a = fx.fs.create(ROOT_INO, 'a.txt', 0o640, ME);
    expect(a.mode).toBe(S_IFREG | 0o640);
    expect(a.nlink).toBe(1);
    expect(a.uid).toBe(1000);
    expect(a.gid).toBe(1000);
    expect(a.size).toBe(0);
    expect(toNs(a.mtime)).toBeGreaterThanOrEqual(before - 1_000_000n);
    const l = fx.fs.lookup(ROOT_INO, 'a.txt');
    expect(l).toEqual(a);
    const row = inodeRow(fx.store, a.ino)!;
    expect(row).toMatchObject({ mode: 0o100640, nlink: 1, uid: 1000, gid: 1000, size: 0, rdev: 0 });
    expect(row.mtime).toBe(a.mtime.sec);
    expect(row.mtime_nsec).toBe(a.mtime.nsec);
    expect(row.mtime_nsec).toBeGreaterThanOrEqual(0);
    expect(row.mtime_nsec).toBeLessThan(1e9);
    expect(fx.events.map((e) => e.op)).toEqual(['create']);
    expect(fx.events[0]).toMatchObject({ ino: a.ino, parent: 1, name: 'a.txt' });
  });

  it('timestamps are distinct and increasing with nanosecond parts', () => {
    const a = fx.fs.create(ROOT_INO, 'a', 0o644, ME);
    const b = fx.fs.create(ROOT_INO, 'b', 0o644, ME);
    expect(toNs(b.ctime)).toBeGreaterThan(toNs(a.ctime));
    const nsecs = new Set<number>();
    for (let i = 0; i < 20; i++) nsecs.add(fx.fs.create(ROOT_INO, `f${i}`, 0o644, ME).mtime.nsec % 1_000_000);
    expect(nsecs.size).toBeGreaterThan(1); // sub-millisecond resolution
  });

  it('EEXIST for a taken name, ENOENT/ENOTDIR for bad parents, ENAMETOOLONG over 255 bytes', () => {
    const f = fx.fs.create(ROOT_INO, 'x', 0o644, ME);
    expect(code(() => fx.fs.create(ROOT_INO, 'x', 0o644, ME))).toBe('EEXIST');
    expect(code(() => fx.fs.mkdir(ROOT_INO, 'x', 0o755, ME))).toBe('EEXIST');
    expect(code(() => fx.fs.mkdir(ROOT_INO, '.', 0o755, ME))).toBe('EEXIST');
    expect(code(() => fx.fs.create(f.ino, 'y', 0o644, ME))).toBe('ENOTDIR');
    expect(code(() => fx.fs.create(9999, 'y', 0o644, ME))).toBe('ENOENT');
    expect(code(() => fx.fs.lookup(ROOT_INO, 'nope'))).toBe('ENOENT');
    expect(code(() => fx.fs.lookup(f.ino, 'nope'))).toBe('ENOTDIR');
    expect(code(() => fx.fs.lookup(ROOT_INO, 'a'.repeat(256)))).toBe('ENAMETOOLONG');
    expect(code(() => fx.fs.create(ROOT_INO, 'é'.repeat(128), 0o644, ME))).toBe('ENAMETOOLONG'); // 256 bytes
    expect(fx.fs.create(ROOT_INO, 'a'.repeat(255), 0o644, ME).nlink).toBe(1);
    expect(code(() => fx.fs.create(ROOT_INO, 'a/b', 0o644, ME))).toBe('EINVAL');
    expect(code(() => fx.fs.create(ROOT_INO, '', 0o644, ME))).toBe('ENOENT');
    // failed creates leave nothing behind
    expect(fx.store.db.prepare('SELECT COUNT(*) AS n FROM fs_inode').get()).toMatchObject({ n: 3 });
  });

  it('directory nlink is 2 + subdirectories, and follows mkdir/rmdir', () => {
    const d = fx.fs.mkdir(ROOT_INO, 'd', 0o755, ME);
    expect(d.mode).toBe(S_IFDIR | 0o755);
    expect(d.nlink).toBe(2);
    expect(fx.fs.getattr(ROOT_INO).nlink).toBe(3);
    fx.fs.mkdir(d.ino, 's1', 0o700, ME);
    fx.fs.mkdir(d.ino, 's2', 0o700, ME);
    fx.fs.create(d.ino, 'file', 0o644, ME);
    expect(fx.fs.getattr(d.ino).nlink).toBe(4);
    fx.fs.rmdir(d.ino, 's1');
    expect(fx.fs.getattr(d.ino).nlink).toBe(3);
    expect(inodeRow(fx.store, d.ino)!.nlink).toBe(3);
  });

  it('rmdir: ENOTEMPTY, ENOTDIR, ENOENT, EINVAL for "."; removes the inode', () => {
    const d = fx.fs.mkdir(ROOT_INO, 'd', 0o755, ME);
    fx.fs.create(d.ino, 'f', 0o644, ME);
    expect(code(() => fx.fs.rmdir(ROOT_INO, 'd'))).toBe('ENOTEMPTY');
    expect(code(() => fx.fs.rmdir(d.ino, 'f'))).toBe('ENOTDIR');
    expect(code(() => fx.fs.rmdir(d.ino, 'missing'))).toBe('ENOENT');
    expect(code(() => fx.fs.rmdir(d.ino, '.'))).toBe('EINVAL');
    expect(code(() => fx.fs.unlink(ROOT_INO, 'd'))).toBe('EISDIR');
    fx.fs.unlink(d.ino, 'f');
    fx.fs.rmdir(ROOT_INO, 'd');
    expect(inodeRow(fx.store, d.ino)).toBeUndefined();
    expect(code(() => fx.fs.getattr(d.ino))).toBe('ENOENT');
  });

  it('mknod makes fifos, sockets and devices with rdev; refuses directories', () => {
    const fifo = fx.fs.mknod(ROOT_INO, 'fifo', S_IFIFO | 0o600, 0, ME);
    expect(fifo.mode & S_IFMT).toBe(S_IFIFO);
    const chr = fx.fs.mknod(ROOT_INO, 'null', S_IFCHR | 0o666, (1 << 8) | 3, ME);
    expect(chr.rdev).toBe(259);
    expect(fx.fs.getattr(chr.ino).rdev).toBe(259);
    expect(inodeRow(fx.store, chr.ino)!.rdev).toBe(259);
    const blk = fx.fs.mknod(ROOT_INO, 'sda', S_IFBLK | 0o660, 2049, ME);
    expect(fx.fs.lookup(ROOT_INO, 'sda').mode).toBe(S_IFBLK | 0o660);
    expect(blk.rdev).toBe(2049);
    expect(fx.fs.mknod(ROOT_INO, 'sock', S_IFSOCK | 0o644, 0, ME).mode & S_IFMT).toBe(S_IFSOCK);
    expect(fx.fs.mknod(ROOT_INO, 'plain', 0o644, 0, ME).mode).toBe(S_IFREG | 0o644);
    expect(code(() => fx.fs.mknod(ROOT_INO, 'dir', S_IFDIR | 0o755, 0, ME))).toBe('EINVAL');
    expect(code(() => fx.fs.read(fifo.ino, 0, 10))).toBe('EINVAL');
  });

  it('symlink stores the target (size = its bytes); readlink; EINVAL on non-links', () => {
    const l = fx.fs.symlink(ROOT_INO, 'l', '../some/where é', ME);
    expect(l.mode).toBe(S_IFLNK | 0o777);
    expect(l.size).toBe(Buffer.byteLength('../some/where é'));
    expect(fx.fs.readlink(l.ino)).toBe('../some/where é');
    expect(fx.store.db.prepare('SELECT target FROM fs_symlink WHERE ino = ?').get(l.ino)).toMatchObject({ target: '../some/where é' });
    const f = fx.fs.create(ROOT_INO, 'f', 0o644, ME);
    expect(code(() => fx.fs.readlink(f.ino))).toBe('EINVAL');
    expect(code(() => fx.fs.symlink(ROOT_INO, 'empty', '', ME))).toBe('ENOENT');
    fx.fs.unlink(ROOT_INO, 'l');
    expect(fx.store.db.prepare('SELECT COUNT(*) AS n FROM fs_symlink').get()).toMatchObject({ n: 0 });
  });

  it('hard links share the inode and count nlink; data goes with the last link', () => {
    const f = fx.fs.create(ROOT_INO, 'f', 0o644, ME);
    fx.fs.write(f.ino, 0, Buffer.from('shared'));
    const d = fx.fs.mkdir(ROOT_INO, 'd', 0o755, ME);
    const l = fx.fs.link(f.ino, d.ino, 'g');
    expect(l.ino).toBe(f.ino);
    expect(l.nlink).toBe(2);
    expect(fx.fs.lookup(d.ino, 'g').ino).toBe(f.ino);
    expect(code(() => fx.fs.link(f.ino, d.ino, 'g'))).toBe('EEXIST');
    expect(code(() => fx.fs.link(d.ino, ROOT_INO, 'dl'))).toBe('EPERM');
    expect(code(() => fx.fs.link(4242, ROOT_INO, 'x'))).toBe('ENOENT');
    fx.fs.unlink(ROOT_INO, 'f');
    expect(fx.fs.getattr(f.ino).nlink).toBe(1);
    expect(fx.fs.read(f.ino, 0, 100).toString()).toBe('shared');
    fx.fs.unlink(d.ino, 'g');
    expect(inodeRow(fx.store, f.ino)).toBeUndefined();
    expect(fx.store.db.prepare('SELECT COUNT(*) AS n FROM fs_data WHERE ino = ?').get(f.ino)).toMatchObject({ n: 0 });
  });

  it('an unlinked file stays readable while open, and goes at release', () => {
    const f = fx.fs.create(ROOT_INO, 'f', 0o644, ME);
    fx.fs.write(f.ino, 0, Buffer.from('still here'));
    fx.fs.open(f.ino, 0);
    fx.fs.unlink(ROOT_INO, 'f');
    expect(code(() => fx.fs.lookup(ROOT_INO, 'f'))).toBe('ENOENT');
    expect(fx.fs.getattr(f.ino).nlink).toBe(0);
    expect(fx.fs.read(f.ino, 0, 100).toString()).toBe('still here');
    fx.fs.write(f.ino, 10, Buffer.from('!'));
    fx.fs.release(f.ino);
    expect(inodeRow(fx.store, f.ino)).toBeUndefined();
    expect(fx.events.map((e) => e.op)).toEqual(['create', 'write', 'open', 'unlink', 'write', 'release']);
  });

  it('orphans left by a dead process are purged when the database is opened again', () => {
    const f = fx.fs.create(ROOT_INO, 'f', 0o644, ME);
    fx.fs.write(f.ino, 0, Buffer.alloc(10000, 1));
    fx.fs.open(f.ino, 0);
    fx.fs.unlink(ROOT_INO, 'f');
    // pretend the holder was a process that has since died
    fx.store.db.prepare('UPDATE agentfs_fs_orphan SET pid = ? WHERE ino = ?').run(2 ** 22 + 12345, f.ino);
    // a live holder keeps it
    const other = fx.fs.create(ROOT_INO, 'o', 0o644, ME);
    fx.fs.open(other.ino, 0);
    fx.fs.unlink(ROOT_INO, 'o');
    fx.reopen();
    expect(inodeRow(fx.store, f.ino)).toBeUndefined();
    expect(fx.store.db.prepare('SELECT COUNT(*) AS n FROM fs_data WHERE ino = ?').get(f.ino)).toMatchObject({ n: 0 });
    expect(inodeRow(fx.store, other.ino)).toBeDefined();
  });

  it('readdir pages by stable cookies (dentry ids) across inserts and deletes', () => {
    for (let i = 0; i < 10; i++) fx.fs.create(ROOT_INO, `f${i}`, 0o644, ME);
    const first = fx.fs.readdir(ROOT_INO, 0, 4);
    expect(first.map((e) => e.name)).toEqual(['f0', 'f1', 'f2', 'f3']);
    fx.fs.unlink(ROOT_INO, 'f1');
    fx.fs.unlink(ROOT_INO, 'f5');
    fx.fs.create(ROOT_INO, 'new', 0o644, ME);
    const rest = fx.fs.readdir(ROOT_INO, first[3]!.offset);
    expect(rest.map((e) => e.name)).toEqual(['f4', 'f6', 'f7', 'f8', 'f9', 'new']);
    expect(rest[0]!.mode & S_IFMT).toBe(S_IFREG);
    const plus = fx.fs.readdirPlus(ROOT_INO, 0, 2);
    expect(plus.map((e) => [e.name, e.attr.ino === e.ino, e.attr.nlink])).toEqual([['f0', true, 1], ['f2', true, 1]]);
    const f = fx.fs.lookup(ROOT_INO, 'f0');
    expect(code(() => fx.fs.readdir(f.ino))).toBe('ENOTDIR');
    expect(code(() => fx.fs.readdir(777))).toBe('ENOENT');
  });

  it('readdir returns any name exactly (pages travel as JSON) with the attributes of each entry', () => {
    const names = ['q"uote', 'back\\slash', 'new\nline', 'tab\there', 'emoji😀', 'ctrl\u0001x', '[1,2]', '{"a":1}', 'x'.repeat(255)];
    for (const n of names) fx.fs.create(ROOT_INO, n, 0o600, ME);
    expect(fx.fs.readdir(ROOT_INO).map((e) => e.name)).toEqual(names);
    const plus = fx.fs.readdirPlus(ROOT_INO);
    expect(plus.map((e) => e.name)).toEqual(names);
    for (const e of plus) expect(e.attr).toEqual(fx.fs.lookup(ROOT_INO, e.name));
    expect(fx.fs.readdir(ROOT_INO, plus[plus.length - 1]!.offset)).toEqual([]);
  });

  it('lookup of "." and ".."', () => {
    const d = fx.fs.mkdir(ROOT_INO, 'd', 0o755, ME);
    const e = fx.fs.mkdir(d.ino, 'e', 0o755, ME);
    expect(fx.fs.lookup(e.ino, '..').ino).toBe(d.ino);
    expect(fx.fs.lookup(e.ino, '.').ino).toBe(e.ino);
    expect(fx.fs.lookup(ROOT_INO, '..').ino).toBe(ROOT_INO);
    expect(fx.fs.pathOf(e.ino)).toBe('/d/e');
    expect(fx.fs.pathOf(ROOT_INO)).toBe('/');
  });

  it('setattr: chmod keeps the type, chown, utimens with ns and "now", ctime moves', () => {
    const f = fx.fs.create(ROOT_INO, 'f', 0o644, ME);
    const a = fx.fs.setattr(f.ino, { mode: 0o4755 });
    expect(a.mode).toBe(S_IFREG | 0o4755);
    expect(toNs(a.ctime)).toBeGreaterThan(toNs(f.ctime));
    const b = fx.fs.setattr(f.ino, { uid: 5, gid: 6 });
    expect([b.uid, b.gid]).toEqual([5, 6]);
    expect(b.mode).toBe(S_IFREG | 0o755); // a new owner drops setuid
    const c = fx.fs.setattr(f.ino, { gid: 7 });
    expect([c.uid, c.gid]).toEqual([5, 7]);
    const t = fx.fs.setattr(f.ino, { atime: { sec: 1000, nsec: 123456789 }, mtime: { sec: 2000, nsec: 987654321 } });
    expect(t.atime).toEqual({ sec: 1000, nsec: 123456789 });
    expect(t.mtime).toEqual({ sec: 2000, nsec: 987654321 });
    expect(inodeRow(fx.store, f.ino)).toMatchObject({ atime: 1000, atime_nsec: 123456789, mtime: 2000, mtime_nsec: 987654321 });
    const n = fx.fs.setattr(f.ino, { mtime: 'now' });
    expect(n.mtime.sec).toBeGreaterThan(2000);
    expect(n.atime).toEqual({ sec: 1000, nsec: 123456789 });
    expect(code(() => fx.fs.setattr(f.ino, { mtime: { sec: 1, nsec: 1e9 } }))).toBe('EINVAL');
    expect(code(() => fx.fs.setattr(999, { mode: 0o600 }))).toBe('ENOENT');
    expect(fx.events.map((e) => e.op)).toEqual(['create', 'chmod', 'chmod', 'chown', 'chown', 'utimens', 'utimens']);
  });

  it('set-id bits go as the kernel drops them: a write or truncate by a user, a chown by anyone; not a root write', () => {
    const user = { uid: 1000, gid: 1000 };
    const root = { uid: 0, gid: 0 };
    const file = (name: string, mode: number) => fx.fs.setattr(fx.fs.create(ROOT_INO, name, 0o644, ME).ino, { mode }).ino;
    const mode = (ino: number) => fx.fs.getattr(ino).mode & 0o7777;
    const w = file('w', 0o6777);
    fx.fs.write(w, 0, Buffer.from('x'), user);
    expect(mode(w)).toBe(0o777);
    const a = file('a', 0o4777);
    fx.fs.append(a, Buffer.from('x'), user);
    expect(mode(a)).toBe(0o777);
    // setgid without group-exec stays for a writer in the file's group (it is ME's, group 1000)...
    const g = file('g', 0o2766);
    fx.fs.write(g, 0, Buffer.from('x'), user);
    expect(mode(g)).toBe(0o2766);
    fx.fs.write(g, 0, Buffer.from('x'), { uid: 1001, gid: 7, groups: [1000] });
    expect(mode(g)).toBe(0o2766);
    // ...and goes for another (Linux 6.2 on), by write or truncate
    fx.fs.write(g, 0, Buffer.from('x'), { uid: 1001, gid: 7, groups: [8] });
    expect(mode(g)).toBe(0o766);
    const gt = file('gt', 0o2766);
    fx.fs.setattr(gt, { size: 0 }, { uid: 1001, gid: 7 });
    expect(mode(gt)).toBe(0o766);
    // a chown by root keeps it (privileged), as it keeps a directory's
    const gc = file('gc', 0o2766);
    fx.fs.setattr(gc, { uid: 5 }, root);
    expect(mode(gc)).toBe(0o2766);
    const t = file('t', 0o4777);
    fx.fs.setattr(t, { size: 0 }, user);
    expect(mode(t)).toBe(0o777);
    // root (CAP_FSETID), or no caller at all (the SDK's own writes), keeps them
    const r = file('r', 0o6755);
    fx.fs.write(r, 0, Buffer.from('x'), root);
    fx.fs.write(r, 0, Buffer.from('x'));
    fx.fs.setattr(r, { size: 0 }, root);
    expect(mode(r)).toBe(0o6755);
    // a new owner or group drops them whoever asks, unless a mode comes with it
    fx.fs.setattr(r, { gid: 0 }, root);
    expect(mode(r)).toBe(0o755);
    const m = file('m', 0o6755);
    fx.fs.setattr(m, { uid: 0, mode: 0o6750 }, root);
    expect(mode(m)).toBe(0o6750);
    // directories keep theirs (setgid passes the group on)
    const d = fx.fs.mkdir(ROOT_INO, 'd', 0o2775, ME).ino;
    fx.fs.setattr(d, { uid: 0 }, root);
    expect(mode(d)).toBe(0o2775);
  });

  it("privilege over set-id bits is the process's CAP_FSETID: a pid gone or acting as another uid holds none", () => {
    const file = (name: string, mode: number) => fx.fs.setattr(fx.fs.create(ROOT_INO, name, 0o644, ME).ino, { mode }).ino;
    const mode = (ino: number) => fx.fs.getattr(ino).mode & 0o7777;
    const uid = process.getuid!();
    // this process: a write by it keeps them if it holds CAP_FSETID (root in the suite), else drops them
    const fsetid = (BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`) >> 4n) & 1n;
    const kept = file('kept', 0o6777);
    fx.fs.write(kept, 0, Buffer.from('x'), { uid, gid: process.getgid!(), pid: process.pid });
    expect(mode(kept)).toBe(fsetid ? 0o6777 : 0o777);
    // uid 0 whose pid is gone by the time the write is served (an asynchronous write whose thread
    // exited): no capability to be seen, so none held
    const gone = spawnSync('true').pid!;
    const g = file('g', 0o6777);
    fx.fs.write(g, 0, Buffer.from('x'), { uid: 0, gid: 0, pid: gone });
    expect(mode(g)).toBe(0o777);
    // uid 0 whose pid acts as another uid now: not the caller, no capability
    const other = file('o', 0o4777);
    if (uid !== 0) {
      fx.fs.write(other, 0, Buffer.from('x'), { uid: 0, gid: 0, pid: process.pid });
      expect(mode(other)).toBe(0o777);
    }
    // without a pid (NFS): uid 0 is privileged
    const n = file('n', 0o6777);
    fx.fs.setattr(n, { size: 0 }, { uid: 0, gid: 0 });
    expect(mode(n)).toBe(0o6777);
    // fallocate drops them as a write does
    const f = file('f', 0o6777);
    fx.fs.fallocate(f, 0, 0, 8192, { uid: 1000, gid: 1000 });
    expect(mode(f)).toBe(0o777);
  });

  it('a SETATTR that sets nothing (dropSetId) drops set-id bits for the owner or a writer, not for another user', () => {
    const file = (name: string, mode: number, owner: number, group = owner) => {
      const ino = fx.fs.create(ROOT_INO, name, 0o644, ME).ino;
      fx.fs.setattr(ino, { uid: owner, gid: group });
      fx.fs.setattr(ino, { mode });
      return ino;
    };
    const mode = (ino: number) => fx.fs.getattr(ino).mode & 0o7777;
    const nobody = { uid: 65534, gid: 65534 };
    const own = file('own', 0o4755, 65534);
    fx.fs.setattr(own, { dropSetId: true }, nobody);
    expect(mode(own)).toBe(0o755);
    const writable = file('writable', 0o4777, 0);
    fx.fs.setattr(writable, { dropSetId: true }, nobody);
    expect(mode(writable)).toBe(0o777);
    // another user's chown(-1, -1) of a program it may not write: nothing changes
    const prog = file('prog', 0o6755, 0);
    fx.fs.setattr(prog, { dropSetId: true }, nobody);
    expect(mode(prog)).toBe(0o6755);
    // a group that lets it write does (its supplementary groups given)
    const grp = file('grp', 0o4775, 0, 100);
    fx.fs.setattr(grp, { dropSetId: true }, { ...nobody, groups: [100] });
    expect(mode(grp)).toBe(0o775);
  });

  it('access and checkAccess follow owner/group/other bits; root bypasses except exec', () => {
    const f = fx.fs.create(ROOT_INO, 'f', 0o640, ME);
    const other = { uid: 2000, gid: 2000 };
    const groupMate = { uid: 2001, gid: 3000, groups: [1000] };
    expect(code(() => fx.fs.access(f.ino, R_OK | W_OK, ME))).toBeUndefined();
    expect(code(() => fx.fs.access(f.ino, X_OK, ME))).toBe('EACCES');
    expect(code(() => fx.fs.access(f.ino, R_OK, groupMate))).toBeUndefined();
    expect(code(() => fx.fs.access(f.ino, W_OK, groupMate))).toBe('EACCES');
    expect(code(() => fx.fs.access(f.ino, R_OK, other))).toBe('EACCES');
    expect(code(() => fx.fs.access(f.ino, F_OK, other))).toBeUndefined();
    expect(code(() => fx.fs.access(f.ino, R_OK | W_OK, { uid: 0, gid: 0 }))).toBeUndefined();
    expect(code(() => fx.fs.access(f.ino, X_OK, { uid: 0, gid: 0 }))).toBe('EACCES');
    expect(checkAccess({ mode: S_IFDIR | 0o700, uid: 1, gid: 1 }, X_OK, { uid: 0, gid: 0 })).toBe(true);
    expect(checkAccess({ mode: S_IFREG | 0o001, uid: 1, gid: 1 }, X_OK, { uid: 0, gid: 0 })).toBe(true);
    expect(checkAccess({ mode: S_IFREG | 0o070, uid: 1, gid: 1 }, R_OK, { uid: 1, gid: 1 })).toBe(false);
    expect(code(() => fx.fs.access(999, F_OK, ME))).toBe('ENOENT');
  });

  it('new entries in a setgid directory take its group', () => {
    const d = fx.fs.mkdir(ROOT_INO, 'shared', 0o2775, ME);
    fx.fs.setattr(d.ino, { gid: 555 });
    const f = fx.fs.create(d.ino, 'f', 0o644, ME);
    expect(f.gid).toBe(555);
    const sub = fx.fs.mkdir(d.ino, 'sub', 0o755, ME);
    expect(sub.gid).toBe(555);
    expect(sub.mode & 0o2000).toBe(0o2000);
  });

  it('statfs reports sizes, inode counts and namemax 255', () => {
    const s = fx.fs.statfs();
    expect(s.namemax).toBe(255);
    expect(s.bsize).toBe(4096);
    expect(s.blocks).toBeGreaterThan(0);
    expect(s.bfree).toBeLessThanOrEqual(s.blocks);
    expect(s.files - s.ffree).toBe(1);
    fx.fs.create(ROOT_INO, 'f', 0o644, ME);
    expect(fx.fs.statfs().files - fx.fs.statfs().ffree).toBe(2);
  });

  it('statfs counts the inodes made or removed since its last count: in an open batch, and by another connection', () => {
    const used = () => fx.fs.statfs().files - fx.fs.statfs().ffree;
    expect(used()).toBe(1);
    fx.store.beginBatch();
    fx.fs.create(ROOT_INO, 'a', 0o644, ME);
    expect(used()).toBe(2);
    fx.fs.mkdir(ROOT_INO, 'd', 0o755, ME);
    expect(used()).toBe(3);
    fx.store.commitBatch();
    expect(used()).toBe(3);
    const other = Store.open({ path: fx.file });
    try {
      const ofs = new InodeFs(other);
      ofs.create(ROOT_INO, 'b', 0o644, ME);
      expect(used()).toBe(4);
      ofs.unlink(ROOT_INO, 'a');
      expect(used()).toBe(3);
    } finally {
      other.close();
    }
  });

  it('a failing observer rolls the operation back', () => {
    const fs = new InodeFs(fx.store, {
      observer: (m) => {
        if (m.op === 'mkdir') throw new Error('journal full');
      },
    });
    expect(() => fs.mkdir(ROOT_INO, 'd', 0o755, ME)).toThrow('journal full');
    expect(code(() => fs.lookup(ROOT_INO, 'd'))).toBe('ENOENT');
    expect(fs.getattr(ROOT_INO).nlink).toBe(2);
  });

  it('fsync flushes without error; ENOENT for unknown inodes', () => {
    const f = fx.fs.create(ROOT_INO, 'f', 0o644, ME);
    fx.fs.write(f.ino, 0, Buffer.from('x'));
    expect(() => fx.fs.fsync(f.ino, false)).not.toThrow();
    expect(code(() => fx.fs.fsync(1234, false))).toBe('ENOENT');
  });
});
