/**
 * The FileSystem contract (src/core/types.ts), one set of tests run against every target:
 * InodeFs, OverlayFs over an empty base, OverlayFs over a populated base (each test's files come
 * from the base, so every change copies up), and a live FUSE mount through the kernel. A
 * difference between targets is a failing test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../../src/core/types.js';
import { inodeTarget, mountTarget, overlayTarget, type Target } from './targets.js';

/** The errno name a call fails with, or 'ok'. */
function errno(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') throw e;
    return code;
  }
}

const TARGETS: [string, () => Target | Promise<Target>][] = [
  ['InodeFs', inodeTarget],
  ['OverlayFs over an empty base', () => overlayTarget(false)],
  ['OverlayFs over a populated base', () => overlayTarget(true)],
  ['FUSE mount', mountTarget],
];

describe.each(TARGETS)('contract: %s', (_name, make) => {
  let t: Target;
  beforeAll(async () => {
    t = await make();
  });
  afterAll(async () => {
    await t?.close();
  });
  const core = () => t.fs !== undefined;

  it('create, mkdir: attributes, EEXIST, ENOENT/ENOTDIR on the way', () => {
    const d = t.fresh({ f: 'x' });
    const { driver: fs } = t;
    fs.create(`${d}/new`, 0o640);
    const st = fs.stat(`${d}/new`);
    expect(st.mode).toBe(S_IFREG | 0o640);
    expect([st.nlink, st.size]).toEqual([1, 0]);
    expect(errno(() => fs.create(`${d}/new`))).toBe('EEXIST');
    expect(errno(() => fs.create(`${d}/f`))).toBe('EEXIST');
    expect(errno(() => fs.mkdir(`${d}/f`))).toBe('EEXIST');
    fs.mkdir(`${d}/sub`, 0o750);
    expect(fs.stat(`${d}/sub`).mode).toBe(S_IFDIR | 0o750);
    expect(fs.stat(`${d}/sub`).nlink).toBe(2);
    expect(errno(() => fs.create(`${d}/nope/x`))).toBe('ENOENT');
    expect(errno(() => fs.create(`${d}/f/x`))).toBe('ENOTDIR');
    expect(errno(() => fs.stat(`${d}/missing`))).toBe('ENOENT');
    expect(errno(() => fs.stat(`${d}/f/x`))).toBe('ENOTDIR');
  });

  it('directory link counts follow subdirectories', () => {
    const d = t.fresh({ 'a/x': null, 'a/y': null, 'a/f': '1' });
    const { driver: fs } = t;
    fs.mkdir(`${d}/a/z`);
    // a directory merged with a base directory may say 1 (unknown), as btrfs does: skip those
    const n = fs.stat(`${d}/a`).nlink;
    if (n !== 1) expect(n).toBe(5);
    fs.rmdir(`${d}/a/x`);
    if (n !== 1) expect(fs.stat(`${d}/a`).nlink).toBe(4);
  });

  it('write and read: extend, holes read as zeros, truncate both ways', () => {
    const d = t.fresh({ f: 'hello' });
    const { driver: fs } = t;
    expect(fs.read(`${d}/f`).toString()).toBe('hello');
    fs.write(`${d}/f`, 5, ' world');
    expect(fs.read(`${d}/f`).toString()).toBe('hello world');
    fs.write(`${d}/f`, 20000, 'end');
    expect(fs.stat(`${d}/f`).size).toBe(20003);
    const all = fs.read(`${d}/f`);
    expect(all.length).toBe(20003);
    expect(all.subarray(11, 20000).every((b) => b === 0)).toBe(true);
    expect(fs.read(`${d}/f`, 20000, 10).toString()).toBe('end');
    expect(fs.read(`${d}/f`, 30000, 10).length).toBe(0);
    fs.truncate(`${d}/f`, 3);
    expect(fs.read(`${d}/f`).toString()).toBe('hel');
    fs.truncate(`${d}/f`, 6);
    expect([...fs.read(`${d}/f`)]).toEqual([104, 101, 108, 0, 0, 0]);
    // a big write across chunk boundaries reads back byte for byte
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    fs.create(`${d}/big`);
    fs.write(`${d}/big`, 1000, big);
    expect(fs.read(`${d}/big`, 1000, big.length).equals(big)).toBe(true);
  });

  it('read and write of a directory: EISDIR; truncate of a directory: EISDIR', () => {
    const d = t.fresh({ sub: null });
    const { driver: fs } = t;
    expect(errno(() => fs.read(`${d}/sub`))).toBe('EISDIR');
    expect(errno(() => fs.write(`${d}/sub`, 0, 'x'))).toBe('EISDIR');
    expect(errno(() => fs.truncate(`${d}/sub`, 0))).toBe('EISDIR');
  });

  it('chmod changes permission bits only', () => {
    const d = t.fresh({ f: 'x', sub: null });
    const { driver: fs } = t;
    fs.chmod(`${d}/f`, 0o600);
    expect(fs.stat(`${d}/f`).mode).toBe(S_IFREG | 0o600);
    fs.chmod(`${d}/sub`, 0o700);
    expect(fs.stat(`${d}/sub`).mode).toBe(S_IFDIR | 0o700);
  });

  it('unlink and rmdir: ENOENT, EISDIR, ENOTDIR, ENOTEMPTY', () => {
    const d = t.fresh({ f: 'x', empty: null, full: null, 'full/g': 'y' });
    const { driver: fs } = t;
    expect(errno(() => fs.unlink(`${d}/missing`))).toBe('ENOENT');
    expect(errno(() => fs.unlink(`${d}/empty`))).toBe('EISDIR');
    expect(errno(() => fs.rmdir(`${d}/f`))).toBe('ENOTDIR');
    expect(errno(() => fs.rmdir(`${d}/full`))).toBe('ENOTEMPTY');
    expect(errno(() => fs.rmdir(`${d}/missing`))).toBe('ENOENT');
    fs.unlink(`${d}/f`);
    fs.rmdir(`${d}/empty`);
    expect(fs.readdir(d)).toEqual(['full']);
    expect(errno(() => fs.stat(`${d}/f`))).toBe('ENOENT');
  });

  it("'.' and '..' as the entry: the errno Linux gives", () => {
    const d = t.fresh({ sub: null, 'sub/f': 'x' });
    const { driver: fs } = t;
    expect(errno(() => fs.mkdir(`${d}/sub/.`))).toBe('EEXIST');
    expect(errno(() => fs.mkdir(`${d}/sub/..`))).toBe('EEXIST');
    expect(errno(() => fs.unlink(`${d}/sub/.`))).toBe('EISDIR');
    expect(errno(() => fs.unlink(`${d}/sub/..`))).toBe('EISDIR');
    expect(errno(() => fs.rmdir(`${d}/sub/.`))).toBe('EINVAL');
    expect(errno(() => fs.rmdir(`${d}/sub/..`))).toBe('ENOTEMPTY');
    expect(errno(() => fs.rename(`${d}/sub/.`, `${d}/x`))).toBe('EBUSY');
    expect(errno(() => fs.rename(`${d}/sub/f`, `${d}/sub/..`))).toBe('EBUSY');
    expect(errno(() => fs.symlink('t', `${d}/sub/.`))).toBe('EEXIST');
    expect(errno(() => fs.link(`${d}/sub/f`, `${d}/sub/..`))).toBe('EEXIST');
    // lookups follow them
    expect(fs.stat(`${d}/sub/.`).ino).toBe(fs.stat(`${d}/sub`).ino);
    expect(fs.stat(`${d}/sub/..`).ino).toBe(fs.stat(d).ino);
    // the root's '..' is the root (through a mount, '..' of the mountpoint is the host's)
    if (core()) expect(fs.stat('/..').ino).toBe(fs.stat('/').ino);
  });

  it('names: 255 bytes of UTF-8 fit, 256 are ENAMETOOLONG (for every op)', () => {
    const d = t.fresh();
    const { driver: fs } = t;
    const ascii = 'a'.repeat(255);
    const euro = '€'.repeat(85); // 255 bytes
    fs.create(`${d}/${ascii}`);
    fs.mkdir(`${d}/${euro}`);
    expect(fs.readdir(d).sort()).toEqual([ascii, euro].sort());
    fs.rename(`${d}/${ascii}`, `${d}/${'b'.repeat(255)}`);
    for (const long of ['a'.repeat(256), '€'.repeat(86)]) {
      expect(errno(() => fs.create(`${d}/${long}`))).toBe('ENAMETOOLONG');
      expect(errno(() => fs.mkdir(`${d}/${long}`))).toBe('ENAMETOOLONG');
      expect(errno(() => fs.stat(`${d}/${long}`))).toBe('ENAMETOOLONG');
      expect(errno(() => fs.symlink('t', `${d}/${long}`))).toBe('ENAMETOOLONG');
      expect(errno(() => fs.rename(`${d}/${euro}`, `${d}/${long}`))).toBe('ENAMETOOLONG');
      expect(errno(() => fs.link(`${d}/${'b'.repeat(255)}`, `${d}/${long}`))).toBe('ENAMETOOLONG');
    }
  });

  it('names the core refuses before anything else: empty ENOENT, NUL and / EINVAL, lone surrogate EILSEQ', () => {
    if (!core()) return; // the kernel never passes such names on
    const fs = t.fs!;
    const dir = fs.lookup(fs.rootIno, t.fresh().slice(1)).ino;
    const caller = { uid: 0, gid: 0 };
    for (const [name, code] of [['', 'ENOENT'], ['a\0b', 'EINVAL'], ['a/b', 'EINVAL'], ['x\ud800', 'EILSEQ']] as const) {
      expect(errno(() => fs.lookup(dir, name)), JSON.stringify(name)).toBe(code);
      expect(errno(() => fs.create(dir, name, 0o644, caller)), JSON.stringify(name)).toBe(code);
      expect(errno(() => fs.mkdir(dir, name, 0o755, caller)), JSON.stringify(name)).toBe(code);
      expect(errno(() => fs.unlink(dir, name)), JSON.stringify(name)).toBe(code);
      expect(errno(() => fs.rmdir(dir, name)), JSON.stringify(name)).toBe(code);
    }
  });

  it('hard links: one inode, shared data, nlink counts, data lives until the last name goes', () => {
    const d = t.fresh({ f: 'shared', sub: null });
    const { driver: fs } = t;
    fs.link(`${d}/f`, `${d}/sub/g`);
    expect(fs.stat(`${d}/sub/g`).ino).toBe(fs.stat(`${d}/f`).ino);
    expect(fs.stat(`${d}/f`).nlink).toBe(2);
    fs.write(`${d}/sub/g`, 0, 'SHARED');
    expect(fs.read(`${d}/f`).toString()).toBe('SHARED');
    expect(errno(() => fs.link(`${d}/sub`, `${d}/dirlink`))).toBe('EPERM');
    expect(errno(() => fs.link(`${d}/f`, `${d}/sub/g`))).toBe('EEXIST');
    fs.unlink(`${d}/f`);
    expect(fs.stat(`${d}/sub/g`).nlink).toBe(1);
    expect(fs.read(`${d}/sub/g`).toString()).toBe('SHARED');
  });

  it('symlinks: readlink, lstat, EINVAL on a non-link, targets stored as is', () => {
    const d = t.fresh({ f: 'x' });
    const { driver: fs } = t;
    fs.symlink('../some/where', `${d}/l`);
    expect(fs.readlink(`${d}/l`)).toBe('../some/where');
    expect(fs.stat(`${d}/l`).mode & S_IFMT).toBe(S_IFLNK);
    expect(errno(() => fs.readlink(`${d}/f`))).toBe('EINVAL');
    expect(errno(() => fs.symlink('x', `${d}/f`))).toBe('EEXIST');
  });

  it('rename: move, replace a file, replace an empty directory, and the refusals', () => {
    const d = t.fresh({ a: 'A', b: 'B', dir: null, 'dir/in': 'i', empty: null, full: null, 'full/x': 'x', other: null });
    const { driver: fs } = t;
    const ino = fs.stat(`${d}/a`).ino;
    fs.rename(`${d}/a`, `${d}/b`); // replaces b
    expect(fs.read(`${d}/b`).toString()).toBe('A');
    expect(fs.stat(`${d}/b`).ino).toBe(ino);
    expect(errno(() => fs.stat(`${d}/a`))).toBe('ENOENT');
    expect(errno(() => fs.rename(`${d}/a`, `${d}/c`))).toBe('ENOENT');
    expect(errno(() => fs.rename(`${d}/dir`, `${d}/b`))).toBe('ENOTDIR');
    expect(errno(() => fs.rename(`${d}/b`, `${d}/empty`))).toBe('EISDIR');
    expect(errno(() => fs.rename(`${d}/dir`, `${d}/full`))).toBe('ENOTEMPTY');
    expect(errno(() => fs.rename(`${d}/dir`, `${d}/dir/in2`))).toBe('EINVAL');
    fs.mkdir(`${d}/dir/sub`);
    expect(errno(() => fs.rename(`${d}/dir`, `${d}/dir/sub/deeper`))).toBe('EINVAL');
    fs.rename(`${d}/dir`, `${d}/empty`); // replaces the empty directory
    expect(fs.read(`${d}/empty/in`).toString()).toBe('i');
    expect(fs.readdir(d).sort()).toEqual(['b', 'empty', 'full', 'other']);
    // across directories, and back: the tree moves with it
    fs.rename(`${d}/empty`, `${d}/other/moved`);
    expect(fs.read(`${d}/other/moved/in`).toString()).toBe('i');
    expect(fs.stat(`${d}/other/moved/..`).ino).toBe(fs.stat(`${d}/other`).ino);
  });

  it('rename of two names of one inode does nothing', () => {
    const d = t.fresh({ f: 'x' });
    const { driver: fs } = t;
    fs.link(`${d}/f`, `${d}/g`);
    fs.rename(`${d}/f`, `${d}/g`);
    expect(fs.readdir(d).sort()).toEqual(['f', 'g']);
    expect(fs.stat(`${d}/f`).nlink).toBe(2);
  });

  it('rename flags: RENAME_NOREPLACE and RENAME_EXCHANGE', () => {
    if (!core()) return; // node:fs has no renameat2; fuse-posix.test.ts covers them through a mount
    const d = t.fresh({ a: 'A', b: 'B', dir: null, 'dir/x': 'x' });
    const fs = t.fs!;
    const dir = fs.lookup(fs.rootIno, d.slice(1)).ino;
    expect(errno(() => fs.rename(dir, 'a', dir, 'b', RENAME_NOREPLACE))).toBe('EEXIST');
    expect(errno(() => fs.rename(dir, 'a', dir, 'nope', RENAME_EXCHANGE))).toBe('ENOENT');
    expect(errno(() => fs.rename(dir, 'a', dir, 'b', RENAME_EXCHANGE | RENAME_NOREPLACE))).toBe('EINVAL');
    expect(errno(() => fs.rename(dir, 'a', dir, 'b', 0x100))).toBe('EINVAL');
    fs.rename(dir, 'a', dir, 'dir', RENAME_EXCHANGE);
    expect(fs.lookup(dir, 'a').mode & S_IFMT).toBe(S_IFDIR);
    expect(t.driver.read(`${d}/dir`).toString()).toBe('A');
    expect(t.driver.read(`${d}/a/x`).toString()).toBe('x');
    fs.rename(dir, 'b', dir, 'c', RENAME_NOREPLACE);
    expect(t.driver.read(`${d}/c`).toString()).toBe('B');
  });

  it('large directories: 2,000 entries, each listed once; paging survives changes', () => {
    const d = t.fresh();
    const { driver: fs } = t;
    const names = Array.from({ length: 2000 }, (_, i) => `entry-${String(i).padStart(5, '0')}`);
    for (const n of names) fs.create(`${d}/${n}`);
    const listed = fs.readdir(d);
    expect(listed.length).toBe(2000);
    expect(new Set(listed).size).toBe(2000);
    expect([...listed].sort()).toEqual(names);
    if (!core()) return;
    // page 100 at a time by cookie while removing entries already seen and adding new ones
    const f = t.fs!;
    const dir = f.lookup(f.rootIno, d.slice(1)).ino;
    const seen = new Set<string>();
    let cookie = 0;
    for (let page = f.readdir(dir, 0, 100); page.length; page = f.readdir(dir, cookie, 100)) {
      for (const e of page) {
        expect(seen.has(e.name), e.name).toBe(false);
        seen.add(e.name);
      }
      cookie = page[page.length - 1]!.offset;
      f.unlink(dir, page[0]!.name);
    }
    for (const n of names) expect(seen.has(n), n).toBe(true);
  });

  it('an unlinked file stays readable while open (core: open/release)', () => {
    if (!core()) return;
    const d = t.fresh({ f: 'still here' });
    const fs = t.fs!;
    const dir = fs.lookup(fs.rootIno, d.slice(1)).ino;
    const ino = fs.lookup(dir, 'f').ino;
    fs.open(ino, 0);
    fs.unlink(dir, 'f');
    expect(fs.read(ino, 0, 100).toString()).toBe('still here');
    fs.release(ino);
  });

  describe('atomicity (core: a failure injected inside the transaction)', () => {
    it('a failed rm -r leaves the whole tree', () => {
      if (!core()) return;
      const d = t.fresh({ 'a/1': '1', 'a/2': '2', 'a/b/3': '3', 'a/b/c/4': '4', 'a/5': '5' });
      t.failAfter!(4);
      expect(() => t.paths!.rm(`${d}/a`, { recursive: true })).toThrow(/injected/);
      t.failAfter!(0);
      expect(t.paths!.readFile(`${d}/a/b/c/4`, 'utf8')).toBe('4');
      expect(t.paths!.readdir(`${d}/a`).sort()).toEqual(['1', '2', '5', 'b']);
      // and it still works afterwards
      t.paths!.rm(`${d}/a`, { recursive: true });
      expect(t.paths!.readdir(d)).toEqual([]);
    });

    it('a failed writeFile leaves the old content', () => {
      if (!core()) return;
      const d = t.fresh({ f: 'old content' });
      t.failAfter!(3); // PathFs writes 4 KiB pieces: the third change is mid-file
      expect(() => t.paths!.writeFile(`${d}/f`, Buffer.alloc(64 * 1024, 1))).toThrow(/injected/);
      t.failAfter!(0);
      expect(t.paths!.readFile(`${d}/f`, 'utf8')).toBe('old content');
    });

    it('a failed cp -r leaves no copy', () => {
      if (!core()) return;
      const d = t.fresh({ 'src/1': '1', 'src/x/2': '2', 'src/x/3': '3' });
      t.failAfter!(5);
      expect(() => t.paths!.cp(`${d}/src`, `${d}/dst`, { recursive: true })).toThrow(/injected/);
      t.failAfter!(0);
      expect(t.paths!.readdir(d)).toEqual(['src']);
      t.paths!.cp(`${d}/src`, `${d}/dst`, { recursive: true });
      expect(t.paths!.readFile(`${d}/dst/x/3`, 'utf8')).toBe('3');
    });
  });
});
