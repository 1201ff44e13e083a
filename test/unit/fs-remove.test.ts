import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT_INO } from '../../src/core/types.js';
import { ME, code, fsFixture, type FsFixture } from '../support/fs-fixture.js';

/** Every row of the tables unlink and rmdir touch, to compare before and after a refused call. */
function snapshot(fx: FsFixture): string {
  const tables = ['fs_inode', 'fs_dentry', 'fs_data', 'fs_symlink', 'fs_origin', 'agentfs_fs_orphan'];
  return JSON.stringify(tables.map((t) => fx.store.db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()));
}

describe('InodeFs unlink and rmdir', () => {
  let fx: FsFixture;
  beforeEach(() => (fx = fsFixture()));
  afterEach(() => fx.cleanup());

  it('return the removed inode and the parent as it is after the change', () => {
    const d = fx.fs.mkdir(ROOT_INO, 'd', 0o755, ME);
    const f = fx.fs.create(d.ino, 'f', 0o644, ME);
    const sub = fx.fs.mkdir(d.ino, 'sub', 0o755, ME);
    const before = fx.fs.getattr(d.ino);
    expect(before.nlink).toBe(3);

    const u = fx.fs.unlink(d.ino, 'f');
    expect(u.ino).toBe(f.ino);
    expect(u.parent).toEqual(fx.fs.getattr(d.ino));
    expect(u.parent!.nlink).toBe(3);
    expect(u.parent!.mtime).not.toEqual(before.mtime);

    const r = fx.fs.rmdir(d.ino, 'sub');
    expect(r.ino).toBe(sub.ino);
    expect(r.parent).toEqual(fx.fs.getattr(d.ino));
    expect(r.parent!.nlink).toBe(2);
    expect(code(() => fx.fs.getattr(sub.ino))).toBe('ENOENT');
  });

  it('a refused unlink or rmdir changes nothing and says why', () => {
    const d = fx.fs.mkdir(ROOT_INO, 'd', 0o755, ME);
    const f = fx.fs.create(d.ino, 'f', 0o644, ME);
    fx.fs.write(f.ino, 0, Buffer.from('data'));
    fx.fs.symlink(d.ino, 'l', 'f', ME);
    const before = snapshot(fx);
    const events = fx.events.length;

    expect(code(() => fx.fs.unlink(ROOT_INO, 'nope'))).toBe('ENOENT');
    expect(code(() => fx.fs.unlink(ROOT_INO, 'd'))).toBe('EISDIR');
    expect(code(() => fx.fs.unlink(f.ino, 'x'))).toBe('ENOTDIR');
    expect(code(() => fx.fs.unlink(4242, 'x'))).toBe('ENOENT');
    expect(code(() => fx.fs.rmdir(ROOT_INO, 'd'))).toBe('ENOTEMPTY');
    expect(code(() => fx.fs.rmdir(d.ino, 'f'))).toBe('ENOTDIR');
    expect(code(() => fx.fs.rmdir(d.ino, 'l'))).toBe('ENOTDIR');
    expect(code(() => fx.fs.rmdir(d.ino, 'nope'))).toBe('ENOENT');
    expect(code(() => fx.fs.rmdir(f.ino, 'x'))).toBe('ENOTDIR');

    expect(snapshot(fx)).toBe(before);
    expect(fx.events.length).toBe(events);
    expect(fx.fs.read(f.ino, 0, 10).toString()).toBe('data');
  });

  it('unlink of one of two hard links keeps the inode and its data, with nlink - 1 and a new ctime', () => {
    const f = fx.fs.create(ROOT_INO, 'f', 0o644, ME);
    fx.fs.write(f.ino, 0, Buffer.from('shared'));
    const d = fx.fs.mkdir(ROOT_INO, 'd', 0o755, ME);
    const l = fx.fs.link(f.ino, d.ino, 'g');
    fx.fs.unlink(d.ino, 'g');
    const a = fx.fs.getattr(f.ino);
    expect(a.nlink).toBe(1);
    expect(a.ctime).not.toEqual(l.ctime);
    expect(fx.fs.read(f.ino, 0, 10).toString()).toBe('shared');
    expect(fx.events.slice(-1)[0]).toMatchObject({ op: 'unlink', ino: f.ino, parent: d.ino, name: 'g' });
  });

  it('the purge of an inode takes its origin row (overlay copies) and no other', () => {
    const a = fx.fs.create(ROOT_INO, 'a', 0o644, ME);
    const b = fx.fs.create(ROOT_INO, 'b', 0o644, ME);
    const origin = fx.store.db.prepare('INSERT INTO fs_origin (delta_ino, base_ino) VALUES (?, ?)');
    origin.run(a.ino, 100);
    origin.run(b.ino, 200);
    fx.fs.unlink(ROOT_INO, 'a');
    const rows = fx.store.db.prepare('SELECT delta_ino, base_ino FROM fs_origin ORDER BY delta_ino').all();
    expect(rows).toEqual([{ delta_ino: b.ino, base_ino: 200 }]);
  });

  it('each kind of non-directory goes with its rows: data, symlink target, device', () => {
    const f = fx.fs.create(ROOT_INO, 'f', 0o644, ME);
    fx.fs.write(f.ino, 0, Buffer.alloc(3 * fx.fs.chunkSize, 7));
    const l = fx.fs.symlink(ROOT_INO, 'l', 'target', ME);
    const p = fx.fs.mknod(ROOT_INO, 'p', 0o010644, 0, ME);
    for (const name of ['f', 'l', 'p']) fx.fs.unlink(ROOT_INO, name);
    for (const ino of [f.ino, l.ino, p.ino]) expect(code(() => fx.fs.getattr(ino))).toBe('ENOENT');
    const count = (sql: string) => (fx.store.db.prepare(sql).get() as { n: number }).n;
    expect(count('SELECT COUNT(*) AS n FROM fs_data')).toBe(0);
    expect(count('SELECT COUNT(*) AS n FROM fs_symlink')).toBe(0);
    expect(count('SELECT COUNT(*) AS n FROM fs_dentry')).toBe(0);
    expect(fx.fs.getattr(ROOT_INO).nlink).toBe(2);
  });

  it('a file open here when its last name goes is an orphan until release; a second name keeps it linked', () => {
    const f = fx.fs.create(ROOT_INO, 'f', 0o644, ME);
    fx.fs.write(f.ino, 0, Buffer.from('open'));
    fx.fs.link(f.ino, ROOT_INO, 'g');
    fx.fs.open(f.ino, 0);
    fx.fs.unlink(ROOT_INO, 'f');
    const orphans = () => fx.store.db.prepare('SELECT ino FROM agentfs_fs_orphan').all();
    expect(orphans()).toEqual([]); // still linked as g
    fx.fs.unlink(ROOT_INO, 'g');
    expect(orphans()).toEqual([{ ino: f.ino }]);
    expect(fx.fs.getattr(f.ino).nlink).toBe(0);
    expect(fx.fs.read(f.ino, 0, 10).toString()).toBe('open');
    fx.fs.release(f.ino);
    expect(orphans()).toEqual([]);
    expect(code(() => fx.fs.getattr(f.ino))).toBe('ENOENT');
    expect(fx.store.db.prepare('SELECT COUNT(*) AS n FROM fs_data').get()).toMatchObject({ n: 0 });
  });
});
