import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, ROOT_INO } from '../../src/core/types.js';
import { ME, code, fsFixture, inodeRow, type FsFixture } from '../support/fs-fixture.js';

describe('InodeFs: rename', () => {
  let fx: FsFixture;
  beforeEach(() => (fx = fsFixture()));
  afterEach(() => fx.cleanup());

  const file = (parent: number, name: string, content: string) => {
    const a = fx.fs.create(parent, name, 0o644, ME);
    fx.fs.write(a.ino, 0, Buffer.from(content));
    return a.ino;
  };
  const text = (parent: number, name: string) => {
    const a = fx.fs.lookup(parent, name);
    return fx.fs.read(a.ino, 0, 1000).toString();
  };

  it('moves a file within and across directories keeping its inode', () => {
    const f = file(ROOT_INO, 'a', 'A');
    const d = fx.fs.mkdir(ROOT_INO, 'd', 0o755, ME).ino;
    fx.fs.rename(ROOT_INO, 'a', ROOT_INO, 'b');
    expect(fx.fs.lookup(ROOT_INO, 'b').ino).toBe(f);
    expect(code(() => fx.fs.lookup(ROOT_INO, 'a'))).toBe('ENOENT');
    fx.fs.rename(ROOT_INO, 'b', d, 'c');
    expect(text(d, 'c')).toBe('A');
    expect(fx.events.at(-1)).toMatchObject({ op: 'rename', ino: f, parent: ROOT_INO, name: 'b', newParent: d, newName: 'c' });
  });

  it('replaces an existing file atomically and frees the old inode', () => {
    file(ROOT_INO, 'a', 'new');
    const old = file(ROOT_INO, 'b', 'old');
    fx.fs.rename(ROOT_INO, 'a', ROOT_INO, 'b');
    expect(text(ROOT_INO, 'b')).toBe('new');
    expect(inodeRow(fx.store, old)).toBeUndefined();
    expect(fx.store.db.prepare('SELECT COUNT(*) AS n FROM fs_data WHERE ino = ?').get(old)).toMatchObject({ n: 0 });
    expect(fx.fs.readdir(ROOT_INO).map((e) => e.name)).toEqual(['b']);
  });

  it('replacing a hard-linked file only drops one link', () => {
    const target = file(ROOT_INO, 't', 'T');
    fx.fs.link(target, ROOT_INO, 't2');
    file(ROOT_INO, 'src', 'S');
    fx.fs.rename(ROOT_INO, 'src', ROOT_INO, 't');
    expect(fx.fs.getattr(target).nlink).toBe(1);
    expect(text(ROOT_INO, 't2')).toBe('T');
  });

  it('renaming one name of an inode onto another name of it does nothing', () => {
    const f = file(ROOT_INO, 'a', 'x');
    fx.fs.link(f, ROOT_INO, 'b');
    fx.fs.rename(ROOT_INO, 'a', ROOT_INO, 'b');
    expect(fx.fs.readdir(ROOT_INO).map((e) => e.name).sort()).toEqual(['a', 'b']);
    expect(fx.fs.getattr(f).nlink).toBe(2);
  });

  it('directories: over an empty directory yes, non-empty ENOTEMPTY, dir over file ENOTDIR, file over dir EISDIR', () => {
    const d1 = fx.fs.mkdir(ROOT_INO, 'd1', 0o755, ME).ino;
    file(d1, 'inside', 'i');
    const empty = fx.fs.mkdir(ROOT_INO, 'empty', 0o755, ME).ino;
    const full = fx.fs.mkdir(ROOT_INO, 'full', 0o755, ME).ino;
    file(full, 'x', 'x');
    file(ROOT_INO, 'f', 'f');
    expect(fx.fs.getattr(ROOT_INO).nlink).toBe(5);
    expect(code(() => fx.fs.rename(ROOT_INO, 'd1', ROOT_INO, 'full'))).toBe('ENOTEMPTY');
    expect(code(() => fx.fs.rename(ROOT_INO, 'd1', ROOT_INO, 'f'))).toBe('ENOTDIR');
    expect(code(() => fx.fs.rename(ROOT_INO, 'f', ROOT_INO, 'empty'))).toBe('EISDIR');
    fx.fs.rename(ROOT_INO, 'd1', ROOT_INO, 'empty');
    expect(fx.fs.lookup(ROOT_INO, 'empty').ino).toBe(d1);
    expect(inodeRow(fx.store, empty)).toBeUndefined();
    expect(fx.fs.getattr(ROOT_INO).nlink).toBe(4);
    expect(text(d1, 'inside')).toBe('i');
  });

  it('moving a directory updates both parents link counts', () => {
    const a = fx.fs.mkdir(ROOT_INO, 'a', 0o755, ME).ino;
    const b = fx.fs.mkdir(ROOT_INO, 'b', 0o755, ME).ino;
    fx.fs.mkdir(a, 'sub', 0o755, ME);
    expect(fx.fs.getattr(a).nlink).toBe(3);
    fx.fs.rename(a, 'sub', b, 'sub2');
    expect(fx.fs.getattr(a).nlink).toBe(2);
    expect(fx.fs.getattr(b).nlink).toBe(3);
    expect(fx.fs.pathOf(fx.fs.lookup(b, 'sub2').ino)).toBe('/b/sub2');
  });

  it('refuses to move a directory into its own subtree (EINVAL)', () => {
    const a = fx.fs.mkdir(ROOT_INO, 'a', 0o755, ME).ino;
    const b = fx.fs.mkdir(a, 'b', 0o755, ME).ino;
    const c = fx.fs.mkdir(b, 'c', 0o755, ME).ino;
    expect(code(() => fx.fs.rename(ROOT_INO, 'a', c, 'a'))).toBe('EINVAL');
    expect(code(() => fx.fs.rename(ROOT_INO, 'a', a, 'self'))).toBe('EINVAL');
    expect(fx.fs.pathOf(c)).toBe('/a/b/c');
  });

  it('RENAME_NOREPLACE refuses an existing target with EEXIST', () => {
    file(ROOT_INO, 'a', 'A');
    file(ROOT_INO, 'b', 'B');
    expect(code(() => fx.fs.rename(ROOT_INO, 'a', ROOT_INO, 'b', RENAME_NOREPLACE))).toBe('EEXIST');
    expect(text(ROOT_INO, 'b')).toBe('B');
    fx.fs.rename(ROOT_INO, 'a', ROOT_INO, 'c', RENAME_NOREPLACE);
    expect(text(ROOT_INO, 'c')).toBe('A');
  });

  it('RENAME_EXCHANGE swaps two entries (also a file and a directory in different parents)', () => {
    const a = file(ROOT_INO, 'a', 'A');
    const b = file(ROOT_INO, 'b', 'B');
    fx.fs.rename(ROOT_INO, 'a', ROOT_INO, 'b', RENAME_EXCHANGE);
    expect(fx.fs.lookup(ROOT_INO, 'a').ino).toBe(b);
    expect(fx.fs.lookup(ROOT_INO, 'b').ino).toBe(a);
    const p = fx.fs.mkdir(ROOT_INO, 'p', 0o755, ME).ino;
    const dir = fx.fs.mkdir(p, 'dir', 0o755, ME).ino;
    fx.fs.rename(ROOT_INO, 'a', p, 'dir', RENAME_EXCHANGE);
    expect(fx.fs.lookup(ROOT_INO, 'a').ino).toBe(dir);
    expect(fx.fs.lookup(p, 'dir').ino).toBe(b);
    expect(fx.fs.getattr(p).nlink).toBe(2);
    expect(fx.fs.getattr(ROOT_INO).nlink).toBe(4); // root, p and the moved dir
    expect(code(() => fx.fs.rename(ROOT_INO, 'b', ROOT_INO, 'missing', RENAME_EXCHANGE))).toBe('ENOENT');
    expect(code(() => fx.fs.rename(ROOT_INO, 'a', ROOT_INO, 'b', RENAME_EXCHANGE | RENAME_NOREPLACE))).toBe('EINVAL');
    expect(code(() => fx.fs.rename(ROOT_INO, 'p', p, 'dir', RENAME_EXCHANGE))).toBe('EINVAL');
  });

  it('errors: missing source ENOENT, bad target parent ENOTDIR/ENOENT, long name ENAMETOOLONG', () => {
    const f = file(ROOT_INO, 'a', 'A');
    expect(code(() => fx.fs.rename(ROOT_INO, 'zz', ROOT_INO, 'y'))).toBe('ENOENT');
    expect(code(() => fx.fs.rename(ROOT_INO, 'a', f, 'y'))).toBe('ENOTDIR');
    expect(code(() => fx.fs.rename(ROOT_INO, 'a', 999, 'y'))).toBe('ENOENT');
    expect(code(() => fx.fs.rename(ROOT_INO, 'a', ROOT_INO, 'n'.repeat(256)))).toBe('ENAMETOOLONG');
    expect(code(() => fx.fs.rename(ROOT_INO, 'a', ROOT_INO, 'x', 8))).toBe('EINVAL');
    expect(text(ROOT_INO, 'a')).toBe('A');
  });

  it('an open file replaced by rename stays readable until release', () => {
    const old = file(ROOT_INO, 'old', 'still');
    file(ROOT_INO, 'new', 'fresh');
    fx.fs.open(old, 0);
    fx.fs.rename(ROOT_INO, 'new', ROOT_INO, 'old');
    expect(fx.fs.read(old, 0, 10).toString()).toBe('still');
    fx.fs.release(old);
    expect(inodeRow(fx.store, old)).toBeUndefined();
  });
});
