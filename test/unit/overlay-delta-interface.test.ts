import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { InodeFs } from '../../src/core/fs/index.js';
import { OverlayFs } from '../../src/core/overlay/index.js';
import { commitChanges, computeChanges, discardChanges } from '../../src/core/changes/index.js';
import { ROOT_CALLER } from '../../src/core/types.js';
import { tempDir } from '../support/cli.js';

/**
 * The overlay reaches its delta only through the delta's FileSystem interface (issue 12). Here the
 * delta lives in a second database: the overlay's own store has empty spec tables, so an overlay
 * (or change engine) that read fs_dentry / fs_inode with SQL of its own would see nothing there.
 */
let tmp: { dir: string; cleanup: () => void };
let base: string;
let overlayStore: Store;
let deltaStore: Store;
let ov: OverlayFs;

function ino(path: string): number {
  let cur = ov.rootIno;
  for (const part of path.split('/').filter(Boolean)) cur = ov.lookup(cur, part).ino;
  return cur;
}
function readAll(path: string): string {
  const i = ino(path);
  return ov.read(i, 0, ov.getattr(i).size).toString();
}
function ls(path: string): string[] {
  return ov.readdir(ino(path)).map((e) => e.name).sort();
}

beforeEach(() => {
  tmp = tempDir('agentfs-ov-delta-');
  base = join(tmp.dir, 'base');
  mkdirSync(join(base, 'dir/sub'), { recursive: true });
  writeFileSync(join(base, 'top.txt'), 'top');
  writeFileSync(join(base, 'dir/a.txt'), 'alpha');
  writeFileSync(join(base, 'dir/sub/b.txt'), 'bravo');
  overlayStore = Store.open({ path: join(tmp.dir, 'overlay.db') }, { create: true });
  deltaStore = Store.open({ path: join(tmp.dir, 'delta.db') }, { create: true });
  ov = new OverlayFs(overlayStore, base, { delta: new InodeFs(deltaStore) });
});

afterEach(() => {
  ov.close();
  overlayStore.close();
  deltaStore.close();
  tmp.cleanup();
});

describe('overlay over a delta reached only through FileSystem', () => {
  it('copies up, moves directories, lists, diffs, discards and commits', () => {
    const top = ino('/top.txt');
    ov.write(top, 3, Buffer.from('!'));
    ov.rename(ino('/'), 'dir', ino('/'), 'moved');
    const f = ov.create(ino('/moved/sub'), 'new.txt', 0o644, ROOT_CALLER).ino;
    ov.write(f, 0, Buffer.from('new'));
    ov.unlink(ino('/moved'), 'a.txt');
    ov.mkdir(ino('/'), 'fresh', 0o755, ROOT_CALLER);

    expect(ls('/')).toEqual(['fresh', 'moved', 'top.txt']);
    expect(ls('/moved/sub')).toEqual(['b.txt', 'new.txt']);
    expect(readAll('/top.txt')).toBe('top!');
    expect(readAll('/moved/sub/b.txt')).toBe('bravo');
    // the delta database holds the changes; the base is untouched
    expect(readFileSync(join(base, 'top.txt'), 'utf8')).toBe('top');

    const changes = computeChanges(ov.changes).map((c) => `${c.status} ${c.path}`);
    expect(changes).toEqual([
      'D /dir',
      'D /dir/a.txt',
      'D /dir/sub',
      'D /dir/sub/b.txt',
      'A /fresh',
      'A /moved',
      'A /moved/sub',
      'A /moved/sub/b.txt',
      'A /moved/sub/new.txt',
      'M /top.txt',
    ]);

    discardChanges(ov.changes, ['fresh']);
    expect(ls('/')).toEqual(['moved', 'top.txt']);

    const result = commitChanges(ov.changes);
    expect(result.applied).toBe(true);
    expect(readdirSync(base).sort()).toEqual(['moved', 'top.txt']);
    expect(readdirSync(join(base, 'moved/sub')).sort()).toEqual(['b.txt', 'new.txt']);
    expect(readFileSync(join(base, 'top.txt'), 'utf8')).toBe('top!');
    expect(computeChanges(ov.changes)).toEqual([]);
  });
});
