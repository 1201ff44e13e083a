import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT_INO } from '../../src/core/types.js';
import { ME, code, fsFixture, inodeRow as rawRow, type FsFixture } from '../support/fs-fixture.js';
import type { Store } from '../../src/store/index.js';

/** The inode's columns (without libsql's timing metadata). */
function inodeRow(store: Store, ino: number): Record<string, number> | undefined {
  const row = rawRow(store, ino);
  if (row) delete row._metadata;
  return row;
}

/**
 * The shortcuts of the mount's write path (issue 16) keep every answer exact: a create that fails
 * changes nothing, setattr's answer is what getattr then says, the open after a create, and
 * unlinks beside another holder of open files.
 */
describe('InodeFs write path', () => {
  let fx: FsFixture;
  beforeEach(() => (fx = fsFixture({ chunkSize: 4096 })));
  afterEach(() => fx.cleanup());

  /** Runs fn as a mount's group commit does: many operations in one open transaction. */
  function inBatch<T>(fn: () => T): T {
    expect(fx.store.beginBatch()).toBe(true);
    try {
      return fn();
    } finally {
      fx.store.commitBatch();
    }
  }

  it('a create that fails leaves its parent (or the file named as one) as it was, alone or in a batch', () => {
    const dir = fx.fs.mkdir(ROOT_INO, 'd', 0o755, ME);
    const file = fx.fs.create(dir.ino, 'x', 0o644, ME);
    const before = { dir: inodeRow(fx.store, dir.ino), file: inodeRow(fx.store, file.ino) };
    const attempts = () => [
      code(() => fx.fs.create(dir.ino, 'x', 0o644, ME)),
      code(() => fx.fs.mkdir(dir.ino, 'x', 0o755, ME)),
      code(() => fx.fs.mkdir(dir.ino, '..', 0o755, ME)),
      code(() => fx.fs.create(file.ino, 'y', 0o644, ME)),
      code(() => fx.fs.symlink(file.ino, 'y', 'target', ME)),
      code(() => fx.fs.create(99999, 'y', 0o644, ME)),
    ];
    const expected = ['EEXIST', 'EEXIST', 'EEXIST', 'ENOTDIR', 'ENOTDIR', 'ENOENT'];
    expect(attempts()).toEqual(expected);
    expect(inBatch(attempts)).toEqual(expected);
    expect({ dir: inodeRow(fx.store, dir.ino), file: inodeRow(fx.store, file.ino) }).toEqual(before);
    expect(fx.fs.readdir(dir.ino).map((e) => e.name)).toEqual(['x']);
    // and one that works still moves the parent: times, and a subdirectory's link
    const sub = fx.fs.mkdir(dir.ino, 'sub', 0o755, ME);
    const after = fx.fs.getattr(dir.ino);
    expect(after.nlink).toBe(3);
    expect(after.mtime).toEqual(sub.mtime);
    expect(after.ctime).toEqual(sub.ctime);
  });

  it("setattr's answer is what getattr says next, st_blocks included", () => {
    const full = fx.fs.create(ROOT_INO, 'full', 0o644, ME);
    fx.fs.write(full.ino, 0, Buffer.alloc(10_000, 1));
    const sparse = fx.fs.create(ROOT_INO, 'sparse', 0o644, ME);
    fx.fs.write(sparse.ino, 5 * 4096, Buffer.from('tail'));
    const empty = fx.fs.create(ROOT_INO, 'empty', 0o644, ME);
    for (const f of [full, sparse, empty]) {
      for (const changes of [{ mode: 0o600 }, { uid: 7, gid: 8 }, { atime: { sec: 5, nsec: 6 }, mtime: 'now' as const }, { mtime: { sec: 1, nsec: 2 } }]) {
        const answer = fx.fs.setattr(f.ino, changes);
        expect(answer).toEqual(fx.fs.getattr(f.ino));
        fx.reopen(); // no cache: what another process reads
        expect(answer).toEqual(fx.fs.getattr(f.ino));
      }
    }
    expect(fx.fs.getattr(full.ino).blocks).toBe(Math.ceil(10_000 / 512));
    expect(fx.fs.getattr(sparse.ino).blocks).toBe(1);
    // a data change after a chmod: st_blocks follows it
    fx.fs.setattr(sparse.ino, { mode: 0o640 });
    fx.fs.write(sparse.ino, 0, Buffer.alloc(4096, 2));
    expect(fx.fs.getattr(sparse.ino).blocks).toBe(9);
    expect(fx.fs.setattr(sparse.ino, { mode: 0o644 }).blocks).toBe(9);
  });

  it('the open after a create needs no lookup, and an inode gone since cannot be opened', () => {
    const a = inBatch(() => {
      const a = fx.fs.create(ROOT_INO, 'a', 0o644, ME);
      fx.fs.open(a.ino, 2);
      return a;
    });
    expect(fx.fs.openCount(a.ino)).toBe(1);
    fx.fs.release(a.ino);
    inBatch(() => {
      const b = fx.fs.create(ROOT_INO, 'b', 0o644, ME);
      fx.fs.unlink(ROOT_INO, 'b');
      expect(code(() => fx.fs.open(b.ino, 0))).toBe('ENOENT');
    });
    const c = fx.fs.create(ROOT_INO, 'c', 0o644, ME);
    // another connection removes it between the create's commit and the next write transaction
    fx.store.db.prepare('DELETE FROM fs_dentry WHERE ino = ?').run(c.ino);
    fx.store.db.prepare('DELETE FROM fs_inode WHERE ino = ?').run(c.ino);
    fx.store.transaction(() => undefined);
    expect(code(() => fx.fs.open(c.ino, 0))).toBe('ENOENT');
  });

  it('an unlink beside another live holder hands the inode over; the answer is read again in the next transaction', () => {
    fx.fs.holdOpenFiles();
    for (const n of ['a', 'b', 'c']) fx.fs.write(fx.fs.create(ROOT_INO, n, 0o644, ME).ino, 0, Buffer.from(n));
    const ino = (n: string) => fx.fs.lookup(ROOT_INO, n).ino;
    const [a, b, c] = ['a', 'b', 'c'].map(ino);
    const other = process.ppid; // a live process that is not this one
    fx.store.db.prepare('INSERT INTO agentfs_fs_holder (pid) VALUES (?)').run(other);
    inBatch(() => {
      fx.fs.unlink(ROOT_INO, 'a');
      fx.fs.unlink(ROOT_INO, 'b');
    });
    const orphans = () => fx.store.db.prepare('SELECT ino, pid FROM agentfs_fs_orphan ORDER BY ino').all();
    expect(orphans()).toEqual([{ ino: a, pid: other }, { ino: b, pid: other }]);
    expect(inodeRow(fx.store, a)).toMatchObject({ nlink: 0 });
    // the other holder is gone: the next transaction's unlink purges at once
    fx.store.db.prepare('DELETE FROM agentfs_fs_holder WHERE pid = ?').run(other);
    inBatch(() => fx.fs.unlink(ROOT_INO, 'c'));
    expect(inodeRow(fx.store, c)).toBeUndefined();
    expect(orphans()).toHaveLength(2);
  });
});

describe('journal in a group commit', () => {
  it("skips the check for other writers within a write transaction, and sees another process's rename in the next", async () => {
    const { Agent } = await import('../../src/core/agent.js');
    const { JournalReader } = await import('../../src/core/journal/index.js');
    const { Store: StoreClass } = await import('../../src/store/index.js');
    const { tempDir } = await import('../support/cli.js');
    const t = tempDir();
    const file = `${t.dir}/j.db`;
    const a = Agent.open({ path: file }, { create: true, journal: true });
    try {
      const d = a.fs.mkdir(ROOT_INO, 'd', 0o755, ME);
      const f = a.fs.create(d.ino, 'f', 0o644, ME);
      a.store.beginBatch();
      a.fs.write(f.ino, 0, Buffer.from('one'));
      a.store.commitBatch();
      // another process renames the directory; then more than the journal's 1 ms time bound passes
      const other = StoreClass.open({ path: file });
      other.transaction(() => other.db.prepare("UPDATE fs_dentry SET name = 'e' WHERE name = 'd'").run());
      other.close();
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      a.store.beginBatch();
      a.fs.release(f.ino); // ends the first burst
      a.fs.setattr(f.ino, { mode: 0o600 });
      a.fs.setattr(f.ino, { mode: 0o640 });
      a.store.commitBatch();
      const rows = new JournalReader(a.store).list({ order: 'asc' }).map((e) => `${e.op} ${e.path}`);
      expect(rows).toEqual(['mkdir /d', 'create /d/f', 'write /d/f', 'chmod /e/f', 'chmod /e/f']);
    } finally {
      a.close();
      t.cleanup();
    }
  });
});

describe('journal flush beside another writer', () => {
  it("a release that ends a burst waits for another process's write lock, as every writer does", async () => {
    const { Agent } = await import('../../src/core/agent.js');
    const { JournalReader } = await import('../../src/core/journal/index.js');
    const { tempDir } = await import('../support/cli.js');
    const { spawn } = await import('node:child_process');
    const { createRequire } = await import('node:module');
    const t = tempDir();
    const file = `${t.dir}/j.db`;
    const a = Agent.open({ path: file }, { create: true, journal: true });
    try {
      const f = a.fs.create(ROOT_INO, 'f', 0o644, ME);
      a.fs.open(f.ino, 2);
      a.fs.write(f.ino, 0, Buffer.from('one'));
      a.fs.write(f.ino, 3, Buffer.from('two'));
      // another process holds the write lock for 400 ms (longer than SQLite's own 50 ms wait here)
      const holder = spawn(process.execPath, ['-e', `
        const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('libsql'))});
        const db = new Database(${JSON.stringify(file)});
        db.exec('BEGIN IMMEDIATE'); console.log('locked');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
        db.exec('COMMIT'); db.close();`], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => holder.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()));
      a.fs.release(f.ino); // the burst's totals are written now
      await new Promise((resolve) => holder.on('exit', resolve));
      const w = new JournalReader(a.store).list({ order: 'asc' }).find((e) => e.op === 'write')!;
      expect([w.writes, w.bytes]).toEqual([2, 6]);
    } finally {
      a.close();
      t.cleanup();
    }
  });
});
