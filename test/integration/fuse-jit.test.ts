import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, runCli, tempDir } from '../support/cli.js';
import { forceUnmount, isMounted, waitFor } from '../support/fuse.js';

/**
 * A FUSE server's process compiles without TurboFan's inlining (src/cli/jit.ts): V8's own trace
 * of its inlining decisions stays empty while the mount serves, and fills with
 * AGENTFS_V8_INLINING=1 (which shows the trace would see them).
 */
let tmp: { dir: string; cleanup: () => void };
const env = (extra: NodeJS.ProcessEnv = {}) => ({ ...process.env, AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run'), ...extra });
const mountpoints: Array<{ mnt: string; pid?: number }> = [];

beforeAll(async () => {
  tmp = tempDir('agentfs-jit-');
  expect((await runCli(['init', 'a'], { cwd: tmp.dir, env: env() })).code).toBe(0);
});

afterAll(async () => {
  for (const m of mountpoints) await forceUnmount(m.mnt, m.pid);
  tmp.cleanup();
});

/** Inlining decisions V8 traced in a foreground mount's server while it served enough to optimize. */
async function inliningWhileServing(name: string, extraEnv: NodeJS.ProcessEnv): Promise<number> {
  const m = join(tmp.dir, name);
  mkdirSync(m);
  const server = spawn(process.execPath, ['--trace-turbo-inlining', CLI, 'mount', 'a', m, '-f'], { cwd: tmp.dir, env: env(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  mountpoints.push({ mnt: m, pid: server.pid });
  let out = '';
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((resolve) => server.on('exit', resolve));
  expect(await waitFor(() => isMounted(m))).toBe(true);
  const before = out.length;
  // creates, writes, stats and removes: hot enough for TurboFan to optimize the request paths
  for (let round = 0; round < 3; round++) {
    const d = join(m, `r${round}`);
    mkdirSync(d);
    for (let i = 0; i < 1500; i++) writeFileSync(join(d, `f${i}`), `file ${i}\n`);
    for (let i = 0; i < 1500; i++) statSync(join(d, `f${i}`));
    for (let i = 0; i < 1500; i++) readFileSync(join(d, `f${i}`));
    rmSync(d, { recursive: true });
  }
  server.kill('SIGTERM');
  await exited;
  return out.slice(before).split('\n').filter((l) => l.startsWith('Inlining ')).length;
}

describe('the FUSE server compiles without inlining', () => {
  it('traces no inlining while serving, and some with AGENTFS_V8_INLINING=1', async () => {
    expect(await inliningWhileServing('lean', {})).toBe(0);
    expect(await inliningWhileServing('default', { AGENTFS_V8_INLINING: '1' })).toBeGreaterThan(0);
  }, 120_000);
});
