import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, META } from '../../src/core/agent.js';
import { computeChanges } from '../../src/core/changes/index.js';
import type { OverlayFs } from '../../src/core/overlay/index.js';
import { Store, StoreError } from '../../src/store/index.js';
import { CallReader, ToolCalls } from '../../src/core/tools/index.js';
import { JournalPages, JournalReader } from '../../src/core/journal/index.js';
import Database from 'libsql';
import { tempDir } from '../support/cli.js';

/** The read paths of `agentfs ui`: read-only stores, call pages and journal windows. */
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function fresh(): { file: string } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const file = join(t.dir, 'a.db');
  Store.open({ path: file }, { create: true }).close();
  return { file };
}

function readOnly(file: string): Store {
  const s = Store.open({ path: file }, { readOnly: true });
  cleanups.push(() => s.close());
  return s;
}

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('Store readOnly', () => {
  it('reads, refuses every write and leaves the file byte-identical', () => {
    const { file } = fresh();
    const w = Agent.open({ path: file });
    w.paths.writeFile('/a.txt', 'hello');
    w.kv.set('k', 1);
    w.close();
    const before = sha(file);
    const s = readOnly(file);
    expect(s.readOnly).toBe(true);
    expect(() => s.db.exec("INSERT INTO kv_store (key, value) VALUES ('x', '1')")).toThrow(/readonly/i);
    expect(() => s.setMeta('x', 'y')).toThrow(/readonly/i);
    // an agent over a read-only store reads files and kv; its access-time bookkeeping is dropped
    const a = Agent.open({ path: file }, { readOnly: true, journal: false });
    expect(a.paths.readFile('/a.txt', 'utf8')).toBe('hello');
    expect(a.kv.get('k')).toBe(1);
    expect(() => a.paths.writeFile('/b.txt', 'x')).toThrow();
    a.close();
    s.close();
    expect(sha(file)).toBe(before);
  });

  it('opens an overlay agent no writer has opened yet (root not adopted) without writing', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const base = join(t.dir, 'base');
    mkdirSync(base);
    writeFileSync(join(base, 'x.txt'), 'x');
    const file = join(t.dir, 'ov.db');
    const w = Store.open({ path: file }, { create: true });
    w.setMeta(META.base, base);
    w.close();
    const before = sha(file);
    const a = Agent.open({ path: file }, { readOnly: true, journal: false });
    expect(a.paths.readdir('/')).toEqual(['x.txt']);
    expect(computeChanges((a.fs as OverlayFs).changes)).toEqual([]);
    a.close();
    expect(sha(file)).toBe(before);
  });

  it('never creates a database', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    expect(() => Store.open({ path: join(t.dir, 'none.db') }, { readOnly: true, create: true })).toThrow(StoreError);
  });
});

describe('CallReader', () => {
  it('works on a database that never had a tool call (no extension tables)', () => {
    const { file } = fresh();
    const r = new CallReader(readOnly(file));
    expect(r.page()).toEqual({ total: 0, offset: 0, calls: [] });
    expect(r.totals()).toEqual({ calls: 0, failures: 0, pending: 0 });
    expect(r.figures()).toEqual([]);
    expect(new JournalPages(readOnly(file)).window()).toEqual({ entries: [], truncated: false });
  });

  it('reads the spec-text layout (no status column): status derived, pending calls included', () => {
    const { file } = fresh();
    const db = new Database(file);
    db.exec(`DROP TABLE tool_calls;
      CREATE TABLE tool_calls (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, parameters TEXT, result TEXT, error TEXT,
        started_at INTEGER NOT NULL, completed_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL);
      INSERT INTO tool_calls (name, parameters, result, error, started_at, completed_at, duration_ms)
        VALUES ('old_ok', '{"a":1}', '"r"', NULL, 10, 11, 1000), ('old_bad', NULL, NULL, 'nope', 12, 12, 5);`);
    db.close();
    const w = Store.open({ path: file });
    new ToolCalls(w).start('running');
    w.close();
    const r = new CallReader(readOnly(file));
    expect(r.page().calls.map((c) => [c.name, c.status])).toEqual([
      ['old_ok', 'success'],
      ['old_bad', 'error'],
      ['running', 'pending'],
    ]);
    expect(r.totals()).toMatchObject({ calls: 3, failures: 1, pending: 1 });
    expect(r.page({ statuses: ['error'] }).calls.map((c) => c.name)).toEqual(['old_bad']);
  });

  it('pages calls in start order with filters, depth and the last page', () => {
    const { file } = fresh();
    const w = Store.open({ path: file });
    const tools = new ToolCalls(w);
    const ids: number[] = [];
    for (let i = 0; i < 25; i++) {
      ids.push(
        tools.record({
          name: i % 5 === 0 ? 'bash' : 'read',
          parameters: { n: i, note: i === 7 ? 'needle here' : 'hay' },
          error: i % 10 === 3 ? `failed ${i}` : undefined,
          started_at: 1000 + i,
          completed_at: 1000 + i,
          duration_ms: i * 10,
          parentId: i === 21 ? ids[20] : i === 22 ? ids[21] : null,
        }),
      );
    }
    w.close();
    const r = new CallReader(readOnly(file));
    const p1 = r.page({ limit: 10 });
    expect(p1.total).toBe(25);
    expect(p1.calls.map((c) => c.id)).toEqual(ids.slice(0, 10));
    const last = r.page({ limit: 10, page: 'last' });
    expect(last.offset).toBe(15);
    expect(last.calls.map((c) => c.id)).toEqual(ids.slice(15));
    // depth: 21 inside 20, 22 inside 21 (its grandparent looked up when off the page)
    const deep = r.page({ limit: 2, offset: 21 });
    expect(deep.calls.map((c) => [c.id, c.depth])).toEqual([[ids[21], 1], [ids[22], 2]]);
    expect(r.page({ statuses: ['error'] }).calls.map((c) => c.error_preview)).toEqual(['failed 3', 'failed 13', 'failed 23']);
    expect(r.page({ names: ['bash'] }).total).toBe(5);
    expect(r.page({ text: 'NEEDLE' }).calls.map((c) => c.id)).toEqual([ids[7]]);
    expect(r.page({ ids: new Set([ids[1]!, ids[2]!]) }).total).toBe(2);
    // exact time bounds in ns
    const win = r.page({ sinceNs: 1005e9, untilNs: 1007e9 });
    expect(win.calls.map((c) => c.id)).toEqual(ids.slice(5, 8));
    expect(r.page({ sinceNs: 1005e9, untilNs: 1007e9, page: 'last', limit: 2 }).calls.map((c) => c.id)).toEqual(ids.slice(6, 8));
    expect(r.position(ids[12]!)).toBe(12);
    const d = r.get(ids[20]!)!;
    expect(d.children.map((c) => c.id)).toEqual([ids[21]]);
    expect(d.parameters).toEqual({ n: 20, note: 'hay' });
    const bash = r.figures().find((f) => f.name === 'bash')!;
    expect(bash).toMatchObject({ calls: 5, success: 5, error: 0, p50_ms: 100, p95_ms: 200, max_ms: 200 });
    const read = r.figures().find((f) => f.name === 'read')!;
    expect(read.error).toBe(3);
    expect(read.failure_rate).toBeCloseTo(3 / 20);
  });
});

describe('JournalPages', () => {
  it('finds rows by time and by call without an index, and the most changed paths', async () => {
    const { file } = fresh();
    const a = Agent.open({ path: file });
    const c1 = a.tools.start('one');
    a.paths.writeFile('/x.txt', 'a');
    a.paths.mkdir('/d');
    a.tools.success(c1);
    await new Promise((r) => setTimeout(r, 20));
    const mid = Date.now() * 1e6;
    await new Promise((r) => setTimeout(r, 20));
    const c2 = a.tools.start('two');
    a.paths.writeFile('/d/y.txt', 'b');
    a.paths.rename('/x.txt', '/d/x2.txt');
    a.tools.success(c2);
    a.close();
    const j = new JournalPages(readOnly(file));
    const all = j.window();
    expect(all.entries.length).toBeGreaterThan(3);
    const after = j.window({ sinceNs: mid });
    expect(after.entries.every((e) => e.time_ns >= mid && e.tool_call_id === c2)).toBe(true);
    expect(after.entries.map((e) => e.op)).toContain('rename');
    const before = j.window({ untilNs: mid });
    expect(before.entries.every((e) => e.tool_call_id === c1)).toBe(true);
    expect(j.window({ toolCallId: c1 }).entries.map((e) => e.path)).toContain('/x.txt');
    const limited = j.window({ limit: 2 });
    expect(limited).toMatchObject({ truncated: true });
    expect(limited.entries).toHaveLength(2);
    // the next page starts after the last id seen
    const next = j.window({ limit: 2, afterId: limited.entries[1]!.id });
    expect(next.entries.map((e) => e.id)).toEqual(all.entries.slice(2, 4).map((e) => e.id));
    expect([...j.callsTouching('d/**')].sort()).toEqual([c1, c2]); // c1 made /d
    expect([...j.callsTouching('d/*.txt')]).toEqual([c2]);
    expect([...j.callsTouching('x2.txt')]).toEqual([c2]);
    const top = j.topPaths(50).map((p) => p.path);
    expect(top).toContain('/d/x2.txt'); // a rename's destination counts
    expect(j.totals().rows).toBe(all.entries.length);
  });
});

describe('JournalPages windows that stop early', () => {
  // a libsql statement left mid-iteration keeps its read snapshot: the viewer's connection then
  // saw no later commit (its pages froze)
  it('leave the reader seeing what is written after them', () => {
    const { file } = fresh();
    const a = Agent.open({ path: file });
    cleanups.push(() => a.close());
    for (let i = 0; i < 600; i++) a.paths.writeFile(`/f${i}`, 'x');
    const pages = new JournalPages(readOnly(file));
    const first = pages.window({ limit: 10 });
    expect(first.entries.length).toBe(10);
    expect(first.truncated).toBe(true);
    const rows = pages.totals().rows;
    a.paths.writeFile('/late', 'x');
    expect(pages.totals().rows).toBeGreaterThan(rows);
    // past a page boundary the window goes on where the last page ended
    const tail = pages.window({ afterId: first.entries[9]!.id, limit: 5000 });
    expect(tail.truncated).toBe(false);
    expect(tail.entries.map((e) => e.id)).toEqual([...Array(pages.totals().rows - 10).keys()].map((i) => i + first.entries[9]!.id + 1));
    expect(tail.entries.at(-1)!.path).toBe('/late');
  });
});

describe('JournalReader lists that stop at their limit', () => {
  // as `timeline --follow --limit N` reads: the first page stopped the scan half way, and the
  // connection then saw no later change (nothing new was ever printed)
  it('leave the reader seeing what is written after them', () => {
    const { file } = fresh();
    const a = Agent.open({ path: file });
    cleanups.push(() => a.close());
    for (let i = 0; i < 600; i++) a.paths.writeFile(`/f${i}`, 'x');
    const reader = new JournalReader(readOnly(file));
    const last = reader.list({ limit: 3 });
    expect(last.map((e) => e.id)).toEqual([1200, 1199, 1198]);
    expect(reader.list({ limit: 2, order: 'asc', path: '/f599' }).map((e) => e.path)).toEqual(['/f599', '/f599']);
    a.paths.writeFile('/late', 'x');
    const after = reader.list({ afterId: 1200, order: 'asc' });
    expect(after.length).toBeGreaterThan(0);
    expect(after.at(-1)!.path).toBe('/late');
    expect(reader.list().length).toBe(1200 + after.length);
  });
});
