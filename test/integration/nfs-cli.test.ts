import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { CLI, runCli, tempDir } from '../support/cli.js';
import { startNfs } from '../support/nfs-server.js';
// @ts-expect-error plain JS test support (shared with the bench)
import { NfsClient } from '../support/nfs-client.mjs';

/** `agentfs serve nfs` as a command: its first line, flags, bad input, signals. */
let tmp: { dir: string; cleanup: () => void };

beforeAll(async () => {
  tmp = tempDir('agentfs-nfs-cli-');
  expect((await runCli(['init', 'c1'], { cwd: tmp.dir })).code).toBe(0);
});

afterAll(() => tmp.cleanup());

/** Starts the server with args, returns its first stdout line, and stops it with `signal`. */
async function firstLine(args: string[], signal: NodeJS.Signals = 'SIGINT'): Promise<{ line: string; stderr: string; code: number | null }> {
  const child = spawn(process.execPath, [CLI, 'serve', 'nfs', ...args], { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // 'close': its output read to the end (a warning may still be in the pipe at 'exit')
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.on('exit', () => reject(new Error(`exited early: ${err}`)));
  });
  // at once: the first line is the promise that a signal now stops the server cleanly
  child.kill(signal);
  const code = await exited;
  return { line, stderr: err, code };
}

describe('agentfs serve nfs', () => {
  it('says host, port and export in its first line, and stops cleanly on SIGINT', async () => {
    const r = await firstLine(['c1', '--port', '0']);
    expect(r.line).toMatch(/^agentfs: serving .*c1\.db over NFSv3 on 127\.0\.0\.1:\d+ \(export \/\)$/);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('--json prints one JSON line; SIGTERM stops it', async () => {
    const r = await firstLine(['c1', '--port', '0', '--json'], 'SIGTERM');
    const info = JSON.parse(r.line);
    expect(info).toMatchObject({ host: '127.0.0.1', export: '/' });
    expect(info.port).toBeGreaterThan(0);
    expect(r.code).toBe(0);
  });

  it('warns in one line when bound to a non-loopback address', async () => {
    const r = await firstLine(['c1', '--port', '0', '--bind', '0.0.0.0', '--json']);
    expect(JSON.parse(r.line).host).toBe('0.0.0.0');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^agentfs: warning: listening on 0\.0\.0\.0, not loopback: NFSv3 AUTH_SYS is not authentication/);
  });

  it('judges and shows the address bound, not the name given', async () => {
    const r = await firstLine(['c1', '--port', '0', '--bind', '0x7f000001', '--json']);
    expect(JSON.parse(r.line).host).toBe('127.0.0.1');
    expect(r.stderr).toBe('');
  });

  it('bad input: one-line errors, non-zero exit', async () => {
    for (const [args, msg] of [
      [['c1', '--port', 'abc'], /^agentfs: --port abc: expected a port number 0-65535\n$/],
      [['c1', '--port', '70000'], /^agentfs: --port 70000: expected a port number/],
      [['nosuch', '--port', '0'], /^agentfs: no such agent 'nosuch'/],
      [['c1', '--port', '0', '--bind', 'not-an-ip'], /^agentfs: cannot listen on not-an-ip/],
      // an empty address would mean every interface
      [['c1', '--port', '0', '--bind', ''], /^agentfs: --bind: expected an IP address/],
      [['c1', '--port', '0', '--bind', ' '], /^agentfs: --bind: expected an IP address/],
    ] as const) {
      const r = await runCli(['serve', 'nfs', ...args], { cwd: tmp.dir });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('refuses a port in use with a hint', async () => {
    const s = await startNfs('c1', tmp.dir);
    try {
      const r = await runCli(['serve', 'nfs', 'c1', '--port', String(s.port)], { cwd: tmp.dir });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`agentfs: port ${s.port} on 127.0.0.1 is already in use (try --port 0)\n`);
      // the first server is unaffected
      const c = await NfsClient.connect(s.port);
      expect(await c.null()).toBe(true);
      c.close();
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});
