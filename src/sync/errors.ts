import { AgentfsError, type ErrorCode } from '../errors.js';

/** A sync failure with a one-line message for the user; nothing local was changed. */
export class SyncError extends AgentfsError {
  /** the same request may succeed if sent again (network, timeout, 429/5xx) */
  readonly transient: boolean;
  /** the remote did not answer within the timeout */
  readonly timedOut: boolean;
  constructor(
    message: string,
    code: ErrorCode = 'remote',
    how: { transient?: boolean; timedOut?: boolean } = {},
  ) {
    super(code, message);
    this.name = 'SyncError';
    this.transient = how.transient ?? false;
    this.timedOut = how.timedOut ?? false;
  }
}

/** Both sides changed the same things since the last sync. */
export class SyncConflictError extends SyncError {
  constructor(
    readonly direction: 'push' | 'pull',
    readonly conflicts: string[],
  ) {
    const shown = conflicts.slice(0, 20).join(', ');
    const more = conflicts.length > 20 ? ` and ${conflicts.length - 20} more` : '';
    const how = direction === 'push' ? '`push --force` to overwrite the remote with ours, or pull --theirs' : '`pull --theirs` to take the remote version, or `pull --force` to keep ours';
    super(`conflict: both this agent and the remote changed ${shown}${more} since the last sync; nothing was changed (use ${how})`, 'conflict');
    this.name = 'SyncConflictError';
  }
}
