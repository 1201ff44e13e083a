import { FsError } from '../core/errors.js';
import { StoreError } from '../store/errors.js';
import { cwdProblem } from '../store/locate.js';
import { escapeControls } from './quote.js';

/** An error meant for the user as it is (no stack): a clear one-line message and an exit code. */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/**
 * Prints one line to stderr and returns the exit code to use. Messages echo user input (paths,
 * keys) and remote replies: control characters in them are written as escapes (\n, \033), so
 * the message stays one line and cannot drive the terminal.
 */
export function reportError(e: unknown): number {
  const say = (message: string) => console.error(`agentfs: ${escapeControls(message)}`);
  if (e instanceof UserError) {
    say(e.message);
    return e.exitCode;
  }
  if (e instanceof FsError || e instanceof StoreError) {
    say(e.message);
    return 1;
  }
  const err = e as NodeJS.ErrnoException;
  if (err?.syscall === 'uv_cwd') {
    // "ERANGE: result too large, uv_cwd" says nothing a user can act on
    say(cwdProblem(err));
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
