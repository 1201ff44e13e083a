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

beforeAll(() => {
  tmp = tempDir('agentfs-fuse-group-attrs-');
  mnt = join(tmp.dir, 'mnt');
  mkdirSync(mnt);
});

afterAll(async () => {
  await forceUnmount(mnt, pid);
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
