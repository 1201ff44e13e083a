import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/core/agent.js';
import { InodeFs } from '../../src/core/fs/inode-fs.js';
import { ROOT_INO, S_IFIFO, type Attr, type Removal } from '../../src/core/types.js';
import { countStatements } from '../support/statements.js';
import Database from 'libsql';
import { tempDir } from '../support/cli.js';
import { codeOf, column, one, scratchIno as scratchInoOf } from '../support/one-statement.js';

// An unlink, a chmod, a chown or a utimens inside a transaction is one statement
// (src/core/fs/ops/unlink-alone.ts, setattr-alone.ts); outside one it takes the transaction route
// (ops/remove.ts, setattr.ts). Both must leave the same rows behind.

const ME = { uid: 1000, gid: 1000, groups: [1000] };
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function agent(options: { journal?: boolean } = {}): Agent {
  const t = tempDir('agentfs-unlink-');
  const a = Agent.open({ path: join(t.dir, 'a.db') }, { create: true, ...options });
  cleanups.push(t.cleanup, () => a.close());
  return a;
}

/** Every row an unlink touches, without the times that differ from one run to the next. */
function rows(a: Agent): unknown {
  const q = (sql: string) => a.store.db.prepare(sql).all();
  a.journal?.flush();
  return {
    inodes: q('SELECT ino, mode, nlink, uid, gid, size, rdev FROM fs_inode ORDER BY ino'),
    dentries: q('SELECT id, parent_ino, name, ino FROM fs_dentry ORDER BY id'),
    data: q('SELECT ino, chunk_index, length(data) AS n FROM fs_data ORDER BY ino, chunk_index'),
    symlinks: q('SELECT * FROM fs_symlink ORDER BY ino'),
    origins: q('SELECT * FROM fs_origin ORDER BY delta_ino'),
    orphans: q('SELECT * FROM agentfs_fs_orphan ORDER BY ino'),
    journal: a.journal && q(`SELECT id, op, path, new_path, ino, offset, length, bytes, writes, size, mode, uid, gid, tool_call_id, pid,
      end_ns IS NULL AS open_ended FROM agentfs_journal ORDER BY id`),
  };
}

/** The inode of the last unlink through the one-statement route (`quiet`: with the observer off). */
const scratchIno = (a: Agent, table = 'agentfs_unlinked', quiet = false) => scratchInoOf(a, table, quiet);

const noTimes = (r: Removal) => ({ ...r, parent: r.parent && { ...r.parent, atime: 0, mtime: 0, ctime: 0 } });

/**
 * Files of every kind unlinked, in a transaction each (`alone`) or not: a file of three chunks, one
 * of two hard links and then the other, a symlink, a FIFO, a file open here, a file with an open
 * write burst, an overlay copy with its origin row. Returns what each unlink returned.
 */
function scenario(a: Agent, alone: boolean): { removed: unknown[]; parentAfter: boolean[] } {
  const fs = a.fs;
  const d = fs.mkdir(ROOT_INO, 'd', 0o755, ME).ino;
  const plain = fs.create(d, 'plain', 0o644, ME).ino;
  fs.write(plain, 0, Buffer.alloc(10_000, 7));
  const linked = fs.create(d, 'one', 0o600, ME).ino;
  fs.write(linked, 0, Buffer.from('shared'));
  fs.link(linked, d, 'two');
  fs.symlink(d, 'sym', 'plain', ME);
  fs.mknod(d, 'fifo', S_IFIFO | 0o644, 0, ME);
  const held = fs.create(d, 'held', 0o644, ME).ino;
  fs.write(held, 0, Buffer.from('still readable'));
  fs.open(held, 0);
  const burst = fs.create(d, 'burst', 0o644, ME).ino;
  fs.open(burst, 1);
  fs.write(burst, 0, Buffer.from('first '));
  fs.write(burst, 6, Buffer.from('second'));
  const copy = fs.create(d, 'copy', 0o644, ME).ino;
  a.store.db.prepare('INSERT INTO fs_origin (delta_ino, base_ino) VALUES (?, 99)').run(copy);

  const removed: unknown[] = [];
  const parentAfter: boolean[] = [];
  for (const name of ['plain', 'one', 'sym', 'fifo', 'held', 'burst', 'two', 'copy']) {
    const r = alone ? a.store.transaction(() => fs.unlink(d, name)) : fs.unlink(d, name);
    if (alone) expect(scratchIno(a)).toBe(r.ino);
    removed.push(noTimes(r));
    parentAfter.push(JSON.stringify(r.parent) === JSON.stringify(fs.getattr(d)));
  }
  // the open ones live on until their release
  expect(fs.read(held, 0, 100).toString()).toBe('still readable');
  expect(fs.read(burst, 0, 100).toString()).toBe('first second');
  return { removed, parentAfter };
}

describe('the one-statement unlink', () => {
  it('leaves the rows the transaction route leaves, for every kind of file, open or not', () => {
    const route = agent();
    const alone = agent();
    const r1 = scenario(route, false);
    expect(scratchIno(route)).toBeUndefined();
    const r2 = scenario(alone, true);
    expect(r2).toEqual(r1);
    expect(r2.parentAfter.every(Boolean)).toBe(true);
    expect(rows(alone)).toEqual(rows(route));

    const after = rows(alone) as { orphans: { pid: number }[]; journal: { op: string; path: string; writes: number | null }[] };
    expect(after.orphans.map((o) => o.pid)).toEqual([process.pid, process.pid]);
    expect(after.journal.filter((j) => j.op === 'unlink').map((j) => j.path)).toEqual(
      ['plain', 'one', 'sym', 'fifo', 'held', 'burst', 'two', 'copy'].map((n) => `/d/${n}`),
    );
    // the burst's row has its totals, written when the unlink ended it
    expect(after.journal.find((j) => j.op === 'write' && j.path === '/d/burst')!.writes).toBe(2);

    // the last release frees an orphan alike on both
    for (const a of [route, alone]) for (const ino of column(a, 'SELECT ino FROM agentfs_fs_orphan')) a.fs.release(ino as number);
    expect(rows(alone)).toEqual(rows(route));
    expect((rows(alone) as { orphans: unknown[] }).orphans).toEqual([]);
  });

  it('leaves the last link of a file to another live holder, as the transaction route does', async () => {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    cleanups.push(() => sleeper.kill('SIGKILL'));
    const out: unknown[] = [];
    for (const alone of [false, true]) {
      const a = agent();
      a.store.db.prepare('INSERT INTO agentfs_fs_holder (pid) VALUES (?)').run(sleeper.pid);
      const f = a.fs.create(ROOT_INO, 'f', 0o644, ME).ino;
      a.fs.write(f, 0, Buffer.from('kept for the holder'));
      if (alone) a.store.transaction(() => a.fs.unlink(ROOT_INO, 'f'));
      else a.fs.unlink(ROOT_INO, 'f');
      expect(one(a, 'SELECT pid FROM agentfs_fs_orphan WHERE ino = ?', f)).toBe(sleeper.pid);
      expect(a.fs.read(f, 0, 100).toString()).toBe('kept for the holder');
      out.push(rows(a));
    }
    expect(out[1]).toEqual(out[0]);
  });

  it('a refused unlink in a transaction changes nothing and says why, as outside one', () => {
    const a = agent();
    const d = a.fs.mkdir(ROOT_INO, 'd', 0o755, ME).ino;
    const f = a.fs.create(d, 'f', 0o644, ME).ino;
    a.fs.mkdir(d, 'sub', 0o755, ME);
    const before = JSON.stringify(rows(a));
    for (const [parent, name, code] of [
      [d, 'nope', 'ENOENT'],
      [d, 'sub', 'EISDIR'],
      [f, 'x', 'ENOTDIR'],
      [4242, 'x', 'ENOENT'],
    ] as const) {
      expect(codeOf(() => a.store.transaction(() => a.fs.unlink(parent, name)))).toBe(code);
      expect(codeOf(() => a.fs.unlink(parent, name))).toBe(code);
    }
    expect(JSON.stringify(rows(a))).toBe(before);
  });

  it('is made again after the transaction that made it rolled back', () => {
    const a = agent();
    for (const n of ['a', 'b', 'c', 'd']) a.fs.create(ROOT_INO, n, 0o644, ME);
    // made inside this transaction, gone with its rollback (the unlink with it)
    expect(() =>
      a.store.transaction(() => {
        a.fs.unlink(ROOT_INO, 'a');
        throw new Error('changed my mind');
      }),
    ).toThrow('changed my mind');
    expect(a.fs.lookup(ROOT_INO, 'a').nlink).toBe(1);
    expect(scratchIno(a)).toBeUndefined();
    // the next finds its table gone and takes the transaction route; the one after makes it again
    for (const n of ['a', 'b', 'c']) a.store.transaction(() => a.fs.unlink(ROOT_INO, n));
    expect(scratchIno(a)).toBe(one(a, "SELECT ino FROM agentfs_journal WHERE op = 'unlink' AND path = '/c'"));
    expect(column(a, "SELECT path FROM agentfs_journal WHERE op = 'unlink' ORDER BY id")).toEqual(['/a', '/b', '/c']);
    expect(column(a, 'SELECT name FROM fs_dentry WHERE parent_ino = 1')).toEqual(['d']);
  });
});

/** ino's attributes as its row in the database says, read around every cache of the filesystem. */
function storedAttr(a: Agent, ino: number): unknown {
  const r = a.store.db.prepare('SELECT mode, nlink, uid, gid, size, rdev, atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec FROM fs_inode WHERE ino = ?').raw(true).get(ino) as number[];
  const [mode, nlink, uid, gid, size, rdev, atime, atimeNsec, mtime, mtimeNsec, ctime, ctimeNsec] = r;
  return { ino, mode, nlink, uid, gid, size, rdev, atime: { sec: atime, nsec: atimeNsec }, mtime: { sec: mtime, nsec: mtimeNsec }, ctime: { sec: ctime, nsec: ctimeNsec } };
}

const noBlocks = (x: Attr | undefined) => x && { ...x, blocks: undefined, blksize: undefined };

describe("the directory's attributes after a one-statement create, mkdir, mknod or unlink", () => {
  // The statements hand back the directory's row as their read found it; the change their trigger
  // made to it is applied in JavaScript (make-alone.ts, unlink-alone.ts), not read back.
  it('are the row the database holds, in the transaction and after it, with the journal on and off', () => {
    for (const journal of [true, false]) {
      const a = agent({ journal });
      const fs = a.fs;
      const d = fs.mkdir(ROOT_INO, 'd', 0o755, ME).ino;
      // a directory another implementation made (nlink 1), and a setgid one
      const sdk = fs.mkdir(ROOT_INO, 'sdk', 0o755, ME).ino;
      a.store.db.prepare('UPDATE fs_inode SET nlink = 1 WHERE ino = ?').run(sdk);
      const sg = fs.mkdir(ROOT_INO, 'sg', 0o2775, ME).ino;
      const steps: [string, number, () => Attr | undefined][] = [
        ['create', d, () => { fs.create(d, 'f', 0o644, ME); return undefined; }],
        ['mkdir', d, () => { fs.mkdir(d, 'sub', 0o755, ME); return undefined; }],
        ['mknod', d, () => { fs.mknod(d, 'fifo', S_IFIFO | 0o644, 0, ME); return undefined; }],
        ['mkdir in nlink 1', sdk, () => { fs.mkdir(sdk, 'sub', 0o755, ME); return undefined; }],
        ['create in nlink 1', sdk, () => { fs.create(sdk, 'f', 0o644, ME); return undefined; }],
        ['mkdir in setgid', sg, () => { fs.mkdir(sg, 'sub', 0o755, ME); return undefined; }],
        ['unlink', d, () => fs.unlink(d, 'f').parent],
        ['unlink fifo', d, () => fs.unlink(d, 'fifo').parent],
        ['unlink in nlink 1', sdk, () => fs.unlink(sdk, 'f').parent],
      ];
      for (const [what, dir, step] of steps) {
        a.store.db.prepare('UPDATE fs_inode SET nlink = 1 WHERE ino = ? AND ? = 0').run(sdk, what === 'unlink in nlink 1' ? 0 : 1);
        a.store.transaction(() => {
          const returned = step();
          const seen = fs.getattr(dir);
          // what the next stat in the transaction says, and what the unlink returned, are the stored row
          expect(noBlocks(seen), `${what} (journal ${journal})`).toEqual({ ...(storedAttr(a, dir) as object), blocks: undefined, blksize: undefined });
          if (returned) expect(noBlocks(returned), `${what} returned`).toEqual(noBlocks(seen));
        });
        expect(noBlocks(fs.getattr(dir))).toEqual({ ...(storedAttr(a, dir) as object), blocks: undefined, blksize: undefined });
      }
    }
  });
});

describe("rows noted as written, in a database with another program's trigger", () => {
  // (found by the hostile pass) a trigger of the database's own may change a row our statement
  // wrote: the row noted in JavaScript would show the kernel the row without its change, and a
  // chmod after it in the same transaction wrote the noted row back, undoing the change
  const theirs = (path: string, sql: string) => {
    const db = new Database(path);
    db.exec(sql);
    db.close();
  };
  // as another program leaves the database: closed first (`added: 'before'`), or while the agent
  // has it open (it notices at its next check for other processes' commits: the journal's, once a
  // write transaction; a mount's change watcher)
  for (const [journal, added] of [[true, 'before'], [false, 'before'], [true, 'while open']] as const) {
    it(`are not noted: a stat shows the trigger's change, and a setattr after it keeps it (journal ${journal}, made ${added})`, () => {
      const t = tempDir('agentfs-theirs-');
      const path = join(t.dir, 'a.db');
      let a = Agent.open({ path }, { create: true, journal });
      cleanups.push(t.cleanup, () => a.close());
      let fs = a.fs;
      const d = fs.mkdir(ROOT_INO, 'd', 0o755, ME).ino;
      const f = fs.create(d, 'f', 0o644, ME).ino;
      const sql = `CREATE TRIGGER their_add AFTER INSERT ON fs_dentry BEGIN UPDATE fs_inode SET gid = gid + 1, size = size + 1 WHERE ino = NEW.parent_ino; END;
        CREATE TRIGGER their_remove AFTER DELETE ON fs_dentry BEGIN UPDATE fs_inode SET gid = gid + 100 WHERE ino = OLD.parent_ino; END;
        CREATE TRIGGER their_write AFTER UPDATE OF size ON fs_inode WHEN NEW.size > OLD.size BEGIN UPDATE fs_inode SET uid = 4242 WHERE ino = NEW.ino; END;`;
      // a first write transaction notes rows before the trigger comes
      a.store.transaction(() => fs.create(d, 'early', 0o644, ME));
      if (added === 'before') {
        a.close();
        theirs(path, sql);
        a = Agent.open({ path }, { journal });
        fs = a.fs;
      } else theirs(path, sql);
      const stored = () => storedAttr(a, d) as { gid: number; size: number };
      a.store.transaction(() => {
        fs.create(d, 'g', 0o644, ME);
        expect(noBlocks(fs.getattr(d))).toEqual({ ...(stored() as object), blocks: undefined, blksize: undefined });
        fs.setattr(d, { mode: 0o700 });
      });
      expect([stored().gid, stored().size]).toEqual([1001, 1]);
      a.store.transaction(() => {
        const gone = fs.unlink(d, 'g');
        expect(noBlocks(gone.parent)).toEqual({ ...(stored() as object), blocks: undefined, blksize: undefined });
        fs.setattr(d, { mode: 0o750 });
      });
      expect(stored().gid).toBe(1101);
      // a file's row after a write, and a chown after it
      a.store.transaction(() => {
        fs.write(f, 0, Buffer.from('grows'));
        fs.setattr(f, { gid: 7 }, { uid: 0, gid: 0, groups: [0] });
      });
      expect((storedAttr(a, f) as { uid: number }).uid).toBe(4242);
      expect(fs.getattr(f).uid).toBe(4242);
    });
  }
});

describe('the scratch tables of a connection', () => {
  it('come all at once with the first one made: one change of the TEMP schema, which expires every prepared statement', () => {
    const a = agent();
    const f = a.fs.create(ROOT_INO, 'f', 0o644, ME).ino;
    a.fs.create(ROOT_INO, 'g', 0o644, ME);
    const version = () => one(a, 'PRAGMA temp.schema_version') as number;
    const before = version();
    a.store.transaction(() => a.fs.unlink(ROOT_INO, 'g'));
    const after = version();
    expect(after).toBeGreaterThan(before);
    const names = column(a, "SELECT name FROM sqlite_temp_master WHERE type IN ('table', 'view') AND name LIKE 'agentfs_%' ORDER BY name") as string[];
    // every kind, for the journal's recorders; a write joining its burst takes the quiet view
    for (const kind of ['agentfs_made_', 'agentfs_setattr_', 'agentfs_unlinked_', 'agentfs_written_']) {
      expect(names.some((n) => n.startsWith(kind) && !n.endsWith('_quiet') && !n.endsWith('_row'))).toBe(true);
    }
    expect(names).toContain('agentfs_written_quiet');
    // the other operations find their tables made: no further change
    let setattrRuns: string[] = [];
    a.store.transaction(() => {
      a.fs.create(ROOT_INO, 'h', 0o644, ME);
      // the insert into the view, and nothing else written (a view keeps no row to look at)
      setattrRuns = countStatements(a.store, () => a.fs.setattr(f, { mode: 0o600 })).filter((x) => x === 'run');
      a.fs.write(f, 0, Buffer.from('one'));
      a.fs.write(f, 3, Buffer.from('two'));
      a.fs.unlink(ROOT_INO, 'h');
    });
    expect(scratchInoOf(a, 'agentfs_made')).toBeDefined();
    expect(setattrRuns).toEqual(['run']);
    expect(a.fs.getattr(f).mode & 0o7777).toBe(0o600);
    expect(version()).toBe(after);
    expect(a.fs.read(f, 0, 10).toString()).toBe('onetwo');
  });

  it('are all made by prepareWrites before any write, observed and unobserved, writing nothing and waiting for no lock', () => {
    const a = agent();
    const fs = a.fs as InodeFs;
    const f = fs.create(ROOT_INO, 'f', 0o644, ME).ino;
    fs.create(ROOT_INO, 'g', 0o644, ME);
    a.journal?.flush();
    const version = () => one(a, 'PRAGMA temp.schema_version') as number;
    const before = version();
    // another process holds the write lock meanwhile: the tables are made all the same, at once
    const other = Agent.open({ path: a.store.path });
    cleanups.push(() => other.close());
    const committed = () => one(other, 'PRAGMA data_version');
    const seen = committed();
    other.store.db.exec('BEGIN IMMEDIATE');
    const t = performance.now();
    try {
      fs.prepareWrites();
    } finally {
      other.store.db.exec('ROLLBACK');
    }
    expect(performance.now() - t).toBeLessThan(1_000); // the busy timeout is 5 s
    const made = version();
    expect(made).toBeGreaterThan(before);
    expect(a.store.inTransaction).toBe(false);
    expect(a.store.db.inTransaction).toBe(false);
    expect(committed()).toBe(seen); // nothing committed to the database
    // a second call makes nothing
    fs.prepareWrites();
    expect(version()).toBe(made);
    // observed operations and unobserved ones (an overlay's copy-up) find their tables made
    a.store.transaction(() => {
      fs.unlink(ROOT_INO, 'g');
      fs.create(ROOT_INO, 'h', 0o644, ME);
      fs.setattr(f, { mode: 0o600 });
      fs.write(f, 0, Buffer.from('one'));
      fs.unobserved(() => {
        const q = fs.create(ROOT_INO, 'q', 0o644, ME).ino;
        fs.setattr(q, { mode: 0o600 });
        fs.write(q, 0, Buffer.from('quiet'));
        fs.unlink(ROOT_INO, 'q');
      });
    });
    expect(scratchIno(a)).toBeDefined();
    expect(scratchIno(a, 'agentfs_unlinked', true)).toBeDefined();
    expect(version()).toBe(made);
    expect(fs.read(f, 0, 10).toString()).toBe('one');
    expect(fs.readdir(ROOT_INO).map((e) => e.name)).toEqual(expect.arrayContaining(['f', 'h']));
  });
});

describe('the one-statement chmod, chown and utimens', () => {
  const ROOT = { uid: 0, gid: 0, groups: [0] };
  type Step = [name: string, changes: Parameters<Agent['fs']['setattr']>[1], caller: typeof ME | typeof ROOT, alone: boolean];
  // what tar does to every file (chown, chmod, utimens), touch, and changes of two kinds at once
  // (a mode with an owner; a chown that drops a set-id bit: two journal rows, the transaction route)
  const steps: Step[] = [
    ['f', { uid: 1000, gid: 100 }, ROOT, true],
    ['f', { mode: 0o640 }, ROOT, true],
    ['f', { atime: { sec: 1_000, nsec: 5 }, mtime: { sec: 2_000, nsec: 7 } }, ROOT, true],
    ['f', { atime: 'now', mtime: 'now' }, ME, true],
    ['d', { mode: 0o700 }, ROOT, true],
    ['big', { gid: 1000 }, ME, true],
    ['f', { mode: 0o600, uid: 0 }, ROOT, false],
    ['suid', { uid: 1000 }, ROOT, false],
  ];

  function scenario(a: Agent, inTransaction: boolean): unknown[] {
    const fs = a.fs;
    const f = fs.create(ROOT_INO, 'f', 0o644, ME).ino;
    fs.write(f, 0, Buffer.from('data'));
    const big = fs.create(ROOT_INO, 'big', 0o644, ME).ino;
    fs.write(big, 0, Buffer.alloc(20_000, 1));
    const d = fs.mkdir(ROOT_INO, 'd', 0o755, ME).ino;
    const suid = fs.create(ROOT_INO, 'suid', 0o4755, ROOT).ino;
    // an open write burst, ended by the change
    fs.open(f, 1);
    fs.write(f, 4, Buffer.from(' more'));
    fs.write(f, 9, Buffer.from(' again'));
    const inos: Record<string, number> = { f, big, d, suid };
    const out: unknown[] = [];
    for (const [name, changes, caller, alone] of steps) {
      const ino = inos[name]!;
      let attr: Attr | undefined;
      const statements = countStatements(a.store, () => {
        attr = inTransaction ? a.store.transaction(() => fs.setattr(ino, changes, caller)) : fs.setattr(ino, changes, caller);
      });
      // the view's insert (and an open burst's totals) against the transaction route's savepoint
      // pair, update and journal row
      if (inTransaction && a.journal) expect(statements.filter((x) => x === 'run').length <= 2, statements.join(' | ')).toBe(alone);
      // journal off: one UPDATE and reads (the row; the schema's version, once a transaction), besides the transaction's pair
      if (inTransaction && !a.journal && alone) {
        expect(statements.filter((x) => x === 'run'), statements.join(' | ')).toEqual(['run']);
        expect(statements.filter((x) => x !== 'get' && x !== 'run'), statements.join(' | ')).toEqual(['BEGIN IMMEDIATE', 'COMMIT']);
      }
      if (!attr) throw new Error('no attributes');
      // what it returns is what a stat says after it (blocks included)
      expect(attr).toEqual(fs.getattr(ino));
      // times as given (the others are stamps of this run)
      const { atime, mtime, ctime, ...rest } = attr;
      const given = changes.atime !== undefined && changes.atime !== 'now';
      out.push({ ...rest, times: given ? [atime, mtime] : undefined });
      expect(ctime.sec * 1e9 + ctime.nsec).toBeGreaterThan(Date.now() * 1e6 - 60e9);
    }
    fs.release(f);
    return out;
  }

  it('leaves the rows and returns the attributes the transaction route does', () => {
    const route = agent();
    const alone = agent();
    const r1 = scenario(route, false);
    expect(column(route, "SELECT name FROM sqlite_temp_master WHERE name LIKE 'agentfs_setattr_%'")).toEqual([]);
    const r2 = scenario(alone, true);
    expect(r2).toEqual(r1);
    expect(rows(alone)).toEqual(rows(route));
    const journal = (rows(alone) as { journal: { op: string; path: string; mode: number | null; uid: number | null; gid: number | null; writes: number | null }[] }).journal;
    expect(journal.filter((j) => ['chmod', 'chown', 'utimens'].includes(j.op)).map((j) => `${j.op} ${j.path} ${j.mode ?? ''} ${j.uid ?? ''} ${j.gid ?? ''}`)).toEqual([
      'chown /f  1000 100',
      `chmod /f ${0o100640}  `,
      'utimens /f   ',
      'utimens /f   ',
      `chmod /d ${0o40700}  `,
      'chown /big  1000 1000',
      `chmod /f ${0o100600}  `,
      'chown /f  0 100',
      `chmod /suid ${0o100755}  `,
      'chown /suid  1000 0',
    ]);
    // the burst the chown ended has its totals
    expect(journal.filter((j) => j.op === 'write' && j.path === '/f').map((j) => j.writes)).toEqual([3]);
  });

  it('with the journal off (one plain UPDATE), leaves the rows and returns the attributes the transaction route does', () => {
    const route = agent({ journal: false });
    const alone = agent({ journal: false });
    const r1 = scenario(route, false);
    const r2 = scenario(alone, true);
    expect(r2).toEqual(r1);
    expect(rows(alone)).toEqual(rows(route));
  });

  it('a refused change in a transaction writes nothing and says why, as outside one', () => {
    const a = agent();
    const f = a.fs.create(ROOT_INO, 'f', 0o644, ME).ino;
    const before = JSON.stringify(rows(a));
    for (const [ino, changes, code] of [
      [4242, { mode: 0o600 }, 'ENOENT'],
      [f, { mtime: { sec: 1, nsec: 2_000_000_000 } }, 'EINVAL'],
      // no owner is not root (the hostile pass: a NaN owner became 0 on a first version)
      [f, { uid: NaN }, 'EINVAL'],
      [f, { gid: NaN }, 'EINVAL'],
      [f, { uid: 1.5 }, 'EINVAL'],
      [f, { gid: -2 }, 'EINVAL'],
      [f, { uid: 0x100000000 }, 'EINVAL'],
      [f, { mode: NaN }, 'EINVAL'],
    ] as const) {
      expect(codeOf(() => a.store.transaction(() => a.fs.setattr(ino, changes)))).toBe(code);
      expect(codeOf(() => a.fs.setattr(ino, changes))).toBe(code);
    }
    expect(JSON.stringify(rows(a))).toBe(before);
  });

  it('takes an owner or group of -1 or (uid_t) -1 as unchanged, as chown(2) does', () => {
    const a = agent();
    const f = a.fs.create(ROOT_INO, 'f', 0o644, ME).ino;
    a.store.transaction(() => a.fs.setattr(f, { uid: 0xffffffff, gid: 7 }));
    a.fs.setattr(f, { uid: 9, gid: -1 });
    expect([a.fs.getattr(f).uid, a.fs.getattr(f).gid]).toEqual([9, 7]);
    expect(column(a, "SELECT uid || ':' || gid FROM agentfs_journal WHERE op = 'chown' ORDER BY id")).toEqual(['1000:7', '9:7']);
  });
});

describe('one-statement operations with the observer on and off', () => {
  // InodeFs.unobserved (an overlay's copy-up, commit) runs operations the journal must not see
  // on the same connection as those it must: each kind has tables of its own
  for (const order of ['observed first', 'unobserved first']) {
    it(`journals exactly the observed unlinks and chmods (${order})`, () => {
      const a = agent();
      const fs = a.fs as unknown as { unobserved<T>(fn: () => T): T } & Agent['fs'];
      const inos = ['a', 'b', 'c', 'd'].map((n) => fs.create(ROOT_INO, n, 0o644, ME).ino);
      const quiet = order === 'unobserved first';
      const step = (i: number, observed: boolean) => {
        const run = () =>
          a.store.transaction(() => {
            // the one-statement route, observed or not: the view's insert alone
            expect(countStatements(a.store, () => fs.setattr(inos[i]!, { mode: 0o600 })).filter((x) => x === 'run')).toEqual(['run']);
            fs.unlink(ROOT_INO, 'abcd'[i]!);
          });
        if (observed) run();
        else fs.unobserved(run);
      };
      step(0, !quiet);
      step(1, quiet);
      step(2, !quiet);
      step(3, quiet);
      expect(scratchIno(a, 'agentfs_unlinked', true)).toBe(inos[quiet ? 2 : 3]);
      const observed = quiet ? ['b', 'd'] : ['a', 'c'];
      expect(column(a, "SELECT op || ' ' || path FROM agentfs_journal WHERE op IN ('chmod', 'unlink') ORDER BY id")).toEqual(
        observed.flatMap((n) => [`chmod /${n}`, `unlink /${n}`]),
      );
      expect(column(a, 'SELECT name FROM fs_dentry WHERE parent_ino = 1')).toEqual([]);
    });
  }
});
