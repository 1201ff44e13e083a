import { ROOT, run } from './cli.js';

/**
 * Runs a snippet against the Rust AgentFS's TypeScript SDK (npm agentfs-sdk) in its own process,
 * as another implementation would: `agent` is `await AgentFS.open({ path })`, closed afterwards.
 * The snippet's return value comes back as JSON (Buffers as base64 strings).
 */
export async function withTheirSdk<T = unknown>(path: string, body: string): Promise<T> {
  const code = `
    import { AgentFS } from 'agentfs-sdk';
    const agent = await AgentFS.open({ path: process.argv[1] });
    let out;
    try { out = await (async () => { ${body} })(); } finally { await agent.close(); }
    process.stdout.write(JSON.stringify(out ?? null, (k, v) => (v && v.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data).toString('base64') : v)));
  `;
  const r = await run(process.execPath, ['--input-type=module', '-e', code, path], { cwd: ROOT });
  if (r.code !== 0) throw new Error(`agentfs-sdk child failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/**
 * The same for our own SDK in a child process: `fs` is an AgentFsFilesystem over the agent at path.
 * (A libsql connection that has read a WAL database keeps the file locked for the turso engine
 * inside agentfs-sdk until its process exits, so each side runs in its own process.)
 */
export async function withOurSdk<T = unknown>(path: string, body: string): Promise<T> {
  const code = `
    const { Agent } = await import(${JSON.stringify(`${ROOT}/dist/core/agent.js`)});
    const { AgentFsFilesystem } = await import(${JSON.stringify(`${ROOT}/dist/sdk/fs.js`)});
    const agent = Agent.open({ path: process.argv[1] });
    const fs = new AgentFsFilesystem(agent.paths);
    let out;
    try { out = await (async () => { ${body} })(); } finally { agent.close(); }
    process.stdout.write(JSON.stringify(out ?? null, (k, v) => (v && v.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data).toString('base64') : v)));
  `;
  const r = await run(process.execPath, ['--input-type=module', '-e', code, path], { cwd: ROOT });
  if (r.code !== 0) throw new Error(`agentfs child failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
