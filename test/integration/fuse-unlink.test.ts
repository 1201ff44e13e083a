import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { run, runCli, tempDir } from '../support/cli.js';
import { forceUnmount, isMounted, mountBg } from '../support/fuse.js';

/**
 * unlink and rmdir through a real mount: what the kernel is told after each (the parent's
 * attributes, answered without asking JavaScript again), open and linked inodes, refusals, and
 * what the database holds afterwards (journal rows, no leftovers).
 */
let tmp: { dir: string; cleanup: () => void };
let m: string;
let pid: number | undefined;
let out: Record<string, unknown>;

const SCRIPT = String.raw`
import errno, json, os, stat, sys, time
os.chdir(sys.argv[1])
out = {}
def st(p):
    s = os.stat(p)
    # [sec, nsec]: a JSON number cannot hold ns since 1970 exactly
    return {'nlink': s.st_nlink, 'mtime': list(divmod(s.st_mtime_ns, 10**9)), 'ctime': list(divmod(s.st_ctime_ns, 10**9))}

# an open file loses both its names; the descriptor still reads it
os.mkdir('d')
with open('d/f', 'w') as f:
    f.write('hello')
os.link('d/f', 'd/g')
fd = os.open('d/f', os.O_RDONLY)
d0 = st('d')
os.unlink('d/f')
out['after_first'] = {'fd_nlink': os.fstat(fd).st_nlink, 'g': open('d/g').read(), 'd': st('d'), 'd0': d0}
os.unlink('d/g')
out['after_last'] = {'fd_nlink': os.fstat(fd).st_nlink, 'read': os.pread(fd, 100, 0).decode(), 'names': sorted(os.listdir('d')), 'd': st('d')}
os.close(fd)

# rmdir of a directory with entries is refused and leaves it as it was
os.makedirs('e/sub')
open('e/sub/x', 'w').write('x')
e0 = st('e')
try:
    os.rmdir('e')
    out['rmdir_full'] = 'removed'
except OSError as err:
    out['rmdir_full'] = errno.errorcode[err.errno]
try:
    os.rmdir('e/sub/x')
    out['rmdir_file'] = 'removed'
except OSError as err:
    out['rmdir_file'] = errno.errorcode[err.errno]
try:
    os.unlink('e/sub')
    out['unlink_dir'] = 'removed'
except OSError as err:
    out['unlink_dir'] = errno.errorcode[err.errno]
out['e_kept'] = {'names': sorted(os.listdir('e/sub')), 'x': open('e/sub/x').read(), 'same': st('e') == e0}
os.unlink('e/sub/x')
os.rmdir('e/sub')
out['e_after'] = st('e')

# files the native reader opened (its events counted after a create that went ahead of them)
# keep their data when unlinked while open
os.mkdir('burst')
for i in range(40):
    open('burst/r%d' % i, 'w').write('r%d' % i)
time.sleep(1.2)  # committed: opens and reads are the native reader's now
fds = [os.open('burst/r%d' % i, os.O_RDONLY) for i in range(40)]
for fd in fds:
    os.read(fd, 1)
open('burst/new', 'w').write('n')
for i in range(40):
    os.unlink('burst/r%d' % i)
out['burst'] = [os.pread(fd, 10, 0).decode() for fd in fds]
for fd in fds:
    os.close(fd)
out['burst_names'] = sorted(os.listdir('burst'))
os.unlink('burst/new')
os.rmdir('burst')

# a process whose working directory is removed (by itself here) finds it as on a local disk: no
# link, listed empty, nothing made in it (the database has no row for it any more)
os.mkdir('gone')
top = os.getcwd()
os.chdir('gone')
os.rmdir('../gone')
s = os.stat('.')
cwd = {'nlink': s.st_nlink, 'dir': stat.S_ISDIR(s.st_mode), 'names': os.listdir('.')}
try:
    open('f', 'w')
    cwd['create'] = 'made'
except OSError as err:
    cwd['create'] = errno.errorcode[err.errno]
# its mode, owner and times still change, as on a local disk (a hostile pass found ESTALE)
os.chmod('.', 0o700)
os.chown('.', 1, 2)
os.utime('.', ns=(5 * 10**9, 7 * 10**9))
s = os.stat('.')
cwd['changed'] = [oct(s.st_mode & 0o7777), s.st_uid, s.st_gid, s.st_atime_ns, s.st_mtime_ns]
os.chdir(top)
# the same for one another directory is renamed over
os.makedirs('over/a')
os.mkdir('over/b')
os.chdir('over/b')
os.rename('../a', '../b')
s = os.stat('.')
cwd['over'] = {'nlink': s.st_nlink, 'names': os.listdir('.'), 'moved': os.listdir('..')}
os.chdir(top)
os.rmdir('over/b')
os.rmdir('over')
out['cwd_gone'] = cwd

# a tree of files in directories, removed by rm -rf
for p in range(3):
    os.makedirs('t/p%d' % p)
    for i in range(10):
        open('t/p%d/f%d' % (p, i), 'w').write('%d %d\n' % (p, i))
os.symlink('p0/f0', 't/link')
out['rm'] = os.system('rm -rf t')
out['t_exists'] = os.path.exists('t')
out['root'] = st('.')
print(json.dumps(out))
`;

beforeAll(async () => {
  tmp = tempDir('agentfs-fuse-unlink-');
  expect((await runCli(['init', 'ul'], { cwd: tmp.dir })).code).toBe(0);
  m = join(tmp.dir, 'mnt');
  mkdirSync(m);
  pid = await mountBg('ul', m, [], tmp.dir);
  writeFileSync(join(tmp.dir, 'script.py'), SCRIPT);
  const r = await run('python3', [join(tmp.dir, 'script.py'), m], { timeoutMs: 120_000 });
  expect(r.stderr).toBe('');
  out = JSON.parse(r.stdout) as Record<string, unknown>;
  // unmounted here so that every test below reads what was committed
  expect((await runCli(['unmount', m], { cwd: tmp.dir })).code).toBe(0);
  expect(isMounted(m)).toBe(false);
  pid = undefined;
});

afterAll(async () => {
  await forceUnmount(m, pid);
  tmp.cleanup();
});

type Time = [number, number];
type Stat = { nlink: number; mtime: Time; ctime: Time };
const later = (a: Time, b: Time) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

describe('unlink and rmdir on the mount', () => {
  it('an open file keeps its data through the loss of both names; the other name reads it meanwhile', () => {
    const first = out.after_first as { fd_nlink: number; g: string; d: Stat; d0: Stat };
    expect(first.fd_nlink).toBe(1);
    expect(first.g).toBe('hello');
    // the parent's new times reach the kernel at once (its GETATTR after the unlink)
    expect(later(first.d.mtime, first.d0.mtime)).toBe(true);
    expect(first.d.nlink).toBe(2);
    const last = out.after_last as { fd_nlink: number; read: string; names: string[]; d: Stat };
    expect(last.fd_nlink).toBe(0);
    expect(last.read).toBe('hello');
    expect(last.names).toEqual([]);
    expect(later(last.d.mtime, first.d.mtime)).toBe(true);
  });

  it('files opened by the native reader keep their data when unlinked while open, after a create answered ahead of those opens', () => {
    expect(out.burst).toEqual(Array.from({ length: 40 }, (_, i) => `r${i}`));
    // nothing of them is left once closed: the last test counts the inodes
    expect(out.burst_names).toEqual(['new']);
  });

  it('rmdir of a directory with entries, of a file, and unlink of a directory are refused and change nothing', () => {
    expect(out.rmdir_full).toBe('ENOTEMPTY');
    expect(out.rmdir_file).toBe('ENOTDIR');
    expect(out.unlink_dir).toBe('EISDIR');
    expect(out.e_kept).toEqual({ names: ['x'], x: 'x', same: true });
    const e = out.e_after as Stat;
    expect(e.nlink).toBe(2);
  });

  it('a working directory removed through the mount (or renamed over) shows with no link and empty, and nothing can be made in it', () => {
    expect(out.cwd_gone).toEqual({
      nlink: 0, dir: true, names: [], create: 'ENOENT', changed: ['0o700', 1, 2, 5e9, 7e9], over: { nlink: 0, names: [], moved: ['b'] },
    });
  });

  it('rm -rf removes a tree; the kernel was told the attributes the database committed', () => {
    expect(out.rm).toBe(0);
    expect(out.t_exists).toBe(false);
    const db = new Database(join(tmp.dir, '.agentfs', 'ul.db'), { readonly: true });
    try {
      const row = (parent: number, name: string) =>
        db.prepare('SELECT i.ino, i.nlink, i.mtime, i.mtime_nsec FROM fs_dentry d JOIN fs_inode i ON i.ino = d.ino WHERE d.parent_ino = ? AND d.name = ?').get(parent, name) as
          { ino: number; nlink: number; mtime: number; mtime_nsec: number };
      const root = db.prepare('SELECT nlink, mtime, mtime_nsec FROM fs_inode WHERE ino = 1').get() as { nlink: number; mtime: number; mtime_nsec: number };
      const seen = out.root as Stat;
      expect(seen.nlink).toBe(root.nlink);
      expect(seen.mtime).toEqual([root.mtime, root.mtime_nsec]);
      const e = row(1, 'e');
      expect((out.e_after as Stat).mtime).toEqual([e.mtime, e.mtime_nsec]);

      // nothing is left of what was removed: every inode but the root and d, e has a name
      const inodes = db.prepare('SELECT ino FROM fs_inode ORDER BY ino').all() as { ino: number }[];
      expect(inodes.map((r) => r.ino)).toEqual([1, row(1, 'd').ino, e.ino]);
      const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
      expect(count('SELECT COUNT(*) AS n FROM fs_data')).toBe(0);
      expect(count('SELECT COUNT(*) AS n FROM fs_symlink')).toBe(0);
      expect(count('SELECT COUNT(*) AS n FROM agentfs_fs_orphan')).toBe(0);

      // the journal has one row per removed name, with its path, files before their directory
      const rows = db.prepare("SELECT op, path FROM agentfs_journal WHERE op IN ('unlink', 'rmdir') AND path LIKE '/t%' ORDER BY id").all() as { op: string; path: string }[];
      expect(rows.filter((r) => r.op === 'unlink').map((r) => r.path).sort()).toEqual(
        ['/t/link', ...[0, 1, 2].flatMap((p) => [...Array(10).keys()].map((i) => `/t/p${p}/f${i}`))].sort(),
      );
      const dirs = rows.filter((r) => r.op === 'rmdir').map((r) => r.path);
      expect(dirs.sort()).toEqual(['/t', '/t/p0', '/t/p1', '/t/p2']);
      const at = (path: string) => rows.findIndex((r) => r.path === path);
      for (const p of [0, 1, 2]) expect(at(`/t/p${p}/f9`)).toBeLessThan(at(`/t/p${p}`));
      expect(at('/t')).toBe(rows.length - 1);
      const removed = db.prepare("SELECT op, path FROM agentfs_journal WHERE op IN ('unlink', 'rmdir') AND path NOT LIKE '/t%' AND path NOT LIKE '/burst%' ORDER BY id").all() as { op: string; path: string }[];
      expect(removed.map((r) => `${r.op} ${r.path}`)).toEqual(['unlink /d/f', 'unlink /d/g', 'unlink /e/sub/x', 'rmdir /e/sub', 'rmdir /gone', 'rmdir /over/b', 'rmdir /over']);
    } finally {
      db.close();
    }
  });
});
