// A base that holds another file system (a volume, a tmpfs mounted inside the project): its files
// number their inodes on their own, and theirs meet the base's. Two fresh tmpfs mounts give the
// same number to their first files, so `x` on the base and `vol/y` inside it collide here; as one
// node, the sandbox once read x's content for vol/y (inodes.ts BaseInos).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, linkSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';
import { TmpfsMounts } from '../support/tmpfs.js';
import { forceUnmount, mountBg, sh, unmountOk } from '../support/fuse.js';

let tmp: { dir: string; cleanup: () => void };
let base: string;
let env: NodeJS.ProcessEnv;
const tmpfs = new TmpfsMounts();
const mounts: { mnt: string; pid: number }[] = [];


const run = (script: string, session?: string) =>
  runCli(['run', ...(session ? ['--session', session] : []), '--', 'sh', '-c', script], { cwd: base, env });

beforeAll(() => {
  tmp = tempDir('agentfs-otherdev-');
  base = join(tmp.dir, 'base');
  tmpfs.mount(base);
  writeFileSync(join(base, 'x'), 'x on the base\n');
  tmpfs.mount(join(base, 'vol'));
  writeFileSync(join(base, 'vol', 'y'), 'y on the volume\n');
  writeFileSync(join(base, 'vol', 'z'), 'z on the volume\n');
  linkSync(join(base, 'vol', 'z'), join(base, 'vol', 'z2'));
  env = { AGENTFS_HOME: join(tmp.dir, 'home') };
});

afterAll(async () => {
  for (const m of mounts) await forceUnmount(m.mnt, m.pid);
  tmpfs.unmountAll();
  tmp.cleanup();
});

describe('a base holding another file system', () => {
  it('has the colliding inode numbers this file is about', () => {
    const [x, y] = [statSync(join(base, 'x')), statSync(join(base, 'vol', 'y'))];
    expect(y.ino).toBe(x.ino);
    expect(y.dev).not.toBe(x.dev);
  });

  it('run: each file shows its own content and number, in either order, and a change stays its own', async () => {
    const r = await run('cat vol/y x vol/y; stat -c %i x vol/y vol/z vol/z2 | sort -u | wc -l');
    expect(r.stderr).not.toMatch(/error|No such/i);
    expect(r.stdout).toBe('y on the volume\nx on the base\ny on the volume\n3\n'); // z and z2 are one file
    const w = await run('cat x vol/y; echo more >> vol/y; cat vol/y x', 'otherdev');
    expect(w.stdout).toBe('x on the base\ny on the volume\ny on the volume\nmore\nx on the base\n');
    // resumed: the copy of vol/y keeps its content and takes no number of the base's
    const again = await run('cat vol/y x; test "$(stat -c %i vol/y)" != "$(stat -c %i x)" && echo distinct', 'otherdev');
    expect(again.stdout).toBe('y on the volume\nmore\nx on the base\ndistinct\n');
    expect((await runCli(['diff', 'otherdev'], { cwd: base, env })).stdout).toBe('M file    vol/y\n');
    // the host is untouched
    expect(readFileSync(join(base, 'vol', 'y'), 'utf8')).toBe('y on the volume\n');
  });

  it('mount of an overlay agent: listings, stats and reads of both file systems, native or not', async () => {
    for (const native of ['1', '0']) {
      const db = join(tmp.dir, `agent-${native}.db`);
      const mnt = join(tmp.dir, `mnt-${native}`);
      mkdirSync(mnt);
      if (!existsSync(db)) expect((await runCli(['init', db, '--base', base], { env })).code).toBe(0);
      const m = { mnt, pid: await mountBg(db, mnt, [], undefined, { ...env, AGENTFS_NATIVE_READS: native }) };
      mounts.push(m);
      // listed first (the kernel gets the nodes from the listings), then read
      const r = await sh('ls -i . vol | sort -n | head -n 0; ls -l . vol > /dev/null; cat x vol/y vol/z2 x; stat -c "%n %i" x vol/y | sort -k2 -u | wc -l', mnt);
      expect(r.stdout).toBe('x on the base\ny on the volume\nz on the volume\nx on the base\n2\n');
      await unmountOk(m);
      mounts.splice(mounts.indexOf(m), 1);
    }
  });
});
