// A hostile user's cases against file systems mounted inside an overlay's base (inodes.ts BaseInos),
// each one a bug found: see overlay-other-devices.test.ts for the setup's why (two fresh tmpfs
// give their first files the same inode number).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';
import { TmpfsMounts } from '../support/tmpfs.js';

let tmp: { dir: string; cleanup: () => void };
let base: string;
let env: NodeJS.ProcessEnv;
const tmpfs = new TmpfsMounts();


const run = (script: string, session: string) =>
  runCli(['run', '--session', session, '--', 'sh', '-c', script], { cwd: base, env });

beforeAll(() => {
  tmp = tempDir('agentfs-otherdev-hostile-');
  base = join(tmp.dir, 'base');
  tmpfs.mount(base);
  writeFileSync(join(base, 'x'), 'x on the base\n');
  tmpfs.mount(join(base, 'vol'));
  // hard links inside the volume: a and a2, b and b2, c and c2 (and on the base: h and h2)
  writeFileSync(join(base, 'vol', 'p'), 'p\n');
  writeFileSync(join(base, 'h'), 'h on the base\n');
  linkSync(join(base, 'h'), join(base, 'h2'));
  for (const n of ['a', 'b', 'c']) {
    writeFileSync(join(base, 'vol', n), `${n} on the volume\n`);
    linkSync(join(base, 'vol', n), join(base, 'vol', `${n}2`));
  }
  // a second volume, and a directory and a file to move onto it
  tmpfs.mount(join(base, 'vol2'));
  mkdirSync(join(base, 'vol', 'dir'));
  writeFileSync(join(base, 'vol', 'dir', 'inner'), 'inner on the volume\n');
  writeFileSync(join(base, 'vol', 'tomove'), 'tomove on the volume\n');
  env = { AGENTFS_HOME: join(tmp.dir, 'home') };
});

afterAll(() => {
  tmpfs.unmountAll();
  tmp.cleanup();
});

describe('hard links inside a file system mounted in the base', () => {
  // A write through one name copies the file up; a session resumed later showed the other name
  // with the host's old content and its own number (the copy has no fs_origin row, and
  // adoptLinkedCopy skipped files of other devices): the write looked lost through it.
  it('a write through one name shows through the other, with one number, in a resumed session too', async () => {
    const w = await run('echo changed > vol/a; cat vol/a2; ls vol > /dev/null; echo also > vol/b2; cat vol/b', 'links');
    expect(w.code).toBe(0);
    expect(w.stdout).toBe('changed\nalso\n');
    for (const order of ['vol/a vol/a2 vol/b vol/b2', 'vol/a2 vol/a vol/b2 vol/b']) {
      const r = await run(`cat ${order}; stat -c %i vol/a vol/a2 | sort -u | wc -l; stat -c %i vol/b vol/b2 | sort -u | wc -l`, 'links');
      expect(r.stdout).toBe('changed\nchanged\nalso\nalso\n1\n1\n');
    }
    // listed first: the listing's numbers are the ones stat gives
    const l = await run('ls -i vol | sort -k2 | awk \'{print $1}\' | uniq -c | awk \'{print $1}\' | tr "\\n" " "; cat vol/a2 vol/b', 'links');
    expect(l.stdout).toBe('2 2 2 1 1 1 changed\nalso\n');
    // the host is untouched until commit
    expect(readFileSync(join(base, 'vol', 'a'), 'utf8')).toBe('a on the volume\n');
  });

  // The copy two names share lost its last delta name: the other name's node (or, resumed, its
  // fs_origin/copy-up rows) still pointed at the freed delta inode, so the name failed (ENOENT)
  // and the whole directory listed empty (READDIRPLUS failed on it), on the base's own file system
  // and inside a mounted one alike. Then it fell back to the host's file, losing the write made
  // through the removed name; now the copy moves to the remaining name (a hard link keeps the
  // content, OverlayFs.linkHeir).
  it('removing the written name leaves the other name readable, with the write, and the directory listed', async () => {
    const script = (d: string, n: string) => `echo gone > ${d}/${n}; rm ${d}/${n}; ls ${d} | tr "\\n" " "; echo; cat ${d}/${n}2`;
    const r = await run(`${script('.', 'h')}; ${script('vol', 'c')}`, 'unlinked');
    expect(r.stderr).not.toMatch(/No such|error/i);
    const lsBase = 'h2 vol vol2 x ';
    expect(r.stdout).toBe(`${lsBase}\ngone\na a2 b b2 c2 dir p tomove \ngone\n`);
    const again = await run('ls . vol | tr "\\n" " "; echo; cat h2 vol/c2', 'unlinked');
    expect(again.stderr).not.toMatch(/No such|error/i);
    expect(again.stdout).toBe('.: h2 vol vol2 x  vol: a a2 b b2 c2 dir p tomove \ngone\ngone\n');
  });
});

describe('commit of moves between file systems mounted in the base', () => {
  // mv works in the sandbox (the delta is one database), but commit renamed the moved directory
  // on the host in one step: EXDEV, and nothing could be committed. A move across file systems is
  // written as its new entries and its deletions, as mv does.
  it('a directory and a file moved from one volume to another are committed', async () => {
    const r = await run('mv vol/dir vol2/dirm && mv vol/tomove vol2/moved && cat vol2/dirm/inner vol2/moved', 'xdev');
    expect(r.stdout).toBe('inner on the volume\ntomove on the volume\n');
    const c = await runCli(['commit', 'xdev'], { cwd: base, env });
    expect(c.stderr).not.toMatch(/EXDEV/);
    expect(c.code).toBe(0);
    expect(readFileSync(join(base, 'vol2', 'dirm', 'inner'), 'utf8')).toBe('inner on the volume\n');
    expect(readFileSync(join(base, 'vol2', 'moved'), 'utf8')).toBe('tomove on the volume\n');
    expect(existsSync(join(base, 'vol', 'dir'))).toBe(false);
    expect(existsSync(join(base, 'vol', 'tomove'))).toBe(false);
    expect((await runCli(['diff', 'xdev'], { cwd: base, env })).stdout).toBe('');
    const after = await run('cat vol2/dirm/inner vol2/moved; ls vol | grep -c -e "^dir$" -e "^tomove$"', 'xdev');
    expect(after.stdout).toBe('inner on the volume\ntomove on the volume\n0\n');
  });
});

describe('hard links in a file system mounted inside one mounted in the base', () => {
  // The walk for a file's other names entered only directories of its own device: a volume
  // mounted inside another volume was never reached, so removing the name the copy sat under
  // dropped the copy and took the write back from the remaining name.
  it('removing the name the copy sits under keeps the write for the remaining name', async () => {
    const nested = join(tmp.dir, 'nested');
    tmpfs.mount(nested);
    tmpfs.mount(join(nested, 'outer'));
    tmpfs.mount(join(nested, 'outer', 'inner'));
    writeFileSync(join(nested, 'outer', 'inner', 'x'), 'x\n');
    mkdirSync(join(nested, 'outer', 'inner', 'sub'));
    linkSync(join(nested, 'outer', 'inner', 'x'), join(nested, 'outer', 'inner', 'sub', 'y'));
    const inNested = (script: string) => runCli(['run', '--session', 'nested', '--', 'sh', '-c', script], { cwd: nested, env });
    const r = await inNested('cd outer/inner; exec 3>>sub/y; cat x >/dev/null; echo new >&3; exec 3>&-; rm x; cat sub/y');
    expect(r.stdout).toBe('x\nnew\n');
    expect((await inNested('cat outer/inner/sub/y; ls outer/inner')).stdout).toBe('x\nnew\nsub\n');
    const c = await runCli(['commit', 'nested'], { cwd: nested, env });
    expect(c.code).toBe(0);
    expect(readFileSync(join(nested, 'outer', 'inner', 'sub', 'y'), 'utf8')).toBe('x\nnew\n');
    expect(existsSync(join(nested, 'outer', 'inner', 'x'))).toBe(false);
  });
});
