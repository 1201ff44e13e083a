import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../support/cli.js';
import { fileStatsMounts } from '../support/fuse.js';

/**
 * While a group commit is open, the addon opens and reads the files the group has not touched
 * from the database (ARCHITECTURE.md, "Native read path"): `git clone` reads the objects it wrote
 * a group earlier while it writes the work tree, `cp -r` reads its sources while it writes the
 * copies. What the group changed is read from JavaScript, and a removal of a name first counts
 * the native opens, in flight ones included, so that the file stays readable through them.
 */
const suite = fileStatsMounts('agentfs-fuse-group-opens-');

/**
 * A fresh agent mounted with groups that stay open for a minute unless an fsync commits them
 * (its database in `dir`).
 */
const mount = (name: string, env: NodeJS.ProcessEnv = {}, dir = suite.dir) => suite.mounts.mount(name, { AGENTFS_GROUP_COMMIT_MS: '60000', ...env }, dir);

/** Unmounts and returns the OPENs and READs JavaScript served (AGENTFS_FUSE_STATS). */
async function unmount(mnt: string): Promise<{ opens: number; reads: number }> {
  const log = await suite.mounts.unmount(mnt);
  if (!/fuse native reads: \d+ served/.test(log)) throw new Error(`no native read line in: ${log}`);
  const count = (op: string) => Number(new RegExp(`^fuse ${op}: (\\d+) requests`, 'm').exec(log)?.[1] ?? 0);
  return { opens: count('OPEN'), reads: count('READ') };
}

async function py(script: string, args: string[]): Promise<string> {
  const file = join(suite.dir, `s${Math.random().toString(36).slice(2)}.py`);
  writeFileSync(file, script);
  const r = await run('python3', [file, ...args], { timeoutMs: 60_000 });
  expect(r.stderr).toBe('');
  return r.stdout;
}

// 40 files committed (the fsync ends the group), a new group opened by a create, then the files
// read three times in it, each read followed by a create (a group with only reads in a row
// commits early); then some changed in the same group (overwritten, truncated, appended)
// and everything read again; one held open and unlinked, read through its descriptor.
const IN_GROUP = String.raw`
import os, sys
m = sys.argv[1]
def put(p, b):
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); os.write(fd, b); return fd
def get(p):
    with open(p, 'rb') as f: return f.read()
want = {}
for i in range(40):
    want[i] = b'file %d\n' % i * (i + 1)
    os.close(put(m + '/f%d' % i, want[i]))
fd = put(m + '/sync', b's'); os.fsync(fd); os.close(fd)
os.close(put(m + '/opens-the-group', b'g'))
bad = []
for r in range(3):
    for i in range(40):
        if get(m + '/f%d' % i) != want[i]: bad.append(('before', i))
        os.close(put(m + '/c%d-%d' % (r, i), want[i]))  # as cp -r does: no run of reads alone
fd = os.open(m + '/f0', os.O_WRONLY); os.pwrite(fd, b'NEW', 0); os.close(fd); want[0] = b'NEW' + want[0][3:]
os.close(put(m + '/f1', b'truncated')); want[1] = b'truncated'
with open(m + '/f2', 'ab') as f: f.write(b'more'); want[2] += b'more'
os.truncate(m + '/f3', 2); want[3] = want[3][:2]
for i in range(40):
    if get(m + '/f%d' % i) != want[i]: bad.append(('after', i, get(m + '/f%d' % i)[:20]))
held = os.open(m + '/f5', os.O_RDONLY)
os.unlink(m + '/f5')
if os.pread(held, 100, 0) != want[5][:100]: bad.append('unlinked')
os.close(held)
if os.path.exists(m + '/f5'): bad.append('f5 still there')
print('bad', bad)
`;

// Two threads, ten times: one opens x (the addon's test delay keeps that open in flight for 80 ms
// after the addon saw that the group had not touched x) while the other, 20 ms later, unlinks x or
// renames another file over it in the same group; then the first reads through its descriptor. (The change watcher's poll every
// 100 ms waits for native requests in flight: where it falls in between, the unlink waits anyway.)
const OPEN_RACE = String.raw`
import os, sys, threading, time
m = sys.argv[1]
res = []
for k in range(10):
    x = m + '/x%d' % k
    fd = os.open(x, os.O_WRONLY | os.O_CREAT, 0o644); os.write(fd, b'still here'); os.fsync(fd); os.close(fd)
    fd = os.open(m + '/w%d' % k, os.O_WRONLY | os.O_CREAT, 0o644); os.write(fd, b'w'); os.close(fd)
    out = {}
    def reader():
        try:
            h = os.open(x, os.O_RDONLY)
            out['data'] = os.pread(h, 100, 0)
            os.close(h)
        except OSError as e:
            out['error'] = e.strerror
    if k % 2:
        fd = os.open(m + '/n%d' % k, os.O_WRONLY | os.O_CREAT, 0o644); os.write(fd, b'new'); os.close(fd)
    t = threading.Thread(target=reader); t.start()
    time.sleep(0.02)
    if k % 2: os.rename(m + '/n%d' % k, x)  # x's file replaced: freed as by an unlink
    else: os.unlink(x)
    t.join()
    res.append((out.get('data'), out.get('error'), os.path.exists(x) == (k % 2 == 1)))
for r in sorted(set(repr(r) for r in res)): print(r)
`;

// Near a full disk every change commits alone, so an unlink or a rename over a name opens its
// transaction itself. Each round a thread opens x once, 0-0.4 ms after the main thread began to
// remove it, reads it, and reads it again 20 ms after the removal: a descriptor that opened must
// go on reading what it opened (an orphan, as on ext4). An open answered natively inside the
// removal's own transaction was not counted by it: about a third of such rounds read ESTALE.
const COMMIT_ALONE_RACE = String.raw`
import errno, os, random, sys, threading, time
m = sys.argv[1]
bad = {}
def note(what): bad[what] = bad.get(what, 0) + 1
for k in range(int(sys.argv[2])):
    x = m + '/x%d' % k
    with open(x, 'wb') as f: f.write(b'data')
    if k % 2:
        with open(m + '/y%d' % k, 'wb') as f: f.write(b'new')
    time.sleep(0.002)
    go, done = threading.Event(), threading.Event()
    def opener():
        go.wait()
        time.sleep(random.random() * 0.0004)
        try:
            fd = os.open(x, os.O_RDONLY)
        except OSError as e:
            if e.errno != errno.ENOENT: note('open ' + e.strerror)
            return
        try:
            first = os.pread(fd, 10, 0)
            done.wait()
            time.sleep(0.02)
            if first not in (b'data', b'new') or os.pread(fd, 10, 0) != first: note('content')
        except OSError as e:
            note('read ' + e.strerror)
        finally:
            os.close(fd)
    t = threading.Thread(target=opener); t.start()
    go.set()
    if k % 2: os.rename(m + '/y%d' % k, x)
    else: os.unlink(x)
    done.set()
    t.join()
print(sorted(bad.items()))
`;

describe('opens and reads while a group commit is open', () => {
  it('answers files the group did not touch natively, and reads what it changed from JavaScript', async () => {
    const m = await mount('g');
    expect(await py(IN_GROUP, [m])).toBe('bad []\n');
    const { opens, reads } = await unmount(m);
    // 120 read-only opens of untouched files, then those of the four changed files (and the
    // writable ones, which are JavaScript's anyway): before, every open in the group went to
    // JavaScript (130 here)
    expect(opens).toBeLessThan(20);
    expect(reads).toBeLessThan(20);
  });

  it('counts a native open still in flight before an unlink or a rename over it in the same group frees the file', async () => {
    // the JS thread never leads: the delayed open waits on a native thread, beside the unlink
    const m = await mount('race', { AGENTFS_FUSE_TEST_DELAY_MS: '0,0,80', AGENTFS_FUSE_JS_LEAD: '0' });
    // the unlink waited for the open, which JavaScript counted first: the file was read whole
    expect(await py(OPEN_RACE, [m])).toBe("(b'still here', None, True)\n");
    await unmount(m);
  });

  it('counts the native opens before a removal that commits alone (near a full disk) frees the file', async () => {
    const small = join(suite.dir, 'small');
    mkdirSync(small);
    // under 64 MiB free: every change is committed before its reply, outside any group
    expect((await run('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', small])).code).toBe(0);
    try {
      const m = await mount('alone', { AGENTFS_FUSE_JS_LEAD: '0' }, small);
      expect(await py(COMMIT_ALONE_RACE, [m, '400'])).toBe('[]\n');
      await unmount(m);
    } finally {
      await suite.mounts.cleanup();
      // the server's files on the tmpfs close when it has exited
      for (let i = 0; i < 100 && (await run('umount', [small])).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    }
  }, 120_000);
});
