import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/store.js';
import { loadBinding } from '../../src/fuse/binding.js';
import { tempDir } from '../support/cli.js';

/**
 * The addon links its own SQLite (native/sqlite_ofd.cc) beside libsql's in the same process.
 * Closing any descriptor of a file drops every POSIX lock the process holds on it, so when the
 * addon's copy closed a connection (the checkpoint thread at a store's close, a reader connection
 * that failed to open) libsql's connections lost theirs: another process then committed beside a
 * write transaction still open here, and one of the two commits was lost.
 */
describe("the addon's SQLite closing its files", () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  // a database's own name may end as a WAL's or a journal's does (through a symlink the CLI takes it)
  it.each(['locks.db', 'locks-wal', 'locks.db-journal'])("leaves libsql's locks in place: another process cannot write beside a transaction open here (%s)", (name) => {
    const path = join(dir, name);
    const store = Store.open({ path }, { create: true });
    store.db.exec('CREATE TABLE t (x)');
    const otherWrites = () =>
      spawnSync('sqlite3', [path, 'PRAGMA busy_timeout = 100; BEGIN IMMEDIATE; INSERT INTO t VALUES (2); COMMIT;'], { encoding: 'utf8' });
    store.db.exec('BEGIN IMMEDIATE');
    store.db.exec('INSERT INTO t VALUES (1)');
    expect(otherWrites().stderr).toMatch(/locked/);
    // the addon opens the database and its -shm, reads, and closes them again; the descriptors
    // it keeps open instead serve its next opens (at most one more of each after the first)
    const native = loadBinding();
    const cycle = () => {
      const thread = native.walCheckpointer(path, 1000, 4000, 1000);
      expect(native.walCheckpointerStop(thread).error).toBeUndefined();
    };
    cycle();
    const fds = readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 20; i++) cycle();
    expect(readdirSync('/proc/self/fd').length).toBeLessThanOrEqual(fds + 2);
    const other = otherWrites();
    expect(other.stderr).toMatch(/locked/);
    store.db.exec('COMMIT');
    const rows = store.db.prepare('SELECT x FROM t ORDER BY x').raw(true).all();
    expect(rows).toEqual([[1]]);
    store.close();
    const check = spawnSync('sqlite3', [path, 'PRAGMA integrity_check; SELECT count(*) FROM t;'], { encoding: 'utf8' });
    expect(check.stdout).toBe('ok\n1\n');
  });
});
