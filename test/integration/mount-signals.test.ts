import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, runCli, tempDir } from '../support/cli.js';
import { forceUnmount, isMounted, waitFor } from '../support/fuse.js';

/** `mount -f` and signals while the mount is busy: the unmount is finished, not cut short. */
let tmp: { dir: string; cleanup: () => void };
const env = () => ({ ...process.env, AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run') });
const mountpoints: Array<{ mnt: string; pid?: number }> = [];
const holders: ChildProcess[] = [];

beforeAll(async () => {
  tmp = tempDir('agentfs-mount-signals-');
  expect((await runCli(['init', 'a'], { cwd: tmp.dir, env: env() })).code).toBe(0);
});

afterAll(async () => {
  for (const h of holders) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
  for (const m of mountpoints) await forceUnmount(m.mnt, m.pid);
  tmp.cleanup();
});

describe('agentfs mount --foreground, busy, signalled', () => {
  it('ignores further signals while it unmounts; a mount still in use is given up with one line, exit 0', async () => {
    const m = join(tmp.dir, 'm');
    mkdirSync(m);
    const server = spawn(process.execPath, [CLI, 'mount', 'a', m, '-f'], { cwd: tmp.dir, env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
    mountpoints.push({ mnt: m, pid: server.pid });
    let stderr = '';
    server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
    expect(await waitFor(() => isMounted(m))).toBe(true);
    // a process with its working directory in the mount keeps it busy
    const holder = spawn('/bin/sh', ['-c', 'echo in; exec sleep 60'], { cwd: m, stdio: ['ignore', 'pipe', 'ignore'] });
    holders.push(holder);
    await new Promise((resolve) => holder.stdout!.once('data', resolve));
    server.kill('SIGTERM');
    // detached lazily: gone from the mount table while the holder still uses it
    expect(await waitFor(() => !isMounted(m))).toBe(true);
    server.kill('SIGTERM'); // would end it by SIGTERM, were it not ignored
    server.kill('SIGINT');
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(stderr).toBe('agentfs mount: SIGTERM: the mount was still in use after 5 s; exiting\n');
    // no record left behind (other tests' mounts may be listed: only ours must be gone)
    const list = await runCli(['mount'], { cwd: tmp.dir, env: env() });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split('\n').map((l) => l.split(/\s+/)[0])).not.toContain(m);
  });
});
