import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { ToolCalls } from '../../src/core/tools/index.js';
import { runCli, tempDir } from '../support/cli.js';

let dir: string;
let cleanup: () => void;
const env = { TZ: 'UTC' };
const cli = (...args: string[]) => runCli(args, { cwd: dir, env });

beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  expect((await cli('init', 'my-session')).code).toBe(0);
  // the audit guide's example session
  const store = Store.open({ path: join(dir, '.agentfs', 'my-session.db') });
  const tools = new ToolCalls(store);
  tools.record({ name: 'web_search', started_at: 1704447825, completed_at: 1704447826, duration_ms: 1200, parameters: { query: 'AI agents' }, result: { results: ['result1', 'result2'] } });
  tools.record({ name: 'read_file', started_at: 1704447850, completed_at: 1704447850, duration_ms: 50 });
  tools.record({ name: 'api_call', started_at: 1704447855, completed_at: 1704447855, duration_ms: 300, error: 'HTTP 500' });
  store.db.prepare("INSERT INTO tool_calls (name, status, started_at) VALUES ('execute_code', 'pending', 1704447860)").run();
  store.close();
});
afterAll(() => cleanup());

describe('agentfs timeline', () => {
  it('prints the table of the audit guide, newest first', async () => {
    const r = await cli('timeline', 'my-session');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'ID  TOOL          STATUS   DURATION  STARTED',
        '4   execute_code  pending  --        2024-01-05 09:44:20',
        '3   api_call      error    300ms     2024-01-05 09:44:15',
        '2   read_file     success  50ms      2024-01-05 09:44:10',
        '1   web_search    success  1200ms    2024-01-05 09:43:45',
        '',
      ].join('\n'),
    );
  });

  it('filters by tool and status and limits', async () => {
    const byTool = await cli('timeline', 'my-session', '--filter', 'web_search');
    expect(byTool.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[1])).toEqual(['web_search']);
    const errors = await cli('timeline', 'my-session', '--status', 'error');
    expect(errors.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['3']);
    const limited = await cli('timeline', 'my-session', '--limit', '2');
    expect(limited.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['4', '3']);
    const none = await cli('timeline', 'my-session', '--filter', 'web_search', '--status', 'error');
    expect(none.stdout).toBe('ID  TOOL  STATUS  DURATION  STARTED\n');
  });

  it('prints JSON as the audit guide shows it', async () => {
    const r = await cli('timeline', 'my-session', '--format', 'json', '--filter', 'web_search');
    const parsed = JSON.parse(r.stdout) as unknown[];
    expect(parsed).toEqual([
      {
        id: 1,
        name: 'web_search',
        status: 'success',
        started_at: 1704447825,
        completed_at: 1704447826,
        duration_ms: 1200,
        parameters: { query: 'AI agents' },
        result: { results: ['result1', 'result2'] },
      },
    ]);
    const all = JSON.parse((await cli('timeline', 'my-session', '--format', 'json')).stdout) as { id: number; error?: string }[];
    expect(all.map((c) => c.id)).toEqual([4, 3, 2, 1]);
    expect(all[1]!.error).toBe('HTTP 500');
  });

  it('rejects bad options and unknown agents with one line', async () => {
    for (const args of [
      ['--status', 'done'],
      ['--limit', 'x'],
      ['--format', 'xml'],
    ]) {
      const r = await cli('timeline', 'my-session', ...args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/^agentfs: .+\n$/);
    }
    const r = await cli('timeline', 'nobody');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^agentfs: no such agent/);
  });
});
