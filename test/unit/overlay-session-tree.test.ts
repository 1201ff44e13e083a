// A tree built in the session (`npm install`, a build directory) lives only in the delta. Its
// listings take their attributes from the delta's own listing, and the removal of a file made in
// the session is the delta's one statement (no savepoint, no overlay rows to forget): both must
// show and leave what the general routes show and leave.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../src/core/agent.js';
import { Store } from '../../src/store/index.js';
import { ROOT_CALLER, type Attr } from '../../src/core/types.js';
import { tempDir } from '../support/cli.js';
import { countStatements } from '../support/statements.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** An overlay database over a base with a/b.txt, a/sub/c.txt and top.txt, opened. */
function overlay(): { a: Agent; dir: string } {
  const t = tempDir('agentfs-session-tree-');
  cleanups.push(t.cleanup);
  const dir = join(t.dir, 'base');
  mkdirSync(join(dir, 'a', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'a', 'b.txt'), 'base b\n');
  writeFileSync(join(dir, 'a', 'sub', 'c.txt'), 'base c\n');
  writeFileSync(join(dir, 'top.txt'), 'top\n');
  const db = join(t.dir, 'ov.db');
  const s = Store.open({ path: db }, { create: true });
  s.setMeta('overlay.base', dir);
  s.close();
  const a = Agent.open({ path: db });
  cleanups.push(() => a.close());
  return { a, dir };
}

function inoOf(a: Agent, p: string): number {
  let cur = a.fs.rootIno;
  for (const part of p.split('/').filter(Boolean)) cur = a.fs.lookup(cur, part).ino;
  return cur;
}

/** Runs fn in an open batch, as a mount's group commit does. */
function batched<T>(a: Agent, fn: () => T): T {
  expect(a.store.beginBatch()).toBe(true);
  try {
    return fn();
  } finally {
    a.store.commitBatch();
  }
}

/** Directory /w and file /w/`name` holding `text`, each made in a batch of its own. */
function madeInSession(a: Agent, name: string, text: string): { w: number; f: number } {
  const fs = a.fs;
  const w = batched(a, () => fs.mkdir(fs.rootIno, 'w', 0o755, ROOT_CALLER).ino);
  const f = batched(a, () => {
    const i = fs.create(w, name, 0o644, ROOT_CALLER).ino;
    fs.write(i, 0, Buffer.from(text));
    return i;
  });
  return { w, f };
}

/** a prepared statement's run (the others are exec()s: BEGIN, SAVEPOINT...) */
const prepared = (s: string) => ['run', 'get', 'all', 'iterate'].includes(s);
const statementsOf = (a: Agent, fn: () => void) => countStatements(a.store, fn).filter(prepared);

describe('a tree made in the session', () => {
  it('lists with the attributes lookups give, a statement a page', () => {
    const { a } = overlay();
    const fs = a.fs;
    const w = fs.mkdir(fs.rootIno, 'w', 0o755, ROOT_CALLER).ino;
    for (let i = 0; i < 20; i++) {
      const f = fs.create(w, `f${i}.js`, 0o644, ROOT_CALLER).ino;
      fs.write(f, 0, Buffer.from('x'.repeat(100 * i + 1)));
    }
    fs.mkdir(w, 'lib', 0o755, ROOT_CALLER);
    fs.symlink(w, 'link', 'f1.js', ROOT_CALLER);
    fs.link(inoOf(a, 'w/f2.js'), w, 'hard');
    // a base file moved into the new directory: a copy showing its base number
    fs.rename(inoOf(a, 'a'), 'b.txt', w, 'moved.txt');
    // a base directory the session wrote into: the merged view's link count (1) is the listing's too
    fs.create(inoOf(a, 'a/sub'), 'new.txt', 0o644, ROOT_CALLER);

    const check = (dirPath: string, min: number) => {
      const d = inoOf(a, dirPath);
      let listed: { name: string; ino: number; attr: Attr }[] = [];
      const seen = statementsOf(a, () => (listed = fs.readdirPlus(d)));
      expect(listed.length).toBeGreaterThanOrEqual(min);
      for (const e of listed) {
        const looked = fs.lookup(d, e.name);
        expect(e.attr, `${dirPath}/${e.name}`).toEqual(looked);
        expect(e.ino).toBe(looked.ino);
      }
      return { listed, seen };
    };
    const { listed, seen } = check('w', 24);
    // a lookup of each entry cost two more statements (its dentry, its inode)
    expect(seen.length, seen.join(' ')).toBeLessThan(listed.length);
    const moved = listed.find((e) => e.name === 'moved.txt')!;
    expect(moved.ino).toBeLessThan(2 ** 50); // the base file's own number
    const { listed: top } = check('a', 1);
    expect(top.find((e) => e.name === 'sub')!.attr.nlink).toBe(1);
    check('a/sub', 2);
    check('/', 3);
    // a page at a time, from a cookie, the same
    const d = inoOf(a, 'w');
    const first = fs.readdirPlus(d, 0, 7);
    const rest = fs.readdirPlus(d, first[first.length - 1]!.offset, -1);
    expect([...first, ...rest].map((e) => e.name)).toEqual(fs.readdirPlus(d).map((e) => e.name));
  });

  it('removes a file made in the session with one write in an open batch, leaving no row of it', () => {
    const { a } = overlay();
    const fs = a.fs;
    const { w, f: made } = madeInSession(a, 'made.js', 'made in the session');
    const delta = a.store.db.prepare("SELECT ino FROM fs_dentry WHERE name = 'made.js'").get() as { ino: number };
    let seen: string[] = [];
    batched(a, () => {
      seen = countStatements(a.store, () => fs.unlink(w, 'made.js'));
    });
    // no savepoint (an exec each way), and nothing written but the delta's unlink (a statement
    // returning its row: a get); the overlay's rows were deleted one by one (four runs)
    expect(seen.filter((s) => /SAVEPOINT|RELEASE/i.test(s))).toEqual([]);
    expect(seen.filter((s) => s === 'run')).toEqual([]);
    expect(seen.filter(prepared).length, seen.join(' ')).toBeLessThanOrEqual(8);
    const count = (sql: string) => (a.store.db.prepare(sql).get(delta.ino) as { n: number }).n;
    for (const t of ['fs_inode WHERE ino', 'fs_dentry WHERE ino', 'fs_data WHERE ino', 'fs_origin WHERE delta_ino', 'agentfs_overlay_copyup WHERE delta_ino']) {
      expect(count(`SELECT count(*) AS n FROM ${t} = ?`), t).toBe(0);
    }
    expect(made).toBeGreaterThan(0);
    expect(() => fs.lookup(w, 'made.js')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    // the journal heard it
    a.journal?.flush();
    const ops = a.store.db.prepare("SELECT op FROM agentfs_journal WHERE path = '/w/made.js' ORDER BY id").all() as { op: string }[];
    expect(ops.map((o) => o.op)).toContain('unlink');
  });

  it('keeps a removed file made in the session readable while open, and frees it at its release', () => {
    const { a } = overlay();
    const fs = a.fs;
    const { w, f } = madeInSession(a, 'held.js', 'still here');
    fs.open(f, 0);
    batched(a, () => fs.unlink(w, 'held.js'));
    expect(fs.read(f, 0, 100).toString()).toBe('still here');
    expect(() => fs.lookup(w, 'held.js')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    fs.release(f);
    const left = a.store.db.prepare('SELECT count(*) AS n FROM fs_inode WHERE ino = ?').get(f) as { n: number };
    expect(left.n).toBe(0);
  });

  it('still forgets the copy-up rows of an edited base file it removes, and whites the base file out', () => {
    const { a } = overlay();
    const fs = a.fs;
    const top = inoOf(a, 'top.txt');
    batched(a, () => fs.write(top, 0, Buffer.from('edited')));
    const copy = a.store.db.prepare("SELECT delta_ino FROM agentfs_overlay_copyup WHERE base_path LIKE '%top.txt'").get() as { delta_ino: number };
    expect(copy.delta_ino).toBeGreaterThan(0);
    batched(a, () => fs.unlink(fs.rootIno, 'top.txt'));
    for (const t of ['agentfs_overlay_copyup', 'agentfs_overlay_origin', 'fs_origin']) {
      const n = a.store.db.prepare(`SELECT count(*) AS n FROM ${t} WHERE delta_ino = ?`).get(copy.delta_ino) as { n: number };
      expect(n.n, t).toBe(0);
    }
    expect(a.store.db.prepare("SELECT path FROM fs_whiteout").all()).toEqual([{ path: '/top.txt' }]);
    expect(() => fs.lookup(fs.rootIno, 'top.txt')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});
