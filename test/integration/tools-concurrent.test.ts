// Tool calls started, finished and recorded by several processes at once on one database: a
// start proposes its id outside the write lock (CALL_SHORTCUTS), so the processes keep taking
// each other's proposals. Every call must still get an id of its own, in AUTOINCREMENT order,
// with its own ext row, and every finish must land on its own call.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'libsql';
import { Store } from '../../src/store/index.js';
import { ROOT, run, tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/**
 * One writer: N start+success (every third shared, every fifth nested) and N/4 records, opening
 * the database afresh every 100 (a writable open reaps orphans and may move its mark while the
 * others write); prints what it got.
 */
const WRITER = `
  import(process.argv[1]).then(async ({ Agent }) => {
    const [file, tag, n] = [process.argv[2], process.argv[3], Number(process.argv[4])];
    let a = Agent.open({ path: file });
    const got = [];
    for (let i = 0; i < n; i++) {
      if (i > 0 && i % 100 === 0) {
        a.close();
        a = Agent.open({ path: file });
      }
      const outer = a.tools.start('w', { tag, i }, { shared: i % 3 === 0 });
      let inner;
      if (i % 5 === 0) {
        inner = a.tools.start('inner', { tag, i }, { parentId: outer });
        a.tools.success(inner, { tag, i, inner: true });
      }
      const done = a.tools.success(outer, { tag, i });
      if (done.id !== outer || done.status !== 'success') throw new Error('finish returned another call: ' + JSON.stringify(done));
      got.push([outer, inner ?? null]);
      if (i % 4 === 0) got.push([a.tools.record({ name: 'rec', started_at: 1, completed_at: 2, parameters: { tag, i }, result: { r: i } }), null]);
      await new Promise((r) => setImmediate(r)); // let the others in
    }
    a.close();
    process.stdout.write(JSON.stringify(got));
  }).catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });`;

describe('tool calls from concurrent processes', () => {
  it('every start gets an id of its own and every finish lands on its own call', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'a.db');
    Store.open({ path: file }, { create: true }).close();
    const n = 600;
    const tags = ['a', 'b', 'c'];
    const results = await Promise.all(
      tags.map((tag) => run(process.execPath, ['-e', WRITER, join(ROOT, 'dist/core/agent.js'), file, tag, String(n)], { timeoutMs: 120_000 })),
    );
    for (const r of results) expect(r.stderr).toBe('');
    for (const r of results) expect(r.code).toBe(0);
    const got = results.map((r) => JSON.parse(r.stdout) as [number, number | null][]);
    const ids = got.flat().flatMap(([o, i]) => (i === null ? [o] : [o, i]));
    expect(new Set(ids).size).toBe(ids.length);
    const db = new Database(file, { readonly: true });
    cleanups.push(() => db.close());
    const rows = db.prepare('SELECT c.id, c.name, c.status, c.parameters, c.result, c.completed_at, c.duration_ms, e.parent_id, e.started_ns, e.pid FROM tool_calls c LEFT JOIN agentfs_tool_call_ext e USING (id) ORDER BY c.id').all() as {
      id: number; name: string; status: string; parameters: string; result: string; completed_at: number | null; duration_ms: number | null; parent_id: number | null; started_ns: number | null; pid: number | null;
    }[];
    expect(rows.length).toBe(ids.length);
    expect(rows.every((r) => r.status === 'success')).toBe(true);
    const byId = new Map(rows.map((r) => [Number(r.id), r]));
    tags.forEach((tag, k) => {
      got[k]!.forEach(([outer, inner]) => {
        const o = byId.get(outer)!;
        const p = JSON.parse(o.parameters) as { tag: string; i: number };
        expect(p.tag).toBe(tag);
        if (o.name === 'rec') return;
        expect(JSON.parse(o.result)).toEqual({ tag, i: p.i }); // its own finish, not another's
        // its own start and end: the trigger's carried values never stay in a finished row either
        expect(o.started_ns).not.toBeNull();
        expect(Number(o.completed_at)).toBeLessThan(1e12);
        expect(Number(o.duration_ms)).toBeLessThan(120_000);
        if (inner !== null) {
          const c = byId.get(inner)!;
          expect(c.parent_id).toBe(outer);
          expect(JSON.parse(c.result)).toEqual({ tag, i: p.i, inner: true });
        }
      });
    });
    // nothing left announced or open, and the sequence is past every id, as AUTOINCREMENT keeps it
    expect(db.prepare('SELECT COUNT(*) AS n FROM agentfs_active_call').get()).toMatchObject({ n: 0 });
    expect(db.prepare("SELECT COUNT(*) AS n FROM tool_calls WHERE status = 'pending'").get()).toMatchObject({ n: 0 });
    const seq = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'tool_calls'").get() as { seq: number };
    expect(Number(seq.seq)).toBe(Math.max(...ids));
  }, 180_000);
});
