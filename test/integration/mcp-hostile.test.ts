/**
 * `agentfs serve mcp` against a client that sends what it should not: huge lines, lines that are
 * not JSON, params that are not objects. A real server child process gets raw lines on stdin.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { Agent } from '../../src/core/agent.js';
import { CLI, tempDir } from '../support/cli.js';

interface Reply {
  jsonrpc: string;
  id: string | number | null;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** A raw line-level client: writes lines, collects every reply line. */
class RawClient {
  readonly child: ChildProcessWithoutNullStreams;
  readonly replies: Reply[] = [];
  stderr = '';
  private buf = '';
  private waiters: (() => void)[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(db: string) {
    this.child = spawn(process.execPath, [CLI, 'serve', 'mcp', db], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin.on('error', () => undefined); // a dead server shows in the assertions, not as EPIPE here
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.child.stdout.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.replies.push(JSON.parse(line) as Reply);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })));
    this.exited.then(() => this.waiters.splice(0).forEach((w) => w()));
  }

  write(data: string | Buffer): Promise<void> {
    const drained = new Promise<void>((resolve) => {
      if (this.child.stdin.write(data)) resolve();
      else this.child.stdin.once('drain', resolve);
    });
    return Promise.race([drained, this.exited.then(() => undefined)]);
  }

  send(msg: Record<string, unknown>): Promise<void> {
    return this.write(JSON.stringify({ jsonrpc: '2.0', ...msg }) + '\n');
  }

  /** The reply with this id; fails if none comes in 20 s or the server exits first. */
  async reply(id: string | number | null, nth = 0): Promise<Reply> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = this.replies.filter((r) => r.id === id)[nth];
      if (found) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`server exited without answering ${id}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no reply with id ${id}; stderr: ${this.stderr}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async initialize(): Promise<void> {
    await this.send({ id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    expect((await this.reply(0)).result).toBeDefined();
    await this.send({ method: 'notifications/initialized' });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

describe('agentfs serve mcp with hostile input', () => {
  const tmp = tempDir('agentfs-mcp-hostile-');
  const clients: RawClient[] = [];
  afterEach(() => clients.splice(0).forEach((c) => c.stop()));
  afterAll(() => tmp.cleanup());
  const start = (name: string) => {
    const db = join(tmp.dir, `${name}.db`);
    Agent.open({ path: db }, { create: true }).close();
    const c = new RawClient(db);
    clients.push(c);
    return { c, db };
  };

  it('a 12 MB request works; one over the limit gets a JSON-RPC error and the server stays up', async () => {
    const { c, db } = start('big');
    await c.initialize();
    const twelve = 'x'.repeat(12 * 1024 * 1024);
    await c.send({ id: 1, method: 'tools/call', params: { name: 'write_file', arguments: { path: '/twelve.txt', content: twelve } } });
    const r1 = await c.reply(1);
    expect(r1.error).toBeUndefined();
    expect(r1.result?.isError).toBeFalsy();

    // 70 MiB in one line, sent in pieces as a pipe would deliver it
    const huge = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'write_file', arguments: { path: '/huge.txt', content: 'y'.repeat(70 * 1024 * 1024) } } }) + '\n');
    for (let off = 0; off < huge.length; off += 1 << 20) await c.write(huge.subarray(off, off + (1 << 20)));
    const r2 = await c.reply(2);
    expect(r2.error?.code).toBe(-32600);
    expect(r2.error?.message).toMatch(/exceeds the limit of 64 MiB/);
    // id after params: still answered (id found at the end of the line)
    const late = Buffer.from(`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x","arguments":{"content":"${'z'.repeat(65 * 1024 * 1024)}"}},"id":"late"}\n`);
    for (let off = 0; off < late.length; off += 1 << 20) await c.write(late.subarray(off, off + (1 << 20)));
    expect((await c.reply('late')).error?.code).toBe(-32600);

    await c.send({ id: 3, method: 'tools/call', params: { name: 'stat', arguments: { path: '/twelve.txt' } } });
    const r3 = await c.reply(3);
    expect((r3.result?.structuredContent as { size: number }).size).toBe(twelve.length);
    c.child.stdin.end();
    expect(await c.exited).toEqual({ code: 0, signal: null });
    const a = Agent.open({ path: db });
    try {
      expect(a.paths.exists('/huge.txt')).toBe(false);
    } finally {
      a.close();
    }
  });

  it('lines that are not JSON, params that are not objects and other invalid messages get JSON-RPC errors', async () => {
    const { c } = start('invalid');
    await c.initialize();
    await c.write('this is not json\n');
    expect((await c.reply(null, 0)).error?.code).toBe(-32700);
    await c.write('{"jsonrpc":"2.0","id":5,"method":"tools/list",\n');
    expect((await c.reply(null, 1)).error?.code).toBe(-32700);
    await c.send({ id: 6, method: 'tools/list', params: 5 });
    expect((await c.reply(6)).error?.code).toBe(-32602);
    await c.send({ id: 7, method: 'tools/call', params: ['write_file', { path: '/a', content: 'x' }] });
    expect((await c.reply(7)).error?.code).toBe(-32602);
    await c.send({ id: 8, method: 'tools/call', params: 'nope' });
    expect((await c.reply(8)).error?.code).toBe(-32602);
    // params objects that are not what the method takes: -32602 naming the field, on one line
    await c.send({ id: 15, method: 'tools/call', params: {} });
    const r15 = await c.reply(15);
    expect(r15.error?.code).toBe(-32602);
    expect(r15.error?.message).toMatch(/^Invalid params for tools\/call: params\.name: [^\n]+$/);
    await c.send({ id: 16, method: 'initialize', params: { protocolVersion: 7 } });
    expect((await c.reply(16)).error?.code).toBe(-32602);
    await c.send({ id: 17, method: 'no/such-method', params: {} });
    expect((await c.reply(17)).error?.code).toBe(-32601);
    await c.send({ id: 9 });
    expect((await c.reply(9)).error?.code).toBe(-32600);
    await c.write('[{"jsonrpc":"2.0","id":10,"method":"tools/list"}]\n');
    expect((await c.reply(null, 2)).error?.code).toBe(-32600);
    await c.write('42\n');
    expect((await c.reply(null, 3)).error?.code).toBe(-32600);
    // a notification with bad params has no id to answer; empty lines and CRLF are fine
    await c.send({ method: 'notifications/cancelled', params: 3 });
    await c.write('\n\r\n');
    // deeply nested arguments: an error, not a dead server
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    await c.write(`{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"kv_set","arguments":{"key":"k","value":${deep}}}}\n`);
    expect((await c.reply(11)).error?.message).toMatch(/nested deeper than 256 levels/);
    await c.write(`{"jsonrpc":"2.0","id":12,"method":"tools/list","params":{"x":${deep}}}\r\n`);
    expect((await c.reply(12)).error?.code).toBe(-32600);
    // nesting within the limit is fine
    const ok = '['.repeat(200) + ']'.repeat(200);
    await c.write(`{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"kv_set","arguments":{"key":"k","value":${ok}}}}\n`);
    expect((await c.reply(14)).result?.isError).toBeFalsy();
    // and the server still works
    await c.send({ id: 13, method: 'tools/call', params: { name: 'write_file', arguments: { path: '/ok.txt', content: 'ok' } } });
    expect((await c.reply(13)).result?.isError).toBeFalsy();
    expect(c.replies.filter((r) => r.id === null)).toHaveLength(4);
    c.child.stdin.end();
    expect(await c.exited).toEqual({ code: 0, signal: null });
  });

  it('a client that stops reading (closed pipe) ends the server with one line, no stack trace', async () => {
    const { c } = start('epipe');
    await c.initialize();
    c.child.stdout.destroy();
    for (let i = 0; i < 20 && c.child.exitCode === null; i++) {
      await c.send({ id: 100 + i, method: 'tools/list' });
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await c.exited).toEqual({ code: 0, signal: null });
    const lines = c.stderr.trim().split('\n');
    expect(lines[lines.length - 1]).toBe('agentfs: mcp: the client closed its end of the connection');
    expect(c.stderr).not.toMatch(/\n\s+at /);
  });
});
