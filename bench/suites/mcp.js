// MCP round trips: `agentfs serve mcp` (SQLite filesystem, every call recorded in tool_calls and
// the journal) against a plain MCP server built with the same SDK whose tools use node:fs on a
// host directory and record nothing. Both are driven by the SDK's own client over stdio, one call
// at a time, so the ratio is what the database and the audit trail cost per call on top of the
// protocol. Ratio = our calls/s / baseline calls/s (higher is better).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const N = Number(process.env.BENCH_MCP_N ?? 1000);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONTENT = 'a'.repeat(4096);

// The baseline server: same tool names and arguments, host files under ROOT_DIR, no recording.
const BASELINE = `
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
const root = process.argv[1];
const at = (p) => join(root, p);
const reply = (o) => ({ content: [{ type: 'text', text: JSON.stringify(o) }], structuredContent: o });
const s = new McpServer({ name: 'baseline', version: '1' });
s.registerTool('write_file', { inputSchema: { path: z.string(), content: z.string() } }, ({ path, content }) => {
  writeFileSync(at(path), content);
  return reply({ path, bytes: Buffer.byteLength(content) });
});
s.registerTool('read_file', { inputSchema: { path: z.string() } }, ({ path }) => reply({ path, content: readFileSync(at(path), 'utf8') }));
s.registerTool('stat', { inputSchema: { path: z.string() } }, ({ path }) => {
  const st = statSync(at(path));
  return reply({ path, size: st.size, mode: st.mode, ino: st.ino });
});
s.registerTool('mkdir', { inputSchema: { path: z.string() } }, ({ path }) => {
  mkdirSync(at(path));
  return reply({ path });
});
await s.connect(new StdioServerTransport());
process.stdin.on('end', () => s.close());
`;

async function connect(command, args) {
  const transport = new StdioClientTransport({ command, args, cwd: ROOT, stderr: 'ignore' });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  return client;
}

async function timeCalls(client, name, args) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const r = await client.callTool({ name, arguments: args(i) });
    if (r.isError) throw new Error(`${name}: ${r.content?.[0]?.text}`);
  }
  return N / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function workloads(client) {
  const out = {};
  await client.callTool({ name: 'mkdir', arguments: { path: '/bench' } });
  out['write_file 4 KiB'] = await timeCalls(client, 'write_file', (i) => ({ path: `/bench/f${i}`, content: CONTENT }));
  out['read_file 4 KiB'] = await timeCalls(client, 'read_file', (i) => ({ path: `/bench/f${i}` }));
  out['stat'] = await timeCalls(client, 'stat', (i) => ({ path: `/bench/f${i}` }));
  return out;
}

export async function run(report) {
  const dir = mkdtempSync(join(tmpdir(), 'agentfs-bench-mcp-'));
  try {
    const db = join(dir, 'agent.db');
    const init = spawnSync(process.execPath, [join(ROOT, 'bin', 'agentfs.js'), 'init', db], { encoding: 'utf8' });
    if (init.status !== 0) throw new Error(init.stderr);
    const ours = await connect(process.execPath, [join(ROOT, 'bin', 'agentfs.js'), 'serve', 'mcp', db]);
    const o = await workloads(ours);
    await ours.close();
    const hostDir = join(dir, 'host');
    spawnSync('mkdir', [hostDir]);
    const base = await connect(process.execPath, ['--input-type=module', '-e', BASELINE, hostDir]);
    const b = await workloads(base);
    await base.close();
    for (const w of Object.keys(o)) {
      report({
        suite: 'mcp',
        workload: `${w} (${N} calls over stdio)`,
        agentfs: o[w],
        baseline: b[w],
        baselineName: 'node:fs MCP server',
        unit: 'calls/s',
        ratio: o[w] / b[w],
        note: 'ours records every call',
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
