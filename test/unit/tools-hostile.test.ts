// Tool calls under a hostile moment: another process holding the write lock past the busy
// timeout, a transaction rolling back a start. Every later write must still land, and a finish
// must never land on another process's call.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'libsql';
import { Store } from '../../src/store/index.js';
import { ToolCalls } from '../../src/core/tools/index.js';
import { ROOT, run, tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function fresh(busyTimeoutMs?: number): { store: Store; tools: ToolCalls; file: string } {
  const t = tempDir();
  const file = join(t.dir, 'tools.db');
  const store = Store.open({ path: file }, { create: true, ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }) });
  cleanups.push(t.cleanup, () => store.close());
  return { store, tools: new ToolCalls(store), file };
}

describe('tool calls after a busy moment', () => {
  // a libsql statement refused with SQLITE_BUSY stays active: its connection's later
  // autocommit writes then stay uncommitted (holding the write lock) and the next COMMIT fails
  for (const op of ['start', 'finish', 'record'] as const) {
    it(`a ${op} refused as locked leaves the connection writing`, () => {
      const { store, tools, file } = fresh(150);
      const warm = tools.start('warm');
      tools.success(warm);
      const open = tools.start('open');
      const other = new Database(file);
      cleanups.push(() => other.close());
      other.exec('BEGIN IMMEDIATE');
      other.exec("INSERT INTO agentfs_meta (key, value) VALUES ('other', '1')");
      expect(() => {
        if (op === 'start') tools.start('during');
        else if (op === 'finish') tools.success(open, 'during');
        else tools.record({ name: 'during', started_at: 1, completed_at: 2, parentId: null });
      }).toThrow(/locked/);
      other.exec('COMMIT');

      const rec = tools.record({ name: 'after', started_at: 1, completed_at: 2, parentId: null });
      expect(other.prepare('SELECT name FROM tool_calls WHERE id = ?').get(rec)).toMatchObject({ name: 'after' });
      store.transaction(() => store.setMeta('after', 'tx'));
      expect(other.prepare("SELECT value FROM agentfs_meta WHERE key = 'after'").get()).toMatchObject({ value: 'tx' });
      const next = tools.start('next');
      expect(tools.success(next, 1).status).toBe('success');
      if (op !== 'finish') tools.success(open, 'late');
      expect(other.prepare("SELECT COUNT(*) AS n FROM tool_calls WHERE status = 'pending'").get()).toMatchObject({ n: op === 'finish' ? 1 : 0 });
    });
  }
});

describe('a start rolled back', () => {
  it('is no call of this process: its id taken by another process is not finished from here', () => {
    const { store, tools, file } = fresh();
    const warm = tools.start('warm'); // the shortcuts are made: the start inside joins the transaction
    tools.success(warm);
    let ghost = 0;
    expect(() =>
      store.transaction(() => {
        ghost = tools.start('ghost', { who: 'me' });
        throw new Error('abandon');
      }),
    ).toThrow('abandon');
    expect(tools.get(ghost)).toBeUndefined();
    expect(tools.current()).toBeUndefined();

    const otherStore = Store.open({ path: file });
    cleanups.push(() => otherStore.close());
    const theirs = new ToolCalls(otherStore).start('theirs', { who: 'them' });
    expect(theirs).toBe(ghost); // the id came free again, as AUTOINCREMENT gives it

    // not nested in the ghost, nor is the ghost in progress here
    expect(tools.start('next')).toBeGreaterThan(theirs);
    expect(tools.list({ name: 'next' })[0]!.parent_id).toBeUndefined();
    // a finish by that number is one of any call by id (as from another process): it reports the
    // call stored under it, not the ghost as this process had written it
    expect(tools.success(ghost, { by: 'me' })).toMatchObject({ id: theirs, name: 'theirs', parameters: { who: 'them' } });
  });

  it('inside a savepoint that rolls back, the enclosing transaction\'s call stays live', () => {
    const { store, tools } = fresh();
    tools.success(tools.start('warm'));
    let outer = 0;
    let inner = 0;
    store.transaction(() => {
      outer = tools.start('outer');
      try {
        store.transaction(() => {
          inner = tools.start('inner');
          throw new Error('abandon');
        });
      } catch {}
    });
    expect(tools.current()).toBe(outer);
    expect(tools.get(inner)).toBeUndefined();
    expect(tools.success(outer, 1).status).toBe('success');
  });
});

describe('a finish rolled back', () => {
  it('leaves the call pending and in progress here, to be finished again', () => {
    const { store, tools } = fresh();
    tools.success(tools.start('warm'));
    const id = tools.start('outer');
    expect(() =>
      store.transaction(() => {
        tools.success(id, 'first');
        throw new Error('abandon');
      }),
    ).toThrow('abandon');
    expect(tools.get(id)).toMatchObject({ status: 'pending' });
    expect(tools.current()).toBe(id);
    const child = tools.start('child');
    expect(tools.get(child)!.parent_id).toBe(id);
    tools.success(child);
    expect(tools.success(id, 'second')).toMatchObject({ id, status: 'success', result: 'second' });
  });
});

describe('a listing that stops early', () => {
  // a libsql statement left mid-iteration keeps its read snapshot: once another connection
  // committed, every write of this one was refused as locked
  it('under a status filter and a limit leaves the connection writing after another commits', () => {
    const { store, tools, file } = fresh(200);
    for (let i = 0; i < 300; i++) tools.record({ name: 'r', started_at: 1, completed_at: 2, parentId: null });
    const otherStore = Store.open({ path: file });
    cleanups.push(() => otherStore.close());
    const firsts = tools.list({ status: 'success', limit: 2 });
    expect(firsts.map((c) => c.id)).toEqual([300, 299]);
    expect(tools.list({ status: 'success', limit: 1, order: 'asc' }).map((c) => c.id)).toEqual([1]);
    new ToolCalls(otherStore).record({ name: 'theirs', started_at: 1, completed_at: 2, parentId: null });
    expect(tools.success(tools.start('mine')).status).toBe('success');
    store.transaction(() => store.setMeta('after', '1'));
    // and the pages a limit reads through find what lies past the first ones
    const failed = tools.record({ name: 'bad', started_at: 5, completed_at: 6, error: 'no', parentId: null });
    expect(tools.list({ status: 'error', limit: 5, order: 'asc' }).map((c) => c.id)).toEqual([failed]);
    expect(tools.list({ status: 'success', order: 'asc' }).length).toBe(302);
  });
});

describe('the orphan mark after the calls were cleared', () => {
  it('a call left open by a process that died is reaped though its id is below the old mark', async () => {
    const { store, tools, file } = fresh();
    for (let i = 0; i < 300; i++) tools.success(tools.start('c'));
    const reopened = Store.open({ path: file });
    new ToolCalls(reopened).reapOrphans(); // a writable open: moves the mark past them all
    reopened.close();
    expect(Number(store.getMeta('tool_calls_open_from'))).toBeGreaterThan(256);
    // another program clears the history, AUTOINCREMENT's counter too: ids start again at 1
    store.db.exec("DELETE FROM tool_calls; DELETE FROM agentfs_tool_call_ext; DELETE FROM sqlite_sequence WHERE name = 'tool_calls'");
    const child = `import(process.argv[1]).then(({ Agent }) => { const a = Agent.open({ path: process.argv[2] }); process.stdout.write(String(a.tools.start('left open'))); process.exit(0); })`;
    const r = await run(process.execPath, ['-e', child, join(ROOT, 'dist/core/agent.js'), file]);
    expect(r.stderr).toBe('');
    const id = Number(r.stdout);
    expect(id).toBe(1);
    const other = Store.open({ path: file });
    cleanups.push(() => other.close());
    expect(new ToolCalls(other).reapOrphans()).toBe(1);
    const row = other.db.prepare('SELECT status, error FROM tool_calls WHERE id = ?').get(id) as { status: string; error: string };
    expect(row.status).toBe('error');
    expect(row.error).toMatch(/ended without finishing/);
    // and the mark comes back below the ids given from now on (else, once they passed it, the
    // calls below it would never be read again)
    expect(Number(other.getMeta('tool_calls_open_from'))).toBeLessThanOrEqual(2);
  });
});

describe('tool_calls recreated by another program', () => {
  // a program that knows only the spec's tables drops tool_calls (and so AUTOINCREMENT's counter)
  // and makes it again: ids start at 1 while our rows of the old calls are still there
  it('new calls start, record and nest under ids our old rows still name', () => {
    const { store, tools, file } = fresh();
    const parent = tools.start('old parent');
    tools.record({ name: 'old child', started_at: 1, completed_at: 2, parentId: parent });
    tools.success(parent);
    for (let i = 0; i < 3; i++) tools.success(tools.start('old'));
    const other = new Database(file);
    cleanups.push(() => other.close());
    const ddl = (other.prepare("SELECT sql FROM sqlite_master WHERE name = 'tool_calls'").get() as { sql: string }).sql;
    other.exec(`DROP TABLE tool_calls; ${ddl}`);
    store.close();
    const again = Store.open({ path: file });
    cleanups.push(() => again.close());
    const t = new ToolCalls(again);
    t.reapOrphans(); // as a writable open does
    const a = t.start('new a');
    expect(a).toBe(1);
    const b = t.start('new b', undefined, { parentId: a });
    const r = t.record({ name: 'new rec', started_at: 1, completed_at: 2, parentId: a });
    expect(t.success(b).status).toBe('success');
    expect(t.success(a).status).toBe('success');
    expect(t.get(b)).toMatchObject({ name: 'new b', parent_id: a });
    expect(t.get(r)).toMatchObject({ name: 'new rec', parent_id: a });
    expect(t.get(a)!.parent_id).toBeUndefined();
    const plain = t.record({ name: 'plain', started_at: 1, completed_at: 2, parentId: null });
    expect(plain).toBe(4); // an old call's id: nothing of that call comes with it
    expect(t.get(plain)!.started_ns).toBeUndefined();
    expect(t.get(plain)!.parent_id).toBeUndefined();
  });
});

describe('a call of this process finished or deleted elsewhere', () => {
  // finish() said so (EALREADY, ENOENT) but the call stayed in progress here: every later call
  // of this process nested under it, and file operations were stamped with it
  for (const how of ['finished', 'deleted'] as const) {
    it(`once ${how} by another connection is no longer the parent of new calls`, () => {
      const { tools, file } = fresh();
      const outer = tools.start('outer');
      const inner = tools.start('inner');
      expect(tools.current()).toBe(inner);
      const other = new Database(file);
      cleanups.push(() => other.close());
      if (how === 'finished') other.prepare("UPDATE tool_calls SET status = 'success', completed_at = started_at, duration_ms = 0 WHERE id = ?").run(inner);
      else other.prepare('DELETE FROM tool_calls WHERE id = ?').run(inner);
      expect(() => tools.success(inner)).toThrow(how === 'finished' ? /already finished/ : /no tool call/);
      expect(tools.current()).toBe(outer);
      const next = tools.start('next');
      expect(tools.get(next)!.parent_id).toBe(outer);
      tools.success(next);
      tools.success(outer);
      expect(tools.current()).toBeUndefined();
    });
  }
});

describe('tool_calls whose time columns are not INTEGER', () => {
  // another program's table (REAL or TEXT completed_at/duration_ms): the start's values, carried
  // in those columns for the start trigger, were stored as REAL or TEXT, the trigger (integers
  // only) left them there and wrote no ext row: a pending call with a completed_at in
  // nanoseconds, no parent, no process (never reaped)
  for (const type of ['REAL', 'TEXT'] as const) {
    for (const when of ['before the first call', 'while this connection starts calls'] as const) {
      it(`${type}, the table made ${when}: a start stores a clean pending row and its ext row`, () => {
        const { store, tools, file } = fresh();
        if (when === 'while this connection starts calls') tools.success(tools.start('warm'));
        const other = new Database(file);
        cleanups.push(() => other.close());
        other.exec(`DROP TABLE tool_calls; CREATE TABLE tool_calls (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
          parameters TEXT, result TEXT, error TEXT, status TEXT NOT NULL DEFAULT 'pending', started_at INTEGER NOT NULL,
          completed_at ${type}, duration_ms ${type})`);
        let t = tools;
        if (when === 'before the first call') {
          store.close();
          const again = Store.open({ path: file });
          cleanups.push(() => again.close());
          t = new ToolCalls(again);
        }
        const outer = t.start('outer');
        const inner = t.start('inner');
        const rows = other.prepare('SELECT id, status, completed_at, duration_ms FROM tool_calls ORDER BY id').all();
        expect(rows).toEqual([
          { id: outer, status: 'pending', completed_at: null, duration_ms: null },
          { id: inner, status: 'pending', completed_at: null, duration_ms: null },
        ]);
        expect(other.prepare('SELECT id, parent_id, pid FROM agentfs_tool_call_ext WHERE id IN (?, ?) ORDER BY id').all(outer, inner)).toEqual([
          { id: outer, parent_id: null, pid: process.pid },
          { id: inner, parent_id: outer, pid: process.pid },
        ]);
        expect(t.get(inner)).toMatchObject({ status: 'pending', parent_id: outer });
        expect(t.get(inner)!.completed_at).toBeUndefined();
        expect(t.success(inner).status).toBe('success');
        expect(t.success(outer).status).toBe('success');
      });
    }
  }
});

describe('a call of this process whose id another call took', () => {
  // `sync pull --theirs` (or another program remaking tool_calls) put the remote's pending call
  // under the id of one this process had open: success() finished the remote's call with this
  // one's result
  for (const shared of [false, true]) {
    it(`is not finished in its place (${shared ? 'a shared call' : 'a call of this process'}); ours is gone, and says so`, () => {
      const { tools, file } = fresh();
      const outer = tools.start('outer');
      const id = tools.start('mine', { a: 1 }, { shared });
      const other = new Database(file);
      cleanups.push(() => other.close());
      other.prepare('DELETE FROM tool_calls WHERE id = ?').run(id);
      other.prepare("INSERT INTO tool_calls (id, name, parameters, status, started_at) VALUES (?, 'theirs', '{}', 'pending', 1000)").run(id);
      expect(() => tools.success(id, { ok: true })).toThrow(/gone: the id now belongs to another call \(theirs\)/);
      const row = other.prepare('SELECT name, status, result, completed_at FROM tool_calls WHERE id = ?').get(id) as Record<string, unknown>;
      expect(row).toMatchObject({ name: 'theirs', status: 'pending', result: null, completed_at: null });
      // ours no longer nests new calls
      expect(tools.current()).toBe(outer);
      // the same call pulled back unchanged (same name and start) is still ours to finish
      const again = tools.start('again');
      const back = Object.fromEntries(
        Object.entries(other.prepare('SELECT * FROM tool_calls WHERE id = ?').get(again) as Record<string, unknown>).filter(([k]) => k !== '_metadata'),
      );
      other.prepare('DELETE FROM tool_calls WHERE id = ?').run(again);
      other.prepare(`INSERT INTO tool_calls (${Object.keys(back).join(', ')}) VALUES (${Object.keys(back).map(() => '?').join(', ')})`).run(...Object.values(back));
      expect(tools.success(again, 1).status).toBe('success');
      tools.success(outer);
    });
  }
});
