import type { Store } from '../../store/index.js';
import { numbers } from './scalar.js';

/**
 * Running totals of sync traffic, for `sync stats`: one row per completed push or pull in
 * `agentfs_sync_transfers` (remote id, revision, bytes each way, conflicts resolved), and
 * `agentfs_sync_totals` holding the sums of rows folded away by `sync checkpoint`. Rows are
 * written in the same local transaction as the rest of a push's or pull's bookkeeping, so a
 * failed transfer records nothing. Never read by push or pull: only statistics depend on them.
 */
const TRANSFERS = 'agentfs_sync_transfers';
const TOTALS = 'agentfs_sync_totals';

export const TRANSFERS_DDL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS ${TRANSFERS} (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('push', 'pull')),
    at INTEGER NOT NULL,
    remote_db_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL,
    bytes_received INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    conflicts_resolved INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS ${TOTALS} (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pushes INTEGER NOT NULL,
    pulls INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL,
    bytes_received INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    conflicts_resolved INTEGER NOT NULL
  )`,
];

export interface TransferEntry {
  kind: 'push' | 'pull';
  /** unix seconds */
  at: number;
  remoteDbId: string;
  revision: number;
  rows: number;
  bytesSent: number;
  bytesReceived: number;
  requests: number;
  conflictsResolved: number;
}

export interface TransferTotals {
  pushes: number;
  pulls: number;
  bytesSent: number;
  bytesReceived: number;
  requests: number;
  conflictsResolved: number;
}

const ZERO: TransferTotals = { pushes: 0, pulls: 0, bytesSent: 0, bytesReceived: 0, requests: 0, conflictsResolved: 0 };

export class TransferLog {
  constructor(private readonly store: Store) {}

  private get exists(): boolean {
    return this.store.schemaHas(TRANSFERS);
  }

  /** Appends one completed transfer (call inside the transfer's final local transaction). */
  record(e: TransferEntry): void {
    this.store.ensureSchema('sync-transfers', TRANSFERS_DDL);
    this.store
      .stmt(
        `INSERT INTO ${TRANSFERS} (kind, at, remote_db_id, revision, rows, bytes_sent, bytes_received, requests, conflicts_resolved)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(e.kind, e.at, e.remoteDbId, e.revision, e.rows, e.bytesSent, e.bytesReceived, e.requests, e.conflictsResolved);
  }

  /** Everything so far: folded totals plus the rows not folded yet. Read-only (no tables: zeros). */
  totals(): TransferTotals {
    if (!this.exists) return { ...ZERO };
    const r = this.store
      .stmt(
        `SELECT
           coalesce((SELECT pushes FROM ${TOTALS} WHERE id = 1), 0) + (SELECT count(*) FROM ${TRANSFERS} WHERE kind = 'push') AS pushes,
           coalesce((SELECT pulls FROM ${TOTALS} WHERE id = 1), 0) + (SELECT count(*) FROM ${TRANSFERS} WHERE kind = 'pull') AS pulls,
           coalesce((SELECT bytes_sent FROM ${TOTALS} WHERE id = 1), 0) + (SELECT coalesce(sum(bytes_sent), 0) FROM ${TRANSFERS}) AS bytesSent,
           coalesce((SELECT bytes_received FROM ${TOTALS} WHERE id = 1), 0) + (SELECT coalesce(sum(bytes_received), 0) FROM ${TRANSFERS}) AS bytesReceived,
           coalesce((SELECT requests FROM ${TOTALS} WHERE id = 1), 0) + (SELECT coalesce(sum(requests), 0) FROM ${TRANSFERS}) AS requests,
           coalesce((SELECT conflicts_resolved FROM ${TOTALS} WHERE id = 1), 0) + (SELECT coalesce(sum(conflicts_resolved), 0) FROM ${TRANSFERS}) AS conflictsResolved`,
      )
      .get() as Record<keyof TransferTotals, number>;
    return numbers(r);
  }

  /** Rows not folded yet. */
  count(): number {
    if (!this.exists) return 0;
    return Number((this.store.stmt(`SELECT count(*) AS n FROM ${TRANSFERS}`).get() as { n: number }).n);
  }

  /**
   * Folds the rows of transfers the remote already holds (its revisions up to `throughRevision`,
   * which this agent has matched) into the totals, and deletes them: totals() is unchanged.
   * Returns how many rows were folded.
   */
  foldThrough(remoteDbId: string, throughRevision: number): number {
    if (!this.exists) return 0;
    return this.store.transaction(() => {
      const where = `remote_db_id = ? AND revision <= ?`;
      const n = Number((this.store.stmt(`SELECT count(*) AS n FROM ${TRANSFERS} WHERE ${where}`).get(remoteDbId, throughRevision) as { n: number }).n);
      if (!n) return 0;
      this.store
        .stmt(
          `INSERT INTO ${TOTALS} (id, pushes, pulls, bytes_sent, bytes_received, requests, conflicts_resolved)
           SELECT 1, count(*) FILTER (WHERE kind = 'push'), count(*) FILTER (WHERE kind = 'pull'), coalesce(sum(bytes_sent), 0),
                  coalesce(sum(bytes_received), 0), coalesce(sum(requests), 0), coalesce(sum(conflicts_resolved), 0)
             FROM ${TRANSFERS} WHERE ${where}
           ON CONFLICT (id) DO UPDATE SET
             pushes = pushes + excluded.pushes, pulls = pulls + excluded.pulls,
             bytes_sent = bytes_sent + excluded.bytes_sent, bytes_received = bytes_received + excluded.bytes_received,
             requests = requests + excluded.requests, conflicts_resolved = conflicts_resolved + excluded.conflicts_resolved`,
        )
        .run(remoteDbId, throughRevision);
      this.store.stmt(`DELETE FROM ${TRANSFERS} WHERE ${where}`).run(remoteDbId, throughRevision);
      return n;
    });
  }
}
