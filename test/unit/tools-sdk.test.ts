import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/index.js';
import { ToolCalls } from '../../src/core/tools/index.js';
import { AgentTools, ToolCallHandle } from '../../src/sdk/tools.js';

const stores: Store[] = [];
afterEach(() => {
  while (stores.length) stores.pop()!.close();
});

function tools(): AgentTools {
  const store = Store.open({});
  stores.push(store);
  return new AgentTools(new ToolCalls(store));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('AgentTools (SDK facade)', () => {
  it('start() returns a handle that stands for the id and finishes itself', async () => {
    const t = tools();
    const h = await t.start('search', { q: 'x' });
    expect(h).toBeInstanceOf(ToolCallHandle);
    expect(+h).toBe(h.id);
    expect(`${h}`).toBe(String(h.id));
    expect(JSON.stringify({ h })).toBe(`{"h":${h.id}}`);
    expect((await t.get(h.id))!.status).toBe('pending');
    expect((await t.get(h))!.id).toBe(h.id); // the handle stands for the id here too
    await h.success({ hits: 3 });
    expect(await t.get(h.id)).toMatchObject({ status: 'success', result: { hits: 3 }, parameters: { q: 'x' } });
    const h2 = await t.start('fail');
    await t.error(h2, 'bad');
    expect(await t.get(h2.id)).toMatchObject({ status: 'error', error: 'bad' });
  });

  it('keeps agentfs-sdk signatures: record, getByName, getRecent, getStats', async () => {
    const t = tools();
    const id = await t.record('read_file', 100, 101, { path: '/a' }, 'contents');
    await t.record('read_file', 200, 200, undefined, undefined, 'ENOENT');
    expect(typeof id).toBe('number');
    expect((await t.getByName('read_file')).map((c) => c.started_at)).toEqual([200, 100]);
    expect((await t.getByName('read_file', 1)).length).toBe(1);
    expect((await t.getRecent(100)).map((c) => c.started_at)).toEqual([200]); // strictly after, as agentfs-sdk
    expect((await t.getStats())[0]).toMatchObject({ name: 'read_file', total_calls: 2, successful: 1, failed: 1, avg_duration_ms: 500 });
  });

  it('wrap() records arguments, result, timing, and rethrows errors after recording them', async () => {
    const t = tools();
    const add = t.wrap('add', async (a: number, b: number) => {
      await sleep(20);
      return a + b;
    });
    const search = t.wrap('search', (params: { q: string }) => ({ found: params.q.length }));
    const boom = t.wrap('boom', async () => {
      throw new Error('exploded');
    });
    expect(await add(2, 3)).toBe(5);
    expect(await search({ q: 'abc' })).toEqual({ found: 3 });
    await expect(boom()).rejects.toThrow('exploded');
    const [b, s, a] = await t.list();
    expect(a).toMatchObject({ name: 'add', parameters: [2, 3], result: 5, status: 'success' });
    expect(a!.duration_ms).toBeGreaterThanOrEqual(15);
    expect(s).toMatchObject({ name: 'search', parameters: { q: 'abc' }, result: { found: 3 } });
    expect(b).toMatchObject({ name: 'boom', status: 'error', error: 'exploded' });
    expect(b!.result).toBeUndefined();
  });

  it('wrap() rethrows whatever the function threw, recorded as failed, however hostile the thrown value', async () => {
    const t = tools();
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const badMessage = new Error('x');
    Object.defineProperty(badMessage, 'message', { get() { throw new Error('getter'); } });
    const symbolMessage = Object.assign(new Error('x'), { message: Symbol('m') });
    const numberMessage = Object.assign(new Error('x'), { message: 5 });
    const cases: [unknown, string][] = [
      [revoked.proxy, '"[object]"'], [badMessage, 'Error'], [symbolMessage, 'Symbol(m)'], [numberMessage, '5'],
      [Symbol('boom'), 'Symbol(boom)'], [10n, '10'], [Object.create(null), '{}'], [new RangeError(''), 'RangeError'],
    ];
    for (const [thrown, text] of cases) {
      const f = t.wrap('hostile', async () => {
        throw thrown;
      });
      await expect(f()).rejects.toBe(thrown);
      const [call] = await t.getByName('hostile', 1);
      expect(call).toMatchObject({ status: 'error', error: text });
    }
  });

  it('nests wrapped calls made inside a wrapped function, also when they run concurrently', async () => {
    const t = tools();
    const leaf = t.wrap('leaf', async (n: number) => {
      await sleep(5 * n);
      return n;
    });
    const agent = t.wrap('agent', async (task: string) => {
      const r = await Promise.all([leaf(3), leaf(1)]);
      return `${task}:${r.join(',')}`;
    });
    await Promise.all([agent('one'), agent('two')]);
    const calls = await t.list({ order: 'asc' });
    const agents = calls.filter((c) => c.name === 'agent');
    const leaves = calls.filter((c) => c.name === 'leaf');
    expect(agents.length).toBe(2);
    expect(leaves.length).toBe(4);
    for (const a of agents) {
      const kids = leaves.filter((l) => l.parent_id === a.id);
      expect(kids.length).toBe(2);
      expect(kids.map((k) => k.result).sort()).toEqual([1, 3]);
    }
    expect(agents.every((a) => a.parent_id === undefined)).toBe(true);
  });

  it('a handle run() makes calls inside it its children', async () => {
    const t = tools();
    const plan = await t.start('plan');
    const step = t.wrap('step', async () => 1);
    await plan.run(() => step());
    await plan.success();
    const stepCall = (await t.getByName('step'))[0]!;
    expect(stepCall.parent_id).toBe(plan.id);
  });
});
