// writeFile's direct path (InodeFs.writeWhole): a whole-file write as the rows it needs, with the
// same result as open(O_CREAT|O_TRUNC) + write + close: files, links, chunks and journal rows.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'libsql';
import { Agent } from '../../src/core/agent.js';
import { AgentFS } from '../../src/sdk/agentfs.js';
import type { Store } from '../../src/store/index.js';
import { tempDir } from '../support/cli.js';
import { countStatements } from '../support/statements.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function agent(name = 'a.db'): { a: Agent; file: string } {
  const t = tempDir();
  const file = join(t.dir, name);
  const a = Agent.open({ path: file }, { create: true, chunkSize: 4096 });
  cleanups.push(t.cleanup, () => a.close());
  return { a, file };
}


/** Everything the database says about files, times and row ids aside. */
function state(a: Agent): Record<string, unknown[]> {
  a.journal?.flush();
  const q = (sql: string) => (a.store.db.prepare(sql).all() as Record<string, unknown>[]).map(({ _metadata, ...r }) => r);
  return {
    inodes: q('SELECT ino, mode, nlink, uid, gid, size FROM fs_inode ORDER BY ino'),
    dentries: q('SELECT name, parent_ino, ino FROM fs_dentry ORDER BY parent_ino, name'),
    chunks: q('SELECT ino, chunk_index, hex(data) AS data FROM fs_data ORDER BY ino, chunk_index'),
    journal: q('SELECT op, path, new_path, ino, offset, length, bytes, writes, size, mode, uid, gid, tool_call_id FROM agentfs_journal ORDER BY id'),
  };
}

/** A mix of creates and replacements, through whichever path writeFile takes. */
function workload(a: Agent): void {
  const p = a.paths;
  p.mkdir('/d');
  p.writeFile('/d/a', Buffer.alloc(10000, 'x')); // three chunks, the last partial
  p.link('/d/a', '/d/b');
  p.writeFile('/d/a', 'short'); // replaced: one chunk left, the link sees it
  p.writeFile('/d/empty', ''); // created empty: no write row
  p.writeFile('/d/empty', 'now something'); // an empty file replaced: no truncate row
  p.writeFile('/d/b', ''); // emptied through the other link: a truncate only
  p.writeFile('/d/s', 'é', { encoding: 'latin1', mode: 0o600 });
  p.symlink('s', '/d/ln');
  p.writeFile('/d/ln', 'through the link'); // follows the symlink to /d/s
  p.writeFile('/new/deep/f', 'parents made', { createParents: true });
  const call = a.tools.start('tool');
  a.tools.runInCall(call, () => p.writeFile('/d/in-call', 'attributed'));
  a.tools.success(call);
}

describe('writeFile, direct path', () => {
  it('leaves the files, chunks and journal rows open + write + close leave', () => {
    const direct = agent('direct.db');
    const general = agent('general.db');
    // without writeWhole, PathFs takes the general route (open with O_TRUNC, write, close)
    (general.a.fs as { writeWhole?: unknown }).writeWhole = undefined;
    workload(direct.a);
    workload(general.a);
    const d = state(direct.a);
    expect(d).toEqual(state(general.a));
    // and that is what it should be
    const a = direct.a;
    expect(a.paths.readFile('/d/b', 'utf8')).toBe('');
    expect(a.paths.readFile('/d/s', 'utf8')).toBe('through the link');
    expect(a.paths.stat('/d/a').nlink).toBe(2);
    expect(a.paths.stat('/d/a').ino).toBe(a.paths.stat('/d/b').ino);
    const ops = (d.journal as { op: string; path: string }[]).map((j) => `${j.op} ${j.path}`);
    expect(ops.filter((o) => o.endsWith('/d/a') || o.endsWith('/d/b') || o.endsWith('/d/empty'))).toEqual([
      'create /d/a', 'write /d/a', 'link /d/a', 'truncate /d/a', 'write /d/a', 'create /d/empty', 'write /d/empty', 'truncate /d/a',
    ]);
  });

  it('replaces a hard-linked file in place: same inode, old chunks gone, size, times and the link', () => {
    const { a, file } = agent();
    a.paths.mkdir('/d');
    const first = a.paths.writeFile('/d/a', Buffer.alloc(3 * 4096 + 5, 'x'));
    a.paths.link('/d/a', '/d/b');
    const attr = a.paths.writeFile('/d/b', 'new');
    expect(attr.ino).toBe(first.ino);
    expect(attr.size).toBe(3);
    expect(attr.nlink).toBe(2);
    // what writeFile returned is what a fresh read of the row says (no read-back was made)
    const other = new Database(file);
    cleanups.push(() => other.close());
    const row = other.prepare('SELECT size, nlink, mtime, mtime_nsec, ctime, ctime_nsec FROM fs_inode WHERE ino = ?').get(first.ino) as Record<string, number>;
    expect(row).toMatchObject({ size: 3, nlink: 2, mtime: attr.mtime.sec, mtime_nsec: attr.mtime.nsec, ctime: attr.ctime.sec, ctime_nsec: attr.ctime.nsec });
    expect(a.paths.stat('/d/a')).toEqual(attr);
    expect(other.prepare('SELECT chunk_index, length(data) AS n FROM fs_data WHERE ino = ?').all(first.ino).map(({ chunk_index, n }: any) => [chunk_index, n])).toEqual([[0, 3]]);
    expect(a.paths.readFile('/d/a', 'utf8')).toBe('new');
  });

  it('a file open through the SDK while it is rewritten: the handle reads the new content, its writes journal as before', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const sdk = await AgentFS.open({ path: join(t.dir, 's.db') });
    cleanups.push(() => void sdk.close());
    await sdk.fs.writeFile('/f', 'old content');
    const h = await sdk.fs.open('/f', 'r+');
    await sdk.fs.writeFile('/f', 'new');
    expect((await h.pread(0, 100)).toString()).toBe('new');
    await h.pwrite(3, '!');
    await h.pwrite(4, '?');
    await h.close();
    expect(await sdk.fs.readFile('/f', 'utf8')).toBe('new!?');
    const db = new Database(sdk.path);
    cleanups.push(() => db.close());
    const rows = db.prepare('SELECT op, offset, length, writes, size FROM agentfs_journal ORDER BY id').all().map(({ _metadata, ...r }: any) => r);
    expect(rows).toEqual([
      { op: 'create', offset: null, length: null, writes: null, size: null },
      { op: 'write', offset: 0, length: 11, writes: 1, size: 11 },
      { op: 'truncate', offset: null, length: null, writes: null, size: 0 },
      { op: 'write', offset: 0, length: 3, writes: 1, size: 3 },
      // the handle's two writes, one burst as ever; the whole-file write before them is a row of
      // its own (through open + write + close, the open handle kept its burst going: one row, 3 writes)
      { op: 'write', offset: 3, length: 2, writes: 2, size: 5 },
    ]);
  });

  it('a failure inside an enclosing batch rolls back only what the write did', () => {
    const { a } = agent();
    a.paths.writeFile('/keep', 'kept');
    expect(() =>
      a.paths.batch(() => {
        a.paths.writeFile('/keep', 'replaced');
        a.paths.writeFile('/gone', 'made');
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(a.paths.readFile('/keep', 'utf8')).toBe('kept');
    expect(a.paths.exists('/gone')).toBe(false);
    // a refused write inside a batch that goes on leaves nothing half-made
    a.paths.batch(() => {
      a.paths.mkdir('/dir');
      expect(() => a.paths.writeFile('/dir', 'x')).toThrow(/EISDIR/);
      expect(() => a.paths.writeFile('/none/f', 'x')).toThrow(/ENOENT/);
    });
    expect(a.paths.readdir('/').sort()).toEqual(['dir', 'keep']);
  });

  it('a 4 KiB file in an existing directory is 9 statements, a replacement 8 (19 and 21 through open + write + close)', () => {
    const { a } = agent();
    a.paths.mkdir('/d');
    a.paths.writeFile('/d/warm', 'x');
    const data = Buffer.alloc(4096, 'a');
    const created = countStatements(a.store, () => a.paths.writeFile('/d/f', data));
    // BEGIN, lookups of d and f, the parent's update, inode, dentry, chunk, both journal rows,
    // COMMIT (19 before the direct path); +1: the journal's data_version check, at most once a ms
    expect(created.length).toBeLessThanOrEqual(10);
    const replaced = countStatements(a.store, () => a.paths.writeFile('/d/f', data));
    // BEGIN, two lookups, chunks deleted, chunk, inode update, both journal rows, COMMIT (21 before)
    expect(replaced.length).toBeLessThanOrEqual(9);
    expect(a.paths.readFile('/d/f')).toEqual(data);
  });
});
