import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { R_OK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, W_OK, X_OK } from '../../src/core/types.js';
import { PathFs } from '../../src/core/fs/paths.js';
import { compareNames } from '../../src/core/fs/readdir-pages.js';
import { ME, chunks, code, fsFixture, type FsFixture } from '../support/fs-fixture.js';

describe('PathFs', () => {
  let fx: FsFixture;
  let p: PathFs;
  beforeEach(() => {
    fx = fsFixture();
    p = fx.paths;
  });
  afterEach(() => fx.cleanup());

  it('writeFile/readFile round-trip text and binary; overwrite truncates', () => {
    p.writeFile('/hello.txt', 'Hello, world!');
    expect(p.readFile('/hello.txt', 'utf8')).toBe('Hello, world!');
    const bin = randomBytes(100_000);
    p.writeFile('/bin', bin);
    expect(p.readFile('/bin').equals(bin)).toBe(true);
    p.writeFile('/bin', 'short');
    expect(p.readFile('/bin', 'utf8')).toBe('short');
    expect(p.stat('/bin').size).toBe(5);
    expect(chunks(fx.store, p.stat('/bin').ino)).toEqual([{ chunk_index: 0, len: 5 }]);
    expect(code(() => p.writeFile('/missing/dir/f', 'x'))).toBe('ENOENT');
    p.writeFile('/made/by/parents.txt', 'x', { createParents: true });
    expect(p.readFile('/made/by/parents.txt', 'utf8')).toBe('x');
    expect(code(() => p.readFile('/made'))).toBe('EISDIR');
    expect(code(() => p.writeFile('/made', 'x'))).toBe('EISDIR');
    expect(code(() => p.readFile('/nope'))).toBe('ENOENT');
  });

  it('writes big files in pieces (bounded memory) with a small piece size', () => {
    const small = new PathFs(fx.fs, { caller: ME, pieceSize: 8192 });
    const data = randomBytes(100_003);
    const ops: number[] = [];
    fx.events.length = 0;
    small.writeFile('/big', data);
    for (const e of fx.events) if (e.op === 'write') ops.push(e.length!);
    expect(Math.max(...ops)).toBe(8192);
    expect(ops.reduce((a, b) => a + b, 0)).toBe(100_003);
    expect([...small.readPieces('/big')].every((b) => b.length <= 8192)).toBe(true);
    expect(small.readFile('/big').equals(data)).toBe(true);
  });

  it('writeStream writes an async source without buffering all of it', async () => {
    const parts = Array.from({ length: 10 }, () => randomBytes(300_000));
    await p.writeStream('/stream', Readable.from(parts));
    expect(p.readFile('/stream').equals(Buffer.concat(parts))).toBe(true);
  });

  it('appendFile appends and creates', () => {
    p.appendFile('/log', 'a');
    p.appendFile('/log', 'bc');
    expect(p.readFile('/log', 'utf8')).toBe('abc');
  });

  it('mkdir, mkdir -p, and their errors', () => {
    p.mkdir('/a');
    expect(code(() => p.mkdir('/a'))).toBe('EEXIST');
    expect(code(() => p.mkdir('/x/y'))).toBe('ENOENT');
    expect(code(() => p.mkdir('/'))).toBe('EEXIST');
    p.mkdir('/a/b/c/d', { recursive: true });
    expect(p.stat('/a/b/c/d').mode & S_IFMT).toBe(S_IFDIR);
    p.mkdir('/a/b/c/d', { recursive: true }); // existing: fine
    p.writeFile('/file', 'x');
    expect(code(() => p.mkdir('/file/sub', { recursive: true }))).toBe('ENOTDIR');
    expect(code(() => p.mkdir('/file', { recursive: true }))).toBe('EEXIST');
    expect(p.stat('/a').nlink).toBe(3);
    p.mkdir('/m', { mode: 0o700 });
    expect(p.stat('/m').mode).toBe(S_IFDIR | 0o700);
  });

  it('resolves "." and "..", trailing slashes and relative-looking paths from the root', () => {
    p.mkdir('/a/b', { recursive: true });
    p.writeFile('/a/b/f', 'x');
    expect(p.stat('/a/./b/../b/f').ino).toBe(p.stat('/a/b/f').ino);
    expect(p.stat('/../../a').ino).toBe(p.stat('/a').ino);
    expect(p.stat('a/b/f').ino).toBe(p.stat('/a/b/f').ino);
    expect(p.stat('/a/b/').ino).toBe(p.stat('/a/b').ino);
    expect(code(() => p.stat('/a/b/f/'))).toBe('ENOTDIR');
    expect(code(() => p.stat('/a/b/f/g'))).toBe('ENOTDIR');
    expect(code(() => p.stat(''))).toBe('ENOENT');
    expect(code(() => p.stat('/' + 'n'.repeat(256)))).toBe('ENAMETOOLONG');
  });

  it('counts PATH_MAX in bytes: a path of two-byte characters past 4096 bytes is ENAMETOOLONG, though its length in characters is half that', () => {
    const level = 'é'.repeat(120); // 240 bytes, 120 characters
    const dir = '/' + Array.from({ length: 16 }, () => level).join('/'); // 3,856 bytes
    p.mkdir(dir, { recursive: true });
    const file = `${dir}/${level}`; // 4,097 bytes, 2,057 characters
    expect(Buffer.byteLength(file)).toBeGreaterThan(4096);
    expect(code(() => p.writeFile(file, 'x'))).toBe('ENAMETOOLONG');
    expect(code(() => p.mkdir(file))).toBe('ENAMETOOLONG');
    expect(code(() => p.stat(file))).toBe('ENAMETOOLONG');
    expect(p.readdir(dir)).toEqual([]);
  });

  it('errors carry the syscall and the path asked about', () => {
    try {
      p.stat('/no/such');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'ENOENT', syscall: 'stat', path: '/no/such' });
      expect((e as Error).message).toBe('ENOENT: no such file or directory, stat /no/such');
    }
  });

  it('symlinks: stat follows, lstat does not, relative and absolute targets, ELOOP after 40', () => {
    p.mkdir('/dir/sub', { recursive: true });
    p.writeFile('/dir/sub/f', 'target');
    p.symlink('sub/f', '/dir/rel');
    p.symlink('/dir/sub', '/abs');
    p.symlink('../sub/f', '/dir/sub/up');
    expect(p.readFile('/dir/rel', 'utf8')).toBe('target');
    expect(p.readFile('/abs/f', 'utf8')).toBe('target');
    expect(p.readFile('/abs/up', 'utf8')).toBe('target');
    expect(p.stat('/abs/..').ino).toBe(p.stat('/dir').ino); // '..' of the target, not of the link
    expect(p.lstat('/dir/rel').mode & S_IFMT).toBe(S_IFLNK);
    expect(p.stat('/dir/rel').mode & S_IFMT).toBe(S_IFREG);
    expect(p.readlink('/dir/rel')).toBe('sub/f');
    expect(code(() => p.readlink('/dir/sub/f'))).toBe('EINVAL');
    p.symlink('/loop2', '/loop1');
    p.symlink('/loop1', '/loop2');
    expect(code(() => p.stat('/loop1'))).toBe('ELOOP');
    expect(p.lstat('/loop1').mode & S_IFMT).toBe(S_IFLNK);
    // a chain of exactly 40 links resolves, 41 does not
    p.writeFile('/end', 'end');
    let prev = '/end';
    for (let i = 0; i < 41; i++) {
      p.symlink(prev, `/chain${i}`);
      prev = `/chain${i}`;
    }
    expect(p.readFile('/chain39', 'utf8')).toBe('end');
    expect(code(() => p.readFile('/chain40'))).toBe('ELOOP');
    p.symlink('/nowhere', '/dangling');
    expect(p.exists('/dangling')).toBe(false);
    expect(code(() => p.symlink('x', '/dangling'))).toBe('EEXIST');
    // writing through a dangling link creates its target
    p.writeFile('/dangling', 'made');
    expect(p.readFile('/nowhere', 'utf8')).toBe('made');
  });

  it('readdir and readdirPlus list sorted names with attributes', () => {
    for (const n of ['b', 'a', 'c']) p.writeFile(`/${n}`, n);
    p.mkdir('/d');
    expect(p.readdir('/')).toEqual(['a', 'b', 'c', 'd']);
    const plus = p.readdirPlus('/');
    expect(plus.map((e) => [e.name, e.attr.mode & S_IFMT, e.attr.size])).toEqual([
      ['a', S_IFREG, 1], ['b', S_IFREG, 1], ['c', S_IFREG, 1], ['d', S_IFDIR, 0],
    ]);
    expect(code(() => p.readdir('/a'))).toBe('ENOTDIR');
    expect(code(() => p.readdir('/zz'))).toBe('ENOENT');
  });

  it('a directory bigger than one page: every whole-listing helper sees all of it', () => {
    p.mkdir('/many');
    p.batch(() => {
      for (let i = 0; i < 2500; i++) fx.fs.create(p.stat('/many').ino, `f${String(i).padStart(4, '0')}`, 0o644, ME);
    });
    const names = p.readdir('/many');
    expect(names.length).toBe(2500);
    expect(names[2499]).toBe('f2499');
    expect(p.readdirPlus('/many').length).toBe(2500);
    expect([...p.walk('/many')].map((e) => e.name)).toEqual(names);
    p.cp('/many', '/copy', { recursive: true });
    expect(p.readdir('/copy')).toEqual(names);
    p.rm('/many', { recursive: true });
    expect(p.exists('/many')).toBe(false);
  });

  it('readFile of a file larger than a Buffer holds is EFBIG at once, not a read of terabytes', () => {
    p.writeFile('/sparse', '');
    p.truncate('/sparse', 2 ** 43); // 8 TiB of hole: setattr stores no data
    expect(code(() => p.readFile('/sparse'))).toBe('EFBIG');
  });

  it('cp (and cp -r) makes fifos and devices anew: -r dropped them, a plain cp made an empty file', () => {
    p.mkdir('/sp');
    const sp = p.stat('/sp').ino;
    fx.fs.mknod(sp, 'fifo', S_IFIFO | 0o640, 0, p.caller);
    fx.fs.mknod(sp, 'tty', S_IFCHR | 0o620, (4 << 8) | 1, p.caller);
    p.cp('/sp', '/sp2', { recursive: true });
    expect(p.readdir('/sp2')).toEqual(['fifo', 'tty']);
    expect(p.lstat('/sp2/fifo').mode).toBe(S_IFIFO | 0o640);
    expect(p.lstat('/sp2/tty')).toMatchObject({ mode: S_IFCHR | 0o620, rdev: (4 << 8) | 1 });
    p.cp('/sp/fifo', '/one-fifo');
    expect(p.lstat('/one-fifo').mode & S_IFMT).toBe(S_IFIFO);
  });

  it('unlink, rmdir, rm -r, rm -f', () => {
    p.mkdir('/t/a/b', { recursive: true });
    p.writeFile('/t/a/b/f', 'x');
    p.writeFile('/t/g', 'y');
    p.symlink('/t/a', '/t/link');
    expect(code(() => p.unlink('/t/a'))).toBe('EISDIR');
    // a trailing slash names a directory: unlink(2) then refuses whatever is there (Linux order)
    expect(code(() => p.unlink('/t/g/'))).toBe('ENOTDIR');
    expect(p.exists('/t/g')).toBe(true);
    expect(code(() => p.unlink('/t/link/'))).toBe('ENOTDIR');
    expect(code(() => p.unlink('/t/a/'))).toBe('EISDIR');
    expect(code(() => p.unlink('/t/nope/'))).toBe('ENOENT');
    expect(code(() => p.rmdir('/t/g'))).toBe('ENOTDIR');
    expect(code(() => p.rmdir('/t'))).toBe('ENOTEMPTY');
    expect(code(() => p.rm('/t'))).toBe('EISDIR');
    expect(code(() => p.rm('/missing'))).toBe('ENOENT');
    p.rm('/missing', { force: true });
    p.rm('/t/link'); // removes the link, not the target
    expect(p.exists('/t/a/b/f')).toBe(true);
    p.rm('/t', { recursive: true });
    expect(p.exists('/t')).toBe(false);
    expect(fx.store.db.prepare('SELECT COUNT(*) AS n FROM fs_inode').get()).toMatchObject({ n: 1 });
    expect(fx.store.db.prepare('SELECT COUNT(*) AS n FROM fs_data').get()).toMatchObject({ n: 0 });
    expect(p.stat('/').nlink).toBe(2);
    expect(code(() => p.rmdir('/'))).toBe('EBUSY');
  });

  it('rename by path, including over files and into its own subtree', () => {
    p.mkdir('/a/b', { recursive: true });
    p.writeFile('/x', '1');
    p.writeFile('/y', '2');
    p.rename('/x', '/y');
    expect(p.readFile('/y', 'utf8')).toBe('1');
    expect(code(() => p.rename('/a', '/a/b/c'))).toBe('EINVAL');
    p.rename('/a/b', '/b');
    expect(p.readdir('/')).toEqual(['a', 'b', 'y']);
    expect(code(() => p.rename('/nope', '/z'))).toBe('ENOENT');
  });

  it('copyFile copies content and mode; refuses directories; exclusive refuses existing', () => {
    const data = randomBytes(50_000);
    p.writeFile('/src', data, { mode: 0o600 });
    p.copyFile('/src', '/dst');
    expect(p.readFile('/dst').equals(data)).toBe(true);
    expect(p.stat('/dst').mode).toBe(S_IFREG | 0o600);
    expect(p.stat('/dst').ino).not.toBe(p.stat('/src').ino);
    p.writeFile('/dst2', 'longer old content that must go away entirely');
    p.copyFile('/src', '/dst2');
    expect(p.readFile('/dst2').equals(data)).toBe(true);
    expect(code(() => p.copyFile('/src', '/dst', { exclusive: true }))).toBe('EEXIST');
    p.mkdir('/d');
    expect(code(() => p.copyFile('/d', '/e'))).toBe('EISDIR');
    expect(code(() => p.copyFile('/src', '/d'))).toBe('EISDIR');
    expect(code(() => p.copyFile('/none', '/e'))).toBe('ENOENT');
    expect(() => p.copyFile('/src', '/no/dir/x')).toThrow(/^ENOENT: no such file or directory, \w+ \/no\/dir\/x$/);
  });

  it('cp -r copies a tree with symlinks', () => {
    p.mkdir('/s/sub', { recursive: true });
    p.writeFile('/s/sub/f', 'F');
    p.writeFile('/s/g', 'G');
    p.symlink('sub/f', '/s/l');
    p.cp('/s', '/copy', { recursive: true });
    expect([...p.walk('/copy')].map((e) => e.path)).toEqual(['/copy/g', '/copy/l', '/copy/sub', '/copy/sub/f']);
    expect(p.readFile('/copy/l', 'utf8')).toBe('F');
    expect(p.readlink('/copy/l')).toBe('sub/f');
    expect(code(() => p.cp('/s', '/s/sub/inner', { recursive: true }))).toBe('EINVAL');
    expect(code(() => p.cp('/s', '/x'))).toBe('EISDIR');
  });

  it('link by path shares the inode', () => {
    p.writeFile('/a', 'x');
    p.link('/a', '/b');
    expect(p.stat('/b').ino).toBe(p.stat('/a').ino);
    expect(p.stat('/a').nlink).toBe(2);
  });

  it('truncate, chmod, chown, utimes by path', () => {
    p.writeFile('/f', 'hello world');
    expect(p.truncate('/f', 5).size).toBe(5);
    expect(p.readFile('/f', 'utf8')).toBe('hello');
    expect(p.chmod('/f', 0o600).mode).toBe(S_IFREG | 0o600);
    expect(p.chown('/f', 1, 2)).toMatchObject({ uid: 1, gid: 2 });
    const a = p.utimes('/f', new Date(1_000_500), 2_000_250);
    expect(a.atime).toEqual({ sec: 1000, nsec: 500_000_000 });
    expect(a.mtime).toEqual({ sec: 2000, nsec: 250_000_000 });
    expect(code(() => p.truncate('/', 0))).toBe('EISDIR');
  });

  it('access checks the caller against the mode bits', () => {
    p.writeFile('/f', 'x', { mode: 0o640 });
    p.access('/f', R_OK | W_OK);
    expect(code(() => p.access('/f', X_OK))).toBe('EACCES');
    const other = new PathFs(fx.fs, { caller: { uid: 4242, gid: 4242 } });
    expect(code(() => other.access('/f', R_OK))).toBe('EACCES');
    other.access('/f');
    expect(code(() => other.access('/nope'))).toBe('ENOENT');
  });

  it('open with flags: O_CREAT|O_EXCL, O_TRUNC, missing files', () => {
    const h = p.open('/n', 'wx');
    fx.fs.write(h.ino, 0, Buffer.from('abc'));
    p.close(h.ino);
    expect(code(() => p.open('/n', 'wx'))).toBe('EEXIST');
    expect(code(() => p.open('/m', 'r'))).toBe('ENOENT');
    const t = p.open('/n', 'w');
    expect(t.attr.size).toBe(0);
    p.close(t.ino);
    const r = p.open('/n', 'r+');
    p.close(r.ino);
    expect(code(() => p.open('/', 'w'))).toBe('EISDIR');
    expect(code(() => p.open('/n', 'bogus'))).toBe('EINVAL');
  });

  it('walk yields a sorted depth-first tree with depths and symlink targets', () => {
    p.mkdir('/w/b', { recursive: true });
    p.writeFile('/w/a', '');
    p.writeFile('/w/b/c', '');
    p.symlink('a', '/w/z');
    expect([...p.walk('/w')].map((e) => [e.path, e.depth, e.target])).toEqual([
      ['/w/a', 1, undefined],
      ['/w/b', 1, undefined],
      ['/w/b/c', 2, undefined],
      ['/w/z', 1, 'a'],
    ]);
    expect([...p.walk('/', { maxDepth: 1 })].map((e) => e.path)).toEqual(['/w']);
  });

  it('rm -r of a large tree is one transaction: a failure in the middle changes nothing', () => {
    p.mkdir('/big/x', { recursive: true });
    for (let i = 0; i < 20; i++) p.writeFile(`/big/x/f${i}`, 'data');
    let n = 0;
    const fs = fx.fs;
    const origUnlink = fs.unlink.bind(fs);
    fs.unlink = (parent: number, name: string) => {
      if (++n === 10) throw new Error('boom');
      origUnlink(parent, name);
    };
    expect(() => p.rm('/big', { recursive: true })).toThrow('boom');
    fs.unlink = origUnlink;
    expect(p.readdir('/big/x').length).toBe(20);
  });
});

describe('name order', () => {
  it('is UTF-8 byte order (LC_ALL=C ls), also where UTF-16 code units disagree: U+FF5E before U+1F600', () => {
    const names = ['\u{1F600}', '\uFF5E', 'Z', 'a', '\u00e9', '\uE000', '\u{10000}'];
    const bytes = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...names].sort(compareNames)).toEqual(bytes);
    expect(bytes.indexOf('\uFF5E')).toBeLessThan(bytes.indexOf('\u{1F600}'));
    expect(compareNames('ab', 'a')).toBeGreaterThan(0);
    expect(compareNames('a', 'a')).toBe(0);
  });
});
