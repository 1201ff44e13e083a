import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { KvStore } from '../../src/core/kv/index.js';
import { runCli, tempDir } from '../support/cli.js';

let dir: string;
let cleanup: () => void;
beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  const r = await runCli(['init', 'kvagent'], { cwd: dir });
  expect(r.code).toBe(0);
});
afterAll(() => cleanup());

const cli = (...args: string[]) => runCli(args, { cwd: dir });

describe('agentfs kv', () => {
  it('sets JSON values as JSON and anything else as a string, and gets them back', async () => {
    expect((await cli('kv', 'set', 'kvagent', 'num', '42')).code).toBe(0);
    expect((await cli('kv', 'set', 'kvagent', 'obj', '{"a":[1,2]}')).code).toBe(0);
    expect((await cli('kv', 'set', 'kvagent', 'word', 'hello world')).code).toBe(0);
    expect((await cli('kv', 'set', 'kvagent', 'quoted', '"hi"')).code).toBe(0);
    expect((await cli('kv', 'set', 'kvagent', 'forced', '42', '--string')).code).toBe(0);
    const store = Store.open({ path: join(dir, '.agentfs', 'kvagent.db') });
    try {
      const kv = new KvStore(store);
      expect(kv.get('num')).toBe(42);
      expect(kv.get('obj')).toEqual({ a: [1, 2] });
      expect(kv.get('word')).toBe('hello world');
      expect(kv.get('quoted')).toBe('hi');
      expect(kv.get('forced')).toBe('42');
    } finally {
      store.close();
    }
    expect((await cli('kv', 'get', 'kvagent', 'obj')).stdout).toBe('{"a":[1,2]}\n');
    expect((await cli('kv', 'get', 'kvagent', 'word')).stdout).toBe('hello world\n');
    expect((await cli('kv', 'get', 'kvagent', 'word', '--json')).stdout).toBe('"hello world"\n');
    expect((await cli('kv', 'get', 'kvagent', 'forced', '--json')).stdout).toBe('"42"\n');
  });

  it('reads the value from stdin when VALUE is omitted', async () => {
    const r = await runCli(['kv', 'set', 'kvagent', 'fromstdin', '--string'], { cwd: dir, input: 'line one\nline two\n' });
    expect(r.code).toBe(0);
    expect((await cli('kv', 'get', 'kvagent', 'fromstdin')).stdout).toBe('line one\nline two\n');
  });

  it('lists by prefix as text and JSON, and deletes', async () => {
    await cli('kv', 'set', 'kvagent', 'p:1', '1');
    await cli('kv', 'set', 'kvagent', 'p:2', '"two"');
    const text = await cli('kv', 'list', 'kvagent', 'p:');
    expect(text.stdout).toBe('p:1\t1\np:2\t"two"\n');
    const json = JSON.parse((await cli('kv', 'list', 'kvagent', 'p:', '--json')).stdout) as { key: string; value: unknown; created_at: number }[];
    expect(json.map((e) => [e.key, e.value])).toEqual([
      ['p:1', 1],
      ['p:2', 'two'],
    ]);
    expect(json[0]!.created_at).toBeGreaterThan(1_600_000_000);
    expect((await cli('kv', 'delete', 'kvagent', 'p:1')).code).toBe(0);
    expect((await cli('kv', 'list', 'kvagent', 'p:', '--keys')).stdout).toBe('p:2\n');
    const both = await cli('kv', 'list', 'kvagent', '--json', '--keys');
    expect(both.stderr).toBe('agentfs: --json and --keys exclude each other\n');
    expect(both.code).toBe(1);
  });

  it('fails with one clear line for missing keys and unknown agents', async () => {
    const get = await cli('kv', 'get', 'kvagent', 'nope');
    expect(get.code).not.toBe(0);
    expect(get.stderr).toBe('agentfs: no such key: nope\n');
    const del = await cli('kv', 'delete', 'kvagent', 'nope');
    expect(del.code).not.toBe(0);
    expect((await cli('kv', 'delete', 'kvagent', 'nope', '-f')).code).toBe(0);
    const unknown = await cli('kv', 'get', 'ghost', 'k');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/^agentfs: no such agent 'ghost'.*\n$/);
    expect(unknown.stderr.split('\n').length).toBe(2);
  });
});
