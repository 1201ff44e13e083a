import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli, tempDir } from '../support/cli.js';
import { forceUnmount } from '../support/fuse.js';

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

const SCRIPT = String.raw`
import os, sys
m = sys.argv[1]
a, b = m + '/a', m + '/b'
os.mkdir(a); os.mkdir(b)
last = {}
def check(step, path, nlink=None, mode=None, moved='mc'):
    # moved: which of mtime (m) and ctime (c) the step moves; the others must stay
    st = os.stat(path)
    t = st.st_mtime_ns, st.st_ctime_ns
    if path in last:
        for i, k in enumerate('mc'):
            if (t[i] > last[path][i]) != (k in moved): print(step, path, k + 'time', last[path][i], '->', t[i])
    last[path] = t
    if nlink is not None and st.st_nlink != nlink: print(step, path, 'nlink', st.st_nlink, 'want', nlink)
    if mode is not None and (st.st_mode & 0o7777) != mode: print(step, path, 'mode', oct(st.st_mode), 'want', oct(mode))
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
 * native side as absent, unless the open transaction added that name (Session::added_names):
 * those are JavaScript's to answer until the commit. The kernel's dentries are dropped so that
 * every stat asks the server again, inside one long group (AGENTFS_GROUP_COMMIT_MS).
 */
const LOOKUPS = String.raw`
import os, sqlite3, stat, sys, time
m, db = sys.argv[1], sys.argv[2]
d = m + '/d'
os.mkdir(d)
ino = os.stat(d).st_ino
time.sleep(4)  # the mkdir's group commits
t0 = time.time()
for i in range(4):
    open(f'{d}/f{i}', 'w').close()
os.mkdir(d + '/sub')
os.symlink('t', d + '/ln')
os.link(d + '/f0', d + '/hard')
os.rename(d + '/f1', d + '/moved')
os.mknod(d + '/fifo', 0o600 | stat.S_IFIFO)
with open('/proc/sys/vm/drop_caches', 'w') as f: f.write('2')
bad = []
for n in ['f0', 'f2', 'f3', 'sub', 'ln', 'hard', 'moved', 'fifo']:
    try: os.lstat(f'{d}/{n}')
    except OSError as e: bad.append((n, e.errno))
for n in ['f1', 'nope', 'f9']:
    try:
        os.lstat(f'{d}/{n}')
        bad.append((n, 'exists'))
    except FileNotFoundError: pass
c = sqlite3.connect(f'file:{db}?mode=ro', uri=True)
committed = c.execute('SELECT count(*) FROM fs_dentry WHERE parent_ino = ?', (ino,)).fetchone()[0]
print('bad', bad, 'committed', committed, 'in time', time.time() - t0 < 2.5)
`;

describe('lookups inside a group commit', () => {
  it('names the open transaction added are found, and names it did not add are absent, before the commit', async () => {
    const db = join(tmp.dir, 'l.db');
    const env = { AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run'), AGENTFS_GROUP_COMMIT_MS: '3000' };
    expect((await runCli(['init', db], { env })).code).toBe(0);
    const m = await runCli(['mount', db, mnt2], { env });
    expect(m.stderr).toBe('');
    pid2 = Number(/\(pid (\d+)\)/.exec(m.stdout)?.[1]);
    const r = await run('python3', ['-c', LOOKUPS, mnt2, db]);
    expect(r.stderr).toBe('');
    // committed 0: every lookup above happened inside the one open group
    expect(r.stdout).toBe('bad [] committed 0 in time True\n');
    expect((await runCli(['unmount', mnt2], { env })).code).toBe(0);
    // and committed at the end, all eight
    const q = "SELECT count(*) FROM fs_dentry WHERE parent_ino = (SELECT ino FROM fs_dentry WHERE parent_ino = 1 AND name = 'd')";
    expect((await run('sqlite3', [db, q])).stdout).toBe('8\n');
  });
});
