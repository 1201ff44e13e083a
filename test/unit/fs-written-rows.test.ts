import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InodeFs } from '../../src/core/fs/index.js';
import { Store } from '../../src/store/index.js';
import { ROOT_INO } from '../../src/core/types.js';
import { ME, fsFixture, type FsFixture } from '../support/fs-fixture.js';

/**
 * Rows a write transaction wrote are read back from memory (core/fs/rows.ts noteWritten) only
 * while no statement that may write ran since: whatever else changes the row in the same
 * transaction (a statement of another module, an exec, another InodeFs of the connection, a
 * rolled-back savepoint) must show at the next getattr, as a read of the database would.
 */
describe('rows remembered as written', () => {
  let fx: FsFixture;
  let fs: InodeFs;
  beforeEach(() => {
    fx = fsFixture();
    fs = new InodeFs(fx.store); // no observer: the one-statement routes that remember rows
  });
  afterEach(() => fx.cleanup());

  /** a file written and chmod'ed inside an open batch (remembered), its ino */
  function written(): number {
    const f = fs.create(ROOT_INO, 'f', 0o644, ME);
    fs.write(f.ino, 0, Buffer.from('hello'), ME);
    fs.setattr(f.ino, { mode: 0o640 }, ME);
    return f.ino;
  }

  it('are what the database holds after the operations that wrote them', () => {
    fx.store.beginBatch();
    const ino = written();
    const remembered = fs.getattr(ino);
    expect(fs.writtenAttr(ino)).toEqual(remembered);
    expect(remembered.mode & 0o7777).toBe(0o640);
    expect(remembered.size).toBe(5);
    fx.store.commitBatch();
    expect(fs.writtenAttr(ino)).toBeUndefined(); // outside a transaction: never
    expect(fs.getattr(ino)).toEqual(remembered);
  });

  it('give way to a statement of another module', () => {
    fx.store.beginBatch();
    const ino = written();
    fx.store.stmt('UPDATE fs_inode SET uid = 4242 WHERE ino = ?').run(ino);
    expect(fs.writtenAttr(ino)).toBeUndefined();
    expect(fs.getattr(ino).uid).toBe(4242);
    fx.store.commitBatch();
  });

  it('give way to an exec', () => {
    fx.store.beginBatch();
    const ino = written();
    fx.store.db.exec(`UPDATE fs_inode SET size = 99 WHERE ino = ${ino}`);
    expect(fs.getattr(ino).size).toBe(99);
    fx.store.commitBatch();
  });

  it('give way to another InodeFs of the connection', () => {
    fx.store.beginBatch();
    const ino = written();
    new InodeFs(fx.store).setattr(ino, { uid: 7, gid: 8 }, { uid: 0, gid: 0 });
    const a = fs.getattr(ino);
    expect([a.uid, a.gid]).toEqual([7, 8]);
    fx.store.commitBatch();
  });

  it('give way to a rolled-back savepoint', () => {
    fx.store.beginBatch();
    const ino = written();
    expect(() =>
      fx.store.transaction(() => {
        fs.setattr(ino, { mode: 0o600 }, ME);
        expect(fs.getattr(ino).mode & 0o7777).toBe(0o600);
        throw new Error('undo');
      }),
    ).toThrow('undo');
    expect(fs.getattr(ino).mode & 0o7777).toBe(0o640);
    fx.store.commitBatch();
    expect(fs.getattr(ino).mode & 0o7777).toBe(0o640);
  });

  it('are not used in the next transaction, when another process may have written', () => {
    fx.store.beginBatch();
    const ino = written();
    fx.store.commitBatch();
    const other = Store.open({ path: fx.file });
    try {
      other.db.exec(`UPDATE fs_inode SET mode = 33188 WHERE ino = ${ino}`); // 0o100644
    } finally {
      other.close();
    }
    fx.store.beginBatch();
    expect(fs.getattr(ino).mode & 0o7777).toBe(0o644);
    fx.store.commitBatch();
  });

  it('show an access time a read noted since', () => {
    fx.store.beginBatch();
    const ino = written();
    fs.setattr(ino, { atime: { sec: 1, nsec: 0 } }, ME);
    fs.read(ino, 0, 5); // atime 1 is before mtime: relatime moves it
    expect(fs.getattr(ino).atime.sec).toBeGreaterThan(1);
    fx.store.commitBatch();
  });
});
