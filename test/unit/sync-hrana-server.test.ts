import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from '@libsql/client';
import { join } from 'node:path';
import { startHranaServer, type HranaServer } from '../support/hrana-server.js';
import { tempDir } from '../support/cli.js';

// The loopback server the sync tests rely on: it must speak what @libsql/client sends.
describe('hrana test server', () => {
  const tmp = tempDir('agentfs-hrana-');
  let server: HranaServer;
  let client: Client;

  beforeAll(async () => {
    server = await startHranaServer({ db: join(tmp.dir, 'remote.db'), token: 'secret' });
    client = createClient({ url: server.url, authToken: 'secret', intMode: 'bigint' });
  });
  afterAll(async () => {
    client.close();
    await server.stop();
    tmp.cleanup();
  });

  const pipeline = async (body: unknown, token = 'secret') => {
    const r = await fetch(`${server.url}/v2/pipeline`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: r.headers.get('content-type') === 'application/json' ? await r.json() : await r.text() };
  };

  it('executes with positional and named args and keeps value types (integers beyond 2^53, floats, blobs)', async () => {
    await client.execute('CREATE TABLE t (a INTEGER, b, c)');
    await client.execute({ sql: 'INSERT INTO t VALUES (?, ?, ?)', args: [9007199254740993n, 1.5, new Uint8Array([0, 1, 255])] });
    await client.execute({ sql: 'INSERT INTO t VALUES (:a, @b, $c)', args: { a: 2n, b: 'text', c: null } });
    const rs = await client.execute('SELECT a, b, c, typeof(b) AS tb FROM t ORDER BY rowid');
    expect(rs.rows[0]!.a).toBe(9007199254740993n);
    expect(rs.rows[0]!.b).toBe(1.5);
    expect(Buffer.from(rs.rows[0]!.c as ArrayBuffer)).toEqual(Buffer.from([0, 1, 255]));
    expect(rs.rows[1]!.b).toBe('text');
    expect(rs.rows[1]!.c).toBeNull();
    expect(rs.columns).toEqual(['a', 'b', 'c', 'tb']);
  });

  it('runs batches atomically: a failing step rolls the whole batch back', async () => {
    await client.execute('CREATE TABLE u (x INTEGER PRIMARY KEY)');
    await client.batch(['INSERT INTO u VALUES (1)', 'INSERT INTO u VALUES (2)'], 'write');
    await expect(client.batch(['INSERT INTO u VALUES (3)', 'INSERT INTO u VALUES (1)'], 'write')).rejects.toThrow(/UNIQUE/);
    const rs = await client.execute('SELECT count(*) AS n FROM u');
    expect(rs.rows[0]!.n).toBe(2n);
  });

  it('evaluates batch conditions ok / error / not / and / or / is_autocommit', async () => {
    const step = (sql: string, condition?: unknown) => ({ stmt: { sql }, ...(condition ? { condition } : {}) });
    const { body } = await pipeline({
      requests: [
        {
          type: 'batch',
          batch: {
            steps: [
              step('SELECT 1'),
              step('SELECT * FROM missing_table'),
              step('SELECT 2', { type: 'ok', step: 0 }),
              step('SELECT 3', { type: 'ok', step: 1 }),
              step('SELECT 4', { type: 'error', step: 1 }),
              step('SELECT 5', { type: 'not', cond: { type: 'ok', step: 1 } }),
              step('SELECT 6', { type: 'and', conds: [{ type: 'ok', step: 0 }, { type: 'ok', step: 1 }] }),
              step('SELECT 7', { type: 'or', conds: [{ type: 'ok', step: 0 }, { type: 'ok', step: 1 }] }),
              step('SELECT 8', { type: 'is_autocommit' }),
            ],
          },
        },
        { type: 'close' },
      ],
    });
    const res = body.results[0].response.result;
    const ran = res.step_results.map((r: unknown) => r !== null);
    expect(ran).toEqual([true, false, true, false, true, true, false, true, true]);
    expect(res.step_errors[1].message).toMatch(/no such table/);
    expect(body.baton).toBeNull();
  });

  it('keeps a stream open with a baton across requests (interactive transaction)', async () => {
    const first = await pipeline({ requests: [{ type: 'execute', stmt: { sql: 'BEGIN' } }, { type: 'execute', stmt: { sql: 'INSERT INTO u VALUES (10)' } }, { type: 'get_autocommit' }] });
    expect(first.body.baton).toEqual(expect.any(String));
    expect(first.body.results[2].response.is_autocommit).toBe(false);
    // another stream does not see the uncommitted row
    const other = await client.execute('SELECT count(*) AS n FROM u WHERE x = 10');
    expect(other.rows[0]!.n).toBe(0n);
    const second = await pipeline({ baton: first.body.baton, requests: [{ type: 'execute', stmt: { sql: 'COMMIT' } }, { type: 'close' }] });
    expect(second.body.results.map((r: { type: string }) => r.type)).toEqual(['ok', 'ok']);
    const after = await client.execute('SELECT count(*) AS n FROM u WHERE x = 10');
    expect(after.rows[0]!.n).toBe(1n);
    // a used-up baton is refused
    const stale = await pipeline({ baton: first.body.baton, requests: [{ type: 'close' }] });
    expect(stale.status).toBe(400);
  });

  it('stores SQL by id (store_sql / close_sql), runs sequences and describes statements', async () => {
    const { body } = await pipeline({
      requests: [
        { type: 'store_sql', sql_id: 7, sql: 'SELECT ? + 1 AS v' },
        { type: 'execute', stmt: { sql_id: 7, args: [{ type: 'integer', value: '41' }] } },
        { type: 'close_sql', sql_id: 7 },
        { type: 'execute', stmt: { sql_id: 7 } },
        { type: 'sequence', sql: 'CREATE TABLE s (x); INSERT INTO s VALUES (1);' },
        { type: 'describe', sql: 'SELECT x FROM s WHERE x = :x' },
        { type: 'close' },
      ],
    });
    expect(body.results[1].response.result.rows[0][0]).toEqual({ type: 'integer', value: '42' });
    expect(body.results[3].type).toBe('error');
    expect(body.results[4].type).toBe('ok');
    expect(body.results[5].response.result.is_readonly).toBe(true);
    expect(body.results[5].response.result.params).toEqual([{ name: ':x' }]);
  });

  it('demands the bearer token (401) but serves /health to anyone, and /version with the token', async () => {
    expect((await pipeline({ requests: [] }, 'wrong')).status).toBe(401);
    const bad = createClient({ url: server.url, authToken: 'wrong' });
    await expect(bad.execute('SELECT 1')).rejects.toThrow(/401/);
    bad.close();
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect((await fetch(`${server.url}/version`)).status).toBe(401);
    const v = await fetch(`${server.url}/version`, { headers: { authorization: 'Bearer secret' } });
    expect(await v.text()).toMatch(/hrana/);
  });

  it('supports @libsql/client interactive transactions', async () => {
    const tx = await client.transaction('write');
    await tx.execute('INSERT INTO u VALUES (20)');
    await tx.rollback();
    const tx2 = await client.transaction('write');
    await tx2.execute('INSERT INTO u VALUES (21)');
    await tx2.commit();
    const rs = await client.execute('SELECT group_concat(x) AS xs FROM u WHERE x IN (20, 21)');
    expect(rs.rows[0]!.xs).toBe('21');
  });
});
