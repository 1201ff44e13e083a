/**
 * Push/pull sync of an agent with a remote libSQL/Turso database (the one adapter that works at
 * row level: it talks to core/sync-state for local rows and to @libsql/client for the remote).
 */
import type { Store } from '../store/index.js';
import { LocalSyncState } from '../core/sync-state/index.js';
import { RemoteDb, type RemoteOptions } from './remote.js';
import { SyncError } from './errors.js';

export { push, type PushOptions, type PushResult } from './push.js';
export { pull, type PullOptions, type PullResult } from './pull.js';
export { status, type SyncStatus } from './status.js';
export { SyncError, SyncConflictError } from './errors.js';
export { RemoteDb, redact, type Traffic, type RemoteOptions } from './remote.js';
export { createProgress, type Progress } from './progress.js';

export interface RemoteChoice {
  /** --remote; else the URL stored with `init --sync-remote-url` */
  url?: string;
  /** --auth-token; else TURSO_AUTH_TOKEN, else TURSO_DB_AUTH_TOKEN */
  authToken?: string;
  env?: NodeJS.ProcessEnv;
}

/** Which remote and token to use, in order of precedence. */
export function chooseRemote(storedUrl: string | undefined, choice: RemoteChoice): { url: string; authToken?: string } {
  const env = choice.env ?? process.env;
  const url = choice.url ?? storedUrl;
  if (!url) throw new SyncError('no remote to sync with: pass --remote URL, or create the agent with `agentfs init --sync-remote-url URL`', 'EUSAGE');
  const authToken = choice.authToken ?? (env.TURSO_AUTH_TOKEN || undefined) ?? (env.TURSO_DB_AUTH_TOKEN || undefined);
  return { url, authToken };
}

/** A local agent and its remote, ready for push/pull/status. */
export function openSync(store: Store, remote: RemoteOptions): { local: LocalSyncState; remote: RemoteDb } {
  return { local: new LocalSyncState(store), remote: new RemoteDb(remote) };
}
export { stats, localStats, type SyncStats } from './stats.js';
export { checkpoint, type CheckpointResult } from './checkpoint.js';
