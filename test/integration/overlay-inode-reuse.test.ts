// The overlay knows a base (host) file by its inode number: hard links are one file, and a copy
// made through one name shows under every name. But the host gives a removed file's number to
// the next file it makes (ext4 at once), and the overlay took that new file for the copied one:
// it showed the copy's content, and a write to it went into the copy. Each case runs in a mount
// whose host files are answered natively and in a JavaScript-only one (AGENTFS_NATIVE_READS=0),
// in one session and in later ones (fs_origin keeps the copy's base number), and through `run`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';
import { forceUnmount, mountBg, unmountOk } from '../support/fuse.js';

let tmp: { dir: string; cleanup: () => void };
const mounts: { mnt: string; pid: number }[] = [];
const MODES = [
  ['native', {}],
  ['js', { AGENTFS_NATIVE_READS: '0' }],
] as const;

beforeAll(() => {
  tmp = tempDir('agentfs-inode-reuse-');
});

afterAll(async () => {
  for (const m of mounts) await forceUnmount(m.mnt, m.pid);
  tmp.cleanup();
});

/** A base directory: `a` (to be copied up, then removed on the host), `sub/keep`, and hard links h1 = h2. */
function makeBase(name: string): string {
  const base = join(tmp.dir, name);
  mkdirSync(join(base, 'sub'), { recursive: true });
  writeFileSync(join(base, 'a'), 'old a\n');
  writeFileSync(join(base, 'sub/keep'), 'keep\n');
  writeFileSync(join(base, 'h1'), 'linked\n');
  linkSync(join(base, 'h1'), join(base, 'h2'));
  return base;
}

/**
 * Removes base file `a` and makes files in `dir` until one gets a's inode number (the file system
 * hands a freed number out again); that file's name, or undefined when none did after `max`.
 */
function reuseInoOf(base: string, dir: string, max = 2000): string | undefined {
  const ino = statSync(join(base, 'a')).ino;
  rmSync(join(base, 'a'));
  for (let i = 0; i < max; i++) {
    const name = `n${i}`;
    writeFileSync(join(dir, name), `new file ${i}\n`);
    if (statSync(join(dir, name)).ino === ino) return name;
  }
  return undefined;
}

const NO_REUSE = 'the file system gave no new file the inode number of a removed one (it does not reuse them soon, as tmpfs)';

async function init(name: string, base: string): Promise<string> {
  const db = join(tmp.dir, `${name}.db`);
  const r = await runCli(['init', db, '--base', base]);
  expect(r.code, r.stderr).toBe(0);
  return db;
}

async function mount(db: string, mnt: string, env: NodeJS.ProcessEnv): Promise<{ mnt: string; pid: number }> {
  mkdirSync(mnt, { recursive: true });
  const m = { mnt, pid: await mountBg(db, mnt, [], undefined, env) };
  mounts.push(m);
  return m;
}

/** The names in directory `dir` of the mount, each stat'ed as `ls -l` does (READDIRPLUS, then the inodes it gave). */
function listLong(dir: string): Map<string, number> {
  return new Map(readdirSync(dir).map((n) => [n, statSync(join(dir, n)).ino]));
}

describe('a base inode number the host reuses', () => {
  it('in one session: the new file shows its own content, and a write to it stays in it', async (t) => {
    const base = makeBase('one-base');
    const ms: { mnt: string; pid: number }[] = [];
    for (const [kind, env] of MODES) ms.push(await mount(await init(`one-${kind}`, base), join(tmp.dir, `one-${kind}`), env));
    const copyIno: number[] = [];
    for (const m of ms) {
      appendFileSync(join(m.mnt, 'a'), 'edit\n'); // copied up
      appendFileSync(join(m.mnt, 'h1'), 'edit\n'); // a hard link copied up through one name
      copyIno.push(statSync(join(m.mnt, 'a')).ino);
      statSync(join(m.mnt, 'sub')); // known to the kernel (and to the addon as a host directory)
    }
    const reused = reuseInoOf(base, join(base, 'sub'));
    if (reused === undefined) {
      for (const m of ms) await unmountOk(m);
      t.skip(NO_REUSE);
    }
    const own = readFileSync(join(base, 'sub', reused!), 'utf8');
    for (const [i, m] of ms.entries()) {
      const listed = listLong(join(m.mnt, 'sub'));
      expect(listed.get(reused!), m.mnt).not.toBe(copyIno[i]);
      expect(readFileSync(join(m.mnt, 'sub', reused!), 'utf8'), m.mnt).toBe(own);
      expect(statSync(join(m.mnt, 'sub', reused!)).size, m.mnt).toBe(own.length);
      appendFileSync(join(m.mnt, 'sub', reused!), 'more\n');
      expect(readFileSync(join(m.mnt, 'sub', reused!), 'utf8'), m.mnt).toBe(`${own}more\n`);
      expect(readFileSync(join(m.mnt, 'a'), 'utf8'), m.mnt).toBe('old a\nedit\n');
      expect(statSync(join(m.mnt, 'a')).ino, m.mnt).toBe(copyIno[i]);
      // hard links stay one file
      expect(readFileSync(join(m.mnt, 'h2'), 'utf8'), m.mnt).toBe('linked\nedit\n');
      expect(statSync(join(m.mnt, 'h2')).ino, m.mnt).toBe(statSync(join(m.mnt, 'h1')).ino);
    }
    expect(readFileSync(join(base, 'sub', reused!), 'utf8')).toBe(own); // the base is never written
    for (const m of ms) await unmountOk(m);
  });

  it('the file numbered anew keeps its number after the copy that held the host number is removed', async (t) => {
    // the addon answered lookups and listings of host entries by their host number unless a copy
    // showed it; once the copy was removed, a new lookup gave the renumbered file its host number
    // back, and two names of one open file disagreed
    const base = makeBase('gone-base');
    const ms: { mnt: string; pid: number }[] = [];
    for (const [kind, env] of MODES) ms.push(await mount(await init(`gone-${kind}`, base), join(tmp.dir, `gone-${kind}`), env));
    for (const m of ms) {
      appendFileSync(join(m.mnt, 'a'), 'edit\n');
      statSync(join(m.mnt, 'sub'));
    }
    const reused = reuseInoOf(base, join(base, 'sub'));
    if (reused === undefined) {
      for (const m of ms) await unmountOk(m);
      t.skip(NO_REUSE);
    }
    const hostIno = statSync(join(base, 'sub', reused!)).ino;
    const shown = ms.map((m) => statSync(join(m.mnt, 'sub', reused!)).ino);
    for (const [i, m] of ms.entries()) {
      expect(shown[i], m.mnt).not.toBe(hostIno);
      rmSync(join(m.mnt, 'a')); // the copy showing the host number is gone
    }
    // the kernel forgets its names, so each is looked up (and listed) again
    writeFileSync('/proc/sys/vm/drop_caches', '2');
    for (const [i, m] of ms.entries()) {
      expect(statSync(join(m.mnt, 'sub', reused!)).ino, m.mnt).toBe(shown[i]);
      writeFileSync('/proc/sys/vm/drop_caches', '2');
      expect(listLong(join(m.mnt, 'sub')).get(reused!), m.mnt).toBe(shown[i]);
    }
    for (const m of ms) await unmountOk(m);
  });

  it('in later sessions (fs_origin keeps the copy number), whichever of the two is looked up first', async (t) => {
    const base = makeBase('later-base');
    const dbs: { kind: string; db: string; env: NodeJS.ProcessEnv; mnt: string }[] = [];
    for (const [kind, env] of MODES) dbs.push({ kind, db: await init(`later-${kind}`, base), env, mnt: join(tmp.dir, `later-${kind}`) });
    const copyIno = new Map<string, number>();
    for (const d of dbs) {
      const m = await mount(d.db, d.mnt, d.env);
      appendFileSync(join(m.mnt, 'a'), 'edit\n');
      appendFileSync(join(m.mnt, 'h1'), 'edit\n');
      copyIno.set(d.kind, statSync(join(m.mnt, 'a')).ino);
      await unmountOk(m);
    }
    const reused = reuseInoOf(base, join(base, 'sub'));
    if (reused === undefined) t.skip(NO_REUSE);
    const own = readFileSync(join(base, 'sub', reused!), 'utf8');
    const nx = (mnt: string) => join(mnt, 'sub', reused!);
    for (const d of dbs) {
      // the new file first: it takes the number, the copy shows another
      let m = await mount(d.db, d.mnt, d.env);
      expect(listLong(join(m.mnt, 'sub')).has(reused!), d.kind).toBe(true);
      expect(readFileSync(nx(m.mnt), 'utf8'), d.kind).toBe(own);
      expect(readFileSync(join(m.mnt, 'a'), 'utf8'), d.kind).toBe('old a\nedit\n');
      expect(statSync(join(m.mnt, 'a')).ino, d.kind).not.toBe(statSync(nx(m.mnt)).ino);
      expect(readFileSync(nx(m.mnt), 'utf8'), d.kind).toBe(own);
      expect(readFileSync(join(m.mnt, 'h2'), 'utf8'), d.kind).toBe('linked\nedit\n');
      await unmountOk(m);

      // the copy first: it keeps its number, the new file (listed by the addon where it can) shows its own
      m = await mount(d.db, d.mnt, d.env);
      expect(readFileSync(join(m.mnt, 'a'), 'utf8'), d.kind).toBe('old a\nedit\n');
      expect(statSync(join(m.mnt, 'a')).ino, d.kind).toBe(copyIno.get(d.kind));
      expect(statSync(join(m.mnt, 'h2')).ino, d.kind).toBe(statSync(join(m.mnt, 'h1')).ino);
      expect(listLong(join(m.mnt, 'sub')).get(reused!), d.kind).not.toBe(copyIno.get(d.kind));
      expect(readFileSync(nx(m.mnt), 'utf8'), d.kind).toBe(own);
      appendFileSync(nx(m.mnt), 'more\n');
      expect(readFileSync(nx(m.mnt), 'utf8'), d.kind).toBe(`${own}more\n`);
      expect(readFileSync(join(m.mnt, 'a'), 'utf8'), d.kind).toBe('old a\nedit\n');
      await unmountOk(m);

      // both copied up now, both recorded with the same base number: each keeps its content
      m = await mount(d.db, d.mnt, d.env);
      expect(readFileSync(join(m.mnt, 'a'), 'utf8'), d.kind).toBe('old a\nedit\n');
      expect(readFileSync(nx(m.mnt), 'utf8'), d.kind).toBe(`${own}more\n`);
      expect(statSync(join(m.mnt, 'a')).ino, d.kind).not.toBe(statSync(nx(m.mnt)).ino);
      expect(readFileSync(join(m.mnt, 'h2'), 'utf8'), d.kind).toBe('linked\nedit\n');
      await unmountOk(m);
    }
    expect(readFileSync(join(base, 'sub', reused!), 'utf8')).toBe(own);
  });

  it('in a later `agentfs run` of the same session', async (t) => {
    const proj = makeBase('run-proj');
    const env = { AGENTFS_HOME: join(tmp.dir, 'home') };
    const first = await runCli(['run', '--session', 'reuse', '--', 'sh', '-c', 'echo edit >> a'], { cwd: proj, env });
    expect(first.code, first.stderr).toBe(0);
    const reused = reuseInoOf(proj, join(proj, 'sub'));
    if (reused === undefined) t.skip(NO_REUSE);
    const own = readFileSync(join(proj, 'sub', reused!), 'utf8');
    const script = `cat sub/${reused}; echo more >> sub/${reused}; cat a; cat sub/${reused}; stat -c %i a sub/${reused}`;
    const r = await runCli(['run', '--session', 'reuse', '--', 'sh', '-c', script], { cwd: proj, env });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, -3).join('\n')).toBe(`${own}old a\nedit\n${own}more`);
    const [aIno, newIno] = lines.slice(-3, -1);
    expect(aIno).not.toBe(newIno);
    expect(readFileSync(join(proj, 'sub', reused!), 'utf8')).toBe(own);
  });
});
