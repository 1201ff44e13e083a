import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, linkSync, lstatSync, mkdirSync, readFileSync, renameSync, symlinkSync, unlinkSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Store } from '../../src/store/index.js';
import { InodeFs } from '../../src/core/fs/index.js';
import { OverlayFs } from '../../src/core/overlay/index.js';
import { commitChanges, computeChanges, discardChanges, patchOf } from '../../src/core/changes/index.js';
import { RENAME_EXCHANGE, ROOT_CALLER, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../../src/core/types.js';
import { tempDir } from '../support/cli.js';
import { snapshotTree } from '../support/tree-snapshot.js';

let tmp: { dir: string; cleanup: () => void };
let base: string;
let dbPath: string;
let store: Store;
let ov: OverlayFs;

function open(): void {
  store = Store.open({ path: dbPath }, { create: true });
  ov = new OverlayFs(store, base, { delta: new InodeFs(store) });
}
function reopen(): void {
  ov.close();
  store.close();
  open();
}
function ino(path: string): number {
  let cur = ov.rootIno;
  for (const part of path.split('/').filter(Boolean)) cur = ov.lookup(cur, part).ino;
  return cur;
}
function writeFile(path: string, text: string | Buffer): void {
  const i = path.lastIndexOf('/');
  const p = ino(path.slice(0, i) || '/');
  const name = path.slice(i + 1);
  let f: number;
  try {
    f = ov.lookup(p, name).ino;
    ov.setattr(f, { size: 0 });
  } catch {
    f = ov.create(p, name, 0o644, ROOT_CALLER).ino;
  }
  ov.write(f, 0, typeof text === 'string' ? Buffer.from(text) : text);
}

/** The merged view in snapshotTree's format, mtimes aside (compared separately). */
function snapshotMerged(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string, i: number): void => {
    const a = ov.getattr(i);
    let content = '';
    if ((a.mode & S_IFMT) === S_IFREG) content = createHash('sha256').update(ov.read(i, 0, a.size)).digest('hex');
    else if ((a.mode & S_IFMT) === S_IFLNK) content = `-> ${ov.readlink(i)}`;
    const rel = path === '/' ? '.' : path.slice(1);
    out[rel] = `${a.mode.toString(8)} ${a.uid}:${a.gid} ${(a.mode & S_IFMT) === S_IFDIR ? '-' : a.size} ${content}`;
    if ((a.mode & S_IFMT) === S_IFDIR) {
      for (const e of ov.readdir(i).sort((x, y) => (x.name < y.name ? -1 : 1))) walk(path === '/' ? `/${e.name}` : `${path}/${e.name}`, ov.lookup(i, e.name).ino);
    }
  };
  walk('/', ov.rootIno);
  return out;
}
function withoutMtime(snap: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(snap).map(([k, v]) => [k, v.split(' ').filter((_, i) => i !== 3).join(' ')]));
}

beforeEach(() => {
  tmp = tempDir('agentfs-changes-');
  base = join(tmp.dir, 'base');
  mkdirSync(join(base, 'dir/sub'), { recursive: true });
  mkdirSync(join(base, 'gone/deep'), { recursive: true });
  writeFileSync(join(base, 'a.txt'), 'one\ntwo\nthree\n');
  writeFileSync(join(base, 'bin.dat'), Buffer.from([0, 1, 2, 3]));
  writeFileSync(join(base, 'dir/b.txt'), 'bravo\n');
  writeFileSync(join(base, 'dir/sub/c.txt'), 'charlie\n');
  writeFileSync(join(base, 'gone/deep/x'), 'x');
  writeFileSync(join(base, 'mode.sh'), 'echo\n');
  symlinkSync('a.txt', join(base, 'link'));
  const old = new Date('2020-01-01T00:00:00Z');
  for (const f of ['a.txt', 'dir/b.txt', 'dir/sub/c.txt', 'mode.sh']) utimesSync(join(base, f), old, old);
  dbPath = join(tmp.dir, 'delta.db');
  open();
});

afterEach(() => {
  ov.close();
  store.close();
  tmp.cleanup();
});

/** /dir removed (its entries first) and made again, with a new file h in it. */
function remakeDir(): void {
  ov.unlink(ino('/dir/sub'), 'c.txt');
  ov.rmdir(ino('/dir'), 'sub');
  ov.unlink(ino('/dir'), 'b.txt');
  ov.rmdir(ino('/'), 'dir');
  ov.mkdir(ino('/'), 'dir', 0o755, ROOT_CALLER);
  writeFile('/dir/h', 'keep\n');
}

function edit(): void {
  writeFile('/a.txt', 'one\nTWO\nthree\n');
  writeFile('/bin.dat', Buffer.from([0, 9, 9]));
  ov.setattr(ino('/mode.sh'), { mode: 0o755 });
  ov.rename(ino('/'), 'dir', ino('/'), 'moved');
  writeFile('/moved/sub/new.txt', 'new\n');
  ov.unlink(ino('/gone/deep'), 'x');
  ov.rmdir(ino('/gone'), 'deep');
  ov.rmdir(ino('/'), 'gone');
  ov.unlink(ino('/'), 'link');
  ov.symlink(ino('/'), 'link', 'moved/b.txt', ROOT_CALLER);
  ov.mkdir(ino('/'), 'fresh', 0o700, ROOT_CALLER);
  writeFile('/fresh/f', 'f');
}

describe('diff', () => {
  it('lists nothing for an untouched overlay, and nothing for a copy-up that changed nothing', () => {
    expect(computeChanges(ov.changes)).toEqual([]);
    ov.setattr(ino('/a.txt'), { mode: lstatSync(join(base, 'a.txt')).mode & 0o7777 });
    expect(computeChanges(ov.changes)).toEqual([]);
  });

  it('lists A/M/D with types, sorted by path, including moved trees', () => {
    edit();
    const lines = computeChanges(ov.changes).map((c) => `${c.status} ${c.type} ${c.path}`);
    expect(lines).toEqual([
      'M file /a.txt',
      'M file /bin.dat',
      'D dir /dir',
      'D file /dir/b.txt',
      'D dir /dir/sub',
      'D file /dir/sub/c.txt',
      'A dir /fresh',
      'A file /fresh/f',
      'D dir /gone',
      'D dir /gone/deep',
      'D file /gone/deep/x',
      'M symlink /link',
      'M file /mode.sh',
      'A dir /moved',
      'A file /moved/b.txt',
      'A dir /moved/sub',
      'A file /moved/sub/c.txt',
      'A file /moved/sub/new.txt',
    ]);
    expect(computeChanges(ov.changes, ['moved/sub']).map((c) => c.path)).toEqual(['/moved/sub', '/moved/sub/c.txt', '/moved/sub/new.txt']);
    const mode = computeChanges(ov.changes).find((c) => c.path === '/mode.sh')!;
    expect(mode.what).toEqual(['mode']);
  });

  it('patches text files and says when files are binary', () => {
    edit();
    // no NUL byte, but not UTF-8 either: printed as text it would come out lossily
    writeFile('/latin1.txt', Buffer.from([0xff, 0xfe, 0x41, 0x0a]));
    const changes = computeChanges(ov.changes);
    expect(patchOf(ov.changes, changes.find((c) => c.path === '/latin1.txt')!)).toContain('Binary files /dev/null and b/latin1.txt differ');
    const a = patchOf(ov.changes, changes.find((c) => c.path === '/a.txt')!);
    expect(a).toContain('--- a/a.txt');
    expect(a).toContain('-two');
    expect(a).toContain('+TWO');
    expect(patchOf(ov.changes, changes.find((c) => c.path === '/bin.dat')!)).toContain('Binary files a/bin.dat and b/bin.dat differ');
    expect(patchOf(ov.changes, changes.find((c) => c.path === '/fresh/f')!)).toContain('+++ b/fresh/f');
  });
});

describe('diff order', () => {
  it('is UTF-8 byte order of the paths, as fs ls sorts (U+FF5E before U+1F600)', () => {
    for (const name of ['\u{1F600}', '\uFF5E', 'A']) writeFile(`/${name}`, 'x');
    expect(computeChanges(ov.changes).map((c) => c.path)).toEqual(['/A', '/\uFF5E', '/\u{1F600}']);
  });
});

describe('commit', () => {
  it('makes the base exactly what the merged view showed, and empties the delta', () => {
    edit();
    const expected = snapshotMerged();
    const mtimes = new Map<string, bigint>();
    for (const c of computeChanges(ov.changes)) {
      if (c.status === 'D' || c.type === 'dir') continue;
      const a = ov.getattr(ino(c.path));
      mtimes.set(c.path, BigInt(a.mtime.sec) * 1_000_000_000n + BigInt(a.mtime.nsec));
    }
    const result = commitChanges(ov.changes);
    expect(result.applied).toBe(true);
    expect(result.conflicts).toEqual([]);
    expect(withoutMtime(snapshotTree(base))).toEqual(expected);
    for (const [path, ns] of mtimes) {
      const got = lstatSync(join(base, path), { bigint: true }).mtimeNs;
      const diff = got > ns ? got - ns : ns - got;
      expect(diff < 2000n).toBe(true); // Node's utimes takes (double) seconds: microseconds survive
    }
    reopen();
    expect(computeChanges(ov.changes)).toEqual([]);
    expect(store.stmt("SELECT name FROM fs_dentry").all()).toEqual([]);
    expect((store.stmt('SELECT COUNT(*) AS n FROM fs_whiteout').get() as { n: number }).n).toBe(0);
    expect(snapshotMerged()).toEqual(expected);
  });

  it('a directory removed and made again here commits, and then shows what it wrote: nothing is left to commit', () => {
    // the hostile pass: the directory stayed opaque after the commit, hid the file it wrote, and a
    // second commit deleted that file from the host
    remakeDir();
    expect(commitChanges(ov.changes).applied).toBe(true);
    expect(snapshotTree(join(base, 'dir'))).toEqual({ '.': expect.any(String), h: expect.stringContaining(' 5 ') });
    for (let i = 0; i < 2; i++) {
      expect(computeChanges(ov.changes)).toEqual([]);
      expect(ov.readdir(ino('/dir')).map((e) => e.name)).toEqual(['h']);
      expect(ov.read(ino('/dir/h'), 0, 10).toString()).toBe('keep\n');
      expect(commitChanges(ov.changes).changes).toEqual([]);
      expect(readFileSync(join(base, 'dir/h'), 'utf8')).toBe('keep\n');
      reopen();
    }
  });

  it('a base directory moved into a directory made here commits, and nothing is left to commit', () => {
    // its new parent is new: the move is written entry by entry, and the directory's record still
    // named its old base place, gone after the commit
    ov.mkdir(ino('/'), 'Y', 0o755, ROOT_CALLER);
    ov.rename(ino('/'), 'dir', ino('/Y'), 'dir');
    expect(commitChanges(ov.changes).applied).toBe(true);
    expect(existsSync(join(base, 'dir'))).toBe(false);
    for (let i = 0; i < 2; i++) {
      expect(computeChanges(ov.changes)).toEqual([]);
      expect(ov.read(ino('/Y/dir/sub/c.txt'), 0, 20).toString()).toBe('charlie\n');
      expect(commitChanges(ov.changes).changes).toEqual([]);
      expect(readFileSync(join(base, 'Y/dir/sub/c.txt'), 'utf8')).toBe('charlie\n');
      expect(readFileSync(join(base, 'Y/dir/b.txt'), 'utf8')).toBe('bravo\n');
      reopen();
    }
  });

  it('a partial commit of a file in a directory made again here keeps the directory hiding the base', () => {
    remakeDir();
    commitChanges(ov.changes, { paths: ['dir/h'] });
    expect(readFileSync(join(base, 'dir/h'), 'utf8')).toBe('keep\n');
    // the base's other entries there were not deleted (not in scope): still hidden here
    expect(ov.readdir(ino('/dir')).map((e) => e.name)).toEqual(['h']);
    expect(computeChanges(ov.changes).map((c) => c.path).sort()).toEqual(['/dir/b.txt', '/dir/sub', '/dir/sub/c.txt']);
  });

  it('refuses a partial commit of a directory made again where a moved one was: the moved one still shows the base there', () => {
    // the hostile pass: committing the new directory alone deleted the moved one's files from the
    // base it still read them from, and the next commit lost them from the host
    ov.rename(ino('/'), 'dir', ino('/'), 'x');
    ov.mkdir(ino('/'), 'dir', 0o755, ROOT_CALLER);
    writeFile('/dir/hi', 'hi\n');
    const before = snapshotTree(base);
    for (const paths of [['dir'], ['dir/hi'], ['dir/b.txt'], ['dir/sub']]) {
      expect(() => commitChanges(ov.changes, { paths }), paths.join()).toThrow(/moved elsewhere in this session/);
    }
    expect(snapshotTree(base)).toEqual(before);
    expect(ov.read(ino('/x/sub/c.txt'), 0, 20).toString()).toBe('charlie\n');
    // both places together, or everything: the move is committed and nothing is lost
    expect(commitChanges(ov.changes, { paths: ['dir', 'x'] }).applied).toBe(true);
    expect(readFileSync(join(base, 'x/sub/c.txt'), 'utf8')).toBe('charlie\n');
    expect(readFileSync(join(base, 'x/b.txt'), 'utf8')).toBe('bravo\n');
    expect(readFileSync(join(base, 'dir/hi'), 'utf8')).toBe('hi\n');
    expect(existsSync(join(base, 'dir/b.txt'))).toBe(false);
    expect(computeChanges(ov.changes)).toEqual([]);
  });

  it('refuses a partial commit of a file put at a moved directory\'s old place', () => {
    ov.rename(ino('/dir'), 'sub', ino('/'), 'y');
    ov.mkdir(ino('/dir'), 'sub', 0o755, ROOT_CALLER);
    writeFile('/dir/sub/c.txt', 'other\n');
    expect(() => commitChanges(ov.changes, { paths: ['dir/sub/c.txt'] })).toThrow(/moved elsewhere/);
    expect(() => commitChanges(ov.changes, { paths: ['dir/sub'], force: true })).toThrow(/moved elsewhere/);
    expect(readFileSync(join(base, 'dir/sub/c.txt'), 'utf8')).toBe('charlie\n');
    expect(ov.read(ino('/y/c.txt'), 0, 20).toString()).toBe('charlie\n');
    expect(commitChanges(ov.changes).applied).toBe(true);
    expect(readFileSync(join(base, 'y/c.txt'), 'utf8')).toBe('charlie\n');
    expect(readFileSync(join(base, 'dir/sub/c.txt'), 'utf8')).toBe('other\n');
  });

  it('dry run changes nothing', () => {
    edit();
    const before = snapshotTree(base);
    const r = commitChanges(ov.changes, { dryRun: true });
    expect(r.applied).toBe(false);
    expect(r.changes.length).toBe(18);
    expect(snapshotTree(base)).toEqual(before);
    expect(computeChanges(ov.changes).length).toBe(18);
  });

  it('commits only the given paths', () => {
    edit();
    commitChanges(ov.changes, { paths: ['a.txt', 'fresh'] });
    expect(readFileSync(join(base, 'a.txt'), 'utf8')).toBe('one\nTWO\nthree\n');
    expect(readFileSync(join(base, 'fresh/f'), 'utf8')).toBe('f');
    expect(existsSync(join(base, 'dir/b.txt'))).toBe(true);
    const left = computeChanges(ov.changes).map((c) => c.path);
    expect(left).not.toContain('/a.txt');
    expect(left).not.toContain('/fresh/f');
    expect(left).toContain('/moved/sub/new.txt');
  });

  it('refuses a partial commit that would delete the source of a moved directory', () => {
    edit();
    expect(() => commitChanges(ov.changes, { paths: ['dir'] })).toThrow(/moved elsewhere/);
  });

  it('stops on a base file changed since copy-up, unless forced', () => {
    writeFile('/a.txt', 'mine\n');
    writeFileSync(join(base, 'a.txt'), 'theirs\n');
    const r = commitChanges(ov.changes);
    expect(r.applied).toBe(false);
    expect(r.conflicts.map((c) => c.path)).toEqual(['/a.txt']);
    expect(readFileSync(join(base, 'a.txt'), 'utf8')).toBe('theirs\n');
    const forced = commitChanges(ov.changes, { force: true });
    expect(forced.applied).toBe(true);
    expect(readFileSync(join(base, 'a.txt'), 'utf8')).toBe('mine\n');
  });

  it('stops on a base file changed after it was deleted here', () => {
    ov.unlink(ino('/dir'), 'b.txt');
    const later = new Date(Date.now() + 5000);
    writeFileSync(join(base, 'dir/b.txt'), 'changed in the base');
    utimesSync(join(base, 'dir/b.txt'), later, later);
    const r = commitChanges(ov.changes);
    expect(r.conflicts.map((c) => c.path)).toEqual(['/dir/b.txt']);
    expect(existsSync(join(base, 'dir/b.txt'))).toBe(true);
  });

  // The whiteout's time is in whole seconds: an edit on the host right after a deletion here
  // (same second, mtime even put back) was deleted by the commit without a word.
  it('stops on a base file edited on the host in the same second it was deleted here', () => {
    ov.unlink(ino('/'), 'a.txt');
    const before = lstatSync(join(base, 'a.txt'));
    writeFileSync(join(base, 'a.txt'), 'host edit\n');
    utimesSync(join(base, 'a.txt'), before.atime, before.mtime); // mtime put back: only ctime moves
    const r = commitChanges(ov.changes);
    expect(r.applied).toBe(false);
    expect(r.conflicts).toEqual([{ path: '/a.txt', reason: 'changed in the base after it was deleted here' }]);
    expect(readFileSync(join(base, 'a.txt'), 'utf8')).toBe('host edit\n');
    expect(commitChanges(ov.changes, { force: true }).applied).toBe(true);
    expect(existsSync(join(base, 'a.txt'))).toBe(false);
  });

  it('stops on host edits and additions inside a directory removed here, and commits the rest', () => {
    writeFileSync(join(base, 'gone/keep'), 'k');
    reopen();
    ov.unlink(ino('/gone/deep'), 'x');
    ov.unlink(ino('/gone'), 'keep');
    ov.rmdir(ino('/gone'), 'deep');
    ov.rmdir(ino('/'), 'gone');
    writeFileSync(join(base, 'gone/deep/x'), 'edited on the host');
    writeFileSync(join(base, 'gone/new'), 'made on the host');
    const r = commitChanges(ov.changes);
    expect(r.applied).toBe(false);
    expect(r.conflicts.map((c) => c.path).sort()).toEqual(['/gone/deep/x', '/gone/new']);
    expect(r.conflicts.find((c) => c.path === '/gone/new')!.reason).toBe('added in the base after its directory was deleted here');
    expect(readFileSync(join(base, 'gone/deep/x'), 'utf8')).toBe('edited on the host');
    // what was not touched on the host goes, and the records with it
    expect(commitChanges(ov.changes, { paths: ['gone/keep'] }).applied).toBe(true);
    expect(existsSync(join(base, 'gone/keep'))).toBe(false);
    expect(store.db.prepare("SELECT path FROM agentfs_overlay_hidden WHERE path LIKE '/gone/%' ORDER BY path").all()).toEqual([
      { path: '/gone/deep' }, { path: '/gone/deep/x' },
    ]);
  });

  it('without host changes a removed tree commits, and leaves no records behind', () => {
    ov.unlink(ino('/gone/deep'), 'x');
    ov.rmdir(ino('/gone'), 'deep');
    ov.rmdir(ino('/'), 'gone');
    ov.unlink(ino('/'), 'a.txt');
    reopen(); // the records are in the database, not in memory
    expect(commitChanges(ov.changes).applied).toBe(true);
    expect(existsSync(join(base, 'gone'))).toBe(false);
    expect(existsSync(join(base, 'a.txt'))).toBe(false);
    expect((store.db.prepare('SELECT COUNT(*) AS n FROM agentfs_overlay_hidden').get() as { n: number }).n).toBe(0);
  });

  it('stops on a base file replaced here by a rename and edited on the host after', () => {
    writeFile('/new.txt', 'mine\n');
    ov.rename(ino('/'), 'new.txt', ino('/'), 'a.txt');
    const before = lstatSync(join(base, 'a.txt'));
    writeFileSync(join(base, 'a.txt'), 'one\ntwo\nthre3\n'); // same size
    utimesSync(join(base, 'a.txt'), before.atime, before.mtime);
    const r = commitChanges(ov.changes);
    expect(r.conflicts).toEqual([{ path: '/a.txt', reason: 'changed in the base after it was replaced here' }]);
    expect(readFileSync(join(base, 'a.txt'), 'utf8')).toBe('one\ntwo\nthre3\n');
  });

  it('a file deleted and made again here is checked against the base file it replaced', () => {
    ov.unlink(ino('/'), 'a.txt');
    writeFile('/a.txt', 'mine\n');
    writeFileSync(join(base, 'a.txt'), 'host\n');
    expect(commitChanges(ov.changes).conflicts.map((c) => c.path)).toEqual(['/a.txt']);
    // discarded, the records go too: a new deletion records the base file as it is then
    discardChanges(ov.changes);
    expect((store.db.prepare('SELECT COUNT(*) AS n FROM agentfs_overlay_hidden').get() as { n: number }).n).toBe(0);
    ov.unlink(ino('/'), 'a.txt');
    expect(commitChanges(ov.changes).applied).toBe(true);
  });

  it('a base directory moved here keeps its entries\' records with it, and commits', () => {
    ov.unlink(ino('/dir'), 'b.txt');
    ov.rename(ino('/'), 'dir', ino('/'), 'moved');
    expect(store.db.prepare('SELECT path, base_path FROM agentfs_overlay_hidden').all()).toEqual([
      { path: '/moved/b.txt', base_path: '/dir/b.txt' },
    ]);
    const r = commitChanges(ov.changes);
    expect(r.conflicts).toEqual([]);
    expect(r.applied).toBe(true);
    expect(existsSync(join(base, 'moved/b.txt'))).toBe(false);
    expect(existsSync(join(base, 'moved/sub/c.txt'))).toBe(true);
  });

  // The record of an entry deleted inside a moved directory sits at its new path, but the diff
  // lists the deletion at the base path; commit found no record there and fell back to the
  // whiteout's second: a host edit (or addition) in that second went with the deletion.
  it('stops on a host edit of a file deleted here inside a directory moved before or after', () => {
    ov.unlink(ino('/dir/sub'), 'c.txt');
    ov.rename(ino('/'), 'dir', ino('/'), 'moved');
    ov.unlink(ino('/moved'), 'b.txt');
    for (const f of ['dir/b.txt', 'dir/sub/c.txt']) {
      const before = lstatSync(join(base, f));
      writeFileSync(join(base, f), 'host\n');
      utimesSync(join(base, f), before.atime, before.mtime);
    }
    const r = commitChanges(ov.changes);
    expect(r.applied).toBe(false);
    expect(r.conflicts.map((c) => c.path).sort()).toEqual(['/dir/b.txt', '/dir/sub/c.txt']);
    expect(readFileSync(join(base, 'dir/b.txt'), 'utf8')).toBe('host\n');
  });

  it('stops on a host addition inside a directory moved here and then removed', () => {
    ov.rename(ino('/'), 'gone', ino('/'), 'moved');
    ov.unlink(ino('/moved/deep'), 'x');
    ov.rmdir(ino('/moved'), 'deep');
    ov.rmdir(ino('/'), 'moved');
    writeFileSync(join(base, 'gone/new'), 'made on the host');
    writeFileSync(join(base, 'gone/deep/new'), 'made on the host');
    const r = commitChanges(ov.changes);
    expect(r.applied).toBe(false);
    expect(r.conflicts.map((c) => c.path).sort()).toEqual(['/gone/deep/new', '/gone/new']);
    expect(r.conflicts[0]!.reason).toBe('added in the base after its directory was deleted here');
    expect(readFileSync(join(base, 'gone/new'), 'utf8')).toBe('made on the host');
  });

  it('a directory moved here with entries deleted in it commits without host changes, and leaves no records', () => {
    ov.unlink(ino('/dir/sub'), 'c.txt');
    ov.rename(ino('/'), 'dir', ino('/'), 'moved');
    ov.unlink(ino('/moved'), 'b.txt');
    ov.rename(ino('/'), 'gone', ino('/'), 'gone2');
    ov.unlink(ino('/gone2/deep'), 'x');
    ov.rmdir(ino('/gone2'), 'deep');
    ov.rmdir(ino('/'), 'gone2');
    reopen();
    const expected = snapshotMerged();
    const r = commitChanges(ov.changes);
    expect(r.conflicts).toEqual([]);
    expect(r.applied).toBe(true);
    expect(existsSync(join(base, 'gone'))).toBe(false);
    expect(existsSync(join(base, 'moved/b.txt'))).toBe(false);
    expect(withoutMtime(snapshotTree(base))).toEqual(expected);
    expect((store.db.prepare('SELECT COUNT(*) AS n FROM agentfs_overlay_hidden').get() as { n: number }).n).toBe(0);
  });

  // A directory moved away whose old place then holds a file: the file was written first, taking
  // the base directory (still to be read for the new place) with it; commit failed half-way,
  // the directory's files lost.
  it('a directory moved away whose old place holds a file now commits with its contents', () => {
    ov.rename(ino('/'), 'dir', ino('/'), 'moved');
    writeFile('/dir', 'a file now\n');
    const expected = snapshotMerged();
    const r = commitChanges(ov.changes);
    expect(r.conflicts).toEqual([]);
    expect(r.applied).toBe(true);
    expect(withoutMtime(snapshotTree(base))).toEqual(expected);
    expect(readFileSync(join(base, 'moved/sub/c.txt'), 'utf8')).toBe('charlie\n');
  });

  it('a directory exchanged with a file (RENAME_EXCHANGE) commits with its contents', () => {
    ov.rename(ino('/'), 'dir', ino('/'), 'a.txt', RENAME_EXCHANGE);
    const expected = snapshotMerged();
    const r = commitChanges(ov.changes);
    expect(r.conflicts).toEqual([]);
    expect(r.applied).toBe(true);
    expect(withoutMtime(snapshotTree(base))).toEqual(expected);
    expect(readFileSync(join(base, 'a.txt/sub/c.txt'), 'utf8')).toBe('charlie\n');
    expect(readFileSync(join(base, 'dir'), 'utf8')).toBe('one\ntwo\nthree\n');
  });

  // Entries of a directory moved out of one removed here are not deleted (they move): they were
  // taken for host additions to the removed directory, a conflict with no host change at all.
  it('a directory moved out of one removed here is no conflict', () => {
    ov.rename(ino('/gone'), 'deep', ino('/'), 'deep');
    ov.rmdir(ino('/'), 'gone');
    writeFile('/gone', 'a file now\n');
    const expected = snapshotMerged();
    const r = commitChanges(ov.changes);
    expect(r.conflicts).toEqual([]);
    expect(r.applied).toBe(true);
    expect(withoutMtime(snapshotTree(base))).toEqual(expected);
  });

  it('a host edit of a file the agent edited inside a directory it moved is still a conflict', () => {
    ov.rename(ino('/'), 'dir', ino('/'), 'moved');
    writeFile('/moved/b.txt', 'mine\n');
    writeFileSync(join(base, 'dir/b.txt'), 'host edit\n');
    const r = commitChanges(ov.changes);
    expect(r.applied).toBe(false);
    expect(r.conflicts.map((c) => c.path)).toEqual(['/dir/b.txt']);
    expect(readFileSync(join(base, 'dir/b.txt'), 'utf8')).toBe('host edit\n');
  });

  // Committing one name of a hard-linked base file moves the other names' ctime (link count):
  // their deletion records then no longer matched, a conflict with no host change at all.
  it('names of a hard-linked base file deleted here commit one by one, a host edit in between still stops', () => {
    linkSync(join(base, 'a.txt'), join(base, 'h1'));
    linkSync(join(base, 'a.txt'), join(base, 'h2'));
    reopen();
    ov.unlink(ino('/'), 'h1');
    ov.unlink(ino('/'), 'h2');
    writeFile('/a.txt', 'mine\n');
    expect(commitChanges(ov.changes, { paths: ['a.txt'] }).applied).toBe(true);
    const r = commitChanges(ov.changes, { paths: ['h1'] });
    expect(r.conflicts).toEqual([]);
    expect(r.applied).toBe(true);
    expect(existsSync(join(base, 'h1'))).toBe(false);
    const before = lstatSync(join(base, 'h2'));
    writeFileSync(join(base, 'h2'), 'one\ntwo\nthre3\n');
    utimesSync(join(base, 'h2'), before.atime, before.mtime);
    expect(commitChanges(ov.changes, { paths: ['h2'] }).conflicts.map((c) => c.path)).toEqual(['/h2']);
    expect(readFileSync(join(base, 'h2'), 'utf8')).toBe('one\ntwo\nthre3\n');
  });

  it('a commit killed after removing one name of a hard-linked base file finishes on a re-run', () => {
    linkSync(join(base, 'a.txt'), join(base, 'h1'));
    reopen();
    ov.unlink(ino('/'), 'h1');
    ov.unlink(ino('/'), 'a.txt');
    unlinkSync(join(base, 'h1')); // what the killed commit got done: a.txt's ctime moved with it
    const r = commitChanges(ov.changes);
    expect(r.conflicts).toEqual([]);
    expect(r.applied).toBe(true);
    expect(existsSync(join(base, 'a.txt'))).toBe(false);
  });

  // One name can hide two base entries in turn: the base entry there (removed), then one of a
  // directory moved over it. The second record was dropped (one per path), so a host edit of the
  // moved directory's file went with its deletion.
  it('a name that hid one base entry and then another checks both', () => {
    mkdirSync(join(base, 'd2'));
    writeFileSync(join(base, 'd2/b.txt'), 'other\n');
    reopen();
    ov.unlink(ino('/d2'), 'b.txt');
    ov.rmdir(ino('/'), 'd2');
    ov.rename(ino('/'), 'dir', ino('/'), 'd2');
    ov.unlink(ino('/d2'), 'b.txt');
    const before = lstatSync(join(base, 'dir/b.txt'));
    writeFileSync(join(base, 'dir/b.txt'), 'host!\n');
    utimesSync(join(base, 'dir/b.txt'), before.atime, before.mtime);
    const r = commitChanges(ov.changes);
    expect(r.applied).toBe(false);
    expect(r.conflicts.map((c) => c.path)).toEqual(['/dir/b.txt']);
    expect(readFileSync(join(base, 'dir/b.txt'), 'utf8')).toBe('host!\n');
    writeFileSync(join(base, 'dir/b.txt'), 'bravo\n');
    utimesSync(join(base, 'dir/b.txt'), before.atime, before.mtime);
    // the edit undone (its ctime stays moved): --force, and nothing is left over
    expect(commitChanges(ov.changes, { force: true }).applied).toBe(true);
    expect(existsSync(join(base, 'd2/b.txt'))).toBe(false);
    expect(readFileSync(join(base, 'd2/sub/c.txt'), 'utf8')).toBe('charlie\n');
    expect((store.db.prepare('SELECT COUNT(*) AS n FROM agentfs_overlay_hidden').get() as { n: number }).n).toBe(0);
  });

  it('a session database whose hidden-entry table is keyed by path only (earlier layout) still commits', () => {
    ov.close();
    store.db.exec('DROP TABLE agentfs_overlay_hidden');
    store.db.exec(`CREATE TABLE agentfs_overlay_hidden (path TEXT PRIMARY KEY, base_path TEXT NOT NULL, base_ino INTEGER NOT NULL,
      type INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ns TEXT NOT NULL, ctime_ns TEXT NOT NULL)`);
    store.close();
    open();
    ov.unlink(ino('/dir'), 'b.txt');
    ov.rename(ino('/'), 'dir', ino('/'), 'moved');
    writeFileSync(join(base, 'dir/b.txt'), 'host\n');
    expect(commitChanges(ov.changes).conflicts.map((c) => c.path)).toEqual(['/dir/b.txt']);
    writeFileSync(join(base, 'dir/b.txt'), 'bravo\n');
    expect(commitChanges(ov.changes, { force: true }).applied).toBe(true);
    expect(existsSync(join(base, 'moved/b.txt'))).toBe(false);
  });

  // found by random sequences of agent operations, committed with no host change at all
  it('a file moved over a base directory removed here commits', () => {
    ov.unlink(ino('/dir/sub'), 'c.txt');
    ov.rmdir(ino('/dir'), 'sub');
    ov.rename(ino('/'), 'a.txt', ino('/dir'), 'sub');
    const expected = snapshotMerged();
    const r = commitChanges(ov.changes);
    expect(r.applied).toBe(true);
    expect(withoutMtime(snapshotTree(base))).toEqual(expected);
  });

  it('a directory exchanged into a directory that is then moved commits', () => {
    ov.rename(ino('/dir/sub'), 'c.txt', ino('/'), 'gone', RENAME_EXCHANGE);
    ov.rename(ino('/dir'), 'sub', ino('/'), 'x');
    const expected = snapshotMerged();
    const r = commitChanges(ov.changes);
    expect(r.conflicts).toEqual([]);
    expect(r.applied).toBe(true);
    expect(withoutMtime(snapshotTree(base))).toEqual(expected);
    expect(readFileSync(join(base, 'x/c.txt/deep/x'), 'utf8')).toBe('x');
  });

  // written entry by entry, the new dir/b.txt was written before moved/b.txt was read from the
  // base's dir/b.txt: both got the agent's file, the original was gone
  it('a directory moved away and made again with the same names commits both', () => {
    ov.rename(ino('/'), 'dir', ino('/'), 'moved');
    ov.mkdir(ino('/'), 'dir', 0o755, ROOT_CALLER);
    writeFile('/dir/b.txt', 'mine\n');
    const expected = snapshotMerged();
    const r = commitChanges(ov.changes);
    expect(r.applied).toBe(true);
    expect(withoutMtime(snapshotTree(base))).toEqual(expected);
    expect(readFileSync(join(base, 'moved/b.txt'), 'utf8')).toBe('bravo\n');
    expect(readFileSync(join(base, 'dir/b.txt'), 'utf8')).toBe('mine\n');
  });

  it('two directories swapped (RENAME_EXCHANGE) with the same names in both are refused, nothing written', () => {
    mkdirSync(join(base, 'dir2/sub'), { recursive: true });
    writeFileSync(join(base, 'dir2/b.txt'), 'other\n');
    reopen();
    ov.rename(ino('/'), 'dir', ino('/'), 'dir2', RENAME_EXCHANGE);
    const host = snapshotTree(base);
    expect(() => commitChanges(ov.changes)).toThrow(/directories swapped in this session.*nothing was written/);
    expect(snapshotTree(base)).toEqual(host);
  });

  it('a re-run after a partly applied commit finishes without conflicts', () => {
    edit();
    const expected = snapshotMerged();
    // what an interrupted commit leaves: a file written to the base, still in the delta
    writeFileSync(join(base, 'a.txt'), 'one\nTWO\nthree\n');
    const r = commitChanges(ov.changes);
    expect(r.conflicts).toEqual([]);
    expect(withoutMtime(snapshotTree(base))).toEqual(expected);
  });

  it('renames a moved directory in the base, and recovers a commit killed mid-rename', () => {
    const dirIno = lstatSync(join(base, 'dir')).ino;
    ov.rename(ino('/'), 'dir', ino('/'), 'moved');
    writeFile('/moved/sub/c.txt', 'edited');
    const expected = snapshotMerged();
    // what a commit killed between renaming the base directory and recording it leaves behind
    ov.changes.beginBaseRename('/dir', '/moved');
    renameSync(join(base, 'dir'), join(base, 'moved'));
    reopen();
    expect(snapshotMerged()).toEqual(expected);
    commitChanges(ov.changes);
    expect(lstatSync(join(base, 'moved')).ino).toBe(dirIno); // renamed, not copied
    expect(withoutMtime(snapshotTree(base))).toEqual(expected);
    expect(computeChanges(ov.changes)).toEqual([]);
  });

  it('never writes through a base symlink', () => {
    symlinkSync(join(tmp.dir, 'outside'), join(base, 'out'));
    mkdirSync(join(tmp.dir, 'outside'));
    reopen();
    ov.unlink(ino('/'), 'out');
    ov.mkdir(ino('/'), 'out', 0o755, ROOT_CALLER);
    writeFile('/out/f', 'x');
    commitChanges(ov.changes);
    expect(existsSync(join(tmp.dir, 'outside/f'))).toBe(false);
    expect(lstatSync(join(base, 'out')).isDirectory()).toBe(true);
    expect(readFileSync(join(base, 'out/f'), 'utf8')).toBe('x');
  });
});

describe('discard', () => {
  it('discarding a deletion inside a moved directory, named as the diff lists it, brings the file back there', () => {
    ov.rename(ino('/'), 'dir', ino('/'), 'moved');
    ov.unlink(ino('/moved'), 'b.txt');
    expect(computeChanges(ov.changes).map((c) => `${c.status} ${c.path}`)).toContain('D /dir/b.txt');
    discardChanges(ov.changes, ['dir/b.txt']);
    expect(Buffer.from(ov.read(ino('/moved/b.txt'), 0, 100)).toString()).toBe('bravo\n');
    expect((store.db.prepare('SELECT COUNT(*) AS n FROM agentfs_overlay_hidden').get() as { n: number }).n).toBe(0);
    expect(commitChanges(ov.changes).applied).toBe(true);
    expect(readFileSync(join(base, 'moved/b.txt'), 'utf8')).toBe('bravo\n');
  });

  it('drops every change: the base shows again', () => {
    const before = snapshotMerged();
    edit();
    discardChanges(ov.changes);
    expect(computeChanges(ov.changes)).toEqual([]);
    expect(snapshotMerged()).toEqual(before);
    reopen();
    expect(snapshotMerged()).toEqual(before);
  });

  it('drops changes at given paths only', () => {
    edit();
    discardChanges(ov.changes, ['a.txt', 'gone']);
    const paths = computeChanges(ov.changes).map((c) => c.path);
    expect(paths).not.toContain('/a.txt');
    expect(paths).not.toContain('/gone');
    expect(paths).toContain('/bin.dat');
    expect(readFileSync(join(base, 'a.txt'), 'utf8')).toBe('one\ntwo\nthree\n');
  });
});

void chmodSync;
