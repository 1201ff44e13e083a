import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'libsql';
import { Store } from '../../src/store/index.js';
import { ToolCalls, ToolCallError } from '../../src/core/tools/index.js';
import { tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function fresh(): { store: Store; tools: ToolCalls; file: string } {
  const t = tempDir();
  const file = join(t.dir, 'tools.db');
  const store = Store.open({ path: file }, { create: true });
  cleanups.push(t.cleanup, () => store.close());
  return { store, tools: new ToolCalls(store), file };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ToolCalls', () => {
  it('records parameters and results JSON cannot hold: bigints as digits, a cycle as its string form, deep nesting as a note', () => {
    const { tools, file } = fresh();
    const big = tools.start('big', { n: 12345678901234567890n, list: [1n, 'x'] });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    tools.success(big, cyclic);
    let deep: unknown = 0;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const d = tools.record({ name: 'deep', started_at: 1, completed_at: 2, parameters: deep, result: { plain: [null, 'null'] } });
    const other = new Database(file);
    cleanups.push(() => other.close());
    const rows = other.prepare('SELECT parameters, result FROM tool_calls WHERE id IN (?, ?) ORDER BY id').all(Number(big), d) as { parameters: string; result: string }[];
    expect(rows[0]).toEqual({ parameters: '{"n":"12345678901234567890","list":["1","x"]}', result: JSON.stringify('[object Object]') });
    expect(JSON.parse(rows[1]!.parameters)).toMatch(/nested too deeply/);
    expect(rows[1]!.result).toBe('{"plain":[null,"null"]}');
  });

  it('reads parameters once (a toJSON with effects), and keeps what has no text as its tag, never as a false note', () => {
    const { tools } = fresh();
    let calls = 0;
    const once = { big: 7n, v: { toJSON: () => (++calls === 1 ? [1, 2] : 'consumed') } };
    const id = tools.record({ name: 'once', started_at: 1, completed_at: 2, parameters: once });
    expect(calls).toBe(1);
    expect(tools.get(id)!.parameters).toEqual({ big: '7', v: [1, 2] });
    // no prototype and no JSON (toJSON gives nothing), a toJSON throwing a RangeError of its own
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { toJSON: () => undefined });
    const ranged = { toJSON: () => { throw new RangeError('my own range'); } };
    const a = tools.record({ name: 'bare', started_at: 1, completed_at: 2, parameters: bare, result: ranged });
    expect(tools.get(a)).toMatchObject({ parameters: '[object Object]', result: '[object Object]' });
  });

  it('records a call whatever its parameters throw while written as JSON: the value kept as its tag, never a raw error', () => {
    const { tools } = fresh();
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const badRange = new RangeError('x');
    Object.defineProperty(badRange, 'message', { get() { throw new Error('getter'); } });
    const thrown: unknown[] = [
      revoked.proxy, new Proxy({}, { getPrototypeOf() { throw new Error('gpo'); } }), badRange,
      Object.assign(new Error('x'), { message: Symbol('s') }), Object.assign(new RangeError('x'), { message: { toString() { throw new Error('t'); } } }),
    ];
    for (const e of thrown) {
      const v = { toJSON() { throw e; } };
      const id = tools.record({ name: 'hostile', started_at: 1, completed_at: 2, parameters: v, result: [v] });
      expect(tools.get(id)).toMatchObject({ parameters: '[object Object]', result: '[object Array]' });
    }
    // an array's text would read its elements again: only its tag is kept
    let reads = 0;
    const arr: unknown[] = [];
    Object.defineProperty(arr, 0, { get: () => ++reads, enumerable: true });
    arr[1] = arr;
    const id = tools.record({ name: 'cyclic', started_at: 1, completed_at: 2, parameters: arr });
    expect(reads).toBe(1);
    expect(tools.get(id)!.parameters).toBe('[object Array]');
  });

  it('starts a pending call visible to other connections, then finishes it with success', async () => {
    const { tools, file } = fresh();
    const id = tools.start('web_search', { query: 'AI agents' });
    const other = new Database(file);
    cleanups.push(() => other.close());
    const row = other.prepare('SELECT name, parameters, status, started_at, completed_at FROM tool_calls WHERE id = ?').get(id) as Record<string, unknown>;
    expect(row.status).toBe('pending');
    expect(row.parameters).toBe('{"query":"AI agents"}');
    expect(row.completed_at).toBeNull();
    expect(Math.abs(Number(row.started_at) - Date.now() / 1000)).toBeLessThan(5);
    await sleep(30);
    const done = tools.success(id, { results: ['r1', 'r2'] });
    expect(done.status).toBe('success');
    expect(done.result).toEqual({ results: ['r1', 'r2'] });
    expect(done.duration_ms).toBeGreaterThanOrEqual(25);
    expect(done.duration_ms).toBeLessThan(5000);
    expect(done.completed_at).toBeGreaterThanOrEqual(done.started_at);
    expect(done.error).toBeUndefined();
  });

  it('finishes a call with an error (message text), and refuses to finish twice or unknown ids', () => {
    const { tools } = fresh();
    const id = tools.start('api_call');
    const failed = tools.error(id, new Error('HTTP 500'));
    expect(failed.status).toBe('error');
    expect(failed.error).toBe('HTTP 500');
    expect(failed.result).toBeUndefined();
    expect(() => tools.success(id, 1)).toThrow(ToolCallError);
    expect(() => tools.success(9999, 1)).toThrow(/no tool call with id 9999/);
  });

  it('records finished calls as agentfs-sdk does (duration from seconds unless given)', () => {
    const { tools } = fresh();
    const a = tools.record({ name: 'read_file', started_at: 1704447830, completed_at: 1704447831, parameters: { p: '/x' }, result: 'abc' });
    const b = tools.record({ name: 'api_call', started_at: 1704447835, completed_at: 1704447835, error: 'timeout', duration_ms: 300 });
    expect(tools.get(a)).toMatchObject({ status: 'success', duration_ms: 1000, result: 'abc', parameters: { p: '/x' } });
    expect(tools.get(b)).toMatchObject({ status: 'error', duration_ms: 300, error: 'timeout' });
    expect(tools.get(b)!.result).toBeUndefined();
  });

  it('lists with name/status/since/until/limit filters, newest first', () => {
    const { tools } = fresh();
    tools.record({ name: 'web_search', started_at: 100, completed_at: 101 });
    tools.record({ name: 'read_file', started_at: 110, completed_at: 110 });
    tools.record({ name: 'api_call', started_at: 115, completed_at: 115, error: 'x' });
    const pending = tools.start('execute_code');
    expect(tools.list().map((c) => c.name)).toEqual(['execute_code', 'api_call', 'read_file', 'web_search']);
    expect(tools.list({ order: 'asc' })[0]!.name).toBe('web_search');
    expect(tools.list({ status: 'error' }).map((c) => c.name)).toEqual(['api_call']);
    expect(tools.list({ status: 'pending' }).map((c) => c.id)).toEqual([pending]);
    expect(tools.list({ name: 'read_file' }).length).toBe(1);
    expect(tools.list({ since: 110, until: 115 }).map((c) => c.name)).toEqual(['api_call', 'read_file']);
    expect(tools.list({ limit: 2 }).map((c) => c.name)).toEqual(['execute_code', 'api_call']);
    expect(() => tools.list({ status: 'done' as never })).toThrow(/unknown status/);
  });

  it('computes per-tool stats: counts, failures, average and p95 duration', () => {
    const { tools } = fresh();
    for (let i = 1; i <= 20; i++) tools.record({ name: 'fetch', started_at: 1, completed_at: 1, duration_ms: i * 10, error: i % 5 === 0 ? 'boom' : undefined });
    tools.record({ name: 'grep', started_at: 1, completed_at: 1, duration_ms: 7 });
    tools.start('fetch');
    const stats = tools.stats();
    expect(stats.map((s) => s.name)).toEqual(['fetch', 'grep']);
    const f = stats[0]!;
    expect(f).toMatchObject({ total_calls: 20, successful: 16, failed: 4, pending: 1, avg_duration_ms: 105, p95_duration_ms: 190, max_duration_ms: 200 });
    expect(stats[1]).toMatchObject({ total_calls: 1, avg_duration_ms: 7, p95_duration_ms: 7 });
  });

  it('nests calls: a call started while another of this process is pending records it as parent', async () => {
    const { tools } = fresh();
    const outer = tools.start('plan');
    const inner = tools.start('search');
    expect(tools.current()).toBe(inner);
    tools.success(inner, 1);
    expect(tools.current()).toBe(outer);
    const top = tools.start('other', undefined, { parentId: null });
    expect(tools.get(inner)!.parent_id).toBe(outer);
    expect(tools.get(top)!.parent_id).toBeUndefined();
    expect(tools.list({ parentId: outer }).map((c) => c.id)).toEqual([inner]);
    tools.success(top);
    tools.success(outer);
    expect(tools.current()).toBeUndefined();
  });

  it('follows the running call across awaits with runInCall, even when calls interleave', async () => {
    const { tools } = fresh();
    const a = tools.start('a');
    const b = tools.start('b', undefined, { parentId: null });
    const seen: (number | undefined)[] = [];
    await Promise.all([
      tools.runInCall(a, async () => {
        await sleep(10);
        seen.push(tools.current());
      }),
      tools.runInCall(b, async () => {
        await sleep(5);
        seen.push(tools.current());
      }),
    ]);
    expect(seen).toEqual([b, a]);
  });

  it('sees calls announced by another live process (shared), and not those of dead ones', async () => {
    const { store, tools, file } = fresh();
    tools.list(); // creates our tables
    expect(tools.current('anywhere')).toBeUndefined();
    const other = new Database(file);
    cleanups.push(() => other.close());
    // another process (the test runner's parent is alive; pid 2**22+12345 is not)
    other.prepare("INSERT INTO tool_calls (name, status, started_at) VALUES ('cmd', 'pending', 1)").run();
    const now = BigInt(Date.now()) * 1_000_000n;
    other.prepare('INSERT INTO agentfs_active_call (id, pid, started_ns) VALUES (1, ?, ?)').run(process.ppid, now);
    await sleep(2); // the shared lookup is revalidated at most once per millisecond
    expect(tools.current('anywhere')).toBe(1);
    other.prepare('INSERT INTO agentfs_active_call (id, pid, started_ns) VALUES (2, ?, ?)').run(2 ** 22 + 12345, now + 1n);
    await sleep(2); // the shared lookup is revalidated at most once per millisecond
    await sleep(2);
    expect(tools.current('anywhere')).toBe(1);
    other.prepare('DELETE FROM agentfs_active_call').run();
    await sleep(2);
    expect(tools.current('anywhere')).toBeUndefined();
    // a live pid that started long after the call is another program under a reused pid: the
    // announcing process is gone, as the orphan view says
    other.prepare('INSERT INTO agentfs_active_call (id, pid, started_ns) VALUES (1, ?, 1)').run(process.ppid);
    await sleep(2);
    expect(tools.current('anywhere')).toBeUndefined();
    expect(tools.get(1)).toMatchObject({ status: 'pending' }); // no ext row: not ours to judge
    other.prepare('DELETE FROM agentfs_active_call').run();
    await sleep(2);
    // our own shared call is found in-process first, and its row is removed when it finishes
    const mine = tools.start('record', undefined, { shared: true });
    expect((other.prepare('SELECT pid FROM agentfs_active_call WHERE id = ?').get(mine) as { pid: number }).pid).toBe(process.pid);
    tools.success(mine);
    expect(other.prepare('SELECT COUNT(*) AS n FROM agentfs_active_call').get()).toMatchObject({ n: 0 });
    void store;
  });

  it('filters by status as calls read: a call whose process is gone is an error, not pending, also under a limit', () => {
    const { store, tools } = fresh();
    const older = tools.record({ name: 'ok', started_at: 1, completed_at: 2 });
    const orphan = tools.start('killed');
    const live = tools.start('running', undefined, { parentId: null });
    // the orphan's recorder: a pid no process has
    store.db.prepare('UPDATE agentfs_tool_call_ext SET pid = ? WHERE id = ?').run(2 ** 22 + 12345, orphan);
    expect(tools.get(orphan)).toMatchObject({ status: 'error', error: expect.stringMatching(/ended without finishing/) });
    expect(tools.list({ status: 'error' }).map((c) => c.id)).toEqual([orphan]);
    expect(tools.list({ status: 'pending' }).map((c) => c.id)).toEqual([live]);
    expect(tools.list({ status: 'pending', limit: 1 }).map((c) => c.id)).toEqual([live]);
    expect(tools.list({ status: 'success' }).map((c) => c.id)).toEqual([older]);
    tools.success(live);
  });

  it('is read and written by agentfs-sdk in the same layout', async () => {
    const { store, tools, file } = fresh();
    const id = tools.start('ours', { x: 1 });
    tools.success(id, { ok: true });
    store.close();
    const { AgentFS } = await import('agentfs-sdk');
    const sdk = await AgentFS.open({ path: file });
    const call = await sdk.tools.get(id);
    expect(call).toMatchObject({ name: 'ours', status: 'success', parameters: { x: 1 }, result: { ok: true } });
    expect((await sdk.tools.getStats())[0]).toMatchObject({ name: 'ours', total_calls: 1 });
    await sdk.close();
  });
});

describe('ToolCalls on the spec-text layout (no status column, completed_at NOT NULL)', () => {
  function specLayout(): { store: Store; tools: ToolCalls; file: string } {
    const t = tempDir();
    const file = join(t.dir, 'spec.db');
    Store.open({ path: file }, { create: true }).close();
    const db = new Database(file);
    db.exec(`DROP TABLE tool_calls;
      CREATE TABLE tool_calls (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, parameters TEXT, result TEXT, error TEXT,
        started_at INTEGER NOT NULL, completed_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL);
      INSERT INTO tool_calls (name, parameters, result, error, started_at, completed_at, duration_ms)
        VALUES ('old_ok', '{"a":1}', '"r"', NULL, 10, 11, 1000), ('old_bad', NULL, NULL, 'nope', 12, 12, 5);`);
    db.close();
    const store = Store.open({ path: file });
    cleanups.push(t.cleanup, () => store.close());
    expect(store.layout.toolCallsHasStatus).toBe(false);
    return { store, tools: new ToolCalls(store), file };
  }

  it('derives status from error/completed_at', () => {
    const { tools } = specLayout();
    expect(tools.list({ order: 'asc' }).map((c) => [c.name, c.status])).toEqual([
      ['old_ok', 'success'],
      ['old_bad', 'error'],
    ]);
    expect(tools.list({ status: 'error' }).map((c) => c.name)).toEqual(['old_bad']);
  });

  it('keeps a pending call visible and gives it the same id once finished, without adding columns', () => {
    const { tools, file } = specLayout();
    const p = tools.start('running', { n: 1 });
    const r = tools.record({ name: 'quick', started_at: 20, completed_at: 20 });
    expect(r).toBeGreaterThan(p);
    expect(tools.get(p)).toMatchObject({ status: 'pending', name: 'running', parameters: { n: 1 } });
    expect(tools.list({ status: 'pending' }).map((c) => c.id)).toEqual([p]);
    tools.error(p, 'failed hard');
    expect(tools.get(p)).toMatchObject({ id: p, status: 'error', error: 'failed hard' });
    const db = new Database(file);
    cleanups.push(() => db.close());
    const cols = (db.prepare('PRAGMA table_info(tool_calls)').all() as { name: string }[]).map((c) => c.name);
    expect(cols).not.toContain('status');
    expect((db.prepare('SELECT COUNT(*) AS n FROM tool_calls').get() as { n: number }).n).toBe(4);
    const next = tools.record({ name: 'after', started_at: 30, completed_at: 30 });
    expect(next).toBeGreaterThan(r);
  });
});
