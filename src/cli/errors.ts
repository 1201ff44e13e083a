import { CoreError, FsError } from '../core/errors.js';
import { AgentfsError, isAgentfsError, type ErrorCode } from '../errors.js';
import { cwdProblem } from '../store/locate.js';
import { escapeControls } from './quote.js';

/** A condition the CLI itself finds (bad option, session running, conflicts): see src/errors.ts. */
export class UserError extends AgentfsError {
  constructor(message: string, code: ErrorCode = 'usage') {
    super(code, message);
    this.name = 'UserError';
  }
}

/**
 * The one place the CLI turns an error into output: one line on stderr, and the exit status.
 * AgentfsError says its own status (MANUAL.md "Exit status"); an errno error of the core
 * (FsError; CoreError: KvError, ToolCallError) or of Node (a system call the CLI made) is 1;
 * anything else is a bug: its message, and with AGENTFS_DEBUG its stack. Messages echo user input (paths, keys) and
 * remote replies: control characters in them are written as escapes (\n, \033), so the message
 * stays one line and cannot drive the terminal.
 */
export function reportError(e: unknown): number {
  const say = (message: string) => console.error(`agentfs: ${escapeControls(message)}`);
  if (e instanceof AgentfsError) {
    say(e.message);
    return e.exitStatus;
  }
  if (e instanceof FsError || e instanceof CoreError) {
    say(e.message);
    return 1;
  }
  const err = e as NodeJS.ErrnoException;
  if (err?.syscall === 'uv_cwd') {
    // "ERANGE: result too large, uv_cwd" says nothing a user can act on
    say(cwdProblem(err));
    return 1;
  }
  if (err?.code === 'SQLITE_FULL') {
    // SQLite's "database or disk is full" for a disk that is full
    say('no space left on device: the file system holding the database is full');
    return 1;
  }
  if (err && typeof err.code === 'string' && typeof err.message === 'string') {
    say(err.message);
    return 1;
  }
  say(err?.message ?? String(e));
  if (process.env.AGENTFS_DEBUG && err?.stack) console.error(err.stack);
  return 1;
}

/**
 * An error a serving command (`mount`, `exec`, `serve nfs`) meets in a request and serves on
 * after: one line on stderr, prefixed with the command. The database's own errors (damaged,
 * disk full or failing: SQLITE_* codes) are said as such, and so are ours (AgentfsError: a lock
 * held past the busy timeout); anything else is a bug, with its stack.
 */
export function reportServeError(command: string, e: unknown, database?: string): void {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    const where = database ? `${database}: ` : '';
    console.error(`agentfs ${command}: ${where}${escapeControls((e as Error).message)} (${code})`);
  } else if (isAgentfsError(e)) {
    // said for the user already (a lock another process held too long: that request failed)
    console.error(`agentfs ${command}: ${escapeControls(e.message)}`);
  } else {
    console.error(`agentfs ${command}: internal error: ${(e as Error)?.stack ?? String(e)}`);
  }
}
