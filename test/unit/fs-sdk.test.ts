import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { R_OK, X_OK } from '../../src/core/types.js';
import { AgentFsFilesystem, Stats } from '../../src/sdk/fs.js';
import { ME, codeAsync, fsFixture, type FsFixture } from '../support/fs-fixture.js';

describe('SDK AgentFsFilesystem', () => {
  let fx: FsFixture;
  let fs: AgentFsFilesystem;
  beforeEach(() => {
    fx = fsFixture();
    fs = new AgentFsFilesystem(fx.paths);
  });
  afterEach(() => fx.cleanup());

  it('accepts a FileSystem or a PathFs', async () => {
    const direct = new AgentFsFilesystem(fx.fs);
    await direct.writeFile('/x', 'y');
    expect(await fs.readFile('/x', 'utf8')).toBe('y');
  });

  it('stat objects: type predicates, mode, size, ino, nlink, uid/gid, ms and ns times', async () => {
    await fs.writeFile('/f.txt', 'hello');
    const s = await fs.stat('/f.txt');
    expect(s).toBeInstanceOf(Stats);
    expect(s.isFile()).toBe(true);
    expect(s.isDirectory()).toBe(false);
    expect(s.isSymbolicLink()).toBe(false);
    expect(s.mode).toBe(0o100644);
    expect(s.size).toBe(5);
    expect(s.nlink).toBe(1);
    expect([s.uid, s.gid]).toEqual([ME.uid, ME.gid]);
    expect(Math.abs(s.mtime - Date.now())).toBeLessThan(10_000);
    expect(s.mtimeMs).toBe(s.mtime);
    expect(s.mtimeNs / 1_000_000n).toBe(BigInt(Math.floor(s.mtime)));
    expect(s.mtimeNs % 1000n !== 0n || s.mtimeNs % 1_000_000n !== 0n).toBe(true); // sub-ms precision
    const root = await fs.stat('/');
    expect(root.isDirectory()).toBe(true);
    expect(root.ino).toBe(1);
  });

  it('readFile/writeFile with encodings; writeFile makes parents; readdir/readdirPlus', async () => {
    await fs.writeFile('/a/b/c.txt', 'aGk=', 'base64');
    expect(await fs.readFile('/a/b/c.txt', 'utf8')).toBe('hi');
    expect(await fs.readFile('/a/b/c.txt', { encoding: 'hex' })).toBe('6869');
    expect(Buffer.isBuffer(await fs.readFile('/a/b/c.txt'))).toBe(true);
    await fs.writeFile('/a/z', Buffer.from([1, 2, 3]));
    expect(await fs.readdir('/a')).toEqual(['b', 'z']);
    const plus = await fs.readdirPlus('/a');
    expect(plus.map((e) => [e.name, e.stats.isDirectory(), e.stats.size])).toEqual([['b', true, 0], ['z', false, 3]]);
    await fs.appendFile('/a/z', Buffer.from([4]));
    expect([...(await fs.readFile('/a/z'))]).toEqual([1, 2, 3, 4]);
  });

  it('errors are ErrnoException-like with code, syscall and path', async () => {
    const e = await fs.stat('/missing').catch((x) => x);
    expect(e).toMatchObject({ code: 'ENOENT', syscall: 'stat', path: '/missing' });
    expect(e.errno).toBeGreaterThan(0);
    expect(await codeAsync(() => fs.readFile('/'))).toBe('EISDIR');
    await fs.mkdir('/d');
    expect(await codeAsync(() => fs.mkdir('/d'))).toBe('EEXIST');
    await fs.writeFile('/d/f', 'x');
    expect(await codeAsync(() => fs.rmdir('/d'))).toBe('ENOTEMPTY');
    expect(await codeAsync(() => fs.unlink('/d'))).toBe('EISDIR');
    expect(await codeAsync(() => fs.readlink('/d/f'))).toBe('EINVAL');
    expect(await codeAsync(() => fs.access('/nope'))).toBe('ENOENT');
  });

  it('mkdir recursive, rm recursive/force, rename, copyFile, cp, symlink, link, access, truncate, chmod, utimes', async () => {
    await fs.mkdir('/p/q/r', { recursive: true });
    await fs.writeFile('/p/q/r/f', 'data');
    await fs.copyFile('/p/q/r/f', '/copy');
    expect(await fs.readFile('/copy', 'utf8')).toBe('data');
    await fs.rename('/copy', '/renamed');
    expect(await fs.exists('/copy')).toBe(false);
    await fs.symlink('/renamed', '/sl');
    expect((await fs.lstat('/sl')).isSymbolicLink()).toBe(true);
    expect((await fs.stat('/sl')).isFile()).toBe(true);
    await fs.link('/renamed', '/hard');
    expect((await fs.stat('/renamed')).nlink).toBe(2);
    await fs.cp('/p', '/p2', { recursive: true });
    expect(await fs.readFile('/p2/q/r/f', 'utf8')).toBe('data');
    await fs.access('/renamed', R_OK);
    expect(await codeAsync(() => fs.access('/renamed', X_OK))).toBe('EACCES');
    await fs.truncate('/renamed', 2);
    expect(await fs.readFile('/hard', 'utf8')).toBe('da');
    await fs.chmod('/renamed', 0o755);
    await fs.access('/renamed', X_OK);
    await fs.utimes('/renamed', new Date(5000), 7000);
    expect((await fs.stat('/renamed')).mtime).toBe(7000);
    await fs.rm('/p', { recursive: true });
    await fs.rm('/p', { force: true });
    expect(await codeAsync(() => fs.rm('/p'))).toBe('ENOENT');
    expect(await fs.readdir('/')).toEqual(['hard', 'p2', 'renamed', 'sl']);
  });

  it('statfs gives agentfs-sdk numbers (inodes, bytesUsed) and POSIX ones', async () => {
    await fs.writeFile('/a', 'x'.repeat(100));
    await fs.writeFile('/b/c', 'y'.repeat(50));
    const s = await fs.statfs();
    expect(s.inodes).toBe(4);
    expect(s.bytesUsed).toBe(150);
    expect(s.namemax).toBe(255);
  });

  it('open handles: pread, pwrite, truncate, fsync, fstat, close; append mode; EBADF after close', async () => {
    const h = await fs.open('/h.bin', 'w+');
    expect(await h.pwrite(0, Buffer.from('hello world'))).toBe(11);
    await h.pwrite(6, 'WORLD');
    expect((await h.pread(0, 100)).toString()).toBe('hello WORLD');
    expect((await h.pread(6, 3)).toString()).toBe('WOR');
    await h.truncate(5);
    expect((await h.fstat()).size).toBe(5);
    await h.fsync();
    await h.close();
    expect(await codeAsync(() => h.pread(0, 1))).toBe('EBADF');
    const a = await fs.open('/h.bin', 'a');
    await a.pwrite(0, '!');
    await a.close();
    expect(await fs.readFile('/h.bin', 'utf8')).toBe('hello!');
    const r = await fs.open('/h.bin');
    expect((await r.pread(0, 5)).toString()).toBe('hello');
    await r.close();
    expect(await codeAsync(() => fs.open('/nope'))).toBe('ENOENT');
    expect(await codeAsync(() => fs.open('/h.bin', 'wx'))).toBe('EEXIST');
  });

  it('an open handle keeps reading a file that was unlinked', async () => {
    await fs.writeFile('/gone', 'ghost');
    const h = await fs.open('/gone', 'r');
    await fs.unlink('/gone');
    expect((await h.pread(0, 10)).toString()).toBe('ghost');
    await h.close();
    expect(fx.store.db.prepare('SELECT COUNT(*) AS n FROM fs_inode').get()).toMatchObject({ n: 1 });
  });
});
