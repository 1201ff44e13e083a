import type { ChangeSummary, LocalSyncState, TransferTotals } from '../core/sync-state/index.js';
import { redact, type RemoteDb } from './remote.js';
import { status } from './status.js';
import { SyncError } from './errors.js';

/** `sync stats`: what this agent knows about its sync, and what the remote says if it answers. */
export interface SyncStats extends TransferTotals {
  /** the remote's URL with any token hidden; null when none is configured */
  remoteUrl: string | null;
  lastPush: string | null;
  lastPull: string | null;
  revisions: {
    /** remote revision this agent last matched (null: never synced) */
    local: number | null;
    /** revisions this agent pushed above that one (the remote has them, a pull skips them) */
    pushedAbove: number[];
    /** the remote's current revision (null when the remote part is unknown) */
    remote: number | null;
  };
  /** changes waiting to be pushed; a first push sends everything (`firstPush`) */
  pending: ChangeSummary & { firstPush: boolean };
  /** rows the remote changed since this agent last matched it, that a pull would bring (null when unknown or never synced with it) */
  remotePending: number | null;
  /** a push that started and did not finish (the next push resumes it) */
  interruptedPush: boolean;
  remote: { known: true } | { known: false; reason: string };
}

/** The local part: read from this agent only, never fails for want of a remote. */
export function localStats(local: LocalSyncState, remoteUrl: string | undefined): SyncStats {
  const mem = local.memory.read();
  const synced = mem.baseRevision !== undefined;
  const pending = synced && local.tracker.tracking ? local.tracker.pendingSummary() : local.info.contentSummary();
  const t = local.transfers.totals();
  const iso = (sec: number | undefined) => (sec ? new Date(sec * 1000).toISOString() : null);
  return {
    remoteUrl: remoteUrl === undefined ? null : redact(remoteUrl),
    lastPush: iso(mem.lastPush?.at),
    lastPull: iso(mem.lastPull?.at),
    revisions: { local: mem.baseRevision ?? null, pushedAbove: mem.ownRevisions, remote: null },
    pending: { ...pending, firstPush: !synced },
    remotePending: null,
    pushes: t.pushes,
    pulls: t.pulls,
    bytesSent: t.bytesSent,
    bytesReceived: t.bytesReceived,
    requests: t.requests,
    conflictsResolved: t.conflictsResolved,
    interruptedPush: mem.pendingPush !== undefined,
    remote: { known: false, reason: 'no remote configured (pass --remote URL)' },
  };
}

/**
 * Local stats completed with the remote's revision and pending rows. The remote part is given
 * at most `timeoutMs` in all; if it fails or takes longer it is reported unknown, with the reason.
 */
export async function stats(local: LocalSyncState, remote: RemoteDb, timeoutMs: number): Promise<SyncStats> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SyncError(`remote ${redact(remote.url)} did not answer within ${timeoutMs / 1000} s`, 'remote')), timeoutMs);
  });
  try {
    const s = await Promise.race([status(local, remote), deadline]);
    // status() may have finished an interrupted push: read the local part afterwards
    const out = localStats(local, remote.url);
    out.revisions.remote = s.remoteRevision;
    out.remotePending = s.neverSynced ? null : Object.values(s.remotePending).reduce((a, b) => a + b, 0);
    out.remote = { known: true };
    return out;
  } catch (e) {
    const out = localStats(local, remote.url);
    out.remote = { known: false, reason: remote.describe(e).message };
    return out;
  } finally {
    clearTimeout(timer);
  }
}
