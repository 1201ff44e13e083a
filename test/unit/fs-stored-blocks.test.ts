import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InodeFs } from '../../src/core/fs/index.js';
import { STORED_BLOCKS_MIN_SIZE } from '../../src/core/fs/stored-blocks.js';
import { Store } from '../../src/store/index.js';
import { ROOT_INO } from '../../src/core/types.js';
import { ME, fsFixture, type FsFixture } from '../support/fs-fixture.js';

/**
 * st_blocks of large files kept in agentfs_fs_blocks (src/core/fs/stored-blocks.ts): stored at
 * the commit of the transaction that wrote the file, used by the next process for exactly the
 * size and times it was stored for, and gone with the file.
 */
let fx: FsFixture;
beforeEach(() => {
  fx = fsFixture();
});
afterEach(() => fx.cleanup());

const MIB = 1 << 20;
const rows = (s: Store) => s.db.prepare('SELECT ino, size, blocks FROM agentfs_fs_blocks ORDER BY ino').all() as { ino: number; size: number; blocks: number }[];

/** A file of `mib` MiB written from its start in 1 MiB writes, in one transaction. */
function written(fs: InodeFs, name: string, mib: number): number {
  const ino = fs.create(ROOT_INO, name, 0o644, ME).ino;
  fx.store.transaction(() => {
    for (let i = 0; i < mib; i++) fs.write(ino, i * MIB, Buffer.alloc(MIB, i + 1), ME);
  });
  return ino;
}

describe('stored st_blocks', () => {
  it('are written with the commit for a file from 2 MiB up, and only then', () => {
    const big = written(fx.fs, 'big', 3);
    const small = written(fx.fs, 'small', 1);
    expect(STORED_BLOCKS_MIN_SIZE).toBe(2 * MIB);
    expect(rows(fx.store)).toEqual([{ ino: big, size: 3 * MIB, blocks: (3 * MIB) / 512 }]);
    expect(fx.fs.getattr(small).blocks).toBe(MIB / 512);
  });

  it('are what another process shows, for exactly the size and times they were stored for', () => {
    const ino = written(fx.fs, 'big', 3);
    // a count that could only come from the row: the next process uses it without counting
    fx.store.db.prepare('UPDATE agentfs_fs_blocks SET blocks = 1234 WHERE ino = ?').run(ino);
    fx.reopen();
    expect(fx.fs.getattr(ino).blocks).toBe(1234);
    // another writer moved the file's ctime: the row is stale, the chunks are counted
    fx.store.db.prepare('UPDATE fs_inode SET ctime_nsec = (ctime_nsec + 1) % 1000000000 WHERE ino = ?').run(ino);
    fx.reopen();
    expect(fx.fs.getattr(ino).blocks).toBe((3 * MIB) / 512);
  });

  it('follow the file: a write stores the new count, an unlink (one statement or not) drops the row', () => {
    const ino = written(fx.fs, 'big', 3);
    fx.store.transaction(() => fx.fs.write(ino, 3 * MIB, Buffer.alloc(MIB, 9), ME));
    expect(rows(fx.store)).toEqual([{ ino, size: 4 * MIB, blocks: (4 * MIB) / 512 }]);
    // without an observer, inside a transaction: the one-statement unlink (ops/unlink-alone.ts)
    fx.store.transaction(() => new InodeFs(fx.store).unlink(ROOT_INO, 'big'));
    const other = written(fx.fs, 'other', 2);
    expect(rows(fx.store)).toEqual([{ ino: other, size: 2 * MIB, blocks: (2 * MIB) / 512 }]);
    fx.fs.unlink(ROOT_INO, 'other'); // outside a transaction: the transaction route
    expect(rows(fx.store)).toEqual([]);
  });

  it('are not stored for a file counted and then removed in one transaction (found by a hostile pass)', () => {
    written(fx.fs, 'a', 3);
    written(fx.fs, 'b', 3);
    fx.store.db.exec('DELETE FROM agentfs_fs_blocks');
    fx.reopen();
    // as a mount's group commit: each counted at its lookup, then unlinked, one statement or not
    const fs = new InodeFs(fx.store);
    fx.store.transaction(() => {
      for (const name of ['a', 'b']) fs.lookup(ROOT_INO, name);
      fs.unlink(ROOT_INO, 'a');
      fx.fs.unlink(ROOT_INO, 'b');
    });
    expect(rows(fx.store)).toEqual([]);
  });

  it('let unlinks go on, both routes, when another program drops their table (found by a hostile pass)', () => {
    written(fx.fs, 'a', 3);
    written(fx.fs, 'b', 3);
    written(fx.fs, 'c', 3);
    const fs = new InodeFs(fx.store);
    fx.store.transaction(() => fs.unlink(ROOT_INO, 'a')); // the one-statement unlink's tables made
    const other = Store.open({ path: fx.file });
    try {
      other.db.exec('DROP TABLE agentfs_fs_blocks');
    } finally {
      other.close();
    }
    fx.store.transaction(() => fs.unlink(ROOT_INO, 'b'));
    fx.fs.unlink(ROOT_INO, 'c');
    expect(fx.fs.readdir(ROOT_INO, 0, 10).map((e) => e.name)).toEqual([]);
    expect((fx.store.db.prepare('SELECT COUNT(*) AS n FROM fs_data').get() as { n: number }).n).toBe(0);
  });

  it('are read but never written on a database opened read-only', () => {
    const ino = written(fx.fs, 'big', 3);
    fx.store.close();
    const ro = Store.open({ path: fx.file }, { readOnly: true });
    try {
      expect(new InodeFs(ro).getattr(ino).blocks).toBe((3 * MIB) / 512);
    } finally {
      ro.close();
    }
    fx.reopen();
  });
});
