import { FsError } from '../core/errors.js';
import { StoreError } from '../store/errors.js';

/** An error meant for the user as it is (no stack): a clear one-line message and an exit code. */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/** Prints one line to stderr and returns the exit code to use. */
export function reportError(e: unknown): number {
  if (e instanceof UserError) {
    console.error(`agentfs: ${e.message}`);
    return e.exitCode;
  }
  if (e instanceof FsError || e instanceof StoreError) {
    console.error(`agentfs: ${e.message}`);
    return 1;
  }
  const err = e as NodeJS.ErrnoException;
  if (err?.syscall === 'uv_cwd') {
    console.error('agentfs: the current directory no longer exists (it was removed); cd to one that does');
    return 1;
  }
  if (err && typeof err.code === 'string' && typeof err.message === 'string') {
    console.error(`agentfs: ${err.message}`);
    return 1;
  }
  console.error(`agentfs: ${err?.message ?? String(e)}`);
  if (process.env.AGENTFS_DEBUG && err?.stack) console.error(err.stack);
  return 1;
}
