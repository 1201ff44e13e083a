/**
 * The one error type for everything outside the POSIX core (FsError carries errno codes for
 * file operations): a code from the short list below, a one-line message for the user, and the
 * exit status the CLI gives it. cli/errors.ts reportError is the one place that prints errors.
 */

/** Every code, what it means, and the exit status it maps to (MANUAL.md "Exit status"). */
export const ERROR_CODES = {
  usage: { exit: 1, means: 'a bad argument, option value, agent id or URL' },
  'not-found': { exit: 1, means: 'no such agent, database, session, remote, key or tool call' },
  exists: { exit: 1, means: 'it already exists (init without --force)' },
  denied: { exit: 1, means: 'the database file, its directory or -wal/-shm cannot be read or written' },
  'read-only': { exit: 1, means: 'the database is open read-only here' },
  foreign: { exit: 1, means: 'not an AgentFS database (a local file or the remote)' },
  corrupt: { exit: 1, means: 'the database file is damaged' },
  'no-space': { exit: 1, means: 'the file system holding the database (or the remote database) is full' },
  schema: { exit: 1, means: 'the database layout is too old (run agentfs migrate) or too new' },
  conflict: { exit: 1, means: 'both sides changed the same thing (sync), or the base changed (commit)' },
  remote: { exit: 1, means: 'the remote failed, refused the token, or could not be reached in time' },
  busy: { exit: 1, means: 'in use or changing: a running session, a busy mountpoint or port, a remote that moved' },
  unsupported: { exit: 1, means: 'this host cannot do it: no FUSE, no user namespaces, no addon' },
  'no-descriptors': { exit: 1, means: 'the process (or the system) has no file descriptor left to open the database with' },
  'not-executable': { exit: 126, means: 'exec, record: the command cannot be run' },
  'command-not-found': { exit: 127, means: 'exec, record: no such command' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AgentfsError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'AgentfsError';
    this.code = code;
  }

  /** The CLI's exit status for this error. */
  get exitStatus(): number {
    return ERROR_CODES[this.code].exit;
  }
}

export function isAgentfsError(e: unknown, code?: ErrorCode): e is AgentfsError {
  return e instanceof AgentfsError && (code === undefined || e.code === code);
}
