import { statSync } from 'node:fs';
import type { LocalSyncState } from '../core/sync-state/index.js';
import { checkpointWal, damage, pageCounts, vacuum, withBusyTimeout } from '../store/index.js';
import { SyncError } from './errors.js';

/** What `sync checkpoint` did. Sizes are of the database file and its WAL, in bytes. */
export interface CheckpointResult {
  database: string;
  before: { databaseBytes: number; walBytes: number };
  after: { databaseBytes: number; walBytes: number };
  /** transfer-log rows of revisions the remote holds, folded into the running totals */
  transfersFolded: number;
  /** free pages given back to the file system */
  pagesFreed: number;
  walTruncated: boolean;
  /** why a step could not run (a live mount kept the database busy past the timeout) */
  notes: string[];
}

/**
 * Compacts the local side of sync without changing what the next push or pull does: the change
 * log, the remembered revisions and marks stay as they are; only statistics rows the remote
 * already holds are folded (totals unchanged), free pages are given back (VACUUM) and the WAL is
 * checkpointed into the database file and truncated. Each step waits for other connections (a
 * live mount) at most busyTimeoutMs, then is skipped with a note.
 */
export function checkpoint(local: LocalSyncState, busyTimeoutMs: number): CheckpointResult {
  const store = local.store;
  const problem = damage(store);
  if (problem !== undefined) {
    throw new SyncError(`${store.path} is damaged (${problem.split('\n')[0]}): not compacted, nothing changed; copy it away and recover it (sqlite3 .recover) first`, 'corrupt');
  }
  const before = sizes(store.path);
  const notes: string[] = [];
  return withBusyTimeout(store, busyTimeoutMs, () => {
    let transfersFolded = 0;
    const mem = local.memory.read();
    if (mem.remoteDbId !== undefined && mem.baseRevision !== undefined) {
      const through = Math.max(mem.baseRevision, ...mem.ownRevisions);
      try {
        transfersFolded = local.transfers.foldThrough(mem.remoteDbId, through);
      } catch (e) {
        notes.push(`sync bookkeeping not compacted: ${(e as Error).message}`);
      }
    }
    const free = pageCounts(store).freePages;
    let pagesFreed = 0;
    if (free > 0) {
      const v = vacuum(store);
      if (v.done) pagesFreed = free - pageCounts(store).freePages;
      else notes.push(`free pages not given back: ${v.reason}`);
    }
    const wal = checkpointWal(store);
    if (!wal.truncated) notes.push(`WAL not truncated: ${wal.reason}`);
    return { database: store.path, before, after: sizes(store.path), transfersFolded, pagesFreed, walTruncated: wal.truncated, notes };
  });
}

function sizes(db: string): { databaseBytes: number; walBytes: number } {
  const size = (f: string) => {
    try {
      return statSync(f).size;
    } catch {
      return 0;
    }
  };
  return { databaseBytes: size(db), walBytes: size(`${db}-wal`) };
}
