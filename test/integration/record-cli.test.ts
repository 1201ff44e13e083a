import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { ToolCall } from '../../src/core/tools/index.js';
import { CLI, runCli, spawnCli, tempDir, underSignalStream } from '../support/cli.js';

let dir: string;
let cleanup: () => void;
const cli = (...args: string[]) => runCli(args, { cwd: dir });

/** The agent's calls, oldest first, read through `agentfs timeline --format json`. */
async function calls(): Promise<ToolCall[]> {
  const r = await cli('timeline', 'rec', '--calls', '--format', 'json', '--limit', '1000');
  if (r.code !== 0) throw new Error(`timeline failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as ToolCall[]).reverse();
}

beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  expect((await cli('init', 'rec')).code).toBe(0);
});
afterAll(() => cleanup());

describe('agentfs record', () => {
  it('runs the command as one tool call, passing its output through unchanged', async () => {
    const bytes = 'out-1\n\u00e9t\u00e9\n';
    const r = await cli('record', 'rec', '--', 'sh', '-c', `printf '${bytes}'; printf 'warn\\n' >&2`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(bytes);
    expect(r.stderr).toBe('warn\n');
    const c = (await calls()).at(-1)!;
    expect(c).toMatchObject({ name: 'sh', status: 'success', parameters: { argv: ['sh', '-c', expect.any(String)], cwd: dir } });
    expect(c.result).toMatchObject({ exit_code: 0, signal: null, stdout_tail: bytes, stderr_tail: 'warn\n', stdout_bytes: Buffer.byteLength(bytes) });
    expect(c.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it('records a non-zero exit as an error with the stderr tail, and exits with the same code', async () => {
    const r = await cli('record', 'rec', '--name', 'compile', '--', 'sh', '-c', 'echo "fatal: no input" >&2; exit 7');
    expect(r.code).toBe(7);
    const c = (await calls()).at(-1)!;
    expect(c).toMatchObject({ name: 'compile', status: 'error', error: 'exited with code 7\nfatal: no input' });
    // the exit status and the output tails are kept for a failure too
    expect(c.result).toMatchObject({ exit_code: 7, signal: null, stdout_tail: '', stderr_tail: 'fatal: no input\n', stderr_bytes: 16 });
    const killed = await cli('record', 'rec', '--', 'sh', '-c', 'echo partial; kill -USR1 $$');
    expect(killed.code).toBe(128 + 10); // as a shell reports a command killed by SIGUSR1
    expect((await calls()).at(-1)).toMatchObject({ status: 'error', error: 'killed by SIGUSR1', result: { exit_code: null, signal: 'SIGUSR1', stdout_tail: 'partial\n' } });
  });

  it('keeps only a bounded tail of long output', async () => {
    const r = await cli('record', 'rec', '--tail', '100', '--', 'sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').length).toBe(2001);
    const res = (await calls()).at(-1)!.result as { stdout_tail: string; stdout_bytes: number };
    expect(Buffer.byteLength(res.stdout_tail)).toBeLessThanOrEqual(100);
    expect(res.stdout_tail.endsWith('line 1999\n')).toBe(true);
    expect(res.stdout_bytes).toBe(Buffer.byteLength(r.stdout));
  });

  it('is pending while the command runs, and a signal ends it as an error', async () => {
    const child = spawn(process.execPath, [CLI, 'record', 'rec', '--name', 'sleeper', '--', 'sleep', '30'], { cwd: dir, stdio: 'ignore' });
    try {
      let pending: ToolCall | undefined;
      for (let i = 0; i < 100 && !pending; i++) {
        await new Promise((r) => setTimeout(r, 100));
        pending = (await calls()).find((c) => c.name === 'sleeper');
      }
      expect(pending?.status).toBe('pending');
      const tl = await cli('timeline', 'rec', '--filter', 'sleeper');
      expect(tl.stdout).toMatch(/sleeper\s+pending\s+--/);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM'); // forwarded to `sleep`
      expect(await exited).toBe(128 + 15);
      const done = (await calls()).find((c) => c.id === pending!.id)!;
      expect(done).toMatchObject({ status: 'error', error: 'killed by SIGTERM' });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('a supervisor that keeps signalling does not end the recorder before the call is finished', async () => {
    // the command ignores the signals; they keep coming after it exited, while the call is
    // finished (they ended the recorder there and left the call open)
    const { child, exited } = spawnCli(['record', 'rec', '--name', 'stubborn', '--', 'sh', '-c', "trap '' INT TERM; echo ready; sleep 0.3"], { cwd: dir });
    await new Promise((r) => child.stdout!.once('data', r));
    expect(await underSignalStream(child, exited)).toEqual({ code: 0, signal: null });
    expect((await calls()).at(-1)).toMatchObject({ name: 'stubborn', status: 'success' });
  });

  it('fails clearly for a missing program or agent, recording the failed start', async () => {
    const r = await cli('record', 'rec', '--', 'no-such-program-xyz');
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('agentfs: cannot run no-such-program-xyz: ENOENT\n');
    expect((await calls()).at(-1)).toMatchObject({ name: 'no-such-program-xyz', status: 'error' });
    // an empty program name is no command, as for a shell and exec (it was 'a tool call needs a name', exit 1)
    const empty = await cli('record', 'rec', '--', '');
    expect(empty.code).toBe(127);
    expect(empty.stderr).toMatch(/^agentfs: [^\n]*\n$/);
    const none = await cli('record', 'ghost', '--', 'true');
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/^agentfs: no such agent 'ghost'/);
    const bad = await cli('record', 'rec', '--tail', '-5', '--', 'true');
    expect(bad.code).not.toBe(0);
  });
});
