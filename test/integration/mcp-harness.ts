/**
 * Test support for the MCP server: the SDK's own Client over StdioClientTransport, spawning
 * `node bin/agentfs.js serve mcp <db>` as a real child process.
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Agent } from '../../src/core/agent.js';
import { CLI, tempDir } from '../support/cli.js';

export interface Served {
  client: Client;
  transport: StdioClientTransport;
  /** the server's stderr so far */
  stderr: () => string;
  /** calls a tool and returns the raw result (errors come back as isError results) */
  call: (name: string, args?: Record<string, unknown>) => Promise<CallToolResult>;
  /** calls a tool that must succeed and returns its structured result */
  ok: <T = Record<string, unknown>>(name: string, args?: Record<string, unknown>) => Promise<T>;
  /** calls a tool that must fail and returns its error text */
  fail: (name: string, args?: Record<string, unknown>) => Promise<string>;
  close: () => Promise<void>;
}

/** A fresh agent database in a temporary directory. */
export function freshAgent(): { dir: string; db: string; cleanup: () => void } {
  const t = tempDir('agentfs-mcp-');
  const db = join(t.dir, 'agent.db');
  Agent.open({ path: db }, { create: true }).close();
  return { dir: t.dir, db, cleanup: t.cleanup };
}

export async function serve(db: string, extraArgs: string[] = [], cwd?: string): Promise<Served> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'serve', 'mcp', db, ...extraArgs],
    cwd,
    stderr: 'pipe',
  });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: 'agentfs-test', version: '1.0.0' });
  await client.connect(transport);
  // listing caches each tool's output schema in the client, which then validates every result
  await client.listTools();
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  return {
    client,
    transport,
    stderr: () => err,
    call,
    ok: async <T>(name: string, args: Record<string, unknown> = {}) => {
      const r = await call(name, args);
      if (r.isError) throw new Error(`${name} failed: ${textOf(r)}`);
      // the text content carries the same result as JSON, for text-only clients
      const structured = r.structuredContent as T;
      if (JSON.stringify(JSON.parse(textOf(r))) !== JSON.stringify(structured)) throw new Error(`${name}: text and structured results differ`);
      return structured;
    },
    fail: async (name: string, args: Record<string, unknown> = {}) => {
      const r = await call(name, args);
      if (!r.isError) throw new Error(`${name} was expected to fail but returned ${textOf(r)}`);
      return textOf(r);
    },
    close: () => client.close(),
  };
}

export function textOf(r: CallToolResult): string {
  return r.content
    .filter((c): c is { type: 'text'; text: string } => c.type === 'text')
    .map((c) => c.text)
    .join('');
}
