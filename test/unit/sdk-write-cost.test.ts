// Small SDK writes (kv set/delete, tool record, start+finish) commit in as few statements as the
// rows need, and stay as safe as before: they wait for another process's write lock like any
// transaction, and a finished call reads back exactly as the value finish returned.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import Database from 'libsql';
import { Store } from '../../src/store/index.js';
import { Agent } from '../../src/core/agent.js';
import { KvStore } from '../../src/core/kv/index.js';
import { ToolCalls, ToolCallError } from '../../src/core/tools/index.js';
import { tempDir } from '../support/cli.js';
import { countStatements } from '../support/statements.js';
import { ROOT_INO } from '../../src/core/types.js';
import { InodeFs } from '../../src/core/fs/index.js';
import { ME, code, fsFixture, inodeRow } from '../support/fs-fixture.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function fresh(): { store: Store; file: string } {
  const t = tempDir();
  const file = join(t.dir, 'a.db');
  const store = Store.open({ path: file }, { create: true });
  cleanups.push(t.cleanup, () => store.close());
  return { store, file };
}


/** Another process holding the write lock until it is told (a line on stdin) or ms pass. */
async function holdWriteLock(file: string, ms: number): Promise<ChildProcess> {
  const script = `
    const Database = require('libsql');
    const db = new Database(process.argv[1]);
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); process.exit(0); }, ${ms});`;
  const child = spawn(process.execPath, ['-e', script, file], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (String(d).includes('locked')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
  });
  return child;
}

describe('small SDK writes', () => {
  it('kv set/delete and tool record are one statement each, committed', () => {
    const { store, file } = fresh();
    const kv = new KvStore(store);
    const tools = new ToolCalls(store);
    kv.set('warm', 1);
    tools.record({ name: 'warm', started_at: 1, completed_at: 2 });
    expect(countStatements(store, () => kv.set('a', { x: 1 }))).toEqual(['run']);
    expect(countStatements(store, () => kv.delete('a'))).toEqual(['run']);
    let id = 0;
    expect(countStatements(store, () => (id = tools.record({ name: 't', started_at: 10, completed_at: 11, parameters: { p: 1 }, result: 'ok' })))).toEqual(['run']);
    // committed: another connection sees them
    const other = new Database(file);
    cleanups.push(() => other.close());
    expect(other.prepare("SELECT count(*) AS n FROM kv_store WHERE key = 'a'").get()).toMatchObject({ n: 0 });
    expect(other.prepare('SELECT name, parameters, result, status, duration_ms FROM tool_calls WHERE id = ?').get(id)).toMatchObject({
      name: 't', parameters: '{"p":1}', result: '"ok"', status: 'success', duration_ms: 1000,
    });
  });

  it('finishing a call of this process needs no read before or after, and returns what get() reads', () => {
    const { store, file } = fresh();
    const tools = new ToolCalls(store);
    const parent = tools.start('outer', { q: 1 }, { shared: true });
    const child = tools.start('inner', [1, 2]);
    const seen = countStatements(store, () => {
      const done = tools.success(child, { ok: true });
      expect(done).toEqual(tools.get(child));
    });
    // one UPDATE of the pending row, no transaction around it, the ext row untouched; then the
    // test's own get() (was BEGIN, UPDATE ... RETURNING, UPDATE ext, COMMIT)
    expect(seen).toEqual(['run', 'get']);
    const inner = tools.get(child)!;
    expect(inner).toMatchObject({ name: 'inner', status: 'success', parameters: [1, 2], result: { ok: true }, parent_id: parent });
    // a shared call's announcement goes with it
    const other = new Database(file);
    cleanups.push(() => other.close());
    expect(other.prepare('SELECT count(*) AS n FROM agentfs_active_call').get()).toMatchObject({ n: 1 });
    const failed = tools.error(parent, new Error('boom'));
    expect(failed).toEqual(tools.get(parent));
    expect(failed).toMatchObject({ status: 'error', error: 'boom' });
    expect(other.prepare('SELECT count(*) AS n FROM agentfs_active_call').get()).toMatchObject({ n: 0 });
    // the ext rows keep what the start wrote: the end is the spec row's (started_ns + duration_ms)
    expect(other.prepare('SELECT count(*) AS n FROM agentfs_tool_call_ext WHERE completed_ns IS NULL AND started_ns IS NOT NULL').get()).toMatchObject({ n: 2 });
    expect(other.prepare("SELECT count(*) AS n FROM tool_calls WHERE status = 'pending'").get()).toMatchObject({ n: 0 });
    // finished once only, also when another connection finished it first
    expect(() => tools.success(parent)).toThrow(ToolCallError);
    const third = tools.start('third');
    other.prepare("UPDATE tool_calls SET status = 'success', completed_at = started_at WHERE id = ?").run(third);
    expect(() => tools.success(third)).toThrow(/already finished/);
  });

  it('a start is one statement: ids as AUTOINCREMENT gives them, ext row, nesting and orphan reaping as before', async () => {
    const { store, file } = fresh();
    const tools = new ToolCalls(store);
    tools.success(tools.start('warm'));
    let outer = 0;
    // one insert into tool_calls (its trigger: the ext row), no transaction
    expect(countStatements(store, () => (outer = tools.start('outer', { q: 1 })))).toEqual(['run']);
    const inner = tools.start('inner');
    expect(inner).toBe(outer + 1);
    const other = new Database(file);
    cleanups.push(() => other.close());
    const ext = (id: number) => other.prepare('SELECT parent_id, started_ns, completed_ns, pid FROM agentfs_tool_call_ext WHERE id = ?').get(id) as Record<string, unknown>;
    expect(ext(outer)).toMatchObject({ parent_id: null, completed_ns: null, pid: process.pid });
    expect(ext(inner)).toMatchObject({ parent_id: outer, completed_ns: null, pid: process.pid });
    expect(Number(ext(inner).started_ns)).toBeGreaterThan(Number(ext(outer).started_ns));
    // the values the insert carried for the trigger are gone from the spec row before anyone reads it
    expect(other.prepare('SELECT status, completed_at, duration_ms, result, error FROM tool_calls WHERE id IN (?, ?)').all(outer, inner)).toEqual([
      { status: 'pending', completed_at: null, duration_ms: null, result: null, error: null },
      { status: 'pending', completed_at: null, duration_ms: null, result: null, error: null },
    ]);
    expect(tools.get(inner)).toMatchObject({ status: 'pending', parent_id: outer });
    expect(tools.get(inner)!.completed_at).toBeUndefined();
    // a pending row another program inserts through this connection takes no ext row
    store.db.prepare("INSERT INTO tool_calls (name, status, started_at) VALUES ('foreign', 'pending', 1)").run();
    // ... nor one whose values only look like what a start carries (times in s or ms, a text)
    const odd = [1_700_000_000, 1_700_000_000_000, 'soon'];
    for (const t of odd) store.db.prepare("INSERT INTO tool_calls (name, status, started_at, completed_at, duration_ms) VALUES ('foreign', 'pending', 1, ?, 7)").run(t);
    expect(other.prepare("SELECT count(*) AS n FROM agentfs_tool_call_ext e JOIN tool_calls c USING (id) WHERE c.name = 'foreign'").get()).toMatchObject({ n: 0 });
    expect(other.prepare("SELECT completed_at, duration_ms FROM tool_calls WHERE name = 'foreign' AND completed_at IS NOT NULL ORDER BY id").all()).toEqual(
      odd.map((t) => ({ completed_at: t, duration_ms: 7 })),
    );
    tools.success(inner);
    tools.success(outer);
    expect(other.prepare('SELECT status FROM tool_calls WHERE id = ?').get(outer)).toMatchObject({ status: 'success' });
    // ids continue past the largest ever given, as AUTOINCREMENT's would (also after a delete at the end)
    const last = tools.start('last');
    other.prepare('DELETE FROM tool_calls WHERE id = ?').run(last);
    other.prepare('DELETE FROM agentfs_tool_call_ext WHERE id = ?').run(last);
    expect(tools.start('after-delete')).toBe(last + 1);
    other.prepare("INSERT INTO tool_calls (id, name, status, started_at) VALUES (?, 'explicit', 'success', 1)").run(last + 10);
    expect(tools.start('after-explicit')).toBe(last + 11);
    expect(tools.record({ name: 'recorded', started_at: 1, completed_at: 2 })).toBe(last + 12);
    // a process killed with calls open: the next writable open stores them as failed
    const script = `
      import(process.argv[1]).then(async ({ AgentFS }) => {
        const a = await AgentFS.open({ path: process.argv[2] });
        const o = await a.tools.start('killed-outer');
        const i = await a.tools.start('killed-inner');
        process.stdout.write(JSON.stringify([o, i]) + '\\n');
        setInterval(() => {}, 1000);
      });`;
    const child = spawn(process.execPath, ['-e', script, join(process.cwd(), 'dist/index.js'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const [o, i] = await new Promise<number[]>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => resolve(JSON.parse(String(d)) as number[]));
      child.on('exit', (c) => reject(new Error(`child exited early (${c})`)));
    });
    expect(ext(i!)).toMatchObject({ parent_id: o, pid: child.pid });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const again = Agent.open({ path: file });
    cleanups.push(() => again.close());
    for (const id of [o!, i!]) {
      expect(again.tools.get(id)).toMatchObject({ status: 'error', error: expect.stringMatching(/ended without finishing/) });
      // stored so (not only read so while the owner is gone)
      expect(other.prepare('SELECT status FROM tool_calls WHERE id = ?').get(id)).toMatchObject({ status: 'error' });
    }
  });

  it('a first start inside a transaction that rolls back leaves later starts working', () => {
    const { store } = fresh();
    new ToolCalls(store).list(); // the tables made (made inside the rolled-back transaction, they would go too)
    const tools = new ToolCalls(store);
    expect(() =>
      store.transaction(() => {
        tools.start('rolled-back');
        throw new Error('abort');
      }),
    ).toThrow('abort');
    const id = tools.start('after');
    expect(tools.success(id, 1)).toEqual(tools.get(id));
    expect(tools.list().map((c) => c.name)).toEqual(['after']);
  });

  it('tables first made inside a transaction that rolls back are made again by the next call', () => {
    const { store } = fresh();
    const tools = new ToolCalls(store);
    expect(() =>
      store.transaction(() => {
        tools.start('rolled-back'); // makes the tool-call tables, inside this transaction
        throw new Error('abort');
      }),
    ).toThrow('abort');
    const id = tools.start('after');
    expect(tools.success(id, 1)).toEqual(tools.get(id));
    expect(tools.list().map((c) => c.name)).toEqual(['after']);
  });

  it('tables made inside a savepoint that rolls back, its transaction committing, are made again', () => {
    const { store } = fresh();
    const tools = new ToolCalls(store);
    store.transaction(() => {
      expect(() =>
        store.transaction(() => {
          tools.start('rolled-back');
          throw new Error('abort');
        }),
      ).toThrow('abort');
      tools.start('inside'); // the same transaction, after the savepoint's rollback
    });
    const id = tools.start('after');
    tools.success(id, 1);
    expect(tools.list().map((c) => c.name).sort()).toEqual(['after', 'inside']);
  });

  it('one-statement writes wait for another process holding the write lock, like transactions do', async () => {
    const { store } = fresh();
    const kv = new KvStore(store);
    const tools = new ToolCalls(store);
    kv.set('warm', 1);
    // held well past the store's short SQLite busy wait (it polls for the rest of its timeout)
    await holdWriteLock(store.path, 400);
    kv.set('k', 'v');
    expect(kv.get('k')).toBe('v');
    await holdWriteLock(store.path, 400);
    const id = tools.record({ name: 'after-lock', started_at: 1, completed_at: 2 });
    expect(tools.get(id)?.name).toBe('after-lock');
    await holdWriteLock(store.path, 400);
    expect(kv.delete('k')).toBe(true);
    await holdWriteLock(store.path, 400);
    const call = tools.start('after-lock');
    await holdWriteLock(store.path, 400);
    expect(tools.success(call, 'done')).toEqual(tools.get(call));
  });
});

describe('create: the parent checked and updated in one statement', () => {
  it('a refused create leaves the parent (or the non-directory named as one) as it was', () => {
    const fx = fsFixture();
    cleanups.push(() => fx.cleanup());
    const dir = fx.fs.mkdir(ROOT_INO, 'd', 0o2775, ME); // setgid: new entries take its group
    const file = fx.fs.create(dir.ino, 'f', 0o644, ME);
    // the row's columns (libsql adds a _metadata entry of its own)
    const row = (ino: number) => {
      const { _metadata, ...columns } = inodeRow(fx.store, ino) as Record<string, unknown>;
      return columns as Record<string, number>;
    };
    const dirBefore = row(dir.ino);
    const fileBefore = row(file.ino);
    const inodes = () => (fx.store.db.prepare('SELECT COUNT(*) AS n FROM fs_inode').get() as { n: number }).n;
    const count = inodes();
    expect(code(() => fx.fs.create(file.ino, 'x', 0o644, ME))).toBe('ENOTDIR');
    expect(code(() => fx.fs.mkdir(file.ino, 'x', 0o755, ME))).toBe('ENOTDIR');
    expect(code(() => fx.fs.create(9999, 'x', 0o644, ME))).toBe('ENOENT');
    expect(code(() => fx.fs.create(dir.ino, 'f', 0o644, ME))).toBe('EEXIST');
    expect(code(() => fx.fs.mkdir(dir.ino, '..', 0o755, ME))).toBe('EEXIST');
    // inside an enclosing transaction that goes on (a group commit): the same
    fx.store.transaction(() => {
      expect(code(() => fx.fs.mkdir(file.ino, 'x', 0o755, ME))).toBe('ENOTDIR');
      expect(code(() => fx.fs.mkdir(dir.ino, 'f', 0o755, ME))).toBe('EEXIST');
    });
    expect(row(file.ino)).toEqual(fileBefore);
    expect(row(dir.ino)).toEqual(dirBefore);
    expect(inodes()).toBe(count);
    // and a create that succeeds updates the parent as before
    const sub = fx.fs.mkdir(dir.ino, 'sub', 0o755, { ...ME, gid: ME.gid + 1 });
    expect(sub.gid).toBe(dir.gid);
    expect(sub.mode & 0o2000).toBe(0o2000);
    const after = row(dir.ino);
    expect(after.nlink).toBe(dirBefore.nlink! + 1);
    expect(after.mtime! * 1e9 + after.mtime_nsec!).toBeGreaterThanOrEqual(dirBefore.mtime! * 1e9 + dirBefore.mtime_nsec!);
  });
});

describe('tool call ext indexes', () => {
  it('nesting: partial (a top-level call writes no entry), serves parent lookups, replaces the old full index; no index of open calls', () => {
    const { store, file } = fresh();
    const tools = new ToolCalls(store);
    const outer = tools.start('outer');
    const inner = tools.start('inner');
    tools.success(inner);
    tools.success(outer);
    const plan = store.db.prepare('EXPLAIN QUERY PLAN SELECT id FROM agentfs_tool_call_ext WHERE parent_id = ?').all(outer) as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toContain('agentfs_idx_tool_call_ext_parent');
    const indexes = (db: Database.Database) =>
      (db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'agentfs_tool_call_ext' ORDER BY name").all() as { name: string; sql: string }[]);
    expect(indexes(store.db as unknown as Database.Database).map((i) => i.name)).toEqual(['agentfs_idx_tool_call_ext_parent']);
    store.close();
    // a database of an earlier version: the full index under its old name, and the open-call index
    const old = new Database(file);
    old.exec('DROP INDEX agentfs_idx_tool_call_ext_parent');
    old.exec('CREATE INDEX idx_agentfs_tool_call_ext_parent ON agentfs_tool_call_ext(parent_id)');
    old.exec('CREATE INDEX agentfs_idx_tool_call_ext_open ON agentfs_tool_call_ext(pid) WHERE completed_ns IS NULL AND pid IS NOT NULL');
    old.close();
    const again = Agent.open({ path: file });
    cleanups.push(() => again.close());
    const now = indexes(again.store.db as unknown as Database.Database);
    expect(now.map((i) => i.name)).toEqual(['agentfs_idx_tool_call_ext_parent']);
    expect(now[0]!.sql).toMatch(/WHERE parent_id IS NOT NULL/);
    expect(again.tools.list({ parentId: outer }).map((c) => c.id)).toEqual([inner]);
  });
});

describe('dentry indexes', () => {
  const dentryIndexes = (db: Database.Database) =>
    (db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'fs_dentry' AND sql IS NOT NULL ORDER BY name").all() as { name: string; sql: string }[]);

  it("the spec's copy of the (parent_ino, name) index is keyed by parent (listing order) instead, in new files and in older ones", () => {
    const { file } = fresh();
    const a = Agent.open({ path: file });
    const names = ['zeta', 'alpha', 'mid'];
    for (const n of names) a.paths.writeFile(`/${n}`, n);
    expect(dentryIndexes(a.store.db as unknown as Database.Database)).toEqual([
      { name: 'agentfs_idx_fs_dentry_ino', sql: 'CREATE INDEX agentfs_idx_fs_dentry_ino ON fs_dentry(ino)' },
      { name: 'idx_fs_dentry_parent', sql: 'CREATE INDEX idx_fs_dentry_parent ON fs_dentry(parent_ino)' },
    ]);
    const plan = (db: Database.Database, sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((p) => p.detail).join(' | ');
    const db = a.store.db as unknown as Database.Database;
    expect(plan(db, 'SELECT id FROM fs_dentry WHERE parent_ino = 1 AND id > 0 ORDER BY id LIMIT 10')).toMatch(/USING (COVERING )?INDEX idx_fs_dentry_parent/);
    expect(plan(db, "SELECT ino FROM fs_dentry WHERE parent_ino = 1 AND name = 'mid'")).toMatch(/sqlite_autoindex_fs_dentry_1/);
    a.close();
    // a file of an earlier version (the spec's index as the spec has it, and ours by parent) and
    // one of another implementation (only the spec's): both re-keyed at a writable open
    for (const ours of [true, false]) {
      const old = new Database(file);
      old.exec('DROP INDEX idx_fs_dentry_parent');
      old.exec('CREATE INDEX idx_fs_dentry_parent ON fs_dentry(parent_ino, name)');
      if (ours) old.exec('CREATE INDEX agentfs_idx_fs_dentry_parent_id ON fs_dentry(parent_ino)');
      old.close();
      const ro = Agent.open({ path: file }, { readOnly: true });
      expect(ro.paths.readdir('/').sort()).toEqual([...names].sort()); // read-only: left as it is, listed all the same
      expect(dentryIndexes(ro.store.db as unknown as Database.Database).map((i) => i.name)).toContain(ours ? 'agentfs_idx_fs_dentry_parent_id' : 'idx_fs_dentry_parent');
      ro.close();
      const again = Agent.open({ path: file });
      expect(dentryIndexes(again.store.db as unknown as Database.Database)).toEqual([
        { name: 'agentfs_idx_fs_dentry_ino', sql: 'CREATE INDEX agentfs_idx_fs_dentry_ino ON fs_dentry(ino)' },
        { name: 'idx_fs_dentry_parent', sql: 'CREATE INDEX idx_fs_dentry_parent ON fs_dentry(parent_ino)' },
      ]);
      expect(again.paths.readdir('/').sort()).toEqual([...names].sort());
      again.close();
    }
  });
});

describe('orphaned calls found without an index of open calls', () => {
  it('a writable open reads from a mark that never passes a call still open, and reaps it once its process is gone', async () => {
    const { store, file } = fresh();
    const tools = new ToolCalls(store);
    // a call left open by another process that is still alive
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    cleanups.push(() => {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
    });
    await new Promise((r) => setTimeout(r, 50)); // its start time is before the call's
    for (let i = 0; i < 300; i++) tools.success(tools.start('t', { i }));
    const open = tools.start('long');
    store.db.prepare('UPDATE agentfs_tool_call_ext SET pid = ? WHERE id = ?').run(holder.pid, open);
    tools.record({ name: 'done', started_at: 1, completed_at: 2 }); // no ext row
    for (let i = 0; i < 600; i++) tools.success(tools.start('t', { i }));
    const mark = () => (new Database(file).prepare("SELECT value FROM agentfs_meta WHERE key = 'tool_calls_open_from'").get() as { value: string } | undefined)?.value;
    // a pending call of this process, started after the long one: not an orphan, not reaped
    const mine = tools.start('mine');
    const first = Agent.open({ path: file });
    expect(first.tools.get(open)).toMatchObject({ status: 'pending' });
    first.close();
    expect(mark()).toBe(String(open)); // the 300 closed calls before it are not read again, it is
    holder.kill('SIGKILL');
    await new Promise<void>((r) => holder.once('exit', () => r()));
    const second = Agent.open({ path: file });
    expect(second.tools.get(open)).toMatchObject({ status: 'error', error: expect.stringMatching(/ended without finishing/) });
    expect((second.store.db.prepare('SELECT status FROM tool_calls WHERE id = ?').get(open) as { status: string }).status).toBe('error');
    // this process's call was never reaped: it finishes normally, and the mark does not pass it
    expect(tools.success(mine)).toMatchObject({ status: 'success' });
    second.close();
    expect(Number(mark())).toBe(mine);
    const third = Agent.open({ path: file });
    third.close();
    expect(Number(mark())).toBe(mine); // fewer than the step (256) calls past it: not written again
  });
});

describe('st_blocks without recounting chunks', () => {
  it('writeFile of a new file, and of one truncated by it, counts no chunks for its stat', () => {
    const fx = fsFixture();
    cleanups.push(() => fx.cleanup());
    const counted: string[] = [];
    const arrayStmt = fx.store.arrayStmt.bind(fx.store);
    fx.store.arrayStmt = (sql: string) => {
      if (/COUNT\(\*\)/.test(sql)) counted.push(sql);
      return arrayStmt(sql);
    };
    const a = fx.paths.writeFile('/new', Buffer.alloc(10_000, 1));
    expect(a.blocks).toBe(Math.ceil(10_000 / 512));
    const b = fx.paths.writeFile('/new', Buffer.alloc(5000, 2)); // O_TRUNC, then the write
    expect(b.blocks).toBe(Math.ceil(5000 / 512));
    expect(counted).toEqual([]);
  });

  it('stays what a fresh count gives through writes, holes, truncates and punched holes', () => {
    for (const chunkSize of [512, 4096]) {
      const fx = fsFixture({ chunkSize });
      cleanups.push(() => fx.cleanup());
      let seed = 7;
      const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
      const fresh = () => new InodeFs(fx.store); // an empty cache: counts the chunks
      for (let file = 0; file < 6; file++) {
        const f = fx.fs.create(ROOT_INO, `f${file}`, 0o644, ME);
        for (let step = 0; step < 40; step++) {
          const op = rnd(10);
          const size = fx.fs.getattr(f.ino).size;
          if (op < 6) fx.fs.write(f.ino, rnd(3) === 0 ? size : rnd(size + 3 * chunkSize + 1), Buffer.alloc(1 + rnd(3 * chunkSize), 3));
          else if (op < 8) fx.fs.setattr(f.ino, { size: rnd(3) === 0 ? 0 : rnd(size + 2 * chunkSize + 1) });
          else if (size > 0) fx.fs.fallocate(f.ino, 0x01 | 0x02, rnd(size), 1 + rnd(2 * chunkSize));
          expect(fx.fs.getattr(f.ino).blocks).toBe(fresh().getattr(f.ino).blocks);
        }
      }
    }
  });
});
