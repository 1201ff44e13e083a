import type { LocalSyncState, PendingPush, SyncMemory } from '../core/sync-state/index.js';
import type { RemoteDb } from './remote.js';
import type { RemoteInfo } from './remote-schema.js';

/** True if revisions in (base, remote] include some that we did not push ourselves. */
export function foreignRevisions(remoteRevision: number, base: number, own: readonly number[]): boolean {
  if (remoteRevision <= base) return false;
  const ours = own.filter((r) => r > base && r <= remoteRevision).length;
  return ours < remoteRevision - base;
}

/**
 * A push whose final request reached the remote but whose answer never came back (killed, network
 * lost) is recognised by its push id in agentfs_sync_revisions and finished locally.
 */
export async function finalizeCommittedPush(local: LocalSyncState, remote: RemoteDb, info: RemoteInfo): Promise<boolean> {
  const mem = local.memory.read();
  const p = mem.pendingPush;
  if (!p || !info.tracked || !info.dbId) return false;
  const rs = await remote.execute('SELECT revision FROM agentfs_sync_revisions WHERE push_id = ?', [p.pushId]);
  const row = rs.rows[0];
  if (!row) return false;
  recordPushed(local, p, Number(row[0]), info.dbId, mem, { rows: 0, t0: Date.now(), remote });
  return true;
}

/** Local bookkeeping once the remote confirmed the new revision. */
export function recordPushed(
  local: LocalSyncState,
  p: PendingPush,
  revision: number,
  dbId: string,
  mem: SyncMemory,
  stats: { rows: number; t0: number; remote: RemoteDb; conflictsResolved?: number },
): void {
  local.transaction(() => {
    const traffic = stats.remote.traffic;
    local.transfers.record({
      kind: 'push',
      at: Math.floor(Date.now() / 1000),
      remoteDbId: dbId,
      revision,
      rows: stats.rows,
      bytesSent: traffic.bytesSent,
      bytesReceived: traffic.bytesReceived,
      requests: traffic.requests,
      conflictsResolved: stats.conflictsResolved ?? 0,
    });
    local.tracker.clearThrough(p.gen);
    const current = p.full || p.baseWasCurrent;
    local.memory.write({
      remoteDbId: dbId,
      baseRevision: current ? revision : mem.baseRevision,
      ownRevisions: current ? [] : [...mem.ownRevisions, revision],
      toolMark: current ? p.toolMax : mem.toolMark,
      inoMark: current ? p.inoMax : mem.inoMark,
      dentryMark: current ? p.dentryMax : mem.dentryMark,
      pendingPush: undefined,
      lastPush: {
        at: Math.floor(Date.now() / 1000),
        revision,
        rows: stats.rows,
        bytes: stats.remote.traffic.bytesSent + stats.remote.traffic.bytesReceived,
        requests: stats.remote.traffic.requests,
        seconds: (Date.now() - stats.t0) / 1000,
      },
    });
  });
}

