import type { LocalSyncState, TransferRecord } from '../core/sync-state/index.js';
import { redact, type RemoteDb } from './remote.js';
import { inspectRemote } from './remote-schema.js';
import { finalizeCommittedPush } from './revisions.js';

export interface SyncStatus {
  remoteUrl: string;
  /** revision this agent last matched, if it ever synced with this remote */
  baseRevision?: number;
  remoteRevision: number;
  /** changed rows not yet pushed, per table */
  localPending: Record<string, number>;
  /** rows the remote changed since our base revision (not by us), per table; all rows if never synced */
  remotePending: Record<string, number>;
  neverSynced: boolean;
  lastPush?: TransferRecord;
  lastPull?: TransferRecord;
  /** a push that did not finish (a re-run resumes it) */
  interruptedPush: boolean;
}

export async function status(local: LocalSyncState, remote: RemoteDb): Promise<SyncStatus> {
  let info = await inspectRemote(remote);
  if (await finalizeCommittedPush(local, remote, info)) info = await inspectRemote(remote);
  const mem = local.memory.read();
  const synced = mem.baseRevision !== undefined && mem.remoteDbId === (info.dbId ?? '');
  const localPending: Record<string, number> = {};
  if (local.tracker.tracking && synced) for (const [t, n] of local.tracker.changeCounts()) localPending[t] = n;
  const remotePending: Record<string, number> = {};
  if (synced && info.tracked && info.revision > mem.baseRevision!) {
    const own = mem.ownRevisions.map((r) => String(Math.trunc(r))).join(', ');
    const rs = await remote.execute(
      `SELECT tbl, count(*) FROM agentfs_sync_rows WHERE revision > ? ${own ? `AND revision NOT IN (${own})` : ''} GROUP BY tbl`,
      [BigInt(mem.baseRevision!)],
    );
    for (const r of rs.rows) remotePending[String(r[0])] = Number(r[1]);
  }
  return {
    remoteUrl: redact(remote.url),
    baseRevision: synced ? mem.baseRevision : undefined,
    remoteRevision: info.revision,
    localPending,
    remotePending,
    neverSynced: !synced,
    lastPush: mem.lastPush,
    lastPull: mem.lastPull,
    interruptedPush: mem.pendingPush !== undefined,
  };
}
