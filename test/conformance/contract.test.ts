/**
 * The FileSystem contract (src/core/types.ts), one set of tests run against every target:
 * InodeFs, OverlayFs over an empty base, OverlayFs over a populated base (each test's files come
 * from the base, so every change copies up), and a live FUSE mount through the kernel. A
 * difference between targets is a failing test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../../src/core/types.js';
import { inodeTarget, mountTarget, nfsTarget, overlayMountTarget, overlayTarget, type Target } from './targets.js';

/** The errno name a call fails with, or 'ok'. */
async function errno(fn: () => unknown): Promise<string> {
  try {
    await fn();
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
  ['FUSE mount of an overlay over a populated base', overlayMountTarget],
  ['serve nfs', nfsTarget],
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
  /** the errno expected from this target (a protocol may carry a core errno as another) */
  const E = (code: string) => t.wire?.(code) ?? code;

  it('create, mkdir: attributes, EEXIST, ENOENT/ENOTDIR on the way', async () => {
    const d = await t.fresh({ f: 'x' });
    const { driver: fs } = t;
    await fs.create(`${d}/new`, 0o640);
    const st = await fs.stat(`${d}/new`);
    expect(st.mode).toBe(S_IFREG | 0o640);
    expect([st.nlink, st.size]).toEqual([1, 0]);
    expect(await errno(() => fs.create(`${d}/new`))).toBe(E('EEXIST'));
    expect(await errno(() => fs.create(`${d}/f`))).toBe(E('EEXIST'));
    expect(await errno(() => fs.mkdir(`${d}/f`))).toBe(E('EEXIST'));
    await fs.mkdir(`${d}/sub`, 0o750);
    expect((await fs.stat(`${d}/sub`)).mode).toBe(S_IFDIR | 0o750);
    expect((await fs.stat(`${d}/sub`)).nlink).toBe(2);
    expect(await errno(() => fs.create(`${d}/nope/x`))).toBe(E('ENOENT'));
    expect(await errno(() => fs.create(`${d}/f/x`))).toBe(E('ENOTDIR'));
    expect(await errno(() => fs.stat(`${d}/missing`))).toBe(E('ENOENT'));
    expect(await errno(() => fs.stat(`${d}/f/x`))).toBe(E('ENOTDIR'));
  });

  it('directory link counts follow subdirectories', async () => {
    const d = await t.fresh({ 'a/x': null, 'a/y': null, 'a/f': '1' });
    const { driver: fs } = t;
    await fs.mkdir(`${d}/a/z`);
    // a directory merged with a base directory may say 1 (unknown), as btrfs does: skip those
    const n = (await fs.stat(`${d}/a`)).nlink;
    if (n !== 1) expect(n).toBe(5);
    await fs.rmdir(`${d}/a/x`);
    if (n !== 1) expect((await fs.stat(`${d}/a`)).nlink).toBe(4);
  });

  it('write and read: extend, holes read as zeros, truncate both ways', async () => {
    const d = await t.fresh({ f: 'hello' });
    const { driver: fs } = t;
    expect((await fs.read(`${d}/f`)).toString()).toBe('hello');
    await fs.write(`${d}/f`, 5, ' world');
    expect((await fs.read(`${d}/f`)).toString()).toBe('hello world');
    await fs.write(`${d}/f`, 20000, 'end');
    expect((await fs.stat(`${d}/f`)).size).toBe(20003);
    const all = await fs.read(`${d}/f`);
    expect(all.length).toBe(20003);
    expect(all.subarray(11, 20000).every((b) => b === 0)).toBe(true);
    expect((await fs.read(`${d}/f`, 20000, 10)).toString()).toBe('end');
    expect((await fs.read(`${d}/f`, 30000, 10)).length).toBe(0);
    await fs.truncate(`${d}/f`, 3);
    expect((await fs.read(`${d}/f`)).toString()).toBe('hel');
    await fs.truncate(`${d}/f`, 6);
    expect([...(await fs.read(`${d}/f`))]).toEqual([104, 101, 108, 0, 0, 0]);
    // a big write across chunk boundaries reads back byte for byte
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    await fs.create(`${d}/big`);
    await fs.write(`${d}/big`, 1000, big);
    expect((await fs.read(`${d}/big`, 1000, big.length)).equals(big)).toBe(true);
  });

  it('read and write of a directory: EISDIR; truncate of a directory: EISDIR', async () => {
    const d = await t.fresh({ sub: null });
    const { driver: fs } = t;
    expect(await errno(() => fs.read(`${d}/sub`))).toBe(E('EISDIR'));
    expect(await errno(() => fs.write(`${d}/sub`, 0, 'x'))).toBe(E('EISDIR'));
    expect(await errno(() => fs.truncate(`${d}/sub`, 0))).toBe(E('EISDIR'));
  });

  it('chmod changes permission bits only', async () => {
    const d = await t.fresh({ f: 'x', sub: null });
    const { driver: fs } = t;
    await fs.chmod(`${d}/f`, 0o600);
    expect((await fs.stat(`${d}/f`)).mode).toBe(S_IFREG | 0o600);
    await fs.chmod(`${d}/sub`, 0o700);
    expect((await fs.stat(`${d}/sub`)).mode).toBe(S_IFDIR | 0o700);
  });

  it('unlink and rmdir: ENOENT, EISDIR, ENOTDIR, ENOTEMPTY', async () => {
    const d = await t.fresh({ f: 'x', empty: null, full: null, 'full/g': 'y' });
    const { driver: fs } = t;
    expect(await errno(() => fs.unlink(`${d}/missing`))).toBe(E('ENOENT'));
    expect(await errno(() => fs.unlink(`${d}/empty`))).toBe(E('EISDIR'));
    expect(await errno(() => fs.rmdir(`${d}/f`))).toBe(E('ENOTDIR'));
    expect(await errno(() => fs.rmdir(`${d}/full`))).toBe(E('ENOTEMPTY'));
    expect(await errno(() => fs.rmdir(`${d}/missing`))).toBe(E('ENOENT'));
    await fs.unlink(`${d}/f`);
    await fs.rmdir(`${d}/empty`);
    expect((await fs.readdir(d))).toEqual(['full']);
    expect(await errno(() => fs.stat(`${d}/f`))).toBe(E('ENOENT'));
  });

  it("'.' and '..' as the entry: the errno Linux gives", async () => {
    const d = await t.fresh({ sub: null, 'sub/f': 'x' });
    const { driver: fs } = t;
    expect(await errno(() => fs.mkdir(`${d}/sub/.`))).toBe(E('EEXIST'));
    expect(await errno(() => fs.mkdir(`${d}/sub/..`))).toBe(E('EEXIST'));
    expect(await errno(() => fs.unlink(`${d}/sub/.`))).toBe(E('EISDIR'));
    expect(await errno(() => fs.unlink(`${d}/sub/..`))).toBe(E('EISDIR'));
    expect(await errno(() => fs.rmdir(`${d}/sub/.`))).toBe(E('EINVAL'));
    expect(await errno(() => fs.rmdir(`${d}/sub/..`))).toBe(E('ENOTEMPTY'));
    expect(await errno(() => fs.rename(`${d}/sub/.`, `${d}/x`))).toBe(E('EBUSY'));
    expect(await errno(() => fs.rename(`${d}/sub/f`, `${d}/sub/..`))).toBe(E('EBUSY'));
    expect(await errno(() => fs.symlink('t', `${d}/sub/.`))).toBe(E('EEXIST'));
    expect(await errno(() => fs.link(`${d}/sub/f`, `${d}/sub/..`))).toBe(E('EEXIST'));
    // lookups follow them
    expect((await fs.stat(`${d}/sub/.`)).ino).toBe((await fs.stat(`${d}/sub`)).ino);
    expect((await fs.stat(`${d}/sub/..`)).ino).toBe((await fs.stat(d)).ino);
    // the root's '..' is the root (through a mount, '..' of the mountpoint is the host's)
    if (core()) expect((await fs.stat('/..')).ino).toBe((await fs.stat('/')).ino);
  });

  it('names: 255 bytes of UTF-8 fit, 256 are ENAMETOOLONG (for every op)', async () => {
    const d = await t.fresh();
    const { driver: fs } = t;
    const ascii = 'a'.repeat(255);
    const euro = '€'.repeat(85); // 255 bytes
    await fs.create(`${d}/${ascii}`);
    await fs.mkdir(`${d}/${euro}`);
    expect((await fs.readdir(d)).sort()).toEqual([ascii, euro].sort());
    await fs.rename(`${d}/${ascii}`, `${d}/${'b'.repeat(255)}`);
    for (const long of ['a'.repeat(256), '€'.repeat(86)]) {
      expect(await errno(() => fs.create(`${d}/${long}`))).toBe(E('ENAMETOOLONG'));
      expect(await errno(() => fs.mkdir(`${d}/${long}`))).toBe(E('ENAMETOOLONG'));
      expect(await errno(() => fs.stat(`${d}/${long}`))).toBe(E('ENAMETOOLONG'));
      expect(await errno(() => fs.symlink('t', `${d}/${long}`))).toBe(E('ENAMETOOLONG'));
      expect(await errno(() => fs.rename(`${d}/${euro}`, `${d}/${long}`))).toBe(E('ENAMETOOLONG'));
      expect(await errno(() => fs.link(`${d}/${'b'.repeat(255)}`, `${d}/${long}`))).toBe(E('ENAMETOOLONG'));
    }
  });

  it('names the core refuses before anything else: empty ENOENT, NUL and / EINVAL, lone surrogate EILSEQ', async () => {
    if (!core()) return; // the kernel never passes such names on
    const fs = t.fs!;
    const dir = fs.lookup(fs.rootIno, (await t.fresh()).slice(1)).ino;
    const caller = { uid: 0, gid: 0 };
    for (const [name, code] of [['', 'ENOENT'], ['a\0b', 'EINVAL'], ['a/b', 'EINVAL'], ['x\ud800', 'EILSEQ']] as const) {
      expect(await errno(() => fs.lookup(dir, name)), JSON.stringify(name)).toBe(code);
      expect(await errno(() => fs.create(dir, name, 0o644, caller)), JSON.stringify(name)).toBe(code);
      expect(await errno(() => fs.mkdir(dir, name, 0o755, caller)), JSON.stringify(name)).toBe(code);
      expect(await errno(() => fs.unlink(dir, name)), JSON.stringify(name)).toBe(code);
      expect(await errno(() => fs.rmdir(dir, name)), JSON.stringify(name)).toBe(code);
    }
  });

  it('hard links: one inode, shared data, nlink counts, data lives until the last name goes', async () => {
    const d = await t.fresh({ f: 'shared', sub: null });
    const { driver: fs } = t;
    await fs.link(`${d}/f`, `${d}/sub/g`);
    expect((await fs.stat(`${d}/sub/g`)).ino).toBe((await fs.stat(`${d}/f`)).ino);
    expect((await fs.stat(`${d}/f`)).nlink).toBe(2);
    await fs.write(`${d}/sub/g`, 0, 'SHARED');
    expect((await fs.read(`${d}/f`)).toString()).toBe('SHARED');
    expect(await errno(() => fs.link(`${d}/sub`, `${d}/dirlink`))).toBe(E('EPERM'));
    expect(await errno(() => fs.link(`${d}/f`, `${d}/sub/g`))).toBe(E('EEXIST'));
    await fs.unlink(`${d}/f`);
    expect((await fs.stat(`${d}/sub/g`)).nlink).toBe(1);
    expect((await fs.read(`${d}/sub/g`)).toString()).toBe('SHARED');
  });

  it('symlinks: readlink, lstat, EINVAL on a non-link, targets stored as is', async () => {
    const d = await t.fresh({ f: 'x' });
    const { driver: fs } = t;
    await fs.symlink('../some/where', `${d}/l`);
    expect((await fs.readlink(`${d}/l`))).toBe('../some/where');
    expect((await fs.stat(`${d}/l`)).mode & S_IFMT).toBe(S_IFLNK);
    expect(await errno(() => fs.readlink(`${d}/f`))).toBe(E('EINVAL'));
    expect(await errno(() => fs.symlink('x', `${d}/f`))).toBe(E('EEXIST'));
  });

  it('rename: move, replace a file, replace an empty directory, and the refusals', async () => {
    const d = await t.fresh({ a: 'A', b: 'B', dir: null, 'dir/in': 'i', empty: null, full: null, 'full/x': 'x', other: null });
    const { driver: fs } = t;
    const ino = (await fs.stat(`${d}/a`)).ino;
    (await fs.rename(`${d}/a`, `${d}/b`)); // replaces b
    expect((await fs.read(`${d}/b`)).toString()).toBe('A');
    expect((await fs.stat(`${d}/b`)).ino).toBe(ino);
    expect(await errno(() => fs.stat(`${d}/a`))).toBe(E('ENOENT'));
    expect(await errno(() => fs.rename(`${d}/a`, `${d}/c`))).toBe(E('ENOENT'));
    expect(await errno(() => fs.rename(`${d}/dir`, `${d}/b`))).toBe(E('ENOTDIR'));
    expect(await errno(() => fs.rename(`${d}/b`, `${d}/empty`))).toBe(E('EISDIR'));
    expect(await errno(() => fs.rename(`${d}/dir`, `${d}/full`))).toBe(E('ENOTEMPTY'));
    expect(await errno(() => fs.rename(`${d}/dir`, `${d}/dir/in2`))).toBe(E('EINVAL'));
    // into its own subtree onto an existing entry: EINVAL before the target's type is looked at
    expect(await errno(() => fs.rename(`${d}/dir`, `${d}/dir/in`))).toBe(E('EINVAL'));
    await fs.mkdir(`${d}/dir/sub`);
    expect(await errno(() => fs.rename(`${d}/dir`, `${d}/dir/sub/deeper`))).toBe(E('EINVAL'));
    (await fs.rename(`${d}/dir`, `${d}/empty`)); // replaces the empty directory
    expect((await fs.read(`${d}/empty/in`)).toString()).toBe('i');
    expect((await fs.readdir(d)).sort()).toEqual(['b', 'empty', 'full', 'other']);
    // across directories, and back: the tree moves with it
    await fs.rename(`${d}/empty`, `${d}/other/moved`);
    expect((await fs.read(`${d}/other/moved/in`)).toString()).toBe('i');
    expect((await fs.stat(`${d}/other/moved/..`)).ino).toBe((await fs.stat(`${d}/other`)).ino);
  });

  it('rename of two names of one inode does nothing', async () => {
    const d = await t.fresh({ f: 'x' });
    const { driver: fs } = t;
    await fs.link(`${d}/f`, `${d}/g`);
    await fs.rename(`${d}/f`, `${d}/g`);
    expect((await fs.readdir(d)).sort()).toEqual(['f', 'g']);
    expect((await fs.stat(`${d}/f`)).nlink).toBe(2);
  });

  it('rename flags: RENAME_NOREPLACE and RENAME_EXCHANGE', async () => {
    if (!core()) return; // node:fs has no renameat2; fuse-posix.test.ts covers them through a mount
    const d = await t.fresh({ a: 'A', b: 'B', dir: null, 'dir/x': 'x' });
    const fs = t.fs!;
    const dir = fs.lookup(fs.rootIno, d.slice(1)).ino;
    expect(await errno(() => fs.rename(dir, 'a', dir, 'b', RENAME_NOREPLACE))).toBe(E('EEXIST'));
    expect(await errno(() => fs.rename(dir, 'a', dir, 'nope', RENAME_EXCHANGE))).toBe(E('ENOENT'));
    expect(await errno(() => fs.rename(dir, 'a', dir, 'b', RENAME_EXCHANGE | RENAME_NOREPLACE))).toBe(E('EINVAL'));
    expect(await errno(() => fs.rename(dir, 'a', dir, 'b', 0x100))).toBe(E('EINVAL'));
    // a directory into its own subtree, in the order Linux checks (renameat2 on ext4 agrees):
    // NOREPLACE onto an entry EEXIST and EXCHANGE with nothing ENOENT first, then EINVAL
    const sub = fs.lookup(dir, 'dir').ino;
    expect(await errno(() => fs.rename(dir, 'dir', sub, 'x', RENAME_NOREPLACE))).toBe(E('EEXIST'));
    expect(await errno(() => fs.rename(dir, 'dir', sub, 'nx', RENAME_NOREPLACE))).toBe(E('EINVAL'));
    expect(await errno(() => fs.rename(dir, 'dir', sub, 'nx', RENAME_EXCHANGE))).toBe(E('ENOENT'));
    expect(await errno(() => fs.rename(dir, 'dir', sub, 'x', RENAME_EXCHANGE))).toBe(E('EINVAL'));
    expect(await errno(() => fs.rename(sub, 'x', dir, 'dir', RENAME_EXCHANGE))).toBe(E('EINVAL'));
    // NOREPLACE onto another name of the same inode is EEXIST too (not the silent no-op)
    fs.link(fs.lookup(dir, 'b').ino, dir, 'b2');
    expect(await errno(() => fs.rename(dir, 'b', dir, 'b2', RENAME_NOREPLACE))).toBe(E('EEXIST'));
    fs.unlink(dir, 'b2');
    await fs.rename(dir, 'a', dir, 'dir', RENAME_EXCHANGE);
    expect(fs.lookup(dir, 'a').mode & S_IFMT).toBe(S_IFDIR);
    expect((await t.driver.read(`${d}/dir`)).toString()).toBe('A');
    expect((await t.driver.read(`${d}/a/x`)).toString()).toBe('x');
    await fs.rename(dir, 'b', dir, 'c', RENAME_NOREPLACE);
    expect((await t.driver.read(`${d}/c`)).toString()).toBe('B');
  });

  it('large directories: 2,000 entries, each listed once; paging survives changes', async () => {
    const d = await t.fresh();
    const { driver: fs } = t;
    const names = Array.from({ length: 2000 }, (_, i) => `entry-${String(i).padStart(5, '0')}`);
    for (const n of names) (await fs.create(`${d}/${n}`));
    const listed = await fs.readdir(d);
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

  it('an unlinked file stays readable while open (core: open/release)', async () => {
    if (!core()) return;
    const d = await t.fresh({ f: 'still here' });
    const fs = t.fs!;
    const dir = fs.lookup(fs.rootIno, d.slice(1)).ino;
    const ino = fs.lookup(dir, 'f').ino;
    fs.open(ino, 0);
    await fs.unlink(dir, 'f');
    expect((await fs.read(ino, 0, 100)).toString()).toBe('still here');
    fs.release(ino);
  });

  it('symlink targets: empty ENOENT, PATH_MAX (4096) bytes or more ENAMETOOLONG', async () => {
    const d = await t.fresh();
    const { driver: fs } = t;
    expect(await errno(() => fs.symlink('', `${d}/l`))).toBe(E('ENOENT'));
    expect(await errno(() => fs.symlink('x'.repeat(4096), `${d}/l`))).toBe(E('ENAMETOOLONG'));
    await fs.symlink('x'.repeat(4000), `${d}/l`);
    expect((await fs.readlink(`${d}/l`)).length).toBe(4000);
  });

  it('the other ops of the core: mknod, access, readdirPlus, statfs, argument errors, unknown inos', async () => {
    if (!core()) return;
    const fs = t.fs!;
    const dir = fs.lookup(fs.rootIno, (await t.fresh({ f: 'data' })).slice(1)).ino;
    const root = { uid: 0, gid: 0 };
    const fifo = fs.mknod(dir, 'fifo', 0o010644, 0, root);
    expect(fifo.mode).toBe(0o010644);
    expect(fs.mknod(dir, 'sock', 0o140600, 0, root).mode & S_IFMT).toBe(0o140000);
    expect(await errno(() => fs.mknod(dir, 'd', S_IFDIR | 0o755, 0, root))).toBe('EINVAL');
    expect(await errno(() => fs.mknod(dir, 'fifo', 0o010644, 0, root))).toBe('EEXIST');
    expect(await errno(() => fs.read(fifo.ino, 0, 10))).toBe('EINVAL');
    const f = fs.lookup(dir, 'f');
    fs.setattr(f.ino, { mode: 0o600 });
    expect(await errno(() => fs.access(f.ino, 4, { uid: 1000, gid: 1000 }))).toBe('EACCES');
    expect(await errno(() => fs.access(f.ino, 0, { uid: 1000, gid: 1000 }))).toBe('ok');
    expect(await errno(() => fs.access(f.ino, 6, root))).toBe('ok');
    // readdirPlus shows what lookup shows
    for (const e of fs.readdirPlus(dir)) expect(e.attr).toEqual(fs.lookup(dir, e.name));
    expect(fs.statfs().namemax).toBe(255);
    expect(await errno(() => fs.read(f.ino, -1, 10))).toBe('EINVAL');
    expect(await errno(() => fs.write(f.ino, -1, Buffer.from('x')))).toBe('EINVAL');
    expect(await errno(() => fs.setattr(f.ino, { size: -1 }))).toBe('EINVAL');
    expect(await errno(() => fs.readdir(f.ino))).toBe('ENOTDIR');
    expect(await errno(() => fs.lookup(f.ino, 'x'))).toBe('ENOTDIR');
    expect(['ENOENT', 'ESTALE']).toContain(await errno(() => fs.getattr(2 ** 40 + 12345)));
  });

  describe('atomicity (core: a failure injected inside the transaction)', () => {
    it('a failed rm -r leaves the whole tree', async () => {
      if (!core()) return;
      const d = await t.fresh({ 'a/1': '1', 'a/2': '2', 'a/b/3': '3', 'a/b/c/4': '4', 'a/5': '5' });
      t.failAfter!(4);
      expect(() => t.paths!.rm(`${d}/a`, { recursive: true })).toThrow(/injected/);
      t.failAfter!(0);
      expect(t.paths!.readFile(`${d}/a/b/c/4`, 'utf8')).toBe('4');
      expect(t.paths!.readdir(`${d}/a`).sort()).toEqual(['1', '2', '5', 'b']);
      // and it still works afterwards
      t.paths!.rm(`${d}/a`, { recursive: true });
      expect(t.paths!.readdir(d)).toEqual([]);
    });

    it('a failed writeFile leaves the old content', async () => {
      if (!core()) return;
      const d = await t.fresh({ f: 'old content' });
      t.failAfter!(3); // PathFs writes 4 KiB pieces: the third change is mid-file
      expect(() => t.paths!.writeFile(`${d}/f`, Buffer.alloc(64 * 1024, 1))).toThrow(/injected/);
      t.failAfter!(0);
      expect(t.paths!.readFile(`${d}/f`, 'utf8')).toBe('old content');
    });

    it('a failed cp -r leaves no copy', async () => {
      if (!core()) return;
      const d = await t.fresh({ 'src/1': '1', 'src/x/2': '2', 'src/x/3': '3' });
      t.failAfter!(5);
      expect(() => t.paths!.cp(`${d}/src`, `${d}/dst`, { recursive: true })).toThrow(/injected/);
      t.failAfter!(0);
      expect(t.paths!.readdir(d)).toEqual(['src']);
      t.paths!.cp(`${d}/src`, `${d}/dst`, { recursive: true });
      expect(t.paths!.readFile(`${d}/dst/x/3`, 'utf8')).toBe('3');
    });
  });
});
