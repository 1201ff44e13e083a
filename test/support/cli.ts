import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'bin', 'agentfs.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs the agentfs CLI as a child process (never blocks the test's event loop). */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return run(process.execPath, [CLI, ...args], options);
}

/** Runs any program asynchronously and collects its output. */
export function run(cmd: string, args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    // a program that stops reading its input early (it failed, or needed no more) is not an error here
    child.stdin.on('error', () => undefined);
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

/** How a child ended: its exit code, or the signal that ended it. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The agentfs CLI as a running child (output piped, no input) and its exit. */
export function spawnCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { child: ChildProcess; exited: Promise<Exit> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited };
}

/**
 * Waits for `exited` while sending the child SIGINT or SIGTERM (at random) every `everyMs`, as a
 * supervisor that keeps signalling would; a child still running when the wait ends is killed.
 */
export async function underSignalStream<T>(child: ChildProcess, exited: Promise<T>, everyMs = 5): Promise<T> {
  const running = () => child.exitCode === null && child.signalCode === null;
  const stream = setInterval(() => running() && child.kill(Math.random() < 0.5 ? 'SIGINT' : 'SIGTERM'), everyMs);
  try {
    return await exited;
  } finally {
    clearInterval(stream);
    if (running()) child.kill('SIGKILL');
  }
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'agentfs-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
