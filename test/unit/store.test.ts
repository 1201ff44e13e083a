import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'libsql';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statfsSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store, StoreError, SCHEMA_VERSION } from '../../src/store/index.js';
import { tempDir } from '../support/cli.js';

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('Store', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it("advisory changes under durability 'full' commit without leaving the connection relaxed", () => {
    const s = Store.open({ path: join(dir, 'full.db') }, { create: true, durability: 'full' });
    const sync = () => (s.db.prepare('PRAGMA synchronous').get() as { synchronous: number }).synchronous;
    expect(sync()).toBe(2); // FULL
    s.advisory(() => {
      expect(sync()).toBe(1); // NORMAL: this commit is not fsynced on its own
      s.setMeta('k', 'v');
    });
    expect(sync()).toBe(2);
    expect(() => s.advisory(() => { throw new Error('boom'); })).toThrow('boom');
    expect(sync()).toBe(2);
    s.transaction(() => s.advisory(() => expect(sync()).toBe(2))); // inside a transaction: joins it
    s.close();
    const again = Store.open({ path: join(dir, 'full.db') });
    expect(again.getMeta('k')).toBe('v');
    again.close();
  });

  it('tells onAutocommit hooks of each statement that committed by itself, not of those inside a transaction', () => {
    const s = Store.open({ path: join(dir, 'hooks.db') }, { create: true });
    s.db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY)');
    const seen: string[] = [];
    s.onAutocommit(() => seen.push(`commit ${(s.db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n}`));
    s.onEndWrite(() => seen.push('end'));
    const insert = s.stmt('INSERT INTO t VALUES (?)');
    s.autocommit(() => insert.run(1));
    s.transaction(() => s.autocommit(() => insert.run(2)));
    expect(() => s.autocommit(() => insert.run(1))).toThrow(/UNIQUE/);
    s.autocommit(() => insert.run(3));
    // the hook ran after the commit (the row counted), once per autocommit; the refused one and the
    // one that joined the transaction told nobody but the transaction's own end
    expect(seen).toEqual(['commit 1', 'end', 'commit 3']);
    s.close();
  });

  it("measures the host's free space through its directory held open, whatever its path shows later", () => {
    mkdirSync(join(dir, 'a'));
    const s = Store.open({ path: join(dir, 'a', 'x.db') }, { create: true });
    const host = statfsSync(dir);
    const near = (n: number) => Math.abs(n - host.bavail * host.bsize) < 64 << 20;
    expect(near(s.hostFreeBytes())).toBe(true);
    // by its path, a renamed directory had no free space at all (and a mount over it, the
    // database inside its own mountpoint, made the mount's server wait on itself)
    renameSync(join(dir, 'a'), join(dir, 'b'));
    expect(near(s.hostFreeBytes())).toBe(true);
    const fds = readdirSync('/proc/self/fd').length;
    s.close();
    expect(readdirSync('/proc/self/fd').length).toBeLessThan(fds); // the directory's handle closed too
    const mem = Store.open({});
    expect(mem.hostFreeBytes()).toBeGreaterThan(0); // in memory: the temporary directory's
    mem.close();
  });

  it("sync() of a database opened through a symlink syncs the WAL of the file it leads to", () => {
    // SQLite names the WAL after the file the link leads to, in that file's directory; sync()
    // once opened the link's own -wal, found none, and synced nothing (a name that loops here,
    // so that opening it fails aloud)
    mkdirSync(join(dir, 'real'));
    mkdirSync(join(dir, 'links'));
    const real = join(dir, 'real', 'agent.db');
    Store.open({ path: real }, { create: true }).close();
    symlinkSync(real, join(dir, 'links', 'agent.db'));
    symlinkSync('agent.db-wal', join(dir, 'links', 'agent.db-wal'));
    const s = Store.open({ path: join(dir, 'links', 'agent.db') });
    s.setMeta('k', 'v');
    expect(existsSync(`${real}-wal`)).toBe(true);
    expect(s.walBytes()).toBe(statSync(`${real}-wal`).size);
    expect(s.walBytes()).toBeGreaterThan(0);
    expect(() => s.sync()).not.toThrow();
    s.close();
  });

  it('a cached statement whose get() failed works again with other values', () => {
    // libsql (0.5) leaves such a statement unreset, and every later get() failed the same way
    const s = Store.open({ path: join(dir, 'get.db') }, { create: true });
    s.db.exec('CREATE TABLE t (a UNIQUE)');
    const insert = s.arrayStmt('INSERT INTO t (a) VALUES (?) RETURNING a');
    expect(insert.get('x')).toEqual(['x']);
    expect(() => insert.get('x')).toThrow(/UNIQUE/);
    expect(insert.get('y')).toEqual(['y']);
    const read = s.stmt("SELECT json_extract(?, '$.a') AS v");
    expect(() => read.get('not json')).toThrow(/JSON/);
    expect((read.get('{"a": 1}') as { v: number }).v).toBe(1);
    expect(s.stmt("SELECT json_extract(?, '$.a') AS v")).toBe(read); // still the cached one
    s.close();
  });

  it('creates the SPEC v0.4 tables, indexes, root inode and config', () => {
    const s = Store.open({ path: join(dir, 'a.db') }, { create: true });
    const names = (s.db.prepare("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all() as { type: string; name: string }[]).map(
      (r) => `${r.type}:${r.name}`,
    );
    for (const t of ['fs_config', 'fs_inode', 'fs_dentry', 'fs_data', 'fs_symlink', 'fs_whiteout', 'fs_origin', 'kv_store', 'tool_calls']) {
      expect(names).toContain(`table:${t}`);
    }
    for (const i of ['idx_fs_dentry_parent', 'idx_fs_whiteout_parent', 'idx_tool_calls_name', 'idx_tool_calls_started_at']) {
      expect(names).toContain(`index:${i}`);
    }
    const cols = (s.db.prepare('PRAGMA table_info(fs_inode)').all() as { name: string }[]).map((r) => r.name);
    expect(cols).toEqual(['ino', 'mode', 'nlink', 'uid', 'gid', 'size', 'atime', 'mtime', 'ctime', 'rdev', 'atime_nsec', 'mtime_nsec', 'ctime_nsec']);
    const dcols = (s.db.prepare('PRAGMA table_info(fs_dentry)').all() as { name: string }[]).map((r) => r.name);
    expect(dcols).toEqual(['id', 'name', 'parent_ino', 'ino']);
    const root = s.db.prepare('SELECT * FROM fs_inode WHERE ino = 1').get() as { mode: number; nlink: number };
    expect(root.mode).toBe(0o040755);
    expect(root.nlink).toBe(2);
    expect((s.db.prepare("SELECT value FROM fs_config WHERE key='chunk_size'").get() as { value: string }).value).toBe('4096');
    expect((s.db.prepare("SELECT value FROM fs_config WHERE key='schema_version'").get() as { value: string }).value).toBe(SCHEMA_VERSION);
    expect((s.db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
    expect(s.db.prepare('SELECT count(*) AS n FROM fs_dentry').get()).toMatchObject({ n: 0 });
    s.close();
  });

  it('keeps a custom chunk size fixed at creation', () => {
    const f = join(dir, 'c.db');
    Store.open({ path: f }, { create: true, chunkSize: 8192 }).close();
    const s = Store.open({ path: f }, { chunkSize: 4096 });
    expect(s.chunkSize).toBe(8192);
    s.close();
  });

  it('refuses a missing agent without creating anything', () => {
    const f = join(dir, 'missing.db');
    expect(() => Store.open({ path: f })).toThrow(/no such database/);
    expect(existsSync(f)).toBe(false);
  });

  it('refuses a bad id', () => {
    expect(() => Store.open({ id: '../evil' }, { create: true })).toThrow(StoreError);
    expect(() => Store.open({ id: 'a b' }, { create: true })).toThrow(/invalid agent id/);
  });

  it('refuses a file that is not SQLite and leaves it untouched', () => {
    const f = join(dir, 'junk.db');
    writeFileSync(f, 'this is not a database, just text that is long enough');
    const before = sha(f);
    expect(() => Store.open({ path: f })).toThrow(/not a SQLite database/);
    expect(sha(f)).toBe(before);
    expect(existsSync(`${f}-wal`)).toBe(false);
  });

  it('refuses a SQLite database of another application and leaves it untouched', () => {
    const f = join(dir, 'other.db');
    const db = new Database(f);
    db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    db.close();
    const before = sha(f);
    expect(() => Store.open({ path: f })).toThrow(/not an AgentFS database/);
    expect(sha(f)).toBe(before);
  });

  it('refuses a corrupt database and leaves it untouched', () => {
    const f = join(dir, 'corrupt.db');
    Store.open({ path: f }, { create: true }).close();
    expect(existsSync(`${f}-wal`) ? readFileSync(`${f}-wal`).length : 0).toBe(0); // checkpointed on close
    const buf = readFileSync(f);
    buf.fill(0xab, 100, Math.min(buf.length, 3000)); // smash the schema page after the header
    writeFileSync(f, buf);
    const before = sha(f);
    expect(() => Store.open({ path: f })).toThrow(StoreError);
    expect(sha(f)).toBe(before);
  });

  it('refuses an older layout and points at migrate', () => {
    const f = join(dir, 'old.db');
    const db = new Database(f);
    db.exec(`CREATE TABLE fs_config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE fs_inode (ino INTEGER PRIMARY KEY AUTOINCREMENT, mode INTEGER NOT NULL, nlink INTEGER NOT NULL DEFAULT 0,
        uid INTEGER NOT NULL DEFAULT 0, gid INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL DEFAULT 0,
        atime INTEGER NOT NULL, mtime INTEGER NOT NULL, ctime INTEGER NOT NULL);
      CREATE TABLE fs_dentry (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, parent_ino INTEGER NOT NULL, ino INTEGER NOT NULL, UNIQUE(parent_ino, name));
      CREATE TABLE fs_data (ino INTEGER NOT NULL, chunk_index INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (ino, chunk_index));
      INSERT INTO fs_config VALUES ('chunk_size', '4096');
      INSERT INTO fs_inode (ino, mode, nlink, atime, mtime, ctime) VALUES (1, 16877, 1, 0, 0, 0);`);
    db.close();
    const before = sha(f);
    expect(() => Store.open({ path: f })).toThrow(/agentfs migrate/);
    expect(sha(f)).toBe(before);
  });

  it('nests transactions as savepoints and rolls back on throw', () => {
    const s = Store.open({ path: join(dir, 't.db') }, { create: true });
    s.transaction(() => {
      s.setMeta('a', '1');
      expect(() =>
        s.transaction(() => {
          s.setMeta('b', '2');
          throw new Error('inner');
        }),
      ).toThrow('inner');
    });
    expect(s.getMeta('a')).toBe('1');
    expect(s.getMeta('b')).toBeUndefined();
    expect(() =>
      s.transaction(() => {
        s.setMeta('c', '3');
        throw new Error('outer');
      }),
    ).toThrow('outer');
    expect(s.getMeta('c')).toBeUndefined();
    s.close();
  });

  it('runs writes deferred in a batch before any other use of the store, and fails the batch with them', () => {
    const s = Store.open({ path: join(dir, 'deferred.db') }, { create: true });
    s.db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY)');
    const rows = () => Number((s.stmt('SELECT count(*) AS n FROM t').get() as { n: number }).n);
    // only inside a batch, and at its own level
    expect(() => s.deferWrites(() => undefined)).toThrow(/outside a batch/);
    expect(s.beginBatch()).toBe(true);
    expect(s.inBatch).toBe(true);
    s.transaction(() => expect(s.inBatch).toBe(false));
    let runs = 0;
    const insert = () => {
      runs++;
      s.stmt('INSERT INTO t (k) VALUES (NULL)').run();
    };
    // pending while quiet; the next statement taken from the store runs it first, once
    s.deferWrites(insert);
    expect(s.quietly(() => rows())).toBe(0);
    expect(runs).toBe(0);
    expect(rows()).toBe(1);
    expect(runs).toBe(1);
    // so do a transaction, the connection itself, a held statement's catchUp, and the commit
    s.deferWrites(insert);
    s.transaction(() => expect(runs).toBe(2));
    s.deferWrites(insert);
    void s.db;
    expect(runs).toBe(3);
    s.deferWrites(insert);
    s.catchUp();
    expect(runs).toBe(4);
    s.deferWrites(insert);
    s.commitBatch();
    expect(runs).toBe(5);
    expect(rows()).toBe(5);
    // a deferred write that fails: later uses go on, the batch's commit fails with it and rolls back
    expect(s.beginBatch()).toBe(true);
    s.stmt('INSERT INTO t (k) VALUES (NULL)').run();
    s.deferWrites(() => {
      throw new Error('deferred write failed');
    });
    expect(rows()).toBe(6);
    expect(() => s.commitBatch()).toThrow('deferred write failed');
    expect(rows()).toBe(5);
    // nothing is left pending after that rollback: the next batch commits what it wrote
    expect(s.beginBatch()).toBe(true);
    s.stmt('INSERT INTO t (k) VALUES (NULL)').run();
    s.commitBatch();
    expect(rows()).toBe(6);
    expect(runs).toBe(5);
    s.close();
  });

  it('keeps savepoints apart at every depth and across siblings (a group commit of many ops)', () => {
    const s = Store.open({ path: join(dir, 'sp.db') }, { create: true });
    expect(s.beginBatch()).toBe(true);
    s.transaction(() => s.setMeta('first', '1'));
    expect(() =>
      s.transaction(() => {
        s.setMeta('second', '2');
        s.transaction(() => s.setMeta('second.inner', '2'));
        expect(() =>
          s.transaction(() => {
            s.setMeta('third', '3');
            throw new Error('deepest');
          }),
        ).toThrow('deepest');
        expect(s.getMeta('third')).toBeUndefined();
        expect(s.getMeta('second.inner')).toBe('2');
        throw new Error('middle');
      }),
    ).toThrow('middle');
    s.transaction(() => s.setMeta('fourth', '4'));
    s.commitBatch();
    expect(['first', 'second', 'second.inner', 'third', 'fourth'].map((k) => s.getMeta(k))).toEqual(['1', undefined, undefined, undefined, '4']);
    s.close();
  });

  it('opens in memory with no arguments', () => {
    const s = Store.open();
    expect(s.path).toBe(':memory:');
    expect(s.db.prepare('SELECT mode FROM fs_inode WHERE ino = 1').get()).toMatchObject({ mode: 0o040755 });
    s.close();
  });

  it('syncs the WAL file on sync() without copying it into the database (the checkpoint is left to its own time)', () => {
    const f = join(dir, 'synced.db');
    const s = Store.open({ path: f }, { create: true });
    s.setAutoCheckpoint(0);
    const size = statSync(f).size;
    s.transaction(() => {
      for (let i = 0; i < 64; i++) s.setMeta(`k${i}`, 'x'.repeat(16384));
    });
    s.sync();
    expect(statSync(f).size).toBe(size);
    expect(statSync(`${f}-wal`).size).toBeGreaterThan(64 * 16384);
    s.sync(); // again: the WAL's directory entry was made durable once
    s.close();
    expect(statSync(f).size).toBeGreaterThan(size + 64 * 16384);
    const again = Store.open({ path: f });
    expect(again.getMeta('k63')).toBe('x'.repeat(16384));
    again.close();
  });

  it('lets two connections share a database (WAL, busy timeout)', () => {
    const f = join(dir, 'shared.db');
    const a = Store.open({ path: f }, { create: true });
    const b = Store.open({ path: f });
    a.setMeta('x', 'from-a');
    expect(b.getMeta('x')).toBe('from-a');
    a.close();
    b.close();
  });
});
