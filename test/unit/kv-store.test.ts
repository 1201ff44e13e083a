import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { KvStore, KvError } from '../../src/core/kv/index.js';
import { AgentKv } from '../../src/sdk/kv.js';
import { tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function fresh(): { store: Store; kv: KvStore; file: string } {
  const t = tempDir();
  const file = join(t.dir, 'kv.db');
  const store = Store.open({ path: file }, { create: true });
  cleanups.push(t.cleanup, () => store.close());
  return { store, kv: new KvStore(store), file };
}

describe('KvStore', () => {
  it('stores any JSON value as JSON text and reads it back', () => {
    const { store, kv } = fresh();
    const values: unknown[] = ['text', 42, 1.5, true, null, [1, 'a', { b: 2 }], { nested: { deep: [1, 2] } }, ''];
    values.forEach((v, i) => kv.set(`k${i}`, v));
    values.forEach((v, i) => expect(kv.get(`k${i}`)).toEqual(v));
    const raw = store.db.prepare("SELECT value FROM kv_store WHERE key = 'k0'").get() as { value: string };
    expect(raw.value).toBe('"text"');
    expect(kv.get('missing')).toBeUndefined();
    expect(kv.has('k4')).toBe(true); // stored null is still a key
    expect(kv.has('missing')).toBe(false);
  });

  it('keeps created_at on update and moves updated_at', () => {
    const { store, kv } = fresh();
    kv.set('a', 1);
    store.db.prepare("UPDATE kv_store SET created_at = 100, updated_at = 100 WHERE key = 'a'").run();
    kv.set('a', 2);
    const e = kv.entry('a')!;
    expect(e.value).toBe(2);
    expect(e.created_at).toBe(100);
    expect(e.updated_at).toBeGreaterThan(1_600_000_000);
  });

  it('deletes and reports whether the key existed', () => {
    const { kv } = fresh();
    kv.set('x', { y: 1 });
    expect(kv.delete('x')).toBe(true);
    expect(kv.delete('x')).toBe(false);
    expect(kv.get('x')).toBeUndefined();
  });

  it('lists by prefix, case-sensitively, with % and _ taken literally, in key order', () => {
    const { kv } = fresh();
    for (const k of ['user:2', 'user:1', 'User:3', 'user_x', 'userAx', 'u%1', 'uX1', 'zzz']) kv.set(k, k);
    expect(kv.list('user:').map((e) => e.key)).toEqual(['user:1', 'user:2']);
    expect(kv.list('user_').map((e) => e.key)).toEqual(['user_x']);
    expect(kv.list('u%').map((e) => e.key)).toEqual(['u%1']);
    expect(kv.list().length).toBe(8);
    expect(kv.list('nope')).toEqual([]);
    expect(kv.count()).toBe(8);
  });

  it('refuses empty keys and values JSON cannot hold, changing nothing', () => {
    const { kv } = fresh();
    expect(() => kv.set('', 1)).toThrow(KvError);
    expect(() => kv.set('f', () => 1)).toThrow(/not JSON-serialisable/);
    expect(() => kv.set('u', undefined)).toThrow(KvError);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => kv.set('c', circular)).toThrow(/not JSON-serialisable/);
    // non-finite numbers wherever they are, beside nulls and "null" text or not
    for (const v of [NaN, -Infinity, { a: [1, Infinity] }, { n: null, s: 'null', x: NaN }, { toJSON: () => ({ v: -Infinity }) }, [10n]]) {
      expect(() => kv.set('n', v)).toThrow(/not a finite number|not JSON-serialisable/);
    }
    expect(kv.count()).toBe(0);
    // and what holds only real nulls is stored as written
    kv.set('ok', { n: null, s: 'null', list: [null, 1.5] });
    expect(kv.get('ok')).toEqual({ n: null, s: 'null', list: [null, 1.5] });
  });

  it('reads a value once (a toJSON or a getter with effects) and says what any throw says, as a KvError', () => {
    const { kv } = fresh();
    let calls = 0;
    const once = { n: null, v: { toJSON: () => (++calls === 1 ? [null, 1] : 'consumed') } };
    kv.set('once', once);
    expect(calls).toBe(1);
    expect(kv.get('once')).toEqual({ n: null, v: [null, 1] });
    const throwing = (thrown: unknown) => ({ toJSON: () => { throw thrown; } });
    const refusal = (v: unknown): KvError => {
      try {
        kv.set('bad', v);
      } catch (e) {
        return e as KvError;
      }
      throw new Error('stored');
    };
    for (const [thrown, said] of [[null, 'null'], ['plain text', 'plain text'], [new RangeError('my own range'), 'my own range'], [Object.create(null), '[object Object]']] as const) {
      const e = refusal(throwing(thrown));
      expect(e).toBeInstanceOf(KvError);
      expect(e.code).toBe('EINVAL');
      expect(e.message).toBe(`value for kv key 'bad' is not JSON-serialisable: ${said}`);
    }
    expect(kv.has('bad')).toBe(false);
    // said on one line, whatever was thrown: a revoked Proxy, a message that is not text or whose
    // getter throws, text over several lines (a cycle's message from V8 is three)
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const badMessage = new RangeError('x');
    Object.defineProperty(badMessage, 'message', { get() { throw null; } });
    const cyclic: Record<string, unknown> = {};
    cyclic.o = { back: cyclic };
    for (const v of [throwing(revoked.proxy), throwing(badMessage), throwing(Object.assign(new Error(''), { message: Symbol('s') })), throwing('two\nlines'), cyclic]) {
      const e = refusal(v);
      expect(e).toBeInstanceOf(KvError);
      expect(e.message).toMatch(/^value for kv key 'bad' is not JSON-serialisable: \S/);
      expect(e.message).not.toMatch(/\n/);
    }
  });

  it('returns a non-JSON value written by another implementation as its text', () => {
    const { store, kv } = fresh();
    store.db.prepare("INSERT INTO kv_store (key, value) VALUES ('raw', 'not json')").run();
    expect(kv.get('raw')).toBe('not json');
  });

  it('is readable by agentfs-sdk and reads what agentfs-sdk wrote', async () => {
    const { store, kv, file } = fresh();
    kv.set('ours', { a: [1, 2] });
    store.close();
    const { AgentFS } = await import('agentfs-sdk');
    const reader = await AgentFS.open({ path: file });
    expect(await reader.kv.get('ours')).toEqual({ a: [1, 2] });
    await reader.close();
    // a database agentfs-sdk made and wrote
    const t = tempDir();
    cleanups.push(t.cleanup);
    const theirs = join(t.dir, 'theirs.db');
    const writer = await AgentFS.open({ path: theirs });
    await writer.kv.set('theirs', { b: 'c' });
    await writer.close();
    const again = Store.open({ path: theirs });
    cleanups.push(() => again.close());
    expect(new KvStore(again).get('theirs')).toEqual({ b: 'c' });
    expect(new KvStore(again).entry('theirs')!.created_at).toBeGreaterThan(1_600_000_000);
  });
});

describe('AgentKv (SDK facade)', () => {
  it('has agentfs-sdk method names and shapes', async () => {
    const { kv } = fresh();
    const a = new AgentKv(kv);
    await a.set('p:1', { n: 1 });
    await a.set('p:2', 'two');
    expect(await a.get<{ n: number }>('p:1')).toEqual({ n: 1 });
    expect(await a.list('p:')).toEqual([
      { key: 'p:1', value: { n: 1 } },
      { key: 'p:2', value: 'two' },
    ]);
    expect(await a.delete('p:1')).toBe(true);
    expect(await a.has('p:1')).toBe(false);
  });
});

describe('KvStore listings that stop early', () => {
  // a libsql statement left mid-iteration keeps its read snapshot: once another connection
  // committed, every write of this one was refused as locked
  for (const op of ['list', 'page', 'pageText'] as const) {
    it(`${op} leaves the connection writing after another commits`, () => {
      const t = tempDir();
      const file = join(t.dir, 'kv.db');
      const store = Store.open({ path: file }, { create: true, busyTimeoutMs: 200 });
      const other = Store.open({ path: file });
      cleanups.push(t.cleanup, () => store.close(), () => other.close());
      const kv = new KvStore(store);
      store.transaction(() => {
        for (let i = 0; i < 300; i++) kv.set(`a${String(i).padStart(3, '0')}`, i);
        for (let i = 0; i < 300; i++) kv.set(`b${String(i).padStart(3, '0')}`, i);
      });
      if (op === 'list') {
        expect(kv.list().length).toBe(600);
        const all = kv.list('a'); // stops at the first b key
        expect(all.map((e) => e.key)).toEqual([...Array(300).keys()].map((i) => `a${String(i).padStart(3, '0')}`));
      } else if (op === 'page') {
        expect(kv.page('', 'a099', 3).map((e) => e.key)).toEqual(['a100', 'a101', 'a102']);
        expect(kv.page('b', '', 2).map((e) => e.key)).toEqual(['b000', 'b001']);
      } else expect(kv.pageText('a', 'a297', 10).map((e) => e.key)).toEqual(['a298', 'a299']);
      new KvStore(other).set('theirs', 1);
      kv.set('mine', 1);
      expect(new KvStore(other).get('mine')).toBe(1);
    });
  }
});
