// Attacks on the overlay's file rename since it forgets only the renamed and the replaced file's
// cached paths (MergedPaths.forget) instead of every one: state that was right only because any
// file rename dropped every cached path. Each case runs in a mount whose host files are answered
// natively and in a JavaScript-only one (AGENTFS_NATIVE_READS=0), and both must agree.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, closeSync, fchmodSync, linkSync, openSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';
import { forceUnmount, mountBg, unmountOk } from '../support/fuse.js';

let tmp: { dir: string; cleanup: () => void };
const mounts: { mnt: string; pid: number }[] = [];

/** A new base directory filled by `fill`, and two mounts of new overlay agents over it (native, JavaScript only). */
async function pair(name: string, fill: (base: string) => void): Promise<{ base: string; both: { mnt: string; pid: number }[] }> {
  const base = join(tmp.dir, `${name}-base`);
  mkdirSync(base);
  fill(base);
  const both: { mnt: string; pid: number }[] = [];
  for (const [kind, env] of [['native', {}], ['js', { AGENTFS_NATIVE_READS: '0' }]] as const) {
    const db = join(tmp.dir, `${name}-${kind}.db`);
    const mnt = join(tmp.dir, `${name}-${kind}`);
    mkdirSync(mnt);
    const init = await runCli(['init', db, '--base', base]);
    expect(init.code, init.stderr).toBe(0);
    const m = { mnt, pid: await mountBg(db, mnt, [], undefined, env) };
    mounts.push(m);
    both.push(m);
  }
  return { base, both };
}

/** Every page cache dropped: the next read of a file goes to its server. */
function dropCaches(): void {
  writeFileSync('/proc/sys/vm/drop_caches', '1');
}

beforeAll(() => {
  tmp = tempDir('agentfs-rename-hostile-');
});

afterAll(async () => {
  for (const m of mounts) await forceUnmount(m.mnt, m.pid);
  tmp.cleanup();
});

describe('overlay file rename, attacked', () => {
  it('a base file moved on the host reads at its new name', async () => {
    const { base, both } = await pair('host-moved', (b) => writeFileSync(join(b, 'a'), 'hello\n'));
    for (const m of both) expect(readFileSync(join(m.mnt, 'a'), 'utf8')).toBe('hello\n');
    renameSync(join(base, 'a'), join(base, 'b'));
    dropCaches();
    // the node seen at a is seen at b: its cached path kept naming a (ESTALE)
    for (const m of both) expect(readFileSync(join(m.mnt, 'b'), 'utf8'), m.mnt).toBe('hello\n');
    for (const m of both) await unmountOk(m);
  });

  it('a base hard link read through its second name reads after the host drops the first', async () => {
    const { base, both } = await pair('link-seen', (b) => {
      writeFileSync(join(b, 'a'), 'linked\n');
      linkSync(join(b, 'a'), join(b, 'b'));
    });
    for (const m of both) {
      expect(readFileSync(join(m.mnt, 'a'), 'utf8')).toBe('linked\n');
      expect(readFileSync(join(m.mnt, 'b'), 'utf8')).toBe('linked\n'); // one node, now seen at b
    }
    rmSync(join(base, 'a'));
    dropCaches();
    for (const m of both) expect(readFileSync(join(m.mnt, 'b'), 'utf8'), m.mnt).toBe('linked\n');
    for (const m of both) await unmountOk(m);
  });

  it('a hard link whose other name was replaced by a rename reads after the host drops that name', async () => {
    const { base, both } = await pair('link-replaced', (b) => {
      writeFileSync(join(b, 'a'), 'linked\n');
      linkSync(join(b, 'a'), join(b, 'b'));
      writeFileSync(join(b, 'x'), 'x\n');
    });
    for (const m of both) {
      expect(readFileSync(join(m.mnt, 'b'), 'utf8')).toBe('linked\n');
      expect(readFileSync(join(m.mnt, 'a'), 'utf8')).toBe('linked\n'); // the node is now placed at a
      renameSync(join(m.mnt, 'x'), join(m.mnt, 'a'));
    }
    rmSync(join(base, 'a'));
    dropCaches();
    for (const m of both) {
      expect(readdirSync(m.mnt).sort()).toEqual(['a', 'b']); // sees b again
      expect(readFileSync(join(m.mnt, 'b'), 'utf8'), m.mnt).toBe('linked\n');
      expect(statSync(join(m.mnt, 'b')).nlink).toBe(1);
      expect(readFileSync(join(m.mnt, 'a'), 'utf8')).toBe('x\n');
    }
    for (const m of both) await unmountOk(m);
  });

  it('a hard link whose other name a rename replaced never shows the file the host puts at that name', async () => {
    const { base, both } = await pair('link-evil', (b) => {
      for (const [one, two, over] of [['a', 'b', 'x'], ['c', 'd', 'y']]) {
        writeFileSync(join(b, one!), 'linked\n');
        linkSync(join(b, one!), join(b, two!));
        writeFileSync(join(b, over!), `${over}\n`);
      }
    });
    for (const m of both) {
      for (const [one, two, over] of [['a', 'b', 'x'], ['c', 'd', 'y']]) {
        expect(readFileSync(join(m.mnt, two!), 'utf8')).toBe('linked\n');
        expect(readFileSync(join(m.mnt, one!), 'utf8')).toBe('linked\n'); // the node is now placed at `one`
        renameSync(join(m.mnt, over!), join(m.mnt, one!));
      }
    }
    // the host puts other files at a and c: b and d (the kernel still has their names) showed them
    for (const n of ['a', 'c']) {
      rmSync(join(base, n));
      writeFileSync(join(base, n), 'another file\n');
    }
    dropCaches();
    for (const m of both) {
      // a write through d copies up d's content, not the other file's
      appendFileSync(join(m.mnt, 'd'), 'more\n');
      expect(readFileSync(join(m.mnt, 'd'), 'utf8'), m.mnt).toBe('linked\nmore\n');
      expect(statSync(join(m.mnt, 'b')).size, m.mnt).toBe(7);
      expect(readFileSync(join(m.mnt, 'b'), 'utf8'), m.mnt).toBe('linked\n');
      expect(readFileSync(join(m.mnt, 'a'), 'utf8')).toBe('x\n');
      expect(readFileSync(join(m.mnt, 'c'), 'utf8')).toBe('y\n');
    }
    for (const m of both) await unmountOk(m);
    expect(readFileSync(join(base, 'd'), 'utf8')).toBe('linked\n');
  });

  it('a hard link whose other name was removed never shows the file the host puts at that name', async () => {
    // not a rename, the same hole: the node stayed placed (and offered to the addon) at the removed name
    const { base, both } = await pair('link-unlinked', (b) => {
      writeFileSync(join(b, 'a'), 'linked\n');
      linkSync(join(b, 'a'), join(b, 'b'));
    });
    for (const m of both) {
      expect(readFileSync(join(m.mnt, 'b'), 'utf8')).toBe('linked\n');
      expect(readFileSync(join(m.mnt, 'a'), 'utf8')).toBe('linked\n');
      rmSync(join(m.mnt, 'a'));
    }
    rmSync(join(base, 'a'));
    writeFileSync(join(base, 'a'), 'another file\n');
    dropCaches();
    for (const m of both) {
      expect(statSync(join(m.mnt, 'b')).size, m.mnt).toBe(7);
      expect(readFileSync(join(m.mnt, 'b'), 'utf8'), m.mnt).toBe('linked\n');
      expect(readdirSync(m.mnt)).toEqual(['b']);
    }
    for (const m of both) await unmountOk(m);
  });

  it('a write through a hard link whose other name was replaced or removed goes to that link', async () => {
    const { base, both } = await pair('link-write', (b) => {
      for (const [one, two] of [['a', 'b'], ['c', 'd'], ['e', 'f']]) {
        writeFileSync(join(b, one!), 'linked\n');
        linkSync(join(b, one!), join(b, two!));
      }
      writeFileSync(join(b, 'x'), 'x\n');
    });
    for (const m of both) {
      for (const n of ['b', 'a', 'd', 'c', 'f', 'e']) expect(readFileSync(join(m.mnt, n), 'utf8')).toBe('linked\n');
      const replaced = openSync(join(m.mnt, 'a'), 'r');
      renameSync(join(m.mnt, 'x'), join(m.mnt, 'a'));
      rmSync(join(m.mnt, 'c'));
      const fd = openSync(join(m.mnt, 'e'), 'r');
      try {
        // opened again for reading through its handle: still the replaced file
        expect(readFileSync(`/proc/self/fd/${replaced}`, 'utf8')).toBe('linked\n');
        rmSync(join(m.mnt, 'e'));
        // the copy-up went to the name the file lost: the removed name came back (or EEXIST)
        appendFileSync(join(m.mnt, 'b'), 'more\n'); // EEXIST: a copy-up at a
        appendFileSync(join(m.mnt, 'd'), 'more\n'); // c came back
        expect(() => fchmodSync(fd, 0o600)).toThrow(/ESTALE|-116/); // e came back
      } finally {
        closeSync(fd);
        closeSync(replaced);
      }
      expect(readdirSync(m.mnt).sort(), m.mnt).toEqual(['a', 'b', 'd', 'f']);
      expect(readFileSync(join(m.mnt, 'a'), 'utf8')).toBe('x\n');
      for (const n of ['b', 'd']) expect(readFileSync(join(m.mnt, n), 'utf8'), n).toBe('linked\nmore\n');
      expect(statSync(join(m.mnt, 'f')).mode & 0o777).toBe(0o644);
    }
    for (const m of both) await unmountOk(m);
    for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) expect(readFileSync(join(base, n), 'utf8')).toBe('linked\n');
  });

  it('commit refuses to delete a base file the host replaced after the agent moved it away', async () => {
    const { base, both } = await pair('moved-away', (b) => writeFileSync(join(b, 'a'), 'agent saw this\n'));
    for (const m of both) renameSync(join(m.mnt, 'a'), join(m.mnt, 'b'));
    for (const m of both) await unmountOk(m);
    // the base as the agent saw it: the move commits
    const js = await runCli(['commit', join(tmp.dir, 'moved-away-js.db')]);
    expect(js.code, js.stderr).toBe(0);
    expect(readdirSync(base)).toEqual(['b']);
    // the host puts a file there whose mtime is older than the move (cp -p, rsync, tar; or one
    // written in the move's second: the whiteout's time is in whole seconds): deleted without a word
    writeFileSync(join(base, 'a'), 'the host wrote this\n');
    utimesSync(join(base, 'a'), new Date('2020-01-01'), new Date('2020-01-01'));
    const r = await runCli(['commit', join(tmp.dir, 'moved-away-native.db')]);
    expect(r.code, r.stdout).not.toBe(0);
    expect(r.stderr).toMatch(/conflict: a: changed in the base after it was deleted here/);
    expect(readFileSync(join(base, 'a'), 'utf8')).toBe('the host wrote this\n');
  });
});
