// An overlay mount answers GETATTR of its delta's regular files (copied up or created there) in
// the addon, from a read-only connection to the delta's database, while JavaScript has no write
// transaction open (native/fuse_session.cc delta_getattr). Each case does the same on a mount
// served that way and on one served by JavaScript alone, and checks that both show the same; the
// kernel asks again after each write, so those stats (once the write is committed: an open
// transaction leaves GETATTR to JavaScript) are mostly the addon's answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendFileSync, chmodSync, closeSync, fstatSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync,
  writeFileSync, writeSync, constants as C,
} from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { run, tempDir } from '../support/cli.js';
import { forceUnmount, mountTracedOverlay, unmountOk } from '../support/fuse.js';

let tmp: { dir: string; cleanup: () => void };
let base: string;
const mounts: { mnt: string; pid: number; trace: string }[] = [];

async function mountOverlay(name: string, env: NodeJS.ProcessEnv = {}): Promise<{ mnt: string; pid: number; trace: string }> {
  const m = await mountTracedOverlay(tmp.dir, base, name, [], env);
  mounts.push(m);
  return m;
}

/** GETATTRs the addon answered from the delta, from the trace written at unmount (-1: off). */
function deltaServed(trace: string): number {
  const m = /delta getattr: (\d+) served/.exec(readFileSync(trace, 'utf8'));
  return m ? Number(m[1]) : -1;
}

const fields = (s: BigIntStats) => ({ ino: s.ino, mode: s.mode, nlink: s.nlink, uid: s.uid, gid: s.gid, size: s.size, blocks: s.blocks });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  tmp = tempDir('agentfs-delta-attrs-');
  base = join(tmp.dir, 'base');
  mkdirSync(join(base, 'dir'), { recursive: true });
  writeFileSync(join(base, 'a.txt'), 'alpha\n');
  writeFileSync(join(base, 'dir/b.txt'), 'beta\n');
  writeFileSync(join(base, 'c.bin'), Buffer.alloc(70_000, 3));
});

afterAll(async () => {
  for (const m of mounts) await forceUnmount(m.mnt, m.pid);
  tmp.cleanup();
});

describe('overlay mount: delta files answered natively', () => {
  it('sizes, modes, links and numbers equal those JavaScript serves through copy-ups, links, renames and truncation', async () => {
    const native = await mountOverlay('native');
    const js = await mountOverlay('js', { AGENTFS_NATIVE_READS: '0' });
    const seen: Record<string, unknown>[][] = [[], []];
    const baseIno = lstatSync(join(base, 'a.txt')).ino;
    for (const [i, m] of [native, js].entries()) {
      const at = (p: string) => join(m.mnt, p);
      // after the group commit (a write transaction still open leaves GETATTR to JavaScript): an
      // fsync commits it before its reply
      const look = async (p: string) => {
        const root = openSync(m.mnt, 'r');
        fsyncSync(root);
        closeSync(root);
        seen[i].push({ p, ...fields(lstatSync(at(p), { bigint: true })) });
      };
      appendFileSync(at('a.txt'), 'more\n'); // copy-up
      await look('a.txt');
      chmodSync(at('a.txt'), 0o600);
      appendFileSync(at('a.txt'), 'again\n');
      await look('a.txt');
      linkSync(at('a.txt'), at('dir/a-link'));
      appendFileSync(at('dir/a-link'), 'linked\n');
      await look('a.txt');
      await look('dir/a-link');
      renameSync(at('dir/b.txt'), at('b-moved.txt'));
      appendFileSync(at('b-moved.txt'), 'moved\n');
      await look('b-moved.txt');
      const t = openSync(at('c.bin'), C.O_WRONLY | C.O_TRUNC);
      writeSync(t, 'short');
      closeSync(t);
      await look('c.bin');
      // a file made in the delta, removed, and another made after it (the delta may give it the
      // same row, so the same number)
      writeFileSync(at('new-1'), 'one');
      await look('new-1');
      unlinkSync(at('new-1'));
      writeFileSync(at('new-2'), 'second file');
      appendFileSync(at('new-2'), '!');
      await look('new-2');
    }
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0][0]).toMatchObject({ ino: BigInt(baseIno), size: 11n, nlink: 1n });
    expect(seen[0][1]).toMatchObject({ mode: BigInt(0o100600), size: 17n });
    expect(seen[0][2]).toMatchObject({ nlink: 2n, size: 24n });
    await unmountOk(native);
    await unmountOk(js);
    expect(deltaServed(native.trace)).toBeGreaterThanOrEqual(4);
    expect(deltaServed(js.trace)).toBe(-1);
  });

  it('an access time a read moved, held in memory, shows in the next stat', async () => {
    const m = await mountOverlay('atime');
    const f = join(m.mnt, 'a.txt');
    appendFileSync(f, 'copied up\n');
    await sleep(60);
    const before = lstatSync(f, { bigint: true });
    await sleep(1100);
    const readAt = BigInt(Date.now() - 5) * 1_000_000n;
    expect(readFileSync(f, 'utf8')).toBe('alpha\ncopied up\n');
    const after = lstatSync(f, { bigint: true });
    expect(after.atimeNs).toBeGreaterThan(before.atimeNs);
    expect(after.atimeNs).toBeGreaterThanOrEqual(readAt);
    expect(after.mtimeNs).toBe(before.mtimeNs);
    // and once stored (the next write stores it), the same
    appendFileSync(join(m.mnt, 'other'), 'x');
    await sleep(1100);
    expect(lstatSync(f, { bigint: true }).atimeNs).toBe(after.atimeNs);
    await unmountOk(m);
    expect(deltaServed(m.trace)).toBeGreaterThanOrEqual(1);
  });

  it('a read after a chmod moves the access time of a file the kernel holds the pages of (relatime: not after the ctime)', async () => {
    // found by the hostile pass: the kernel kept the copy's pages across opens and answered the
    // read itself, so the overlay never saw it
    const m = await mountOverlay('atime-ctime');
    const f = join(m.mnt, 'dir', 'b.txt');
    appendFileSync(f, 'copied up\n');
    expect(readFileSync(f, 'utf8')).toBe('beta\ncopied up\n'); // atime after mtime now
    await sleep(1100);
    expect(readFileSync(f, 'utf8')).toBe('beta\ncopied up\n'); // not due: no move
    const before = lstatSync(f, { bigint: true });
    await sleep(1100);
    chmodSync(f, 0o600);
    const readAt = BigInt(Date.now() - 5) * 1_000_000n;
    expect(readFileSync(f, 'utf8')).toBe('beta\ncopied up\n');
    const after = lstatSync(f, { bigint: true });
    expect(after.ctimeNs).toBeGreaterThan(before.atimeNs);
    expect(after.atimeNs).toBeGreaterThanOrEqual(readAt);
    await unmountOk(m);
  });

  for (const [how, env] of [['openat2 in the addon', {}], ['node:fs, step by step', { AGENTFS_NATIVE_HOST: '0' }]] as const) {
    it(`a base file the host swapped for a FIFO fails a read and a copy-up at once, and the mount goes on (${how}; it hung)`, async () => {
      const name = `to-fifo-${how.length}`;
      writeFileSync(join(base, name), 'x\n');
      const m = await mountOverlay(`fifo-${how.length}`, env);
      const f = join(m.mnt, name);
      expect(lstatSync(f).size).toBe(2);
      unlinkSync(join(base, name));
      execFileSync('mkfifo', [join(base, name)]);
      // the server opened the host path as it found it: a FIFO's open waited for a writer for good
      const cat = await run('timeout', ['10', 'cat', f]);
      expect(cat.code).not.toBe(0);
      expect(cat.code).not.toBe(124);
      const append = await run('timeout', ['10', 'sh', '-c', `echo y >> ${f}`]);
      expect(append.code).not.toBe(0);
      expect(append.code).not.toBe(124);
      expect(readFileSync(join(m.mnt, 'a.txt'), 'utf8')).toMatch(/^alpha/);
      await unmountOk(m);
    });
  }

  it('an open file removed keeps its attributes for fstat, and a write through it shows', async () => {
    const m = await mountOverlay('unlinked');
    const f = join(m.mnt, 'a.txt');
    const fd = openSync(f, 'r+');
    try {
      writeSync(fd, 'ALPHA', 0); // copy-up
      unlinkSync(f);
      writeSync(fd, 'tail\n', 6);
      const st = fstatSync(fd, { bigint: true });
      expect(st.nlink).toBe(0n);
      expect(st.size).toBe(11n);
    } finally {
      closeSync(fd);
    }
    expect(() => lstatSync(f)).toThrow(/ENOENT/);
    await unmountOk(m);
  });
});
