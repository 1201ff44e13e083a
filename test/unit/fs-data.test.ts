import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT_INO } from '../../src/core/types.js';
import { Store } from '../../src/store/index.js';
import { InodeFs } from '../../src/core/fs/index.js';
import { FLUSH_COUNT } from '../../src/core/fs/lazy-atime.js';
import type { Timespec } from '../../src/core/types.js';
import { ME, chunks, code, fsFixture, inodeRow, type FsFixture } from '../support/fs-fixture.js';

/** Every chunk is exactly chunk_size except the last of the file (spec shape). */
function expectSpecShape(fx: FsFixture, ino: number): void {
  const cs = fx.store.chunkSize;
  const size = fx.fs.getattr(ino).size;
  const rows = chunks(fx.store, ino);
  const lastIdx = size === 0 ? -1 : Math.floor((size - 1) / cs);
  for (const r of rows) {
    expect(r.chunk_index).toBeLessThanOrEqual(lastIdx);
    if (r.chunk_index < lastIdx) expect(r.len).toBe(cs);
    else expect(r.len).toBeLessThanOrEqual(size - lastIdx * cs);
  }
  const types = fx.store.db.prepare('SELECT DISTINCT typeof(data) AS t FROM fs_data WHERE ino = ?').all(ino) as { t: string }[];
  for (const t of types) expect(t.t).toBe('blob');
}

describe('InodeFs: file data in chunks', () => {
  let fx: FsFixture;
  let model: Buffer;
  let ino: number;
  beforeEach(() => {
    fx = fsFixture();
    ino = fx.fs.create(ROOT_INO, 'f', 0o644, ME).ino;
    model = Buffer.alloc(0);
  });
  afterEach(() => fx.cleanup());

  const write = (off: number, data: Buffer) => {
    expect(fx.fs.write(ino, off, data)).toBe(data.length);
    const end = off + data.length;
    if (end > model.length) model = Buffer.concat([model, Buffer.alloc(end - model.length)]);
    data.copy(model, off);
  };
  const truncate = (size: number) => {
    fx.fs.setattr(ino, { size });
    model = size <= model.length ? model.subarray(0, size) : Buffer.concat([model, Buffer.alloc(size - model.length)]);
  };
  const check = () => {
    expect(fx.fs.getattr(ino).size).toBe(model.length);
    expect(fx.fs.read(ino, 0, model.length + 100).equals(model)).toBe(true);
    expectSpecShape(fx, ino);
  };

  it('writes in 4096-byte chunks, the last one short; size and blocks follow', () => {
    write(0, randomBytes(10000));
    expect(chunks(fx.store, ino)).toEqual([
      { chunk_index: 0, len: 4096 },
      { chunk_index: 1, len: 4096 },
      { chunk_index: 2, len: 1808 },
    ]);
    const a = fx.fs.getattr(ino);
    expect(a.size).toBe(10000);
    expect(a.blocks).toBe(Math.ceil(10000 / 512));
    expect(inodeRow(fx.store, ino)!.size).toBe(10000);
    check();
  });

  it('reads at any offset and length, short at EOF, empty past it', () => {
    write(0, randomBytes(9000));
    for (const [off, len] of [[0, 1], [4095, 2], [4096, 4096], [100, 8000], [8999, 10], [9000, 5], [20000, 3]] as const) {
      expect(fx.fs.read(ino, off, len).equals(model.subarray(off, off + len))).toBe(true);
    }
    expect(fx.fs.read(ino, 5, 0).length).toBe(0);
    expect(code(() => fx.fs.read(ino, -1, 5))).toBe('EINVAL');
    expect(code(() => fx.fs.read(ROOT_INO, 0, 5))).toBe('EISDIR');
    expect(code(() => fx.fs.write(ROOT_INO, 0, Buffer.from('x')))).toBe('EISDIR');
    expect(code(() => fx.fs.read(999, 0, 5))).toBe('ENOENT');
  });

  it('overwrites inside and across chunk boundaries (read-modify-write of partial chunks only)', () => {
    write(0, randomBytes(12288));
    write(4000, randomBytes(200));
    write(8192, randomBytes(4096));
    write(1, randomBytes(1));
    write(12000, randomBytes(1000)); // extends the file
    check();
    expect(chunks(fx.store, ino).map((c) => c.len)).toEqual([4096, 4096, 4096, 712]);
  });

  it('appends in odd sizes keep the shape', () => {
    for (let i = 0; i < 50; i++) write(model.length, randomBytes(333 + i));
    check();
  });

  it('writing past EOF leaves a sparse hole that reads as zeros and pads the old last chunk', () => {
    write(0, Buffer.from('head'));
    write(5 * 4096 + 10, Buffer.from('tail'));
    const c = chunks(fx.store, ino);
    expect(c).toEqual([
      { chunk_index: 0, len: 4096 },
      { chunk_index: 5, len: 14 },
    ]);
    const data = fx.fs.read(ino, 0, 100000);
    expect(data.length).toBe(5 * 4096 + 14);
    expect(data.subarray(0, 4).toString()).toBe('head');
    expect(data.subarray(4, 5 * 4096 + 10).every((b) => b === 0)).toBe(true);
    expect(data.subarray(5 * 4096 + 10).toString()).toBe('tail');
    // blocks count the stored chunks: the hole takes none
    expect(fx.fs.getattr(ino).blocks).toBe(4096 / 512 + 1);
    // filling the hole partially
    write(2 * 4096 + 7, Buffer.from('mid'));
    check();
  });

  it('truncate down drops chunks and trims the new last one; up pads and leaves holes', () => {
    write(0, randomBytes(20000));
    truncate(5000);
    expect(chunks(fx.store, ino)).toEqual([
      { chunk_index: 0, len: 4096 },
      { chunk_index: 1, len: 904 },
    ]);
    check();
    truncate(4096);
    expect(chunks(fx.store, ino).map((c) => c.len)).toEqual([4096]);
    truncate(4000);
    check();
    truncate(4050);
    expect(chunks(fx.store, ino).map((c) => c.len)).toEqual([4050]);
    check();
    truncate(30000);
    expect(chunks(fx.store, ino)).toEqual([{ chunk_index: 0, len: 4096 }]);
    check();
    write(29000, randomBytes(2000));
    check();
    truncate(0);
    expect(chunks(fx.store, ino)).toEqual([]);
    check();
    expect(code(() => fx.fs.setattr(ino, { size: -1 }))).toBe('EINVAL');
    expect(code(() => fx.fs.setattr(ROOT_INO, { size: 0 }))).toBe('EISDIR');
  });

  it('write and truncate update mtime/ctime and tell the observer', () => {
    const before = fx.fs.getattr(ino);
    write(0, Buffer.from('abc'));
    const after = fx.fs.getattr(ino);
    expect(after.mtime.sec * 1e9 + after.mtime.nsec).toBeGreaterThan(before.mtime.sec * 1e9 + before.mtime.nsec);
    truncate(1);
    expect(fx.events.slice(1)).toEqual([
      { op: 'write', ino, offset: 0, length: 3, size: 3 },
      { op: 'truncate', ino, size: 1 },
    ]);
    expect(fx.fs.write(ino, 0, Buffer.alloc(0))).toBe(0);
  });

  it('random writes and truncates match an in-memory model (also with chunk size 512)', () => {
    for (const cs of [4096, 512]) {
      if (cs !== 4096) {
        fx.cleanup();
        fx = fsFixture({ chunkSize: cs });
        ino = fx.fs.create(ROOT_INO, 'f', 0o644, ME).ino;
        model = Buffer.alloc(0);
      }
      let seed = 42;
      const rnd = (n: number) => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      for (let i = 0; i < 300; i++) {
        const op = rnd(10);
        if (op < 7) write(rnd(40000), randomBytes(rnd(9000) + 1));
        else truncate(rnd(45000));
        if (i % 25 === 0) check();
      }
      check();
    }
  });

  it('atime moves on read only when older than mtime (relatime)', () => {
    write(0, Buffer.from('hello'));
    fx.fs.setattr(ino, { atime: { sec: 10, nsec: 0 } });
    fx.fs.read(ino, 0, 5);
    const a1 = fx.fs.getattr(ino).atime;
    expect(a1.sec).toBeGreaterThan(10);
    fx.fs.read(ino, 0, 5);
    expect(fx.fs.getattr(ino).atime).toEqual(a1);
  });

  it('the access times of many reads are stored together by the next change, each as read', () => {
    const other = Store.open({ path: fx.file });
    try {
      const files = Array.from({ length: 30 }, (_, i) => {
        const a = fx.fs.create(ROOT_INO, `m${i}`, 0o644, ME);
        fx.fs.write(a.ino, 0, Buffer.from(`file ${i}`));
        fx.fs.setattr(a.ino, { atime: { sec: 10 + i, nsec: i } });
        return a.ino;
      });
      for (const f of files) fx.fs.read(f, 0, 4);
      const seen = files.map((f) => fx.fs.getattr(f).atime);
      expect(files.map((f) => inodeRow(other, f)!.atime)).toEqual(files.map((_, i) => 10 + i));
      fx.fs.mkdir(ROOT_INO, 'after-reads', 0o755, ME);
      expect(files.map((f) => ({ sec: inodeRow(other, f)!.atime, nsec: inodeRow(other, f)!.atime_nsec }))).toEqual(seen);
    } finally {
      other.close();
    }
  });

  it('tells the other reader which access times the next change stored: all, or those another process left storable', () => {
    const other = Store.open({ path: fx.file });
    try {
      const settled: { times: Map<number, Timespec>; stored: ReadonlySet<number> | 'all' }[] = [];
      fx.fs.sharedReads()!.watchAtimes({
        pending: () => {},
        stored: () => {},
        settled: (times, stored) => settled.push({ times: new Map(times), stored: stored === 'all' ? 'all' : new Set(stored) }),
      });
      const files = Array.from({ length: 30 }, (_, i) => {
        const a = fx.fs.create(ROOT_INO, `s${i}`, 0o644, ME);
        fx.fs.write(a.ino, 0, Buffer.from(`file ${i}`));
        fx.fs.setattr(a.ino, { atime: { sec: 10 + i, nsec: i } });
        return a.ino;
      });
      const readAll = () => {
        for (const f of files) fx.fs.read(f, 0, 4);
        return files.map((f) => fx.fs.getattr(f).atime);
      };
      // every time storable: all stored, as read
      const seen = readAll();
      fx.fs.mkdir(ROOT_INO, 'first', 0o755, ME);
      expect(settled).toHaveLength(1);
      expect(settled[0].stored).toBe('all');
      expect([...settled[0].times.keys()]).toEqual(files);
      expect(files.map((f) => ({ sec: inodeRow(other, f)!.atime, nsec: inodeRow(other, f)!.atime_nsec }))).toEqual(seen);

      // another process changes three files after the reads (chmod moves their ctime): their
      // read times must not be stored over it, and the listener hears they were given up
      for (const f of files) fx.fs.setattr(f, { atime: { sec: 10, nsec: 0 } });
      const again = readAll();
      const theirs = new InodeFs(other);
      const changed = [files[0], files[7], files[29]];
      for (const f of changed) theirs.setattr(f, { mode: 0o600 });
      fx.fs.mkdir(ROOT_INO, 'second', 0o755, ME);
      expect(settled).toHaveLength(2);
      const { stored } = settled[1];
      expect(stored).not.toBe('all');
      expect([...(stored as Set<number>)].sort((a, b) => a - b)).toEqual(files.filter((f) => !changed.includes(f)));
      for (const [i, f] of files.entries()) {
        const row = inodeRow(other, f)!;
        if (changed.includes(f)) expect(row.atime).toBe(10);
        else expect({ sec: row.atime, nsec: row.atime_nsec }).toEqual(again[i]);
      }
    } finally {
      other.close();
    }
  });

  it('a read that moves atime writes nothing until the next change, fsync or close (lazytime)', () => {
    write(0, Buffer.from('hello'));
    const other = Store.open({ path: fx.file });
    try {
      const onDisk = () => inodeRow(other, ino)!.atime as number;
      const before = onDisk();
      const version = other.dataVersion();
      fx.fs.setattr(ino, { atime: { sec: 10, nsec: 0 } });
      expect(onDisk()).toBe(10);
      const v1 = other.dataVersion();
      expect(v1).not.toBe(version);
      fx.fs.read(ino, 0, 5);
      const seen = fx.fs.getattr(ino).atime;
      expect(seen.sec).toBeGreaterThanOrEqual(before);
      // this connection shows the new time at once; the database has not been written
      expect(fx.fs.lookup(ROOT_INO, 'f').atime).toEqual(seen);
      expect(fx.fs.readdirPlus(ROOT_INO).find((e) => e.name === 'f')!.attr.atime).toEqual(seen);
      expect(other.dataVersion()).toBe(v1);
      expect(onDisk()).toBe(10);
      // the next change on this connection carries it
      fx.fs.mkdir(ROOT_INO, 'd', 0o755, ME);
      expect(inodeRow(other, ino)).toMatchObject({ atime: seen.sec, atime_nsec: seen.nsec });
      // an explicit time set after a read wins over the pending read time
      fx.fs.setattr(ino, { atime: { sec: 20, nsec: 0 }, mtime: { sec: 30, nsec: 0 } });
      fx.fs.read(ino, 0, 5); // relatime: atime (20) <= mtime (30), so it moves again
      const again = fx.fs.getattr(ino).atime;
      expect(again.sec).toBeGreaterThan(30);
      fx.fs.fsync(ino, false);
      expect(inodeRow(other, ino)).toMatchObject({ atime: again.sec, atime_nsec: again.nsec });
      fx.fs.setattr(ino, { atime: { sec: 40, nsec: 0 }, mtime: { sec: 50, nsec: 0 } });
      fx.fs.read(ino, 0, 5);
      fx.fs.setattr(ino, { atime: { sec: 60, nsec: 0 } });
      fx.store.close(); // closing writes what is pending: nothing, the utimens came last
      expect(inodeRow(other, ino)!.atime).toBe(60);
    } finally {
      other.close();
    }
  });

  /** FLUSH_COUNT files with data, `ino` first: a read of each moves its access time */
  const countOfFiles = (): number[] => {
    const inos = [ino];
    for (let i = 1; i < FLUSH_COUNT; i++) inos.push(fx.fs.create(ROOT_INO, `f${i}`, 0o644, ME).ino);
    for (const f of inos) fx.fs.write(f, 0, Buffer.from('x'));
    return inos;
  };

  it('a read burst stores its access times once FLUSH_COUNT pile up, at the next turn, not with the next change', async () => {
    const inos = countOfFiles();
    const other = Store.open({ path: fx.file });
    try {
      const version = other.dataVersion();
      // relatime: each read moves atime (it is not past mtime)
      for (const f of inos.slice(1)) fx.fs.read(f, 0, 1);
      expect(other.dataVersion()).toBe(version); // one short of the count: pending
      await new Promise((r) => setImmediate(r));
      expect(other.dataVersion()).toBe(version);
      fx.fs.read(ino, 0, 1);
      expect(other.dataVersion()).toBe(version); // the count reached: stored at the next turn
      await new Promise((r) => setImmediate(r));
      expect(other.dataVersion()).not.toBe(version);
      for (const f of inos) expect(inodeRow(other, f)).toMatchObject({ atime: fx.fs.getattr(f).atime.sec, atime_nsec: fx.fs.getattr(f).atime.nsec });
    } finally {
      other.close();
    }
  });

  it('a flush of access times does not wait for a write lock another process holds: they stay pending, stored once it is free', async () => {
    const inos = countOfFiles();
    const other = Store.open({ path: fx.file });
    try {
      const before = inos.map((f) => inodeRow(other, f)!.atime_nsec as number);
      other.db.exec('BEGIN IMMEDIATE');
      for (const f of inos) fx.fs.read(f, 0, 1);
      const t = Date.now();
      await new Promise((r) => setImmediate(r)); // the count's flush: the lock is taken, it does not wait
      expect(Date.now() - t).toBeLessThan(1000); // the busy timeout is 5 s
      const shown = inos.map((f) => fx.fs.getattr(f).atime);
      other.db.exec('COMMIT');
      expect(inos.map((f) => inodeRow(other, f)!.atime_nsec)).toEqual(before);
      expect(shown.every((a, i) => a.nsec !== before[i])).toBe(true); // still pending, shown here
      fx.fs.fsync(ino, false); // the lock is free: stored now
      for (const [i, f] of inos.entries()) expect(inodeRow(other, f)).toMatchObject({ atime: shown[i]!.sec, atime_nsec: shown[i]!.nsec });
    } finally {
      other.close();
    }
  });

  it('a 3 MiB write stores 768 full chunks in one transaction and reads back', () => {
    const big = randomBytes(3 << 20);
    write(0, big);
    const c = chunks(fx.store, ino);
    expect(c.length).toBe(768);
    expect(c.every((r) => r.len === 4096)).toBe(true);
    expect(fx.fs.read(ino, 1 << 20, 1 << 20).equals(big.subarray(1 << 20, 2 << 20))).toBe(true);
  });
});
