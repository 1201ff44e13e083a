import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, runCli, tempDir } from '../support/cli.js';
import { forceUnmount, isMounted, waitFor } from '../support/fuse.js';

/**
 * A FUSE server's process compiles without TurboFan's inlining (src/cli/jit.ts): V8's own trace
 * shows nothing inlined into the server's functions while the mount serves, and some with
 * AGENTFS_V8_INLINING=1 (which shows the trace would see it).
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

/**
 * The server's own dispatchers and write paths: hot only once the mount serves, so their compile
 * jobs all start after compileForServing (a job for Node's own code, queued while the CLI loaded,
 * may still inline after the mount is up on a loaded machine).
 */
const SERVER_FUNCTIONS = new Set(['serveInOrder', 'onBatch', 'makeAlone', 'writeAlone', 'create', 'write', 'unlink', 'release']);

/** Inlining into the server's functions V8 traced while a foreground mount served enough to optimize. */
async function inliningWhileServing(name: string, extraEnv: NodeJS.ProcessEnv): Promise<number> {
  const m = join(tmp.dir, name);
  mkdirSync(m);
  // V8's trace into a file: into a pipe this process does not read during its synchronous
  // workload, the compile thread blocked on the full pipe and optimized nothing at all
  const trace = join(tmp.dir, `${name}.trace`);
  const fd = openSync(trace, 'w');
  const server = spawn(process.execPath, ['--trace-turbo-inlining', CLI, 'mount', 'a', m, '-f'], { cwd: tmp.dir, env: env(extraEnv), stdio: ['ignore', fd, 'ignore'] });
  closeSync(fd);
  mountpoints.push({ mnt: m, pid: server.pid });
  const exited = new Promise((resolve) => server.on('exit', resolve));
  expect(await waitFor(() => isMounted(m))).toBe(true);
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
  const into = /^Inlining .* into .*<SharedFunctionInfo ([^>]*)>/;
  return readFileSync(trace, 'utf8').split('\n').filter((l) => SERVER_FUNCTIONS.has(into.exec(l)?.[1] ?? '')).length;
}

describe('the FUSE server compiles without inlining', () => {
  it('traces nothing inlined into its request paths, and some with AGENTFS_V8_INLINING=1', async () => {
    expect(await inliningWhileServing('lean', {})).toBe(0);
    expect(await inliningWhileServing('default', { AGENTFS_V8_INLINING: '1' })).toBeGreaterThan(0);
  }, 120_000);
});
