/**
 * Push/pull sync of an agent with a remote libSQL/Turso database (the one adapter that works at
 * row level: it talks to core/sync-state for local rows and to @libsql/client for the remote).
 */
import type { Store } from '../store/index.js';
import { LocalSyncState } from '../core/sync-state/index.js';
import { DEFAULT_TIMEOUT_S, RemoteDb, redact, urlToken, type RemoteOptions } from './remote.js';
import { SyncError } from './errors.js';
import { checkFileRemote, isFileUrl, normalizeFileUrl } from './file-remote.js';

export { push, type PushOptions, type PushResult } from './push.js';
export { pull, type PullOptions, type PullResult } from './pull.js';
export { status, type SyncStatus } from './status.js';
export { SyncError, SyncConflictError } from './errors.js';
export { RemoteDb, redact, withoutToken, hideSecrets, urlToken, DEFAULT_TIMEOUT_S, type Traffic, type RemoteOptions } from './remote.js';
export { createProgress, type Progress } from './progress.js';

export interface RemoteChoice {
  /** --remote; else the URL stored with `init --sync-remote-url` */
  url?: string;
  /** --auth-token; else TURSO_AUTH_TOKEN, else TURSO_DB_AUTH_TOKEN */
  authToken?: string;
  /** --timeout in seconds (text as given); else AGENTFS_SYNC_TIMEOUT, else DEFAULT_TIMEOUT_S */
  timeout?: string;
  env?: NodeJS.ProcessEnv;
}

export interface ChosenRemote {
  url: string;
  authToken?: string;
  timeoutMs: number;
}

/** Which remote, token and timeout to use, in order of precedence. */
export function chooseRemote(storedUrl: string | undefined, choice: RemoteChoice): ChosenRemote {
  const env = choice.env ?? process.env;
  const timeoutMs = chooseTimeout(choice.timeout, env);
  const given = choice.url ?? storedUrl;
  if (!given) throw new SyncError('no remote to sync with: pass --remote URL, or create the agent with `agentfs init --sync-remote-url URL`', 'usage');
  const url = checkRemoteUrl(given);
  const [authToken, source] =
    choice.authToken !== undefined
      ? [choice.authToken, '--auth-token']
      : env.TURSO_AUTH_TOKEN
        ? [env.TURSO_AUTH_TOKEN, '$TURSO_AUTH_TOKEN']
        : env.TURSO_DB_AUTH_TOKEN
          ? [env.TURSO_DB_AUTH_TOKEN, '$TURSO_DB_AUTH_TOKEN']
          : [undefined, ''];
  checkToken(authToken, source);
  return { url, authToken, timeoutMs };
}

/**
 * A remote URL as sync will use it (a `file:` URL made absolute), or a SyncError saying what is
 * wrong: a scheme we do not speak, WebSocket (it would bypass the fetch that carries our timeouts
 * and traffic counts), a user name or password, an unsendable authToken parameter.
 */
export function checkRemoteUrl(url: string): string {
  if (isFileUrl(url)) return normalizeFileUrl(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SyncError(`invalid remote URL ${redact(url)}: not a URL (use libsql://, https://, http:// or file:)`, 'usage');
  }
  if (u.protocol === 'ws:' || u.protocol === 'wss:') {
    throw new SyncError(`remote ${redact(url)}: WebSocket URLs (ws://, wss://) are not supported; use https://, http:// or libsql:// (which is HTTPS)`, 'usage');
  }
  if (!['libsql:', 'https:', 'http:'].includes(u.protocol)) {
    throw new SyncError(`invalid remote URL ${redact(url)}: the scheme ${u.protocol} is not supported (use libsql://, https://, http:// or file:)`, 'usage');
  }
  if (u.username || u.password) {
    throw new SyncError(`remote URL ${redact(url)} contains a user name or password: pass the token with --auth-token or $TURSO_AUTH_TOKEN instead`, 'usage');
  }
  checkToken(urlToken(url), 'the remote URL (authToken=)');
  return url;
}

/**
 * A token goes into an HTTP header: a control character (a pasted line break) could inject
 * headers, and the HTTP library would quote the whole value in its error. Refused before anything
 * is sent, naming where the token came from and never the token itself.
 */
function checkToken(token: string | undefined, source: string): void {
  if (!token) return;
  if (/[\u0000-\u001f\u007f]/.test(token)) {
    throw new SyncError(`the auth token from ${source} contains a control character (a line break?); it was not sent`, 'usage');
  }
  if (/[^\u0020-\u007e]/.test(token)) {
    throw new SyncError(`the auth token from ${source} contains characters that cannot be sent in an HTTP header (only printable ASCII can); it was not sent`, 'usage');
  }
}

/** The per-request timeout in ms: --timeout (seconds, as given), else AGENTFS_SYNC_TIMEOUT, else the default. */
export function chooseTimeout(timeout: string | undefined, env: NodeJS.ProcessEnv = process.env): number {
  if (timeout !== undefined) return parseTimeout(timeout, '--timeout');
  if (env.AGENTFS_SYNC_TIMEOUT) return parseTimeout(env.AGENTFS_SYNC_TIMEOUT, 'AGENTFS_SYNC_TIMEOUT');
  return DEFAULT_TIMEOUT_S * 1000;
}

/** Seconds (fractions allowed, at most a day) as milliseconds. */
function parseTimeout(text: string, source: string): number {
  const s = Number(text.trim());
  if (!/^\s*[0-9.]+\s*$/.test(text) || !Number.isFinite(s) || s <= 0 || s > 86400) {
    throw new SyncError(`${source}: expected a number of seconds greater than 0 and at most 86400, got '${text}'`, 'usage');
  }
  return Math.max(1, Math.round(s * 1000));
}

/**
 * A local agent and its remote, ready for push/pull/status. `create`: a `file:` remote may be
 * created (push); else it must exist.
 */
export function openSync(
  store: Store,
  remote: RemoteOptions,
  options: { create?: boolean } = {},
): { local: LocalSyncState; remote: RemoteDb } {
  const made = isFileUrl(remote.url) ? checkFileRemote(remote.url, store.path, options.create ?? false, remote.timeoutMs ?? DEFAULT_TIMEOUT_S * 1000) : undefined;
  const db = new RemoteDb(remote);
  db.madeFile = made;
  return { local: new LocalSyncState(store), remote: db };
}
export { stats, localStats, type SyncStats } from './stats.js';
export { checkpoint, type CheckpointResult } from './checkpoint.js';
