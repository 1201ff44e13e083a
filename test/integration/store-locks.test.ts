// POSIX record locks belong to the process, and closing any descriptor of a file drops them all.
// A second Store opened on a file this process already had open read its header through node:fs
// (open, read, close) and so took the first connection's locks away: another process closing its
// connection then deleted the -wal and -shm under it ("database disk image is malformed", seen
// with two SDK writer processes beside a test process holding two connections).
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { Store } from '../../src/store/index.js';
import { run, tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

describe('a second connection in one process', () => {
  it('keeps the first one\'s locks: another process closing its connection leaves the -wal and -shm in use', async () => {
    const t = tempDir();
    const file = join(t.dir, 'a.db');
    const a = Store.open({ path: file }, { create: true });
    cleanups.push(t.cleanup, () => a.close());
    a.setMeta('k', 'before');
    for (const readOnly of [false, true]) {
      const b = Store.open({ path: file }, { readOnly });
      // another process opens the file, reads and closes: the last one out would checkpoint and delete the WAL
      const script = `const D = require('libsql'); const d = new D(process.argv[1]); d.prepare('SELECT count(*) FROM sqlite_master').get(); d.close();`;
      const r = await run(process.execPath, ['-e', script, file], { timeoutMs: 30_000 });
      expect(r.stderr).toBe('');
      expect(existsSync(`${file}-wal`)).toBe(true);
      expect(existsSync(`${file}-shm`)).toBe(true);
      a.setMeta('k', readOnly ? 'after-ro' : 'after-rw');
      expect(b.getMeta('k')).toBe(readOnly ? 'after-ro' : 'after-rw');
      b.close();
    }
    // what `a` wrote is where every other connection reads it
    const fresh = new Database(file, { readonly: true });
    cleanups.push(() => fresh.close());
    expect(fresh.prepare("SELECT value FROM agentfs_meta WHERE key = 'k'").get()).toMatchObject({ value: 'after-ro' });
    expect(fresh.prepare('PRAGMA integrity_check').get()).toMatchObject({ integrity_check: 'ok' });
  });

  it('a Store closed here still holds its locks until collected: a later open in this process must not drop them', async () => {
    const t = tempDir();
    const file = join(t.dir, 'a.db');
    cleanups.push(t.cleanup);
    // libsql cannot finalize prepared statements: close() leaves the connection (its descriptors
    // and its lock) open until garbage collection
    Store.open({ path: file }, { create: true }).close();
    const a = Store.open({ path: file });
    cleanups.push(() => a.close());
    a.setMeta('k', 'before');
    const script = `const D = require('libsql'); const d = new D(process.argv[1]); d.prepare('SELECT count(*) FROM sqlite_master').get(); d.close();`;
    const r = await run(process.execPath, ['-e', script, file], { timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(existsSync(`${file}-wal`)).toBe(true);
    expect(existsSync(`${file}-shm`)).toBe(true);
    a.setMeta('k', 'after');
    expect(a.getMeta('k')).toBe('after');
  });
});
