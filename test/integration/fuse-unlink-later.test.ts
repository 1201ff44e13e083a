import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { run, runCli, tempDir } from '../support/cli.js';
import { forceUnmount, isAlive, waitFor } from '../support/fuse.js';

/**
 * A mount answers an unlink that frees a file nothing holds open before writing it, and writes
 * such unlinks up to sixteen to a statement (core/fs/ops/unlink-later.ts). What must hold: every
 * later request sees them (lookups, listings, rmdir, a create or rename of the same name, the
 * journal), files held open or linked twice are removed as before, the journal has one row per
 * unlink in the order they were made, and nothing is left or lost in the database, also when the
 * server is killed in the middle of an `rm -rf`.
 */
let tmp: { dir: string; cleanup: () => void };
const mounts: { mnt: string; pid: number }[] = [];

beforeAll(() => {
  tmp = tempDir('agentfs-unlink-later-');
});

afterAll(async () => {
  for (const m of mounts) await forceUnmount(m.mnt, m.pid);
  tmp.cleanup();
});

async function mountFresh(name: string, env: Record<string, string>): Promise<{ db: string; mnt: string; pid: number }> {
  const db = join(tmp.dir, `${name}.db`);
  const mnt = join(tmp.dir, `mnt-${name}`);
  mkdirSync(mnt);
  expect((await runCli(['init', db], { env })).code).toBe(0);
  const m = await runCli(['mount', db, mnt], { env });
  expect(m.stderr).toBe('');
  const pid = Number(/\(pid (\d+)\)/.exec(m.stdout)?.[1]);
  mounts.push({ mnt, pid });
  return { db, mnt, pid };
}

/** Inodes without a name (the root apart), chunks and stored counts without an inode, dentries without one: each a leftover. */
function leftovers(db: string): Record<string, number> {
  const d = new Database(db, { readonly: true });
  try {
    const n = (sql: string) => Number(Object.values(d.prepare(sql).get() as Record<string, unknown>)[0]);
    return {
      inodes: n('SELECT count(*) FROM fs_inode i WHERE i.ino <> 1 AND NOT EXISTS (SELECT 1 FROM fs_dentry d WHERE d.ino = i.ino) AND NOT EXISTS (SELECT 1 FROM agentfs_fs_orphan o WHERE o.ino = i.ino)'),
      chunks: n('SELECT count(*) FROM fs_data c WHERE NOT EXISTS (SELECT 1 FROM fs_inode i WHERE i.ino = c.ino)'),
      blocks: n('SELECT count(*) FROM agentfs_fs_blocks b WHERE NOT EXISTS (SELECT 1 FROM fs_inode i WHERE i.ino = b.ino)'),
      dentries: n('SELECT count(*) FROM fs_dentry d WHERE NOT EXISTS (SELECT 1 FROM fs_inode i WHERE i.ino = d.ino)'),
    };
  } finally {
    d.close();
  }
}

const SEEN = String.raw`
import errno, os, sys
m = sys.argv[1]
out = []
def err(fn):
    try:
        fn()
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
os.mkdir(m + '/d')
for i in range(40):
    with open(m + '/d/f%d' % i, 'w') as f:
        f.write('file %d' % i)
# the name is gone at once, for a lookup, a listing and an open
os.unlink(m + '/d/f0')
out.append(('stat', err(lambda: os.stat(m + '/d/f0'))))
out.append(('open', err(lambda: open(m + '/d/f0'))))
out.append(('listed', 'f0' in os.listdir(m + '/d')))
# a new file of the same name is the new file
with open(m + '/d/f0', 'w') as f:
    f.write('again')
out.append(('again', open(m + '/d/f0').read()))
# a name another file is renamed to, after its unlink
os.unlink(m + '/d/f1')
os.rename(m + '/d/f2', m + '/d/f1')
out.append(('renamed', open(m + '/d/f1').read(), err(lambda: os.stat(m + '/d/f2'))))
# linked twice: one name goes, the other reads on
os.link(m + '/d/f3', m + '/d/g3')
os.unlink(m + '/d/f3')
out.append(('linked', open(m + '/d/g3').read(), os.stat(m + '/d/g3').st_nlink))
# held open: the descriptor reads on after the unlink
fd = os.open(m + '/d/f4', os.O_RDONLY)
os.unlink(m + '/d/f4')
out.append(('held', os.pread(fd, 100, 0).decode(), os.fstat(fd).st_nlink))
os.close(fd)
# twenty more, then the listing and the directory's link count and times move on
before = os.stat(m + '/d')
for i in range(5, 25):
    os.unlink(m + '/d/f%d' % i)
after = os.stat(m + '/d')
out.append(('left', sorted(os.listdir(m + '/d'))))
out.append(('dir', after.st_nlink, after.st_mtime_ns > before.st_mtime_ns))
# unlink what is left, then rmdir: the directory is empty
for n in os.listdir(m + '/d'):
    os.unlink(m + '/d/' + n)
out.append(('rmdir', err(lambda: os.rmdir(m + '/d'))))
out.append(('gone', err(lambda: os.stat(m + '/d'))))
# the same again with the unlinked files' names made anew right away, in a new directory
os.mkdir(m + '/e')
for i in range(20):
    open(m + '/e/x%d' % i, 'w').write('old %d' % i)
for i in range(20):
    os.unlink(m + '/e/x%d' % i)
    open(m + '/e/x%d' % i, 'w').write('new %d' % i)
out.append(('remade', [open(m + '/e/x%d' % i).read() for i in range(20)] == ['new %d' % i for i in range(20)]))
print(repr(out))
`;

describe('unlinks answered before they are written', () => {
  it('are seen at once by every later request, within one long group and after its commit', async () => {
    const env = { AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run'), AGENTFS_GROUP_COMMIT_MS: '60000' };
    const { db, mnt } = await mountFresh('seen', env);
    const r = await run('python3', ['-c', SEEN, mnt]);
    expect(r.stderr).toBe('');
    const out = r.stdout.trim();
    expect(out).toContain("('stat', 'ENOENT')");
    expect(out).toContain("('open', 'ENOENT')");
    expect(out).toContain("('listed', False)");
    expect(out).toContain("('again', 'again')");
    expect(out).toContain("('renamed', 'file 2', 'ENOENT')");
    expect(out).toContain("('linked', 'file 3', 1)");
    expect(out).toContain("('held', 'file 4', 0)");
    expect(out).toContain("('left', ['f0', 'f1', 'f25', 'f26', 'f27', 'f28', 'f29', 'f30', 'f31', 'f32', 'f33', 'f34', 'f35', 'f36', 'f37', 'f38', 'f39', 'g3'])");
    expect(out).toContain("('dir', 2, True)");
    expect(out).toContain("('rmdir', 'ok')");
    expect(out).toContain("('gone', 'ENOENT')");
    expect(out).toContain("('remade', True)");
    expect((await runCli(['unmount', mnt], { env })).code).toBe(0);
    expect(leftovers(db)).toEqual({ inodes: 0, chunks: 0, blocks: 0, dentries: 0 });
    const d = new Database(db, { readonly: true });
    try {
      // one journal row per unlink, in the order they were made
      const rows = d.prepare("SELECT path, time_ns FROM agentfs_journal WHERE op = 'unlink' ORDER BY id").raw().all() as [string, bigint | number][];
      const paths = rows.map((x) => x[0]);
      expect(paths.slice(0, 5)).toEqual(['/d/f0', '/d/f1', '/d/f3', '/d/f4', '/d/f5']);
      expect(paths.filter((p) => p.startsWith('/d/')).length).toBe(42); // 24 one by one, then the 18 names left
      expect(paths.filter((p) => p.startsWith('/e/')).length).toBe(20);
      expect(paths.slice(-20)).toEqual(Array.from({ length: 20 }, (_, i) => `/e/x${i}`));
      for (let i = 1; i < rows.length; i++) expect(BigInt(rows[i][1]) >= BigInt(rows[i - 1][1])).toBe(true);
      expect(Number((d.prepare('SELECT count(*) AS n FROM fs_dentry').get() as { n: number }).n)).toBe(21); // e and its 20 files
    } finally {
      d.close();
    }
  });

  it('rm -rf of 3,000 files leaves nothing behind, and a server killed in the middle of one loses no file it did not remove', async () => {
    const trace = join(tmp.dir, 'trace-rmrf.txt');
    const env = { AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run') };
    const a = await mountFresh('rmrf', { ...env, AGENTFS_FUSE_TRACE: trace });
    const make = "mkdir t && cd t && for d in 0 1 2 3 4 5; do mkdir $d; for i in $(seq 500); do echo \"file $d/$i\" > $d/$i; done; done";
    expect((await run('/bin/sh', ['-c', make], { cwd: a.mnt })).code).toBe(0);
    expect((await run('rm', ['-rf', join(a.mnt, 't')])).code).toBe(0);
    expect((await run('ls', ['-A', a.mnt])).stdout).toBe('');
    expect((await runCli(['unmount', a.mnt], { env })).code).toBe(0);
    expect(leftovers(a.db)).toEqual({ inodes: 0, chunks: 0, blocks: 0, dentries: 0 });
    // written sixteen to a statement: far fewer inserts than the 3,000 unlinks (each its own before)
    const inserts = [...readFileSync(trace, 'utf8').matchAll(/^sql\s+(\d+)\s+[\d.]+ us\s+INSERT INTO temp\.agentfs_unlinked_/gm)].reduce((n, x) => n + Number(x[1]), 0);
    expect(inserts).toBeGreaterThan(0);
    expect(inserts).toBeLessThan(600);
    // AGENTFS_FUSE_UNLINK_BATCH=0: each written before its answer, a statement each
    const traceOff = join(tmp.dir, 'trace-off.txt');
    const off = await mountFresh('off', { ...env, AGENTFS_FUSE_TRACE: traceOff, AGENTFS_FUSE_UNLINK_BATCH: '0' });
    expect((await run('/bin/sh', ['-c', 'mkdir t && for i in $(seq 300); do echo $i > t/$i; done && rm -rf t'], { cwd: off.mnt })).code).toBe(0);
    expect((await runCli(['unmount', off.mnt], { env })).code).toBe(0);
    const one = [...readFileSync(traceOff, 'utf8').matchAll(/^sql\s+(\d+)\s+[\d.]+ us\s+INSERT INTO temp\.agentfs_unlinked_/gm)].reduce((n, x) => n + Number(x[1]), 0);
    expect(one).toBe(300);
    const d0 = new Database(a.db, { readonly: true });
    expect(Number((d0.prepare('SELECT count(*) AS n FROM fs_inode').get() as { n: number }).n)).toBe(1);
    d0.close();

    // killed mid-way: what is there reads whole, what is not left no rows
    const b = await mountFresh('killed', env);
    expect((await run('/bin/sh', ['-c', make], { cwd: b.mnt })).code).toBe(0);
    expect((await run('sync', [])).code).toBe(0);
    const rm = run('rm', ['-rf', join(b.mnt, 't')]);
    await new Promise((r) => setTimeout(r, 150));
    process.kill(b.pid, 'SIGKILL');
    expect(await waitFor(() => !isAlive(b.pid))).toBe(true);
    await rm.catch(() => undefined);
    await forceUnmount(b.mnt, b.pid);
    const d = new Database(b.db);
    try {
      expect((d.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check).toBe('ok');
    } finally {
      d.close();
    }
    // mounted again: every file left reads whole; then nothing is left over
    const again = b.mnt;
    const m = await runCli(['mount', b.db, again], { env });
    expect(m.stderr).toBe('');
    const pid = Number(/\(pid (\d+)\)/.exec(m.stdout)?.[1]);
    mounts.push({ mnt: again, pid });
    const check = await run('/bin/sh', ['-c', 'cd t 2>/dev/null || exit 0; for f in */*; do [ "$(cat $f)" = "file $f" ] || echo "bad $f"; done'], { cwd: again });
    expect(check.stdout).toBe('');
    expect((await runCli(['unmount', again], { env })).code).toBe(0);
    expect(leftovers(b.db)).toEqual({ inodes: 0, chunks: 0, blocks: 0, dentries: 0 });
  });
});
