// hasExited: `agentfs unmount` waits for the mount's server to finish. The server is a daemon
// whose parent is init, which may reap it seconds after it exited; kill(pid, 0) answers for the
// zombie until then, so the wait took 1.5-2 s here with the server long done.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { hasExited, isAlive } from '../../src/core/process-alive.js';

let parent: ChildProcess | undefined;
afterEach(() => {
  if (parent?.pid !== undefined && parent.exitCode === null) process.kill(parent.pid, 'SIGKILL');
  parent = undefined;
});

/** A process that exits at once and stays a zombie: its parent (`sleep`) never reaps it. */
async function zombie(): Promise<number> {
  parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve) => parent!.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
  for (let i = 0; i < 200 && !hasExited(pid); i++) await new Promise((r) => setTimeout(r, 10));
  return pid;
}

describe('hasExited', () => {
  it('is false for a process that runs', () => {
    expect(hasExited(process.pid)).toBe(false);
  });

  it('is true for a zombie, which kill(pid, 0) still finds', async () => {
    const pid = await zombie();
    expect(isAlive(pid)).toBe(true);
    expect(hasExited(pid)).toBe(true);
  });

  it('is true for a process reaped and gone', async () => {
    const child = spawn('true');
    await new Promise((r) => child.once('exit', r));
    expect(hasExited(child.pid!)).toBe(true);
  });
});
