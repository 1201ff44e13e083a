import type { Store } from '../../store/index.js';
import { numbers, scalar } from './scalar.js';
import type { ChangeSummary } from './local-info.js';
import { SYNCED_TABLES, keyExprs, keyJoin, syncedTable, type RowKey, type SqlValue, type SyncedTable } from './tables.js';

/**
 * Row-level change tracking of the local database, for sync. SQLite triggers on every spec table
 * record the key of each inserted, updated or deleted row in `agentfs_sync_changes`, stamped with
 * the current "generation". A push bumps the generation before it reads its snapshot, so rows
 * changed while it runs stay marked for the next push. The filesystem core knows nothing of this.
 */
const CHANGES = 'agentfs_sync_changes';
const GEN = 'agentfs_sync_gen';

const INODE_NON_ATIME = ['ino', 'mode', 'nlink', 'uid', 'gid', 'size', 'mtime', 'ctime', 'rdev', 'mtime_nsec', 'ctime_nsec'];

function triggerDdl(t: SyncedTable): string[] {
  const [nk1, nk2] = keyExprs(t, 'NEW');
  const [ok1, ok2] = keyExprs(t, 'OLD');
  const mark = (k1: string, k2: string) =>
    `INSERT INTO ${CHANGES} (tbl, k1, k2, gen) VALUES ('${t.name}', ${k1}, ${k2}, (SELECT gen FROM ${GEN} WHERE id = 1))
       ON CONFLICT (tbl, k1, k2) DO UPDATE SET gen = excluded.gen;`;
  // Reading a file bumps its atime; an access alone is not a change worth a conflict (as with
  // noatime), so it travels with the inode's next real change.
  const when = t.name === 'fs_inode' ? `WHEN ${INODE_NON_ATIME.map((c) => `OLD.${c} IS NOT NEW.${c}`).join(' OR ')}` : '';
  // An update marks the old key only when it moved (renumbering): almost every update keeps its
  // key, and a second upsert of the same key cost each write through a mount ~2 us.
  const keyMoved = t.keys.map((k) => `OLD.${k} IS NOT NEW.${k}`).join(' OR ');
  return [
    `CREATE TRIGGER IF NOT EXISTS agentfs_sync_${t.name}_ins AFTER INSERT ON ${t.name} BEGIN ${mark(nk1, nk2)} END`,
    // the single update trigger of older versions marked both keys every time
    `DROP TRIGGER IF EXISTS agentfs_sync_${t.name}_upd`,
    `CREATE TRIGGER IF NOT EXISTS agentfs_sync_${t.name}_upd_new AFTER UPDATE ON ${t.name} ${when} BEGIN ${mark(nk1, nk2)} END`,
    `CREATE TRIGGER IF NOT EXISTS agentfs_sync_${t.name}_upd_old AFTER UPDATE ON ${t.name} WHEN ${keyMoved} BEGIN ${mark(ok1, ok2)} END`,
    `CREATE TRIGGER IF NOT EXISTS agentfs_sync_${t.name}_del AFTER DELETE ON ${t.name} BEGIN ${mark(ok1, ok2)} END`,
  ];
}

export const TRACKING_DDL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS ${CHANGES} (
    tbl TEXT NOT NULL,
    k1 NOT NULL,
    k2 INTEGER NOT NULL DEFAULT 0,
    gen INTEGER NOT NULL,
    PRIMARY KEY (tbl, k1, k2)
  ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS ${CHANGES}_gen ON ${CHANGES}(gen)`,
  `CREATE TABLE IF NOT EXISTS ${GEN} (id INTEGER PRIMARY KEY CHECK (id = 1), gen INTEGER NOT NULL)`,
  `INSERT OR IGNORE INTO ${GEN} (id, gen) VALUES (1, 1)`,
  ...SYNCED_TABLES.flatMap(triggerDdl),
];

export interface ColumnInfo {
  name: string;
  /** declared type, so staging tables get the same affinity */
  type: string;
}

/** One row read for sync: its key, whether it exists (absent = deleted), and its column values. */
export interface SyncRow {
  key: RowKey;
  present: boolean;
  values: SqlValue[];
}

export class ChangeTracker {
  private readonly columnCache = new Map<string, ColumnInfo[]>();

  constructor(readonly store: Store) {}

  get tracking(): boolean {
    return this.store.schemaHas(GEN);
  }

  /** Installs the triggers (idempotent). Everything written before this is covered by a full sync. */
  enable(): void {
    this.store.ensureSchema('sync-tracking', TRACKING_DDL);
  }

  /** Columns of a synced table in this database. */
  columns(table: string): ColumnInfo[] {
    let cols = this.columnCache.get(table);
    if (!cols) {
      cols = (this.store.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string; type: string }[]).map((c) => ({
        name: c.name,
        type: c.type ?? '',
      }));
      this.columnCache.set(table, cols);
    }
    return cols;
  }

  /** Current generation; rows changed from now on get a higher one. Returns the generation that ended. */
  bumpGeneration(): number {
    return this.store.transaction(() => {
      const g = Number(scalar(this.store.stmt(`SELECT gen FROM ${GEN} WHERE id = 1`)));
      this.store.stmt(`UPDATE ${GEN} SET gen = ? WHERE id = 1`).run(g + 1);
      return g;
    });
  }

  generation(): number {
    return Number(scalar(this.store.stmt(`SELECT gen FROM ${GEN} WHERE id = 1`)));
  }

  hasChangesAfter(gen: number): boolean {
    return this.store.stmt(`SELECT 1 FROM ${CHANGES} WHERE gen > ? LIMIT 1`).get(gen) !== undefined;
  }

  /** Every key changed since the last sync. */
  *changedKeys(): Generator<RowKey> {
    const stmt = this.store.db.prepare(`SELECT tbl, k1, k2 FROM ${CHANGES} ORDER BY tbl, k1, k2`);
    stmt.safeIntegers(true);
    for (const r of stmt.iterate() as IterableIterator<{ tbl: string; k1: bigint | string; k2: bigint }>) {
      yield { tbl: r.tbl, k1: r.k1, k2: r.k2 };
    }
  }

  /** Number of changed rows per table. */
  changeCounts(): Map<string, number> {
    const rows = this.store.db.prepare(`SELECT tbl, count(*) AS n FROM ${CHANGES} GROUP BY tbl`).all() as { tbl: string; n: number }[];
    return new Map(rows.map((r) => [r.tbl, Number(r.n)]));
  }

  /** Changes waiting for the next push, counted per kind of thing (see ChangeSummary). */
  pendingSummary(): ChangeSummary {
    const r = this.store
      .stmt(
        `SELECT
           (SELECT count(DISTINCT k1) FROM ${CHANGES} WHERE tbl IN ('fs_inode', 'fs_data', 'fs_symlink', 'fs_origin')) AS files,
           (SELECT count(*) FROM ${CHANGES} WHERE tbl = 'fs_dentry') AS entries,
           (SELECT count(*) FROM ${CHANGES} WHERE tbl = 'fs_whiteout') AS whiteouts,
           (SELECT count(*) FROM ${CHANGES} WHERE tbl = 'kv_store') AS kvKeys,
           (SELECT count(*) FROM ${CHANGES} WHERE tbl = 'tool_calls') AS toolCalls,
           (SELECT count(*) FROM ${CHANGES}) AS rows`,
      )
      .get() as Record<keyof ChangeSummary, number>;
    return numbers(r);
  }

  /** Marks rows as changed (so the next push sends our version of them). */
  markChanged(keys: Iterable<RowKey>): void {
    const gen = this.generation();
    const stmt = this.store.stmt(
      `INSERT INTO ${CHANGES} (tbl, k1, k2, gen) VALUES (?, ?, ?, ?) ON CONFLICT (tbl, k1, k2) DO UPDATE SET gen = excluded.gen`,
    );
    this.store.transaction(() => {
      for (const k of keys) stmt.run(k.tbl, k.k1, k.k2, gen);
    });
  }

  /** Forgets changes up to and including a generation (they reached the remote). */
  clearThrough(gen: number): void {
    this.store.stmt(`DELETE FROM ${CHANGES} WHERE gen <= ?`).run(gen);
  }

  clearGeneration(gen: number): void {
    this.store.stmt(`DELETE FROM ${CHANGES} WHERE gen = ?`).run(gen);
  }

  clearAll(): void {
    if (this.tracking) this.store.db.exec(`DELETE FROM ${CHANGES}`);
  }

  clearKeys(keys: Iterable<RowKey>): void {
    const stmt = this.store.stmt(`DELETE FROM ${CHANGES} WHERE tbl = ? AND k1 = ? AND k2 = ?`);
    for (const k of keys) stmt.run(k.tbl, k.k1, k.k2);
  }

  /** Forgets changes of rows that no longer exist under these ids (they were renumbered). */
  forgetIds(tables: readonly string[], ids: Iterable<bigint>): void {
    const stmt = this.store.stmt(`DELETE FROM ${CHANGES} WHERE tbl = ? AND k1 = ?`);
    this.store.transaction(() => {
      for (const id of ids) for (const t of tables) stmt.run(t, id);
    });
  }

  /** Tool calls are append-only: a tool call deleted locally is not a change to send. */
  dropToolCallDeletions(): void {
    this.store.db.exec(`DELETE FROM ${CHANGES} WHERE tbl = 'tool_calls' AND k1 NOT IN (SELECT id FROM tool_calls)`);
  }

  // ---- reading rows ------------------------------------------------------------------------

  private selectList(table: string, alias: string): string {
    return this.columns(table)
      .map((c) => `${alias}."${c.name}"`)
      .join(', ');
  }

  /** A page of changed rows of one table, after a key (exclusive), in key order. */
  changedRows(table: string, after: RowKey | undefined, limit: number): SyncRow[] {
    const t = syncedTable(table);
    const where = after ? 'AND (c.k1, c.k2) > (?, ?)' : '';
    const sql = `SELECT c.k1 AS __k1, c.k2 AS __k2, (t.rowid IS NOT NULL) AS __present, ${this.selectList(table, 't')}
      FROM ${CHANGES} c LEFT JOIN ${table} t ON ${keyJoin(t, 't', 'c')}
      WHERE c.tbl = ? ${where} ORDER BY c.k1, c.k2 LIMIT ?`;
    const stmt = this.store.stmt(sql);
    stmt.raw(true);
    (stmt as unknown as { safeIntegers(on: boolean): void }).safeIntegers(true);
    const params: unknown[] = [table];
    if (after) params.push(after.k1, after.k2);
    params.push(limit);
    return (stmt.all(...params) as SqlValue[][]).map((r) => ({
      key: { tbl: table, k1: r[0] as bigint | string, k2: r[1] as bigint },
      present: Number(r[2]) === 1,
      values: r.slice(3).map(normalize),
    }));
  }

  /** A page of all rows of one table, after a key (exclusive), in key order. */
  allRows(table: string, after: RowKey | undefined, limit: number): SyncRow[] {
    const t = syncedTable(table);
    const [k1, k2] = keyExprs(t, 't');
    const where = after ? `WHERE (${k1}, ${k2}) > (?, ?)` : '';
    const sql = `SELECT ${k1}, ${k2}, ${this.selectList(table, 't')} FROM ${table} t ${where} ORDER BY ${t.keys.map((k) => `t.${k}`).join(', ')} LIMIT ?`;
    const stmt = this.store.stmt(sql);
    stmt.raw(true);
    (stmt as unknown as { safeIntegers(on: boolean): void }).safeIntegers(true);
    const params: unknown[] = after ? [after.k1, after.k2, limit] : [limit];
    return (stmt.all(...params) as SqlValue[][]).map((r) => ({
      key: { tbl: table, k1: r[0] as bigint | string, k2: BigInt(r[1] as bigint) },
      present: true,
      values: r.slice(2).map(normalize),
    }));
  }

  /** Holds one read snapshot across the asynchronous upload of a push (WAL: writers go on). */
  beginSnapshot(): void {
    this.store.db.exec('BEGIN DEFERRED');
    this.store.db.prepare(`SELECT count(*) FROM ${GEN}`).get();
  }

  endSnapshot(): void {
    if (this.store.db.inTransaction) this.store.db.exec('COMMIT');
  }
}

function normalize(v: SqlValue): SqlValue {
  // libsql returns blobs as Buffer; keep them as plain bytes
  return v;
}
