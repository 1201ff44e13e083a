import type { Store } from '../../store/index.js';
import { FsError } from '../errors.js';
import { FORGET_ALL_BLOCKS_SQL } from '../fs/stored-blocks.js';
import { findDirectoryCycle } from '../fs/tree-check.js';
import { SYNCED_TABLES, keyExprs, syncedTable, type RowKey, type SqlValue } from './tables.js';
import type { ChangeTracker, ColumnInfo } from './tracker.js';

/**
 * Rows fetched from the remote by a pull, staged in temporary tables (on disk, so memory stays
 * bounded whatever the size) and then applied to the agent in one short local transaction:
 * the agent is never seen half-pulled, and a mount sharing the database is blocked only briefly.
 */
export class IncomingRows {
  private readonly cols = new Map<string, ColumnInfo[]>();
  private open = false;
  rows = 0;

  constructor(
    private readonly store: Store,
    private readonly tracker: ChangeTracker,
  ) {}

  /** Prepares staging for the given columns (those both sides have) of each table. */
  begin(columns: Map<string, string[]>): void {
    this.dispose();
    // libsql is built with temp tables in memory by default; a pull can be larger than RAM wants
    this.store.db.exec('PRAGMA temp_store = FILE');
    for (const t of SYNCED_TABLES) {
      const names = columns.get(t.name) ?? [];
      const info = this.tracker.columns(t.name).filter((c) => names.includes(c.name));
      this.cols.set(t.name, info);
      const defs = info.map((c) => `"${c.name}" ${c.type}`).join(', ');
      this.store.db.exec(`DROP TABLE IF EXISTS temp.agentfs_sync_in_${t.name}`);
      this.store.db.exec(
        `CREATE TEMP TABLE agentfs_sync_in_${t.name} (${defs}, PRIMARY KEY (${t.keys.map((k) => `"${k}"`).join(', ')}))`,
      );
    }
    this.store.db.exec('DROP TABLE IF EXISTS temp.agentfs_sync_in_del');
    this.store.db.exec('CREATE TEMP TABLE agentfs_sync_in_del (tbl TEXT NOT NULL, k1 NOT NULL, k2 INTEGER NOT NULL, PRIMARY KEY (tbl, k1, k2))');
    this.open = true;
    this.rows = 0;
  }

  /** Column names staged for a table, in the order `add` expects values. */
  columnNames(table: string): string[] {
    return (this.cols.get(table) ?? []).map((c) => c.name);
  }

  add(table: string, values: SqlValue[]): void {
    const names = this.columnNames(table);
    const stmt = this.store.stmt(
      `INSERT OR REPLACE INTO temp.agentfs_sync_in_${table} (${names.map((n) => `"${n}"`).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
    );
    stmt.run(...values.map(bindable));
    this.rows++;
  }

  addDeletion(key: RowKey): void {
    this.store.stmt('INSERT OR REPLACE INTO temp.agentfs_sync_in_del (tbl, k1, k2) VALUES (?, ?, ?)').run(key.tbl, key.k1, key.k2);
    this.rows++;
  }

  /**
   * Applies what was staged in one transaction. `replaceAll` empties every synced table first
   * (first pull). Rows written here are not local changes: their change marks are cleared.
   */
  apply(replaceAll: boolean): void {
    this.store.transaction(() => {
      const gen = this.tracker.generation();
      this.store.stmt('UPDATE agentfs_sync_gen SET gen = ? WHERE id = 1').run(gen + 1);
      for (const t of SYNCED_TABLES) {
        if (replaceAll) this.store.db.exec(`DELETE FROM ${t.name}`);
        else {
          const [k1, k2] = keyExprs(t, t.name);
          this.store.db.exec(
            `DELETE FROM ${t.name} WHERE (${k1}, ${k2}) IN (SELECT k1, k2 FROM temp.agentfs_sync_in_del WHERE tbl = '${t.name}')`,
          );
        }
      }
      for (const t of SYNCED_TABLES) {
        const names = this.columnNames(t.name)
          .map((n) => `"${n}"`)
          .join(', ');
        if (!names) continue;
        this.store.db.exec(`INSERT OR REPLACE INTO ${t.name} (${names}) SELECT ${names} FROM temp.agentfs_sync_in_${t.name}`);
      }
      // pulled rows change files behind the counts stored for them (core/fs/stored-blocks.ts),
      // whose times another writer may have kept: all dropped, the next local write stores them
      if (this.store.schemaHas('agentfs_fs_blocks')) this.store.db.exec(FORGET_ALL_BLOCKS_SQL);
      this.checkTree(replaceAll);
      if (replaceAll) this.tracker.clearAll();
      else this.tracker.clearGeneration(gen + 1);
      this.store.stmt('UPDATE agentfs_sync_gen SET gen = ? WHERE id = 1').run(gen + 2);
    });
  }

  /** What was brought in must leave the directories a tree (walks would never end otherwise). */
  private checkTree(all: boolean): void {
    if (!this.columnNames('fs_dentry').includes('ino')) return;
    const defect = findDirectoryCycle(this.store, all ? undefined : 'SELECT ino FROM temp.agentfs_sync_in_fs_dentry');
    if (defect) throw new FsError('ELOOP', undefined, undefined, `the pulled directories do not form a tree: ${defect}; nothing was changed`);
  }

  dispose(): void {
    if (!this.open) return;
    for (const t of SYNCED_TABLES) this.store.db.exec(`DROP TABLE IF EXISTS temp.agentfs_sync_in_${t.name}`);
    this.store.db.exec('DROP TABLE IF EXISTS temp.agentfs_sync_in_del');
    this.open = false;
  }
}

/** Values from the remote driver: ArrayBuffer blobs become Buffers for the local engine. */
function bindable(v: SqlValue | ArrayBuffer): unknown {
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

export { syncedTable };
