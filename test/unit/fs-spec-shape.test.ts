/**
 * After a mixed workload, every table of the filesystem has the exact SPEC v0.4 shape another
 * implementation relies on: chunk sizes, link counts, root inode, mode bits, symlink rows.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../../src/core/types.js';
import { fsFixture, type FsFixture } from '../support/fs-fixture.js';

interface Row { [k: string]: number | string }

function checkSpecShape(fx: FsFixture): void {
  const db = fx.store.db;
  const all = (sql: string) => db.prepare(sql).all() as Row[];
  const cs = Number((db.prepare("SELECT value FROM fs_config WHERE key = 'chunk_size'").get() as Row).value);
  expect(cs).toBe(fx.store.chunkSize);
  expect(db.prepare("SELECT value FROM fs_config WHERE key = 'schema_version'").get()).toMatchObject({ value: '0.4' });
  const root = db.prepare('SELECT * FROM fs_inode WHERE ino = 1').get() as Row;
  expect(root.mode).toBe(0o040755);
  expect(all('SELECT * FROM fs_dentry WHERE ino = 1')).toEqual([]);
  const inodes = all('SELECT * FROM fs_inode');
  const dentries = all('SELECT * FROM fs_dentry');
  const byIno = new Map(inodes.map((r) => [r.ino as number, r]));
  for (const d of dentries) {
    expect(byIno.has(d.ino as number), `dentry ${d.name} -> ${d.ino}`).toBe(true);
    expect((byIno.get(d.parent_ino as number)!.mode as number) & S_IFMT).toBe(S_IFDIR);
    expect(Buffer.byteLength(d.name as string)).toBeLessThanOrEqual(255);
  }
  for (const i of inodes) {
    const ino = i.ino as number;
    const mode = i.mode as number;
    const type = mode & S_IFMT;
    expect(mode & ~(S_IFMT | 0o7777)).toBe(0);
    expect(Number.isInteger(i.atime_nsec) && (i.atime_nsec as number) >= 0 && (i.atime_nsec as number) < 1e9).toBe(true);
    const links = dentries.filter((d) => d.ino === ino).length;
    if (type === S_IFDIR) {
      const subdirs = dentries.filter((d) => d.parent_ino === ino && ((byIno.get(d.ino as number)!.mode as number) & S_IFMT) === S_IFDIR).length;
      expect(i.nlink, `dir ${ino}`).toBe(2 + subdirs);
      expect(all(`SELECT 1 FROM fs_data WHERE ino = ${ino}`)).toEqual([]);
    } else {
      expect(i.nlink, `inode ${ino}`).toBe(links);
    }
    if (type === S_IFLNK) {
      const t = db.prepare('SELECT target FROM fs_symlink WHERE ino = ?').get(ino) as Row;
      expect(Buffer.byteLength(t.target as string)).toBe(i.size);
    }
    if (type === S_IFREG) {
      const size = i.size as number;
      const lastIdx = size === 0 ? -1 : Math.floor((size - 1) / cs);
      for (const c of all(`SELECT chunk_index, length(data) AS len, typeof(data) AS t FROM fs_data WHERE ino = ${ino}`)) {
        expect(c.t).toBe('blob');
        expect(c.chunk_index as number).toBeLessThanOrEqual(lastIdx);
        if ((c.chunk_index as number) < lastIdx) expect(c.len).toBe(cs);
        else expect(c.len as number).toBeLessThanOrEqual(size - lastIdx * cs);
      }
    }
  }
  // nothing dangling
  expect(all('SELECT ino FROM fs_data WHERE ino NOT IN (SELECT ino FROM fs_inode)')).toEqual([]);
  expect(all('SELECT ino FROM fs_symlink WHERE ino NOT IN (SELECT ino FROM fs_inode)')).toEqual([]);
  expect(all('SELECT ino FROM fs_inode WHERE nlink = 0')).toEqual([]);
}

describe('spec shape of the tables', () => {
  let fx: FsFixture;
  beforeEach(() => (fx = fsFixture()));
  afterEach(() => fx.cleanup());

  it('holds after a mixed workload of every operation', () => {
    const p = fx.paths;
    p.mkdir('/a/b/c', { recursive: true });
    p.mkdir('/x/y', { recursive: true });
    p.writeFile('/a/f1', randomBytes(10_000));
    p.writeFile('/a/b/f2', randomBytes(4096));
    p.writeFile('/x/y/f3', randomBytes(1));
    p.appendFile('/a/f1', randomBytes(3000));
    p.link('/a/f1', '/x/hard');
    p.symlink('../a/f1', '/x/soft');
    p.rename('/a/b', '/x/y/b');
    p.rename('/x/y/f3', '/a/f1');
    p.truncate('/x/hard', 5000);
    const h = p.open('/sparse', 'w');
    fx.fs.write(h.ino, 100_000, Buffer.from('end'));
    fx.fs.write(h.ino, 10, Buffer.from('start'));
    p.close(h.ino);
    p.truncate('/sparse', 50_000);
    p.cp('/x', '/x2', { recursive: true });
    p.rm('/x/y', { recursive: true });
    p.unlink('/x/soft');
    p.mkdir('/empty');
    p.rmdir('/empty');
    checkSpecShape(fx);
    fx.reopen();
    checkSpecShape(fx);
  });

  it('holds with a non-default chunk size', () => {
    fx.cleanup();
    fx = fsFixture({ chunkSize: 1024 });
    fx.paths.writeFile('/f', randomBytes(5000));
    const h = fx.paths.open('/f', 'r+');
    fx.fs.write(h.ino, 7000, Buffer.from('x'));
    fx.fs.setattr(h.ino, { size: 6100 });
    fx.paths.close(h.ino);
    checkSpecShape(fx);
    expect(fx.store.db.prepare("SELECT value FROM fs_config WHERE key = 'chunk_size'").get()).toMatchObject({ value: '1024' });
  });
});
