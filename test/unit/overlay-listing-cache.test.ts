// What the overlay's listing caches (base listings, whiteouts read whole, the delta's names per
// merge) must not get wrong: each case changes something a cache holds, then lists again.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { InodeFs } from '../../src/core/fs/index.js';
import { OverlayFs } from '../../src/core/overlay/index.js';
import { ROOT_CALLER } from '../../src/core/types.js';
import { tempDir } from '../support/cli.js';

let tmp: { dir: string; cleanup: () => void };
let base: string;
let store: Store;
let ov: OverlayFs;

beforeEach(() => {
  tmp = tempDir();
  base = join(tmp.dir, 'base');
  mkdirSync(join(base, 'x'), { recursive: true });
  mkdirSync(join(base, 'y'));
  for (const f of ['x/1', 'x/2', 'y/3', 'top']) writeFileSync(join(base, f), f);
  store = Store.open({ path: join(tmp.dir, 'a.db') }, { create: true });
  ov = new OverlayFs(store, base, { delta: new InodeFs(store) });
});

afterEach(() => {
  ov.close();
  store.close();
  tmp.cleanup();
});

function ino(path: string): number {
  let cur = ov.rootIno;
  for (const part of path.split('/').filter(Boolean)) cur = ov.lookup(cur, part).ino;
  return cur;
}
/** Names as readdir and readdirPlus list them (both, so each merge path is checked). */
function ls(path: string): string[] {
  const names = ov.readdir(ino(path)).map((e) => e.name);
  const plus = ov.readdirPlus(ino(path)).map((e) => e.name);
  expect(plus).toEqual(names);
  return names.sort();
}

describe('overlay listings stay right when what they cache changes', () => {
  it('a base name deleted, recreated and deleted again in the sandbox', () => {
    expect(ls('/x')).toEqual(['1', '2']);
    ov.unlink(ino('/x'), '1');
    expect(ls('/x')).toEqual(['2']);
    ov.create(ino('/x'), '1', 0o644, ROOT_CALLER);
    expect(ls('/x')).toEqual(['1', '2']);
    expect(ov.getattr(ino('/x/1')).size).toBe(0); // the new file, not the base one
    ov.unlink(ino('/x'), '1');
    expect(ls('/x')).toEqual(['2']);
    expect(() => ino('/x/1')).toThrow(/ENOENT/);
  });

  it('a base file edited and a base file added on the host show in the next listing', () => {
    expect(ls('/y')).toEqual(['3']);
    writeFileSync(join(base, 'y', '3'), 'longer than before');
    expect(ov.getattr(ino('/y/3')).size).toBe('longer than before'.length);
    writeFileSync(join(base, 'y', '4'), '4');
    expect(ls('/y')).toEqual(['3', '4']);
  });

  it('a directory renamed over a cached one shows only its own entries, and its whiteouts move along', () => {
    expect(ls('/x')).toEqual(['1', '2']);
    expect(ls('/y')).toEqual(['3']);
    ov.unlink(ino('/x'), '1');
    ov.unlink(ino('/x'), '2');
    expect(ls('/x')).toEqual([]);
    ov.rename(ino('/'), 'y', ino('/'), 'x');
    expect(ls('/')).toEqual(['top', 'x']);
    expect(ls('/x')).toEqual(['3']);
    ov.unlink(ino('/x'), '3');
    expect(ls('/x')).toEqual([]);
    ov.rename(ino('/'), 'x', ino('/'), 'z');
    expect(ls('/z')).toEqual([]);
    expect(ls('/')).toEqual(['top', 'z']);
  });

  it('whiteouts cleared under a directory (a deletion taken back) show its base entries again', () => {
    mkdirSync(join(base, 'x', 'sub'));
    writeFileSync(join(base, 'x', 'sub', '4'), '4');
    expect(ls('/x')).toEqual(['1', '2', 'sub']);
    ov.unlink(ino('/x'), '1');
    ov.unlink(ino('/x/sub'), '4');
    expect(ls('/x')).toEqual(['2', 'sub']);
    expect(ls('/x/sub')).toEqual([]);
    ov.changes.clearWhiteouts('/x');
    expect(ls('/x')).toEqual(['1', '2', 'sub']);
    expect(ls('/x/sub')).toEqual(['4']);
  });

  it('a copy-up keeps the modification time of the directories it copies into; a new entry moves it', () => {
    const before = ov.getattr(ino('/x')).mtime;
    const rootBefore = ov.getattr(ov.rootIno).mtime;
    ov.write(ino('/x/1'), 0, Buffer.from('changed')); // copies /x and /x/1 up
    expect(ov.getattr(ino('/x')).mtime).toEqual(before);
    expect(ov.getattr(ov.rootIno).mtime).toEqual(rootBefore);
    ov.create(ino('/x'), 'new', 0o644, ROOT_CALLER);
    expect(ov.getattr(ino('/x')).mtime).not.toEqual(before);
    expect(ls('/x')).toEqual(['1', '2', 'new']);
  });

  it('a merged directory with more delta entries than one listing of them takes shows each name once', () => {
    // the base file is copied up (a delta entry shadowing a base one), then 1,100 new files
    ov.write(ino('/x/1'), 0, Buffer.from('changed'));
    for (let i = 0; i < 1100; i++) ov.create(ino('/x'), `n${i}`, 0o644, ROOT_CALLER);
    const names = ls('/x');
    expect(names.length).toBe(1102);
    expect(new Set(names).size).toBe(1102);
    expect(names.filter((n) => n === '1' || n === '2')).toEqual(['1', '2']);
  });

  it('whiteouts made by another process are seen by a new overlay over the same database', () => {
    ov.unlink(ino('/x'), '2');
    const other = new OverlayFs(store, base, { delta: new InodeFs(store) });
    try {
      const x = other.lookup(other.rootIno, 'x').ino;
      expect(other.readdir(x).map((e) => e.name)).toEqual(['1']);
    } finally {
      other.close();
    }
  });
});
