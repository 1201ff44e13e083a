/**
 * Local side of sync: row-level change tracking (triggers into agentfs_sync_changes), reading
 * rows by key, staging and applying pulled rows, and what this machine remembers about the
 * remote. The only core module the sync adapter talks to for local data.
 */
import type { Store } from '../../store/index.js';
import { ChangeTracker } from './tracker.js';
import { IncomingRows } from './incoming.js';
import { LocalInfo } from './local-info.js';
import { SyncMemoryStore } from './state.js';
import { TransferLog } from './transfers.js';

export { SYNCED_TABLES, syncedTable, keyId, keyExprs, keyJoin, type RowKey, type SqlValue, type SyncedTable } from './tables.js';
export { ChangeTracker, TRACKING_DDL, type ColumnInfo, type SyncRow } from './tracker.js';
export { IncomingRows } from './incoming.js';
export { LocalInfo, PATH_OF_INO_SQL, IS_EMPTY_SQL, type DirTimes, type ChangeSummary } from './local-info.js';
export { TransferLog, TRANSFERS_DDL, type TransferEntry, type TransferTotals } from './transfers.js';
export { scalar } from './scalar.js';
export { SyncMemoryStore, type SyncMemory, type PendingPush, type TransferRecord } from './state.js';

/** Everything sync needs from one local agent database. */
export class LocalSyncState {
  readonly tracker: ChangeTracker;
  readonly incoming: IncomingRows;
  readonly info: LocalInfo;
  readonly memory: SyncMemoryStore;
  readonly transfers: TransferLog;

  constructor(readonly store: Store) {
    this.tracker = new ChangeTracker(store);
    this.incoming = new IncomingRows(store, this.tracker);
    this.info = new LocalInfo(store);
    this.memory = new SyncMemoryStore(store);
    this.transfers = new TransferLog(store);
  }

  /** Runs fn in one local transaction (nested calls join it). */
  transaction<T>(fn: () => T): T {
    return this.store.transaction(fn);
  }
}
