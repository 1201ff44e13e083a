/**
 * `agentfs serve mcp`: every call an MCP client makes lands in tool_calls, the file changes it
 * makes land in the journal under that call's id, `--tools` limits what is offered, and the
 * server starts, refuses and stops cleanly.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/core/agent.js';
import { JournalReader } from '../../src/core/journal/index.js';
import type { ToolCall } from '../../src/core/tools/index.js';
import { CLI, runCli } from '../support/cli.js';
import { freshAgent, serve, type Served } from './mcp-harness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(extra: string[] = []): Promise<{ s: Served; db: string; dir: string }> {
  const a = freshAgent();
  cleanups.push(a.cleanup);
  const s = await serve(a.db, extra);
  cleanups.push(() => s.close());
  return { s, db: a.db, dir: a.dir };
}

function readAgent<T>(db: string, fn: (a: Agent, journal: JournalReader) => T): T {
  const a = Agent.open({ path: db });
  try {
    return fn(a, new JournalReader(a.store));
  } finally {
    a.close();
  }
}

const calls = (db: string): ToolCall[] => readAgent(db, (a) => a.tools.list({ order: 'asc' }));

describe('serve mcp: every call is a recorded tool call', () => {
  it('records name, parameters, status and result or error of each call, in order', async () => {
    const { s, db } = await setup();
    const w = await s.ok('write_file', { path: '/notes/a.txt', content: 'alpha', create_dirs: true });
    const r = await s.ok('read_file', { path: '/notes/a.txt' });
    const missing = await s.fail('read_file', { path: '/nope.txt' });
    const badArgs = await s.fail('write_file', { path: 7 });
    const unknown = await s.fail('no_such_tool', { x: 1 });
    await s.ok('kv_set', { key: 'k', value: { deep: [1, 2] } });
    const list = calls(db);
    expect(list.map((c) => [c.name, c.status])).toEqual([
      ['write_file', 'success'],
      ['read_file', 'success'],
      ['read_file', 'error'],
      ['write_file', 'error'],
      ['no_such_tool', 'error'],
      ['kv_set', 'success'],
    ]);
    expect(list[0]).toMatchObject({ parameters: { path: '/notes/a.txt', content: 'alpha', create_dirs: true }, result: w });
    expect(list[1]).toMatchObject({ parameters: { path: '/notes/a.txt' }, result: r });
    expect(list[2]).toMatchObject({ parameters: { path: '/nope.txt' }, error: missing });
    expect(list[2]!.result).toBeUndefined();
    expect(list[3]).toMatchObject({ parameters: { path: 7 }, error: badArgs });
    expect(list[3]!.error).toMatch(/invalid arguments for write_file/);
    expect(list[4]).toMatchObject({ parameters: { x: 1 }, error: unknown });
    expect(list[5]).toMatchObject({ parameters: { key: 'k', value: { deep: [1, 2] } }, result: { key: 'k' } });
    for (const c of list) {
      expect(c.completed_at).toBeGreaterThanOrEqual(c.started_at);
      expect(c.duration_ms).toBeGreaterThanOrEqual(0);
      expect(c.parent_id).toBeUndefined(); // each client call is a top-level call
    }
    const ids = list.map((c) => c.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    // the CLI timeline sees them too
    const timeline = await runCli(['timeline', db, '--format', 'json']);
    expect(timeline.code).toBe(0);
    const names = (JSON.parse(timeline.stdout) as { name: string }[]).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['write_file', 'read_file', 'no_such_tool', 'kv_set']));
  });

  it('long strings are recorded as a size and hash, not a second copy of the file', async () => {
    const { s, db } = await setup();
    const big = 'x'.repeat(100_000);
    await s.ok('write_file', { path: '/big.txt', content: big });
    const r = await s.ok<{ content: string }>('read_file', { path: '/big.txt' });
    expect(r.content).toBe(big);
    const [w, rd] = calls(db);
    expect((w!.parameters as { content: string }).content).toMatch(/^\[100000 characters, sha256 [0-9a-f]{64}, not recorded\]$/);
    expect((rd!.result as { content: string; size: number }).content).toMatch(/^\[100000 characters, sha256/);
    expect((rd!.result as { size: number }).size).toBe(100_000);
    expect(readAgent(db, (a) => a.paths.readFile('/big.txt', 'utf8'))).toBe(big);
  });
});

describe('serve mcp: file changes are journaled under the call that made them', () => {
  it('journal rows carry the id of the MCP call; reads, kv calls and failures leave none', async () => {
    const { s, db } = await setup();
    await s.ok('write_file', { path: '/src/main.ts', content: 'export {}\n', create_dirs: true });
    await s.ok('read_file', { path: '/src/main.ts' });
    await s.ok('mkdir', { path: '/out' });
    await s.ok('rename', { from: '/src/main.ts', to: '/out/main.js' });
    await s.ok('kv_set', { key: 'k', value: 1 });
    await s.fail('write_file', { path: '/missing/dir/f', content: 'x' });
    await s.ok('remove', { path: '/out', recursive: true });
    const list = calls(db);
    const id = (name: string, nth = 0) => list.filter((c) => c.name === name)[nth]!.id;
    const rows = readAgent(db, (_a, j) => j.list({ order: 'asc' }));
    const byCall = (callId: number) => rows.filter((e) => e.tool_call_id === callId).map((e) => [e.op, e.path, e.new_path]);
    expect(byCall(id('write_file'))).toEqual([
      ['mkdir', '/src', undefined],
      ['create', '/src/main.ts', undefined],
      ['write', '/src/main.ts', undefined],
    ]);
    expect(byCall(id('mkdir'))).toEqual([['mkdir', '/out', undefined]]);
    expect(byCall(id('rename'))).toEqual([['rename', '/src/main.ts', '/out/main.js']]);
    expect(byCall(id('remove'))).toEqual([
      ['unlink', '/out/main.js', undefined],
      ['rmdir', '/out', undefined],
    ]);
    expect(byCall(id('read_file'))).toEqual([]);
    expect(byCall(id('kv_set'))).toEqual([]);
    expect(byCall(id('write_file', 1))).toEqual([]); // failed: nothing changed, nothing journaled
    // every row of this agent's journal belongs to one of these calls
    expect(rows.every((e) => e.tool_call_id !== undefined)).toBe(true);
    const write = rows.find((e) => e.op === 'write')!;
    expect(write).toMatchObject({ bytes: 'export {}\n'.length, size: 'export {}\n'.length });
  });

  it('changes made by other writers between calls are not attributed to any MCP call', async () => {
    const { s, db } = await setup();
    await s.ok('write_file', { path: '/mcp.txt', content: 'm' });
    readAgent(db, (a) => a.paths.writeFile('/sdk.txt', 's'));
    const rows = readAgent(db, (_a, j) => j.list({ order: 'asc' }));
    expect(rows.filter((e) => e.path === '/mcp.txt').every((e) => e.tool_call_id === calls(db)[0]!.id)).toBe(true);
    expect(rows.filter((e) => e.path === '/sdk.txt').every((e) => e.tool_call_id === undefined)).toBe(true);
  });
});

describe('serve mcp --tools', () => {
  it('offers only the listed tools; calls to others are refused and recorded', async () => {
    const { s, db } = await setup(['--tools', 'read_file, readdir,stat,kv_get']);
    const { tools } = await s.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['read_file', 'readdir', 'stat', 'kv_get']);
    expect(await s.fail('write_file', { path: '/x', content: 'x' })).toMatch(/tool 'write_file' is not enabled on this server/);
    expect(await s.fail('kv_set', { key: 'a', value: 1 })).toMatch(/not enabled/);
    expect(readAgent(db, (a) => [a.paths.exists('/x'), a.kv.has('a')])).toEqual([false, false]);
    expect((await s.ok<{ entries: unknown[] }>('readdir', { path: '/' })).entries).toEqual([]);
    expect(calls(db).map((c) => [c.name, c.status])).toEqual([
      ['write_file', 'error'],
      ['kv_set', 'error'],
      ['readdir', 'success'],
    ]);
    expect(s.stderr()).toMatch(/tools: read_file, readdir, stat, kv_get/);
  });

  it('unknown tool names, an empty list and unknown agents are one-line errors', async () => {
    const a = freshAgent();
    cleanups.push(a.cleanup);
    const bad = await runCli(['serve', 'mcp', a.db, '--tools', 'read_file,rm_rf']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trim()).toBe(
      "agentfs: --tools: unknown tool 'rm_rf' (available: read_file, write_file, readdir, mkdir, remove, rename, stat, access, kv_get, kv_set, kv_delete, kv_list)",
    );
    const empty = await runCli(['serve', 'mcp', a.db, '--tools', ',']);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/^agentfs: --tools: no tool names given/);
    const noAgent = await runCli(['serve', 'mcp', 'no-such-agent'], { cwd: a.dir });
    expect(noAgent.code).toBe(1);
    expect(noAgent.stderr.trim().split('\n')).toHaveLength(1);
    expect(noAgent.stderr).toMatch(/no such agent 'no-such-agent'/);
    const noArg = await runCli(['serve', 'mcp']);
    expect(noArg.code).not.toBe(0);
    expect(noArg.stderr).toMatch(/missing required argument/);
  });
});

describe('serve mcp: lifetime', () => {
  /** Speaks raw JSON-RPC lines to the server (what any MCP client sends). */
  function rawServer(db: string) {
    const child = spawn(process.execPath, [CLI, 'serve', 'mcp', db], { stdio: ['pipe', 'pipe', 'pipe'] });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const send = (msg: object) => child.stdin.write(JSON.stringify(msg) + '\n');
    const responses = () =>
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { id?: number; result?: { isError?: boolean; structuredContent?: unknown } });
    const waitFor = async (id: number) => {
      for (let i = 0; i < 200; i++) {
        const r = responses().find((m) => m.id === id);
        if (r) return r;
        await new Promise((res) => setTimeout(res, 25));
      }
      throw new Error(`no response ${id}; stderr: ${err}`);
    };
    const init = async () => {
      send({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      });
      await waitFor(1);
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    };
    return { child, send, waitFor, init, exited, stdout: () => out, stderr: () => err };
  }

  it('exits 0 when the client closes stdin; stdout carries only protocol messages; nothing is left pending', async () => {
    const a = freshAgent();
    cleanups.push(a.cleanup);
    const srv = rawServer(a.db);
    await srv.init();
    srv.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'write_file', arguments: { path: '/f', content: 'raw' } } });
    const r = await srv.waitFor(2);
    expect(r.result?.structuredContent).toMatchObject({ path: '/f', bytes: 3 });
    srv.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'stat' } }); // no arguments at all
    expect((await srv.waitFor(3)).result?.isError).toBe(true);
    srv.child.stdin.end();
    expect(await srv.exited).toBe(0);
    for (const line of srv.stdout().split('\n').filter(Boolean)) expect(JSON.parse(line).jsonrpc).toBe('2.0');
    expect(srv.stderr()).toMatch(/^agentfs: serving .*agent\.db over MCP on stdio/);
    expect(calls(a.db).map((c) => c.status)).toEqual(['success', 'error']);
    expect(readAgent(a.db, (ag) => ag.paths.readFile('/f', 'utf8'))).toBe('raw');
  });

  it('stops cleanly on SIGTERM, and survives garbage on stdin', async () => {
    const a = freshAgent();
    cleanups.push(a.cleanup);
    const srv = rawServer(a.db);
    await srv.init();
    srv.child.stdin.write('this is not json\n');
    srv.send({ jsonrpc: '2.0', id: 7, method: 'no/such/method', params: {} });
    const unknownMethod = (await srv.waitFor(7)) as { error?: { code: number } };
    expect(unknownMethod.error?.code).toBe(-32601);
    srv.send({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'kv_set', arguments: { key: 'after', value: true } } });
    expect((await srv.waitFor(8)).result?.isError).toBeFalsy();
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    expect(readAgent(a.db, (ag) => ag.kv.get('after'))).toBe(true);
  });
});
