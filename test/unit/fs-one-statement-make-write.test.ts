import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/core/agent.js';
import { ROOT_INO, S_IFCHR, S_IFIFO, S_IFREG, type Attr } from '../../src/core/types.js';
import { tempDir } from '../support/cli.js';
import { codeOf, column, one, scratchIno } from '../support/one-statement.js';
import { countStatements } from '../support/statements.js';

// A create, mkdir or mknod, and a write of one whole chunk, inside a transaction are one
// statement each (src/core/fs/ops/make-alone.ts, write-alone.ts); outside one they take the
// transaction route (ops/create.ts, write.ts). Both must leave the same rows behind.

const ME = { uid: 1000, gid: 1000, groups: [1000] };
const ROOT = { uid: 0, gid: 0, groups: [0] };
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function agent(options: { journal?: boolean } = {}): Agent {
  const t = tempDir('agentfs-make-');
  const a = Agent.open({ path: join(t.dir, 'a.db') }, { create: true, ...options });
  cleanups.push(t.cleanup, () => a.close());
  return a;
}

function rows(a: Agent, journal = true): unknown {
  const q = (sql: string) => a.store.db.prepare(sql).all();
  a.journal?.flush();
  return {
    inodes: q('SELECT ino, mode, nlink, uid, gid, size, rdev FROM fs_inode ORDER BY ino'),
    dentries: q('SELECT id, parent_ino, name, ino FROM fs_dentry ORDER BY id'),
    data: q('SELECT ino, chunk_index, hex(data) AS d FROM fs_data ORDER BY ino, chunk_index'),
    sequence: q("SELECT name, seq FROM sqlite_sequence WHERE name IN ('fs_inode', 'fs_dentry') ORDER BY name"),
    journal: journal && q(`SELECT id, op, path, new_path, ino, offset, length, bytes, writes, size, mode, uid, gid, tool_call_id, pid,
      end_ns IS NULL AS open_ended FROM agentfs_journal ORDER BY id`),
  };
}


const noTimes = (x: Attr) => ({ ...x, atime: 0, mtime: 0, ctime: 0 });

/**
 * Nodes of every kind made, in a setgid directory too, and written in every shape, each
 * operation in a transaction of its own (`alone`) or not. Returns what each returned.
 */
function scenario(a: Agent, alone: boolean): unknown[] {
  const fs = a.fs;
  const out: unknown[] = [];
  const run = <T>(fn: () => T): T => (alone ? a.store.transaction(fn) : fn());
  const quiet = a.journal === undefined; // no recorder: the tables without one
  const counts: [boolean, number][] = [];
  const made = (fn: () => Attr, table = 'agentfs_made') => {
    const attr = run(fn);
    if (alone) expect(scratchIno(a, table, quiet)).toBe(attr.ino);
    out.push(noTimes(attr));
    return attr.ino;
  };
  const d = made(() => fs.mkdir(ROOT_INO, 'd', 0o755, ME));
  const shared = made(() => fs.mkdir(ROOT_INO, 'shared', 0o755, ROOT));
  fs.setattr(shared, { mode: 0o2775, gid: 50 });
  const sub = made(() => fs.mkdir(shared, 'sub', 0o700, ME)); // group 50, set-gid bit inherited
  const inShared = made(() => fs.create(shared, 'f', 0o640, ME)); // group 50
  made(() => fs.mknod(d, 'fifo', S_IFIFO | 0o644, 0, ME));
  made(() => fs.mknod(d, 'tty', S_IFCHR | 0o600, 0x0501, ROOT));
  made(() => fs.mknod(d, 'plain', 0o600, 0, ME)); // no type: a regular file
  const small = made(() => fs.create(d, 'small', 0o644, ME));
  const big = made(() => fs.create(d, 'big', 0o644, ME));
  const wide = made(() => fs.create(d, 'wide', 0o644, ME));
  const setid = made(() => fs.create(d, 'setid', 0o644, ROOT));
  fs.setattr(setid, { mode: S_IFREG | 0o6755 });
  expect(fs.getattr(sub).gid).toBe(50);
  expect(fs.getattr(sub).mode & 0o2000).toBe(0o2000);
  expect(fs.getattr(inShared).gid).toBe(50);

  // a whole-chunk write in a transaction: the row's read, the journal's check for other
  // processes' commits (once a transaction), the statement, and the burst row's id read back
  // when it starts a burst (the transaction route: a savepoint pair, a statement a chunk, the
  // inode's update)
  const write = (ino: number, off: number, data: Buffer, caller = ME, whole = true) => {
    let n = 0;
    out.push(run(() => {
      let r = 0;
      // prepared statements only (the first use makes the view with an exec)
      n = countStatements(a.store, () => (r = fs.write(ino, off, data, caller))).filter((x) => x === 'run' || x === 'get').length;
      return r;
    }));
    if (alone) counts.push([whole, n]);
  };
  fs.open(small, 1);
  write(small, 0, Buffer.from('hello')); // a new burst: its row written by the statement
  write(small, 0, Buffer.from('hello, world')); // joins the burst: the quiet table
  write(small, 4, Buffer.from('XY'), ME, false); // part of a chunk: the other route
  fs.release(small);
  fs.open(big, 1);
  write(big, 0, Buffer.alloc(4096, 1)); // a full chunk
  write(big, 8192, Buffer.alloc(100, 3)); // past a hole
  write(big, 4096, Buffer.alloc(4096, 2)); // into the hole
  write(big, 8192, Buffer.alloc(50, 4), ME, false); // shorter than the last chunk: the other route
  write(big, 12_288, Buffer.alloc(10, 5), ME, false); // the last chunk is padded first: the other route
  fs.release(big);
  // wide's content as it must read, written alongside
  const model = Buffer.alloc(4096 * 65 - 1);
  const wideWrite = (off: number, data: Buffer, whole = true) => {
    data.copy(model, off);
    write(wide, off, data, ME, whole);
  };
  wideWrite(0, Buffer.alloc(4096 * 32, 9)); // 32 chunks (cp's 128 KiB)
  wideWrite(4096 * 32, Buffer.alloc(4096 * 33 - 1, 10), false); // 33 chunks: the other route
  // a part of a chunk, 70 whole ones (stored 32 a statement), a part again: the other route
  wideWrite(100, Buffer.from(Array.from({ length: 4096 * 60 + 50 }, (_, i) => i % 251)), false);
  expect(fs.read(wide, 0, 1 << 20).equals(model)).toBe(true);
  write(setid, 0, Buffer.from('x'), ME, false); // drops set-id bits: the other route
  write(inShared, 0, Buffer.alloc(4096 * 3 + 5, 6)); // four chunks, the last the file's end
  write(inShared, 4096, Buffer.alloc(4096 * 2, 7)); // two whole chunks inside the file
  write(inShared, 8192, Buffer.alloc(4096 + 4, 8), ME, false); // ends inside the last chunk, short of the end: the other route
  out.push(fs.read(big, 0, 20_000).toString('hex'), fs.read(small, 0, 100).toString(), fs.read(wide, 0, 1 << 20).toString('hex'));
  out.push(noTimes(fs.getattr(setid)), noTimes(fs.getattr(big)), noTimes(fs.getattr(d)), noTimes(fs.getattr(shared)));
  // the whole-chunk writes took the one-statement route, the others the transaction route
  if (alone) for (const [whole, n] of counts) expect(whole ? n <= 4 : n >= 5, `${whole}: ${n} statements`).toBe(true);
  return out;
}

describe('the one-statement create, mkdir, mknod and write', () => {
  it('leave the rows and return the attributes the transaction route does', () => {
    const route = agent();
    const alone = agent();
    const r1 = scenario(route, false);
    expect(scratchIno(route, 'agentfs_made')).toBeUndefined();
    // (its tables may be made, with the first one of the connection: scratch.ts) no write stored a burst's row
    const rowTables = column(route, "SELECT name FROM sqlite_temp_master WHERE type = 'table' AND name LIKE 'agentfs_written%_row'") as string[];
    for (const t of rowTables) expect(one(route, `SELECT count(*) FROM temp.${t}`)).toBe(0);
    const r2 = scenario(alone, true);
    expect(r2).toEqual(r1);
    expect(rows(alone)).toEqual(rows(route));
    const journal = (rows(alone) as { journal: { op: string; path: string; writes: number | null; mode: number | null; gid: number | null }[] }).journal;
    expect(journal.filter((j) => j.op === 'mkdir').map((j) => [j.path, j.gid])).toEqual([['/d', 1000], ['/shared', 0], ['/shared/sub', 50]]);
    expect(journal.find((j) => j.path === '/shared/sub')!.mode! & 0o2000).toBe(0o2000);
    expect(journal.filter((j) => j.op === 'write' && j.path === '/d/small').map((j) => j.writes)).toEqual([3]);
  });

  it('with the journal off, write the same filesystem rows', () => {
    const route = agent({ journal: false });
    const alone = agent({ journal: false });
    expect(scenario(alone, true)).toEqual(scenario(route, false));
    expect(rows(alone, false)).toEqual(rows(route, false));
    expect(scratchIno(alone, 'agentfs_made', true)).toBeGreaterThan(1);
  });

  it('a refused create in a transaction changes nothing and says why, as outside one', () => {
    for (const inTx of [false, true]) {
      const a = agent();
      const fs = a.fs;
      const d = fs.mkdir(ROOT_INO, 'd', 0o755, ME).ino;
      const f = fs.create(d, 'taken', 0o644, ME).ino;
      const before = rows(a);
      const tx = (fn: () => unknown) => codeOf(() => (inTx ? a.store.transaction(fn) : fn()));
      expect(tx(() => fs.create(d, 'taken', 0o644, ME))).toBe('EEXIST');
      expect(tx(() => fs.mkdir(d, 'taken', 0o755, ME))).toBe('EEXIST');
      expect(tx(() => fs.mknod(d, 'taken', S_IFIFO | 0o644, 0, ME))).toBe('EEXIST');
      expect(tx(() => fs.create(f, 'x', 0o644, ME))).toBe('ENOTDIR');
      expect(tx(() => fs.mkdir(12345, 'x', 0o755, ME))).toBe('ENOENT');
      expect(tx(() => fs.mkdir(d, '.', 0o755, ME))).toBe('EEXIST');
      expect(tx(() => fs.create(d, '..', 0o644, ME))).toBe('EEXIST');
      expect(tx(() => fs.create(d, 'a/b', 0o644, ME))).toBe('EINVAL');
      expect(tx(() => fs.write(d, 0, Buffer.from('x'), ME))).toBe('EISDIR');
      expect(tx(() => fs.write(12345, 0, Buffer.from('x'), ME))).toBe('ENOENT');
      expect(rows(a)).toEqual(before);
      // in a batch (a mount's group commit), a refusal leaves the batch's earlier work as it was
      if (inTx) {
        a.store.beginBatch();
        const kept = fs.create(d, 'kept', 0o644, ME).ino;
        expect(codeOf(() => fs.create(d, 'kept', 0o644, ME))).toBe('EEXIST');
        fs.write(kept, 0, Buffer.from('kept'), ME);
        a.store.commitBatch();
        expect(fs.read(kept, 0, 10).toString()).toBe('kept');
      }
    }
  });

  it('gives inode numbers as AUTOINCREMENT does, beside the one-statement whole-file create', () => {
    const a = agent();
    const fs = a.fs;
    const d = fs.mkdir(ROOT_INO, 'd', 0o755, ME).ino;
    // the highest number freed: never given again
    const top = a.store.transaction(() => fs.create(d, 'top', 0o644, ME)).ino;
    fs.unlink(d, 'top');
    const next = a.store.transaction(() => fs.create(d, 'next', 0o644, ME)).ino;
    expect(next).toBe(top + 1);
    // PathFs.writeFile outside a transaction (create-alone.ts) proposes numbers past them
    a.paths.writeFile('/d/whole', 'x');
    const whole = fs.lookup(d, 'whole').ino;
    expect(whole).toBe(next + 1);
    expect(a.store.transaction(() => fs.mkdir(d, 'after', 0o755, ME)).ino).toBe(whole + 1);
    // a rolled-back transaction's numbers are given again, as the transaction route does
    expect(codeOf(() => a.store.transaction(() => {
      fs.create(d, 'gone', 0o644, ME);
      throw new Error('rolled back');
    }))).toBe(undefined);
    expect(a.store.transaction(() => fs.create(d, 'again', 0o644, ME)).ino).toBe(whole + 2);
  });
});

describe('refusals and rollbacks around the one-statement routes', () => {
  it('a name taken once leaves later creates of the connection working (found by the hostile pass)', () => {
    const a = agent();
    const fs = a.fs;
    a.store.transaction(() => fs.mkdir(ROOT_INO, 'one', 0o755, ME));
    expect(codeOf(() => a.store.transaction(() => fs.mkdir(ROOT_INO, 'one', 0o755, ME)))).toBe('EEXIST');
    // libsql left the failed statement unreset: every later create failed with the same EEXIST
    expect(codeOf(() => a.store.transaction(() => fs.mkdir(ROOT_INO, 'two', 0o755, ME)))).toBe('ok');
    expect(codeOf(() => a.store.transaction(() => fs.create(ROOT_INO, 'three', 0o644, ME)))).toBe('ok');
    expect(codeOf(() => a.store.transaction(() => fs.mknod(ROOT_INO, 'four', S_IFIFO | 0o644, 0, ME)))).toBe('ok');
    expect(a.paths.readdir('/').sort()).toEqual(['four', 'one', 'three', 'two']);
  });

  it('a write burst whose row a rollback took back starts again with a row of its own (found by the hostile pass)', () => {
    for (const nested of [false, true]) {
      const a = agent();
      const fs = a.fs;
      a.store.transaction(() => fs.create(ROOT_INO, 'warm', 0o644, ME)); // the scratch tables made
      const tx = nested ? <T>(fn: () => T) => a.store.transaction(() => a.store.transaction(fn)) : <T>(fn: () => T) => a.store.transaction(fn);
      // the file, its open write burst and its row rolled back (in a savepoint of a transaction that commits)
      expect(codeOf(() => a.store.transaction(() => {
        try {
          tx(() => {
            const f = fs.create(ROOT_INO, 'f', 0o644, ME).ino;
            fs.open(f, 1);
            fs.write(f, 0, Buffer.alloc(4096, 1), ME);
            throw new Error('rolled back');
          });
        } finally {
          if (!nested) throw new Error('and the transaction too');
        }
      }))).toBe(undefined);
      const g = a.store.transaction(() => fs.create(ROOT_INO, 'g', 0o644, ME)).ino; // f's number again
      fs.open(g, 1);
      a.store.transaction(() => fs.write(g, 0, Buffer.alloc(4096, 2), ME));
      a.store.transaction(() => fs.mkdir(ROOT_INO, 'd', 0o755, ME));
      a.store.transaction(() => fs.write(g, 4096, Buffer.alloc(4096, 3), ME));
      fs.release(g);
      const journal = (rows(a) as { journal: { op: string; path: string; offset: number | null; length: number | null; bytes: number | null; writes: number | null }[] }).journal;
      expect(journal.filter((j) => j.path !== '/warm').map((j) => [j.op, j.path, j.offset, j.length, j.bytes, j.writes])).toEqual([
        ['create', '/g', null, null, null, null],
        ['write', '/g', 0, 8192, 8192, 2],
        ['mkdir', '/d', null, null, null, null],
      ]);
    }
  });
});

describe('a transaction SQLite rolls back by itself, and large chunks', () => {
  it('a full database mid-batch says so, and the journal keeps the rows of what happened after (found by the hostile pass)', () => {
    const a = agent();
    const fs = a.fs;
    const x = fs.create(ROOT_INO, 'x', 0o644, ME).ino;
    fs.open(x, 1);
    a.store.beginBatch();
    fs.write(x, 0, Buffer.alloc(4096, 1), ME);
    const pages = one(a, 'PRAGMA page_count') as number;
    a.store.db.exec(`PRAGMA max_page_count = ${pages}`);
    // SQLite takes the whole transaction back: the error is its own, not "no such savepoint"
    let message = '';
    try {
      fs.write(x, 4106, Buffer.alloc(300_000, 2), ME);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/full/);
    a.store.db.exec('PRAGMA max_page_count = 1000000');
    fs.write(x, 4096, Buffer.alloc(4096, 3), ME); // outside any transaction now: committed alone
    fs.mkdir(ROOT_INO, 'dir', 0o755, ME);
    expect(() => a.store.commitBatch()).toThrow(/no transaction/); // what a group commit reports
    fs.release(x);
    const journal = (rows(a) as { journal: { op: string; path: string; offset: number | null; length: number | null; writes: number | null }[] }).journal;
    // the old build wrote the lost burst's totals over the mkdir's row, and no row for this write
    expect(journal.map((j) => [j.op, j.path, j.offset, j.length, j.writes])).toEqual([
      ['create', '/x', null, null, null],
      ['write', '/x', 4096, 4096, 1],
      ['mkdir', '/dir', null, null, null],
    ]);
    expect(fs.getattr(x).size).toBe(8192);
  });

  it('a write of several large chunks takes the transaction route (one substr of all its data a chunk)', () => {
    const t = tempDir('agentfs-make-');
    const a = Agent.open({ path: join(t.dir, 'a.db') }, { create: true, chunkSize: 65_536 });
    cleanups.push(t.cleanup, () => a.close());
    const fs = a.fs;
    const f = fs.create(ROOT_INO, 'f', 0o644, ME).ino;
    const count = (off: number, len: number) =>
      a.store.transaction(() => countStatements(a.store, () => fs.write(f, off, Buffer.alloc(len, 1), ME)).filter((x) => x === 'run' || x === 'get').length);
    expect(count(0, 65_536 * 2)).toBeLessThanOrEqual(4); // two chunks, 128 KiB: one statement
    expect(count(0, 65_536 * 3)).toBeGreaterThanOrEqual(5); // three: the transaction route
    expect(count(65_536 * 3, 60_000)).toBeLessThanOrEqual(4); // one chunk, the file's end
    expect(fs.getattr(f).size).toBe(65_536 * 3 + 60_000);
    expect((a.store.db.prepare('SELECT count(*) AS n FROM fs_data WHERE ino = ?').get(f) as { n: number }).n).toBe(4);
  });
});
