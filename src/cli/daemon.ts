/**
 * Running a CLI command in the background (`agentfs mount` without --foreground): the parent
 * starts a detached copy of the CLI, its output going to a log, and waits for one JSON line on a
 * pipe (fd 3) saying that it is ready or why not; the copy answers with tellParent. Mistakes are
 * so reported by the command the user typed, not lost in a log.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from './errors.js';

/** The env variable through which a background parent hands its readiness pipe to the server. */
const READY_FD_ENV = 'AGENTFS_MOUNT_READY_FD';
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'agentfs.js');
const READY_TIMEOUT_MS = 30_000;

interface Answer {
  ok?: boolean;
  error?: string;
}

/**
 * Starts `agentfs ARGS...` detached (cwd /, output appended to log) and waits until it reports
 * ready; returns its pid. Fails with the copy's own error, or its last log line if it died.
 */
export async function startDaemon(args: string[], log: string): Promise<number> {
  mkdirSync(dirname(log), { recursive: true, mode: 0o700 });
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: '/',
    detached: true,
    stdio: ['ignore', fd, fd, 'pipe'],
    env: { ...process.env, [READY_FD_ENV]: '3' },
  });
  closeSync(fd);
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  const answer = await new Promise<Answer>((resolveAnswer) => {
    let text = '';
    const timer = setTimeout(() => resolveAnswer({ error: 'the mount did not become ready within 30 s' }), READY_TIMEOUT_MS);
    pipe.on('data', (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        try {
          resolveAnswer(JSON.parse(text.slice(0, nl)) as Answer);
        } catch {
          resolveAnswer({ error: `unexpected answer from the mount server: ${text.slice(0, nl)}` });
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolveAnswer({ error: `the mount server exited (${signal ?? `code ${code}`}): ${lastLine(log)}` });
    });
    child.on('error', (e) => resolveAnswer({ error: e.message }));
  });
  (pipe as unknown as { destroy(): void }).destroy();
  if (!answer.ok) {
    if (child.exitCode === null && child.pid) child.kill('SIGTERM');
    throw new UserError(answer.error ?? 'the mount failed');
  }
  child.unref();
  return child.pid!;
}

/** In the background copy: tells the waiting parent (if any) that it is ready, or why it is not. Once. */
export function tellParent(message: Answer): void {
  const fdText = process.env[READY_FD_ENV];
  if (!fdText) return;
  delete process.env[READY_FD_ENV];
  const fd = Number(fdText);
  try {
    writeSync(fd, JSON.stringify(message) + '\n');
    closeSync(fd);
  } catch {
    /* the parent went away */
  }
}

/** A background copy that said nothing leaves no log behind (one per mountpoint would pile up). */
export function removeEmptyLog(log: string): void {
  try {
    if (statSync(log).size === 0) rmSync(log);
  } catch {
    /* none */
  }
}

function lastLine(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    return lines[lines.length - 1]?.replace(/^agentfs: /, '') || `see ${file}`;
  } catch {
    return `see ${file}`;
  }
}
