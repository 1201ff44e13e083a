import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli, tempDir } from '../support/cli.js';
import { forceUnmount } from '../support/fuse.js';
import { STAT_CHECKS } from '../support/stat-checks.js';

/**
 * While a group commit is open, the kernel's GETATTR of a directory just changed is answered by
 * the native side from the attributes JavaScript sent after the change (ARCHITECTURE.md, "Native
 * read path"). Changes in quick succession, each followed at once by a stat of the directories:
 * every stat must show that change (link count, mode, a later mtime), never an earlier one.
 */
let tmp: { dir: string; cleanup: () => void };
let mnt: string;
let pid: number | undefined;
let mnt2: string;
let pid2: number | undefined;

beforeAll(() => {
  tmp = tempDir('agentfs-fuse-group-attrs-');
  mnt = join(tmp.dir, 'mnt');
  mkdirSync(mnt);
  mnt2 = join(tmp.dir, 'mnt2');
  mkdirSync(mnt2);
});

afterAll(async () => {
  await forceUnmount(mnt, pid);
  await forceUnmount(mnt2, pid2);
  tmp.cleanup();
});

/** A fresh database mounted with long groups (AGENTFS_GROUP_COMMIT_MS), unmounted after `use`. */
async function inLongGroups(name: string, use: (mnt: string, db: string) => Promise<void>, { init = [] as string[], trace = '' } = {}) {
  const db = join(tmp.dir, `${name}.db`);
  const at = join(tmp.dir, `mnt-${name}`);
  mkdirSync(at);
  const env = { AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run'), AGENTFS_GROUP_COMMIT_MS: '60000', ...(trace ? { AGENTFS_FUSE_TRACE: trace } : {}) };
  expect((await runCli(['init', db, ...init], { env })).code).toBe(0);
  const m = await runCli(['mount', db, at], { env });
  expect(m.stderr).toBe('');
  const mounted = Number(/\(pid (\d+)\)/.exec(m.stdout)?.[1]);
  try {
    await use(at, db);
    expect((await runCli(['unmount', at], { env })).code).toBe(0);
  } finally {
    await forceUnmount(at, mounted);
  }
}

const SCRIPT = STAT_CHECKS + String.raw`
m = sys.argv[1]
a, b = m + '/a', m + '/b'
os.mkdir(a); os.mkdir(b)
for r in range(20):
    check('start', a, moved=''); check('start', b, moved='')
    open(a + '/f', 'w').close(); check('create', a, nlink=2)
    os.mkdir(a + '/d'); check('mkdir', a, nlink=3)
    os.rename(a + '/d', b + '/d'); check('rename', a, nlink=2); check('rename', b, nlink=3)
    os.rename(a + '/f', b + '/f'); check('rename file', a); check('rename file', b)
    os.rmdir(b + '/d'); check('rmdir', b, nlink=2)
    os.unlink(b + '/f'); check('unlink', b, nlink=2)
    os.symlink('x', a + '/l'); check('symlink', a)
    os.link(a + '/l', b + '/l2', follow_symlinks=False); check('link', b)
    os.unlink(a + '/l'); os.unlink(b + '/l2'); check('unlink links', a); check('unlink links', b)
    os.chmod(a, 0o700 if r % 2 else 0o755); check('chmod', a, mode=0o700 if r % 2 else 0o755, moved='c')
print('done')
`;

describe('directory attributes inside a group commit', () => {
  it('every stat right after a change shows that change', async () => {
    const db = join(tmp.dir, 'g.db');
    const env = { AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run') };
    expect((await runCli(['init', db], { env })).code).toBe(0);
    const m = await runCli(['mount', db, mnt], { env });
    expect(m.stderr).toBe('');
    pid = Number(/\(pid (\d+)\)/.exec(m.stdout)?.[1]);
    const r = await run('python3', ['-c', SCRIPT, mnt]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('done\n');
    expect((await runCli(['unmount', mnt], { env })).code).toBe(0);
  });
});

/**
 * While a group commit is open, a LOOKUP of a name the database does not hold is answered by the
 * native side as absent, unless the open transaction added that name (Session::changed_names):
 * those are JavaScript's to answer until the commit. The kernel's dentries are dropped so that
 * every stat asks the server again, inside one long group (AGENTFS_GROUP_COMMIT_MS).
 */
const LOOKUPS = String.raw`
import errno, os, sqlite3, stat, sys, time
m, db = sys.argv[1], sys.argv[2]
d = m + '/d'
os.mkdir(d)
ino = os.stat(d).st_ino
fd = os.open(m, os.O_RDONLY); os.fsync(fd); os.close(fd)  # the group commits: an fsync commits it before its reply
t0 = time.time()
for i in range(4):
    open(f'{d}/f{i}', 'w').close()
os.mkdir(d + '/sub')
os.symlink('t', d + '/ln')
os.link(d + '/f0', d + '/hard')
os.rename(d + '/f1', d + '/moved')
os.mknod(d + '/fifo', 0o600 | stat.S_IFIFO)
# a directory made in the group: every name in it is one the group added (Session::made_dirs)
n = d + '/new'
os.mkdir(n)
open(n + '/f', 'w').close()
os.mkdir(n + '/s')
os.symlink('t', n + '/l')
os.mknod(n + '/fifo', 0o600 | stat.S_IFIFO)
os.link(n + '/f', n + '/h')
os.rename(d + '/f2', n + '/in')
open(n + '/gone', 'w').close(); os.rename(n + '/gone', n + '/kept')
os.mkdir(n + '/s/deep'); open(n + '/s/deep/x', 'w').close()
os.mkdir(n + '/rm'); os.rmdir(n + '/rm')
os.mkdir(n + '/mv'); os.rename(n + '/mv', n + '/mv2'); open(n + '/mv2/y', 'w').close()
with open('/proc/sys/vm/drop_caches', 'w') as f: f.write('2')
bad = []
for n in ['f0', 'f3', 'sub', 'ln', 'hard', 'moved', 'fifo', 'new/f', 'new/s', 'new/l', 'new/fifo', 'new/h', 'new/in', 'new/kept',
          'new/s/deep', 'new/s/deep/x', 'new/mv2', 'new/mv2/y']:
    try: os.lstat(f'{d}/{n}')
    except OSError as e: bad.append((n, e.errno))
for n in ['f1', 'f2', 'nope', 'f9', 'new/nope', 'new/gone', 'new/rm', 'new/mv', 'new/s/nope', 'new/s/deep/nope', 'new/mv2/nope']:
    try:
        os.lstat(f'{d}/{n}')
        bad.append((n, 'exists'))
    except FileNotFoundError: pass
# a name too long is that, in a directory made in the group as anywhere (found by the hostile pass: ENOENT)
for n in ['new/' + 'x' * 300, 'x' * 300]:
    try:
        os.lstat(f'{d}/{n}')
        bad.append((n[:8], 'exists'))
    except OSError as e:
        if e.errno != errno.ENAMETOOLONG: bad.append((n[:8], e.errno))
c = sqlite3.connect(f'file:{db}?mode=ro', uri=True)
committed = c.execute('SELECT count(*) FROM fs_dentry WHERE parent_ino = ?', (ino,)).fetchone()[0]
print('bad', bad, 'committed', committed, 'in time', time.time() - t0 < 50)
`;

describe('lookups inside a group commit', () => {
  it('names the open transaction added are found, and names it did not add are absent, before the commit (in directories it made too)', async () => {
    const db = join(tmp.dir, 'l.db');
    const env = { AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run'), AGENTFS_GROUP_COMMIT_MS: '60000' };
    expect((await runCli(['init', db], { env })).code).toBe(0);
    const m = await runCli(['mount', db, mnt2], { env });
    expect(m.stderr).toBe('');
    pid2 = Number(/\(pid (\d+)\)/.exec(m.stdout)?.[1]);
    const r = await run('python3', ['-c', LOOKUPS, mnt2, db]);
    expect(r.stderr).toBe('');
    // committed 0: every lookup above happened inside the one open group
    expect(r.stdout).toBe('bad [] committed 0 in time True\n');
    expect((await runCli(['unmount', mnt2], { env })).code).toBe(0);
    // and committed at the end, all eight and the new directory (f2 moved into it)
    const q = "SELECT count(*) FROM fs_dentry WHERE parent_ino = (SELECT ino FROM fs_dentry WHERE parent_ino = 1 AND name = 'd')";
    expect((await run('sqlite3', [db, q])).stdout).toBe('8\n');
  });
});

/**
 * A name the database holds, in a directory the open group changed: the native side answers its
 * LOOKUP from the database unless the group changed that name (removed, moved from or to,
 * exchanged) or its inode (a link count, a mode), which go to JavaScript. Before, every lookup of
 * such a name went to JavaScript (`rm -rf` of a tree not listed lately: one a file).
 */
const HELD = String.raw`
import ctypes, os, sqlite3, sys, time
m, db = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
d, e = m + '/d', m + '/e'
os.mkdir(d); os.mkdir(e)
for i in range(200): open(f'{d}/f{i}', 'w').close()
for n in 'abcghrxy':
    with open(f'{d}/{n}', 'w') as f: f.write(n)
os.link(d + '/h', e + '/h2')
os.mkdir(d + '/sub')
fd = os.open(m, os.O_RDONLY); os.fsync(fd); os.close(fd)  # the group commits: an fsync commits it before its reply
ino = {n: os.lstat(f'{d}/{n}').st_ino for n in 'abcghrxy'}
files = {i: os.lstat(f'{d}/f{i}').st_ino for i in range(200)}
t0 = time.time()
os.unlink(d + '/a')                 # the group opens with a removal in d
os.rename(d + '/b', e + '/b')       # moved out
os.rename(d + '/c', d + '/c2')      # renamed within
os.rename(d + '/x', d + '/y')       # y replaced
if libc.renameat2(-100, (d + '/g').encode(), -100, (d + '/r').encode(), 2) != 0: raise OSError(ctypes.get_errno(), 'exchange')
os.unlink(e + '/h2')                # h: its name unchanged, its link count not
os.chmod(d + '/sub', 0o700)         # sub: its mode
with open('/proc/sys/vm/drop_caches', 'w') as f: f.write('2')
bad = []
for n in ['a', 'b', 'c', 'x']:
    try:
        os.lstat(f'{d}/{n}'); bad.append((n, 'exists'))
    except FileNotFoundError: pass
want = {'c2': ino['c'], 'y': ino['x'], 'g': ino['r'], 'r': ino['g'], 'h': ino['h']}
for n, i in want.items():
    if os.lstat(f'{d}/{n}').st_ino != i: bad.append((n, 'ino'))
if os.lstat(e + '/b').st_ino != ino['b']: bad.append(('e/b', 'ino'))
if os.lstat(d + '/h').st_nlink != 1: bad.append(('h', 'nlink'))
if os.lstat(d + '/sub').st_mode & 0o7777 != 0o700: bad.append(('sub', 'mode'))
with open(d + '/g') as f:
    if f.read() != 'r': bad.append(('g', 'content'))
for i in range(200):
    st = os.lstat(f'{d}/f{i}')
    if st.st_ino != files[i] or st.st_size != 0 or st.st_nlink != 1: bad.append((f'f{i}', st.st_ino, st.st_size))
c = sqlite3.connect(f'file:{db}?mode=ro', uri=True)
committed = c.execute("SELECT count(*) FROM fs_dentry WHERE parent_ino = (SELECT ino FROM fs_dentry WHERE parent_ino = 1 AND name = 'd')").fetchone()[0]
print('bad', bad, 'committed', committed, 'in time', time.time() - t0 < 50)
`;

describe('lookups of held names inside a group commit', () => {
  it('are answered natively unless the open transaction changed the name or its inode', async () => {
    const trace = join(tmp.dir, 'held-trace.txt');
    await inLongGroups(
      'held',
      async (at, db) => {
        const r = await run('python3', ['-c', HELD, at, db]);
        expect(r.stderr).toBe('');
        // committed 209: the 200 files, eight more and sub, as before the group
        expect(r.stdout).toBe('bad [] committed 209 in time True\n');
      },
      { init: ['--no-journal'], trace },
    );
    // the 200 untouched files' lookups were the addon's (before: each one JavaScript's); the
    // changed names, the touched inodes and the directories the group changed are JavaScript's
    const lookups = Number(/^fuse LOOKUP: (\d+) requests/m.exec(readFileSync(trace, 'utf8'))?.[1] ?? 0);
    expect(lookups).toBeGreaterThan(0);
    expect(lookups).toBeLessThan(40);
  });
});

/**
 * A file's attributes inside a group commit: JavaScript sends them to the native side after each
 * change it knows them for (create, write, setattr, link), and drops them after any other (an
 * unlink of another name, fallocate, a read that moves the access time, rename), so the kernel's
 * GETATTR is answered without a trip into JavaScript and never with an earlier state. statx with
 * AT_STATX_FORCE_SYNC makes the kernel ask every time. One long group (AGENTFS_GROUP_COMMIT_MS):
 * nothing is committed while the checks run.
 */
const FILES = String.raw`
import ctypes, os, sqlite3, sys, time
m, db = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
class Ts(ctypes.Structure): _fields_ = [('sec', ctypes.c_int64), ('nsec', ctypes.c_uint32), ('r', ctypes.c_int32)]
class Statx(ctypes.Structure):
    _fields_ = [('mask', ctypes.c_uint32), ('blksize', ctypes.c_uint32), ('attributes', ctypes.c_uint64), ('nlink', ctypes.c_uint32),
                ('uid', ctypes.c_uint32), ('gid', ctypes.c_uint32), ('mode', ctypes.c_uint16), ('pad', ctypes.c_uint16),
                ('ino', ctypes.c_uint64), ('size', ctypes.c_uint64), ('blocks', ctypes.c_uint64), ('amask', ctypes.c_uint64),
                ('atime', Ts), ('btime', Ts), ('ctime', Ts), ('mtime', Ts), ('spare', ctypes.c_uint64 * 18)]
def sx(p):
    b = Statx()
    if libc.statx(-100, p.encode(), 0x2000 | 0x100, 0xfff, ctypes.byref(b)) != 0: raise OSError(ctypes.get_errno(), p)
    return b
ns = lambda t: t.sec * 10**9 + t.nsec
bad = []
def want(step, got, exp):
    if got != exp: bad.append((step, got, exp))
d = m + '/d'
os.mkdir(d)
for r in range(10):
    # committed before the group below: the database's rows are current for the addon until
    # the group changes them
    with open(f'{d}/p{r}', 'w') as f: f.write('p')
    os.link(f'{d}/p{r}', f'{d}/q{r}')
    with open(f'{d}/z{r}', 'w') as f: f.write('z')
fd = os.open(m, os.O_RDONLY); os.fsync(fd); os.close(fd)  # the group commits: an fsync commits it before its reply
t0 = time.time()
for r in range(10):
    want('committed', sx(f'{d}/p{r}').nlink, 2)
    os.unlink(f'{d}/q{r}'); want('unlink other committed name', sx(f'{d}/p{r}').nlink, 1)
    fd = os.open(f'{d}/z{r}', os.O_RDWR); os.posix_fallocate(fd, 0, 5000); os.close(fd)
    want('fallocate committed', sx(f'{d}/z{r}').size, 5000)
for r in range(10):
    f, h, g = f'{d}/f{r}', f'{d}/h{r}', f'{d}/g{r}'
    fd = os.open(f, os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, b'x' * 100); want('write', sx(f).size, 100)
    os.pwrite(fd, b'y' * 50, 100); want('write again', sx(f).size, 150)
    os.fchmod(fd, 0o640); want('chmod', sx(f).mode & 0o7777, 0o640)
    os.fchown(fd, 1000 + r, 2000); s = sx(f); want('chown', (s.uid, s.gid), (1000 + r, 2000))
    os.utime(f, ns=(10**9, 2 * 10**9)); s = sx(f); want('utime', (ns(s.atime), ns(s.mtime)), (10**9, 2 * 10**9))
    # a read of the page cache's pages dropped: the server moves the access time (relatime)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.pread(fd, 10, 0); a = ns(sx(f).atime)
    if not a > 10**9: bad.append(('read moves atime', 10**9, a))
    os.link(f, h); want('link', sx(f).nlink, 2)
    os.unlink(h); want('unlink other name', sx(f).nlink, 1)
    os.truncate(f, 10); want('truncate', sx(f).size, 10)
    os.posix_fallocate(fd, 0, 8192); want('fallocate', sx(f).size, 8192)
    c = ns(sx(f).ctime)
    time.sleep(0.002)
    os.rename(f, g); s = sx(g)
    if not ns(s.ctime) > c: bad.append(('rename moves ctime', c, ns(s.ctime)))
    os.close(fd)
    fd = os.open(g, os.O_WRONLY | os.O_TRUNC); want('O_TRUNC', sx(g).size, 0)
    os.close(fd)
    fd = os.open(g, os.O_WRONLY | os.O_APPEND); os.write(fd, b'z' * 7); want('append', sx(g).size, 7)
    os.close(fd)
c = sqlite3.connect(f'file:{db}?mode=ro', uri=True)
committed = c.execute("SELECT count(*) FROM fs_dentry WHERE parent_ino = (SELECT ino FROM fs_dentry WHERE parent_ino = 1 AND name = 'd')").fetchone()[0]
print('bad', bad, 'committed', committed, 'in time', time.time() - t0 < 50)
`;

const WRITE_STAT = String.raw`
import os, sys
ok = 0
for i in range(200):
    with open(f'{sys.argv[1]}/w{i}', 'wb', buffering=0) as f:
        f.write(b'x' * (i + 1))
        ok += os.fstat(f.fileno()).st_size == i + 1
print(ok, 'sizes right')
`;

describe('file attributes inside a group commit', () => {
  it('every forced stat right after a change shows that change', async () => {
    await inLongGroups('f', async (at, db) => {
      const r = await run('python3', ['-c', FILES, at, db]);
      expect(r.stderr).toBe('');
      // committed: only the thirty names made before the group
      expect(r.stdout).toBe('bad [] committed 30 in time True\n');
    });
  });

  it('tar x and write-then-fstat ask JavaScript for no file attributes or new names: answered natively', async () => {
    const src = join(tmp.dir, 'src');
    mkdirSync(src);
    const made = await run('sh', ['-c', `cd ${src} && mkdir t && for i in $(seq 200); do echo "file $i" > t/f$i; done && chown 1234:1234 t/f* && tar cf ../t.tar t`]);
    expect(made.stderr).toBe('');
    const trace = join(tmp.dir, 'tar-trace.txt');
    // long groups: the extraction's names are looked up while its directory is still uncommitted
    await inLongGroups(
      't',
      async (at) => {
        const r = await run('tar', ['xf', join(tmp.dir, 't.tar'), '-C', at]);
        expect(r.stderr).toBe('');
        expect((await run('sh', ['-c', `cat ${at}/t/f77 && stat -c '%u %s' ${at}/t/f200`])).stdout).toBe('file 77\n1234 9\n');
        // a write moves size and mtime, and the kernel asks for them at the next stat
        const w = await run('python3', ['-c', WRITE_STAT, at]);
        expect(w.stderr).toBe('');
        expect(w.stdout).toBe('200 sizes right\n');
      },
      { init: ['--no-journal'], trace },
    );
    const requests = readFileSync(trace, 'utf8');
    expect(requests).toMatch(/^fuse SETATTR: [1-9]\d* requests/m);
    // 200 files, each chowned by tar, and 200 written then fstat'ed: before, one GETATTR each
    // reached JavaScript (400), and the directory's, when a new group began with another request
    // (24-74 on a loaded machine)
    const getattrs = Number(/^fuse GETATTR: (\d+) requests/m.exec(requests)?.[1] ?? 0);
    expect(getattrs).toBeLessThan(10);
    // and each new name in the directory tar made was looked up there first
    const lookups = Number(/^fuse LOOKUP: (\d+) requests/m.exec(requests)?.[1] ?? 0);
    expect(lookups).toBeLessThan(20);
  });
});

/**
 * A directory the open transaction did not touch is opened and listed by the native side from
 * the database (every change of a name touches its directory), and a readdirplus lists an entry
 * whose inode the transaction changed without its attributes, so the kernel asks for them. The
 * kernel's dentries and inodes are dropped before each listing, so it keeps only what the
 * listing gives it; one long group (AGENTFS_GROUP_COMMIT_MS) holds every change meanwhile.
 */
const LISTINGS = String.raw`
import os, sqlite3, sys, time
m, db = sys.argv[1], sys.argv[2]
a, b, c = m + '/a', m + '/b', m + '/c'
for d in (a, b, c): os.mkdir(d)
for p in (a + '/x', a + '/y', a + '/w', c + '/z'):
    open(p, 'w').close(); os.chmod(p, 0o644)
# the group commits: an fsync commits it before its reply (of a file: the root's OPENDIR would count)
fd = os.open(a + '/w', os.O_RDONLY); os.fsync(fd); os.close(fd)
t0 = time.time()
open(b + '/new', 'w').close(); os.chmod(b + '/new', 0o644)  # the group opens; b changes
os.chmod(a + '/x', 0o600)                          # x changes, a does not
os.link(c + '/z', b + '/zz')                       # z and b change, c does not
with open(a + '/w', 'w') as f: f.write('grown')    # w's size and times
def listing(d):
    with open('/proc/sys/vm/drop_caches', 'w') as f: f.write('2')
    out = []
    for e in os.scandir(d):
        st = e.stat(follow_symlinks=False)
        out.append(f'{e.name}:{st.st_mode & 0o777:o}:{st.st_nlink}:{st.st_size}')
    return ' '.join(sorted(out))
print('a', listing(a))
print('c', listing(c))
print('b', listing(b))
os.unlink(a + '/y')
print('a', listing(a))
os.rename(c + '/z', a + '/z2')
print('a', listing(a))
print('c', listing(c))
con = sqlite3.connect(f'file:{db}?mode=ro', uri=True)
print('committed', con.execute("SELECT count(*) FROM fs_dentry WHERE name IN ('new', 'zz', 'z2')").fetchone()[0], 'in time', time.time() - t0 < 50)
`;

describe('listings inside a group commit', () => {
  it('directories the open transaction did not touch are listed natively, with what it changed in them asked for again', async () => {
    const trace = join(tmp.dir, 'ls-trace.txt');
    await inLongGroups('ls', async (at, db) => {
      const r = await run('python3', ['-c', LISTINGS, at, db]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(
        [
          'a w:644:1:5 x:600:1:0 y:644:1:0',
          'c z:644:2:0',
          'b new:644:1:0 zz:644:2:0',
          'a w:644:1:5 x:600:1:0',
          'a w:644:1:5 x:600:1:0 z2:644:2:0',
          'c ',
          'committed 0 in time True',
          '',
        ].join('\n'),
      );
    }, { trace });
    // six listings: the first of a and of c natively (untouched then); b, a twice more and c
    // again, each after a change of a name in it, by JavaScript
    const requests = readFileSync(trace, 'utf8');
    expect(Number(/^fuse OPENDIR: (\d+) requests/m.exec(requests)?.[1] ?? 0)).toBe(4);
  });
});
