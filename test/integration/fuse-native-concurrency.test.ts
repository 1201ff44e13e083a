import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI, run, runCli, tempDir } from '../support/cli.js';
import { forceUnmount, isAlive, mountBg } from '../support/fuse.js';

/**
 * The newest parts of the FUSE mount's native read path (ARCHITECTURE.md, "Native read path"),
 * under attack: requests on libfuse's worker threads, read-only opens answered in the addon
 * (counted in JavaScript through OPENED events) and directory attributes answered from what
 * JavaScript sent inside a group commit. The race of native opens with unlinks once failed
 * (reads of an open descriptor got ENOENT); the others hold the rest of the ground.
 */
let tmp: { dir: string; cleanup: () => void };
const mounts: { mnt: string; pid?: number }[] = [];

beforeAll(() => {
  tmp = tempDir('agentfs-native-conc-');
});

afterAll(async () => {
  for (const m of mounts) await forceUnmount(m.mnt, m.pid);
  tmp.cleanup();
});

async function fresh(name: string, extra: string[] = []): Promise<{ db: string; mnt: string }> {
  const db = join(tmp.dir, `${name}.db`);
  const mnt = join(tmp.dir, name);
  mkdirSync(mnt);
  expect((await runCli(['init', db])).code).toBe(0);
  const entry: { mnt: string; pid?: number } = { mnt };
  mounts.push(entry);
  entry.pid = await mountBg(db, mnt, extra);
  return { db, mnt };
}

const sqlite = (db: string, sql: string) => run('sqlite3', [db, sql]);

/** What is left of unlinked files: none once their last descriptor closed. */
async function leftovers(db: string): Promise<string> {
  const q = () => sqlite(db, 'SELECT count(*) FROM fs_inode WHERE nlink = 0; SELECT count(*) FROM fs_data; SELECT count(*) FROM agentfs_fs_orphan;');
  let out = (await q()).stdout;
  for (let i = 0; i < 50 && out !== '0\n0\n0\n'; i++) {
    await new Promise((res) => setTimeout(res, 100));
    out = (await q()).stdout;
  }
  return out;
}

describe('read-only opens answered natively, racing unlinks through the mount', () => {
  it('an open that succeeded reads the whole file until it closes; then nothing is left', async () => {
    const { db, mnt } = await fresh('open-unlink');
    // The open's OPENED event was queued after the UNLINK (both in one batch, or the unlink's
    // transaction began while the open was in flight): the unlink freed the file and the open
    // descriptor then read ENOENT.
    const script = String.raw`
import os, sys, threading, time
m = sys.argv[1]
bad = opened = 0
data = b'x' * 100000
for i in range(200):
    p = f'{m}/f{i}'
    with open(p, 'wb') as f: f.write(data)
    time.sleep(0.02)  # past the group commit: the open is the native side's
    fd = [None]
    def opener():
        try: fd[0] = os.open(p, os.O_RDONLY)
        except FileNotFoundError: pass
    t = threading.Thread(target=opener); t.start()
    try: os.unlink(p)
    except FileNotFoundError: pass
    t.join()
    if fd[0] is None: continue
    opened += 1
    try:
        got = os.pread(fd[0], 200000, 0)
        if got != data: bad += 1; print('short read', i, len(got))
    except OSError as e:
        bad += 1; print('read failed', i, e.strerror)
    os.close(fd[0])
print('bad', bad, 'opened', 'some' if opened else 'none')
`;
    const r = await run('python3', ['-c', script, mnt], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('bad 0 opened some\n');
    expect(await leftovers(db)).toBe('0\n0\n0\n');
  });
});

describe('events the addon queues without waking JavaScript', () => {
  it('a file unlinked while open natively is purged soon after its last close, with no request after it', async () => {
    const { db, mnt } = await fresh('quiet-release');
    // The close's RELEASED waits in the queue without waking the JS thread (so do OPENED and
    // ATIME); with no request after it, only JavaScript's timers take it (the drain timer, and the
    // change watcher's tick) and purge the file.
    const script = String.raw`
import os, sys, time
m = sys.argv[1]
p = m + '/f'
with open(p, 'wb') as f: f.write(b'y' * 50000)
time.sleep(0.3)  # past the group commit: the open below is the native side's
fd = os.open(p, os.O_RDONLY)
assert os.pread(fd, 10, 0) == b'y' * 10
os.unlink(p)
assert len(os.pread(fd, 100000, 0)) == 50000
os.close(fd)
print('ok')
`;
    const r = await run('python3', ['-c', script, mnt], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
    expect(await leftovers(db)).toBe('0\n0\n0\n');
  });
});

describe('native reads on worker threads, many readers at once', () => {
  it('parallel find, grep -r, ls -lR and big reads beside writers agree with the tree; a SIGKILL mid-read leaves a mount that mounts again', async () => {
    const { db, mnt } = await fresh('readers');
    const entry = mounts[mounts.length - 1]!;
    const setup = String.raw`
import os, sys
m = sys.argv[1]
for d in range(12):
    os.makedirs(f'{m}/d{d}/sub')
    for f in range(30): open(f'{m}/d{d}/sub/f{f}', 'w').write(f'needle {d} {f}\n' * 40)
open(f'{m}/big', 'wb').write(bytes(range(256)) * (16 << 12))
`;
    expect((await run('python3', ['-c', setup, mnt])).stderr).toBe('');
    const git = `cd ${mnt}/d0 && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm t`;
    expect((await run('bash', ['-c', git])).code).toBe(0);
    const want = (await run('sha256sum', [join(mnt, 'big')])).stdout.split(' ')[0];
    // readers in processes (and git's preload-index threads) against writers through the mount and the CLI
    const load = String.raw`
M=$1; CLI="$2"; DB=$3
for r in 1 2 3; do
  ( echo "find $(find $M/d* -path '*/.git' -prune -o -type f -print | wc -l)" ) &
  ( echo "grep $(grep -r --exclude-dir=.git needle $M/d* | wc -l)" ) &
  ( ls -lR $M/d* >/dev/null && echo ls ok ) &
  ( echo "git $(cd $M/d0 && git -c core.preloadIndex=true status --porcelain | wc -l)" ) &
  ( echo "sum $(sha256sum < $M/big | cut -d' ' -f1)" ) &
  ( for i in $(seq 30); do echo x > $M/w$r; cat $M/w$r >/dev/null; rm $M/w$r; done; echo writer ok ) &
  ( $CLI fs write $DB /c$r "from the cli" >/dev/null && echo cli ok ) &
done
wait
`;
    const r = await run('bash', ['-c', load, 'load', mnt, `${process.execPath} ${CLI}`, db], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n').sort();
    expect(lines).toEqual([
      ...Array(3).fill('cli ok'),
      ...Array(3).fill('find 360'),
      ...Array(3).fill('git 0'),
      ...Array(3).fill('grep 14400'),
      ...Array(3).fill('ls ok'),
      ...Array(3).fill(`sum ${want}`),
      ...Array(3).fill('writer ok'),
    ]);
    // connections stay within the pool's bound (16, each the database, its WAL and -shm at most)
    const fds = await run('bash', ['-c', `ls -l /proc/${entry.pid}/fd | grep -c '${db}'`]);
    expect(Number(fds.stdout)).toBeLessThanOrEqual(3 * 17 + 3);

    // SIGKILL while readers are busy: each reader ends (an error, never a hang)
    const busy = String.raw`
M=$1
for r in 1 2 3; do ( while cat $M/big >/dev/null 2>&1 && ls -lR $M/d1 >/dev/null 2>&1; do :; done; echo ended ) & done
sleep 0.5; kill -9 $2
wait
`;
    const k = await run('bash', ['-c', busy, 'busy', mnt, String(entry.pid)], { timeoutMs: 60_000 });
    expect(k.signal).toBeNull();
    expect(k.stdout).toBe('ended\nended\nended\n');
    // the dead mount is recovered by the next mount of the same place
    entry.pid = await mountBg(db, mnt);
    expect((await run('sha256sum', [join(mnt, 'big')])).stdout.split(' ')[0]).toBe(want);
    expect((await runCli(['unmount', mnt])).code).toBe(0);
  });
});

describe('read-only opens answered natively beside writers, reopens and a second mount', () => {
  it('keep one write burst whole, survive unlinks through either mount and reopens through /proc, then leave nothing', async () => {
    const { db, mnt } = await fresh('opens-held');
    const mnt2 = join(tmp.dir, 'opens-held-2');
    mkdirSync(mnt2);
    const second: { mnt: string; pid?: number } = { mnt: mnt2 };
    mounts.push(second);
    second.pid = await mountBg(db, mnt2);
    const script = String.raw`
import os, sys, time
m, m2 = sys.argv[1], sys.argv[2]
open(m + '/burst', 'w').write('a' * 10)
time.sleep(0.1)
w = os.open(m + '/burst', os.O_RDWR)
for i in range(5):  # read-only opens and closes inside one write burst
    r = os.open(m + '/burst', os.O_RDONLY); os.read(r, 10); os.close(r)
    os.pwrite(w, b'c' * 4096, 4096 * i)
os.close(w)
data = b'z' * 30000
for how, gone in (('mount', m), ('second mount', m2)):
    p = m + '/held'
    open(p, 'wb').write(data); time.sleep(0.3)
    fd = os.open(p, os.O_RDONLY)
    os.unlink(gone + '/held'); time.sleep(0.3)
    fd2 = os.open(f'/proc/self/fd/{fd}', os.O_RDONLY)
    os.close(fd); time.sleep(0.3)
    print(how, len(os.pread(fd2, 100000, 0)), os.fstat(fd2).st_nlink)
    os.close(fd2)
os.unlink(m + '/burst')
`;
    const r = await run('python3', ['-c', script, mnt, mnt2]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('mount 30000 0\nsecond mount 30000 0\n');
    await new Promise((res) => setTimeout(res, 700)); // the idle journal burst is written out
    const rows = await sqlite(db, "SELECT op, path, offset, length, writes FROM agentfs_journal WHERE path = '/burst' AND op <> 'unlink' ORDER BY id");
    expect(rows.stdout).toBe('create|/burst|||\nwrite|/burst|0|10|1\nwrite|/burst|0|20480|5\n');
    expect(await leftovers(db)).toBe('0\n0\n0\n');
  });
});

describe('directory attributes inside a group commit, under renames and owner changes', () => {
  it('a stat right after each change matches the row committed for it (--uid/--gid mount)', async () => {
    const { db, mnt } = await fresh('group-dirs', ['--uid', '1234', '--gid', '1234']);
    // each step: the change, at once a stat of every directory it touched (answered inside the
    // group commit), then, once committed, the stat compared with the database's row
    const script = String.raw`import os, sys, time, sqlite3, ctypes
m, db = sys.argv[1], sys.argv[2]
uid_over = int(sys.argv[3]) if len(sys.argv) > 3 else -1
con = sqlite3.connect(f'file:{db}?mode=ro', uri=True)
libc = ctypes.CDLL(None, use_errno=True)
def exchange(a, b):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), 2) != 0: raise OSError(ctypes.get_errno(), 'renameat2')
def row(ino):
    r = con.execute('SELECT mode, nlink, uid, gid, mtime, mtime_nsec, ctime, ctime_nsec FROM fs_inode WHERE ino = ?', (ino,)).fetchone()
    return r
def verify(step, stats):
    # the group committed: an fsync of a directory commits it before its reply (a sleep past the
    # group's 10 ms timer was not enough on a busy machine)
    fd = os.open(m, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    for path, st in stats:
        r = row(st.st_ino)
        if r is None: continue
        want = (r[0], r[1], r[2] if uid_over < 0 else uid_over, r[3] if uid_over < 0 else uid_over, r[4] * 10**9 + r[5], r[6] * 10**9 + r[7])
        got = (st.st_mode, st.st_nlink, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ctime_ns)
        if want != got: print(step, path.replace(m, ''), 'got', got, 'want', want)
def step(name, fn, *paths):
    fn()
    verify(name, [(p, os.stat(p)) for p in paths])
a, b, c = m + '/a', m + '/b', m + '/c'
os.mkdir(a); os.mkdir(b); os.mkdir(c); time.sleep(0.05)
for r in range(5):
    step('mkdir sub', lambda: (os.mkdir(a + '/x'), os.mkdir(b + '/y')), a, b, a + '/x', b + '/y')
    step('rename dir over dir', lambda: os.rename(a + '/x', b + '/y'), a, b, b + '/y')
    step('mkdir again', lambda: os.mkdir(a + '/x'), a, a + '/x', b + '/y')
    step('exchange dirs', lambda: exchange(a + '/x', b + '/y'), a, b, a + '/x', b + '/y')
    # a directory changed, then moved, in one group: its ctime moves again (forgetAttrs)
    step('change then exchange', lambda: (os.mkdir(a + '/x/q'), exchange(a + '/x', b + '/y')), a, b, a + '/x', b + '/y')
    step('change then move', lambda: (os.rmdir(b + '/y/q'), os.rename(b + '/y', c + '/y2'), os.rename(c + '/y2', b + '/y')), b, c, b + '/y')
    step('mkdir in x', lambda: os.mkdir(a + '/x/z'), a + '/x', a + '/x/z')
    step('exchange dir with file', lambda: (open(c + '/f', 'w').close(), exchange(a + '/x', c + '/f')), a, c, a + '/x', c + '/f')
    step('rename parent dir', lambda: os.rename(c + '/f', b + '/moved'), b, c, b + '/moved', b + '/moved/z')
    step('chmod', lambda: os.chmod(b + '/moved', 0o711), b + '/moved', b)
    step('chown', lambda: os.chown(b + '/moved', 1000, 1000), b + '/moved', b)
    step('utime', lambda: os.utime(b + '/moved', (1, 2)), b + '/moved', b)
    step('utime now', lambda: os.utime(b + '/moved'), b + '/moved', b)
    step('link', lambda: (open(a + '/x', 'w').close(), os.link(a + '/x', b + '/moved/z/l')), a, b + '/moved/z', b + '/moved')
    step('unlink link', lambda: os.unlink(b + '/moved/z/l'), b + '/moved/z', a + '/x')
    fd = os.open(b + '/moved/z', os.O_RDONLY)
    step('rmdir with fd', lambda: os.rmdir(b + '/moved/z'), b + '/moved')
    os.close(fd)
    for p in (a + '/x', b + '/y', c + '/f'):
        if os.path.isdir(p) and not os.path.islink(p): os.rmdir(p)
        elif os.path.lexists(p): os.unlink(p)
    os.rmdir(b + '/moved')
    verify('end', [(p, os.stat(p)) for p in (a, b, c)])
print('done')
`;
    const r = await run('python3', ['-c', script, mnt, db, '1234'], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('done\n');
  });
});

describe('the session loop: one leader thread, large reads handed to others', () => {
  it('four cold readers of large files at once, small requests between them, read every byte; unmount ends every thread', async () => {
    const { mnt } = await fresh('leader');
    const entry = mounts[mounts.length - 1]!;
    // Each 128 KiB read hands the leader's role to another thread (started on demand, four at
    // most): the readers' requests are served side by side, and the loop must end all of them.
    const script = String.raw`
import hashlib, os, sys, threading
m = sys.argv[1]
want = {}
for i in range(4):
    data = os.urandom(12 << 20)
    with open(f'{m}/big{i}', 'wb') as f: f.write(data)
    want[i] = hashlib.sha256(data).hexdigest()
bad = []
def reader(i):
    for r in range(3):
        fd = os.open(f'{m}/big{i}', os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # from SQLite again, not the page cache
        h = hashlib.sha256()
        while True:
            b = os.read(fd, 1 << 20)
            if not b: break
            h.update(b)
        os.close(fd)
        if h.hexdigest() != want[i]: bad.append((i, r))
def stats():
    for r in range(300):
        os.stat(f'{m}/big{r % 4}')
        os.listdir(m)
ts = [threading.Thread(target=reader, args=(i,)) for i in range(4)] + [threading.Thread(target=stats)]
for t in ts: t.start()
for t in ts: t.join()
print('bad', bad)
`;
    const r = await run('python3', ['-c', script, mnt], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('bad []\n');
    const threads = Number((await run('bash', ['-c', `ls /proc/${entry.pid}/task | wc -l`])).stdout);
    expect(threads).toBeGreaterThan(1);
    expect((await runCli(['unmount', mnt])).code).toBe(0);
    // the server exits: its loop's threads (leader and those large reads started) all ended
    for (let i = 0; i < 100 && isAlive(entry.pid!); i++) await new Promise((res) => setTimeout(res, 50));
    expect(isAlive(entry.pid!)).toBe(false);
  });
});

describe('the session loop when no thread can be started', () => {
  it("a large read is served by the leader itself, and the mount goes on (the user's limit on processes reached)", async () => {
    // RLIMIT_NPROC binds users other than root: the server runs as nobody under a limit, and
    // another process of nobody's then takes the slots left. Starting a thread for a large read
    // threw, and the uncaught exception killed the server ("Software caused connection abort").
    const base = join(tmp.dir, 'nproc');
    const mnt = join(base, 'mnt');
    mkdirSync(mnt, { recursive: true });
    chmodSync(tmp.dir, 0o711);
    await run('chown', ['-R', '65534:65534', base]);
    const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', `HOME=${base}`, `AGENTFS_RUNTIME_DIR=${base}/run`];
    const asNobody = (cmd: string[]) => run('setpriv', [...nobody, ...cmd], { timeoutMs: 60_000, cwd: base });
    const db = join(base, 'n.db');
    expect((await asNobody([process.execPath, CLI, 'init', db])).code).toBe(0);
    const LIMIT = 200;
    const m = await asNobody(['bash', '-c', `ulimit -u ${LIMIT} && exec "$@"`, 'mount', process.execPath, CLI, 'mount', db, mnt]);
    expect(m.code, m.stderr).toBe(0);
    const entry: { mnt: string; pid?: number } = { mnt, pid: Number(/\(pid (\d+)\)/.exec(m.stdout)?.[1]) };
    mounts.push(entry);
    const write = String.raw`
import hashlib, os, sys
data = os.urandom(8 << 20)
open(sys.argv[1], 'wb').write(data)
print(hashlib.sha256(data).hexdigest())`;
    const w = await asNobody(['python3', '-c', write, join(mnt, 'big')]);
    expect(w.stderr).toBe('');
    // nobody's other process (no limit of its own) takes every slot the server's limit leaves
    const tasks = Number((await run('bash', ['-c', 'ps -L -u 65534 --no-headers | wc -l'])).stdout);
    const hog = spawn('setpriv', [...nobody, 'python3', '-c', HOG_PY, String(LIMIT - tasks)], { cwd: base, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((res, rej) => {
        hog.stdout.once('data', res);
        hog.once('exit', rej);
      });
      // direct reads of 1 MiB: each hands the leader's role off, and no thread can be started
      const read = await asNobody(['bash', '-c', `dd if=${join(mnt, 'big')} bs=1M iflag=direct status=none | sha256sum`]);
      expect(read.stderr).toBe('');
      expect(read.stdout.split(' ')[0]).toBe(w.stdout.trim());
      expect(isAlive(entry.pid!)).toBe(true);
      expect((await asNobody(['ls', mnt])).stdout).toBe('big\n');
    } finally {
      hog.kill('SIGKILL');
    }
    expect((await asNobody([process.execPath, CLI, 'unmount', mnt])).code).toBe(0);
    for (let i = 0; i < 100 && isAlive(entry.pid!); i++) await new Promise((res) => setTimeout(res, 50));
    expect(isAlive(entry.pid!)).toBe(false);
  });
});

/** Holds argv[1] threads (each a task of its user) until killed. */
const HOG_PY = String.raw`
import sys, threading, time
for _ in range(int(sys.argv[1])): threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
print('holding', flush=True)
time.sleep(600)`;

describe('the JS thread reading /dev/fuse itself (after a request it answered)', () => {
  it('a storm of natively answered opens that follows a write leaves it its event loop: SIGTERM still ends the mount', async () => {
    // After a request for JavaScript the JS thread reads the client's next requests itself and
    // answers the native ones inline (loop::lead). A client that then only opens and closes
    // (answered natively once the write is committed) would keep it there for good, were its
    // time not bounded: no timer, no signal handler would run, and SIGTERM would wait for the
    // client to stop.
    const { mnt } = await fresh('storm');
    const entry = mounts[mounts.length - 1]!;
    const script = String.raw`
import os, sys, time
m, counts = sys.argv[1], sys.argv[2]
with open(m + '/r', 'w') as f: f.write('x')
# four openers: one of them always has a request waiting, so the JS thread never finds the
# device idle. Each counts the opens it made from 0.3 s on, long after the write's group.
start = time.time()
end = start + 30
def storm():
    late = 0
    while time.time() < end:
        try:
            fd = os.open(m + '/r', os.O_RDONLY)
            os.close(fd)
        except OSError:
            break
        if time.time() > start + 0.3: late += 1
    with open(f'{counts}/{os.getpid()}', 'w') as f: f.write(str(late))
kids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        storm()
        os._exit(0)
    kids.append(pid)
print('ready', flush=True)
storm()
for pid in kids: os.waitpid(pid, 0)
late = sum(int(open(f'{counts}/{n}').read()) for n in os.listdir(counts))
print('stopped' if time.time() < end else 'ran out', 'late opens', late > 20, flush=True)
`;
    const counts = join(tmp.dir, 'storm-counts');
    mkdirSync(counts);
    const client = spawn('python3', ['-c', script, mnt, counts], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const clientDone = new Promise<void>((resolve) => client.on('close', () => resolve()));
    try {
      for (let i = 0; i < 200 && !out.includes('ready'); i++) await new Promise((res) => setTimeout(res, 50));
      expect(out).toContain('ready');
      await new Promise((res) => setTimeout(res, 1000));
      process.kill(entry.pid!, 'SIGTERM');
      for (let i = 0; i < 400 && isAlive(entry.pid!); i++) await new Promise((res) => setTimeout(res, 50));
      expect(isAlive(entry.pid!)).toBe(false);
      await clientDone;
      // the openers went on being answered after the write (a JS thread that kept the role
      // without reading would have left them hanging from the first milliseconds on)
      expect(out).toBe('ready\nstopped late opens True\n');
    } finally {
      if (client.exitCode === null) client.kill('SIGKILL');
    }
  });
});
