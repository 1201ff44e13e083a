// Inside `run`'s group commit the addon answers from what JavaScript's open write transaction
// said it changed (ARCHITECTURE.md, "Overlay and sandbox", *Inside a group commit*): a GETATTR of
// a node whose attributes JavaScript sent after changing it, and a LOOKUP of a name absent from a
// directory the transaction made (and from the host). Each stat after a change must show that
// change, never an earlier state; a name the host puts beneath such a directory is found, and
// never replaced by a create that did not see it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, tempDir } from '../support/cli.js';
import { STAT_CHECKS } from '../support/stat-checks.js';

let tmp: { dir: string; cleanup: () => void };
let proj: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  tmp = tempDir('agentfs-overlay-group-attrs-');
  proj = join(tmp.dir, 'proj');
  mkdirSync(join(proj, 'g', 'p'), { recursive: true });
  writeFileSync(join(proj, 'g', 'p', 'base.txt'), 'base\n');
  // groups that stay open until an fsync (or the end) commits them
  env = { ...process.env, AGENTFS_HOME: join(tmp.dir, 'home'), AGENTFS_GROUP_COMMIT_MS: '60000', AGENTFS_FUSE_STATS: '1' };
});

afterAll(() => tmp.cleanup());

/** `python3 -c script` in a sandbox over proj; `meanwhile` runs on the host once it prints READY and waits for GO. */
async function runPython(script: string, meanwhile?: () => void): Promise<{ code: number | null; out: string; err: string }> {
  const ready = join(tmp.dir, 'ready');
  const go = join(tmp.dir, 'go');
  rmSync(ready, { force: true });
  rmSync(go, { force: true });
  const child = spawn(process.execPath, [CLI, 'run', '--', 'python3', '-c', script, ready, go], { cwd: proj, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  if (meanwhile) {
    for (let i = 0; i < 600 && !existsSync(ready) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
    meanwhile();
    writeFileSync(go, '');
  }
  return { code: await exited, out, err };
}

/** The counts of the stats line `run` prints at its end (AGENTFS_FUSE_STATS). */
function answered(err: string): { attrs: number; absent: number } {
  const m = /(\d+) attributes and (\d+) absent names answered from uncommitted changes/.exec(err);
  expect(m, err).not.toBeNull();
  return { attrs: Number(m![1]), absent: Number(m![2]) };
}


describe('agentfs run: answers inside a group commit', () => {
  it("each stat after a change shows it: directories' times and links, a hard link's count, the access time a read moved", async () => {
    const script = STAT_CHECKS + String.raw`
import time
for r in range(5):
    made = 'made%d' % r
    os.mkdir(made); check('mkdir', made, nlink=2, moved='')
    open(made + '/f', 'w').close(); check('create', made, nlink=2)
    os.mkdir(made + '/d'); check('mkdir in', made, nlink=3)
    os.rename(made + '/d', made + '/e'); check('rename', made, nlink=3)
    os.rmdir(made + '/e'); check('rmdir', made, nlink=2)
    os.symlink('x', made + '/l'); check('symlink', made)
    os.unlink(made + '/l'); check('unlink', made)
    # a copied-up directory (g is the host's)
    open('g/x%d' % r, 'w').close(); check('create in g', 'g')
    os.unlink('g/x%d' % r); check('unlink in g', 'g')
    # a hard link: its count after a link and after the link's removal
    os.link(made + '/f', made + '/f2'); check('link', made)
    if os.stat(made + '/f').st_nlink != 2: print('link: nlink', os.stat(made + '/f').st_nlink)
    os.chmod(made + '/f', 0o600)
    os.unlink(made + '/f2')
    if os.stat(made + '/f').st_nlink != 1: print('unlink of a link: nlink', os.stat(made + '/f').st_nlink)
    # a read moves the access time of a file changed since (relatime), after its attributes were sent
    with open(made + '/f', 'w') as w: w.write('data')
    os.chmod(made + '/f', 0o644)
    before = os.stat(made + '/f').st_atime_ns
    time.sleep(0.002)
    with open(made + '/f') as rd: rd.read()
    after = os.stat(made + '/f').st_atime_ns
    if not after > before: print('read: atime', before, '->', after)
print('done')
`;
    const r = await runPython(script);
    expect(r.out).toBe('done\n');
    expect(r.code).toBe(0);
    // the directories' GETATTRs after each change came from the attributes sent
    expect(answered(r.err).attrs).toBeGreaterThan(20);
  });

  it('a name absent from a directory made in the group is answered so natively; one the host adds beneath it shows once the group ended', async () => {
    const script = String.raw`
import os, sys
ready, go = sys.argv[1], sys.argv[2]
os.mkdir('nd')
for i in range(100):
    if os.path.exists('nd/n%d' % i): print('exists before made', i)
    open('nd/n%d' % i, 'w').close()
    if not os.path.exists('nd/n%d' % i): print('missing after made', i)
print(len(os.listdir('nd')))
open(ready, 'w').close()
while not os.path.exists(go): pass
# the host made proj/nd/host.txt meanwhile: an fsync of the directory ends the group
fd = os.open('nd', os.O_RDONLY); os.fsync(fd); os.close(fd)
print(open('nd/host.txt').read().strip())
`;
    const r = await runPython(script, () => {
      mkdirSync(join(proj, 'nd'), { recursive: true });
      writeFileSync(join(proj, 'nd', 'host.txt'), 'from the host\n');
    });
    expect(r.out).toBe('100\nfrom the host\n');
    expect(r.code).toBe(0);
    expect(answered(r.err).absent).toBeGreaterThanOrEqual(100);
  });

  it('a name the host puts beneath a directory made in the open group is found there, and never replaced by a create that did not see it', async () => {
    // found by the hostile pass: lookups in such a directory once skipped the host, and an
    // O_EXCL create then replaced the host's file in the session (commit would have written it back)
    const script = String.raw`
import errno, os, sys
ready, go = sys.argv[1], sys.argv[2]
os.mkdir('hd')
open(ready, 'w').close()
while not os.path.exists(go): pass
print(os.stat('hd/x').st_size)
try:
    os.close(os.open('hd/x', os.O_CREAT | os.O_EXCL | os.O_WRONLY)); print('created over it')
except OSError as e: print(errno.errorcode[e.errno])
try:
    os.mkdir('hd/sub'); print('made over it')
except OSError as e: print(errno.errorcode[e.errno])
print(open('hd/x').read().strip())
`;
    const r = await runPython(script, () => {
      mkdirSync(join(proj, 'hd', 'sub'), { recursive: true });
      writeFileSync(join(proj, 'hd', 'x'), 'hostx\n');
    });
    expect(r.out).toBe('6\nEEXIST\nEEXIST\nhostx\n');
    expect(r.code).toBe(0);
  });
});
