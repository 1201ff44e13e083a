import { nanoid } from 'nanoid';
import { SPEC_TEXT_TABLES } from '../store/schema.js';
import { SYNCED_TABLES, type ColumnInfo } from '../core/sync-state/index.js';
import { SyncError } from './errors.js';
import { redact, type RemoteDb } from './remote.js';

/**
 * Bookkeeping the remote carries besides the spec tables, all in `agentfs_sync_*` tables so the
 * remote stays a plain AgentFS database for every other client:
 *  - agentfs_sync_state: one row, the current revision and the remote's id
 *  - agentfs_sync_revisions: which push made which revision (a re-run recognises its own push)
 *  - agentfs_sync_rows: for every row ever pushed, the revision that last changed it, so a pull
 *    asks only for rows changed after the revision it already has
 *  - agentfs_sync_stage_*: rows of a push in flight, applied in one transaction at its end
 *  - agentfs_sync_guard: a table no row can enter, used to abort that transaction if the
 *    revision moved (another push got there first)
 */
export const BOOKKEEPING_DDL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS agentfs_sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL,
    db_id TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS agentfs_sync_revisions (
    revision INTEGER PRIMARY KEY,
    push_id TEXT NOT NULL UNIQUE,
    pushed_at INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    full INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS agentfs_sync_rows (
    tbl TEXT NOT NULL,
    k1 NOT NULL,
    k2 INTEGER NOT NULL DEFAULT 0,
    revision INTEGER NOT NULL,
    PRIMARY KEY (tbl, k1, k2)
  ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS agentfs_sync_rows_revision ON agentfs_sync_rows(revision)`,
  `CREATE TABLE IF NOT EXISTS agentfs_sync_guard (msg TEXT NOT NULL CHECK (msg = ''))`,
  `CREATE TABLE IF NOT EXISTS agentfs_sync_pushes (
    push_id TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS agentfs_sync_stage_del (
    push_id TEXT NOT NULL,
    tbl TEXT NOT NULL,
    k1 NOT NULL,
    k2 INTEGER NOT NULL,
    PRIMARY KEY (push_id, tbl, k1, k2)
  )`,
];

export function stageTable(table: string): string {
  return `agentfs_sync_stage_${table}`;
}

export function stageDdl(table: string, keys: readonly string[], cols: ColumnInfo[]): string {
  const defs = cols.map((c) => `"${c.name}" ${c.type}`).join(', ');
  return `CREATE TABLE IF NOT EXISTS ${stageTable(table)} (push_id TEXT NOT NULL, ${defs}, PRIMARY KEY (push_id, ${keys.map((k) => `"${k}"`).join(', ')}))`;
}

/** The spec's text: the remote stays a plain AgentFS database for every other client. */
export const SPEC_DDL = SPEC_TEXT_TABLES;

export interface RemoteInfo {
  /** no tables at all (or only our bookkeeping): a fresh database to push into */
  empty: boolean;
  tables: Set<string>;
  /** columns of each synced table present on the remote */
  columns: Map<string, string[]>;
  /** our bookkeeping exists */
  tracked: boolean;
  revision: number;
  dbId?: string;
  /** the AgentFS database on the remote holds nothing beyond a fresh init */
  agentEmpty: boolean;
  chunkSize?: number;
}

const REQUIRED = ['fs_config', 'fs_inode', 'fs_dentry', 'fs_data'];

/** Looks at the remote: is it reachable, authorised, an AgentFS database, and at which revision. */
export async function inspectRemote(remote: RemoteDb): Promise<RemoteInfo> {
  const rs = await remote.execute("SELECT name FROM sqlite_master WHERE type = 'table'");
  const tables = new Set(rs.rows.map((r) => String(r[0])));
  const own = [...tables].filter((t) => !t.startsWith('agentfs_sync_') && !t.startsWith('sqlite_') && t !== '_litestream_seq' && t !== '_litestream_lock');
  const tracked = tables.has('agentfs_sync_state');
  if (!tables.has('fs_inode')) {
    if (own.length === 0) return { empty: true, tables, columns: new Map(), tracked, revision: 0, agentEmpty: true, dbId: await readDbId(remote, tracked) };
    throw new SyncError(
      `remote ${redact(remote.url)} is not an AgentFS database (it has tables ${own.slice(0, 5).join(', ')}${own.length > 5 ? ', ...' : ''} but no fs_inode)`,
      'foreign',
    );
  }
  const missing = REQUIRED.filter((t) => !tables.has(t));
  if (missing.length) throw new SyncError(`remote ${redact(remote.url)} is not an AgentFS database (no ${missing.join(', ')} table)`, 'foreign');
  const present = SYNCED_TABLES.filter((t) => tables.has(t.name));
  const stmts = present.map((t) => ({ sql: `SELECT name FROM pragma_table_info('${t.name}')`, args: [] }));
  const countTables = ['fs_dentry', 'fs_symlink', 'kv_store', 'tool_calls', 'fs_whiteout'].filter((t) => tables.has(t));
  stmts.push({
    sql: `SELECT (SELECT count(*) FROM fs_inode WHERE ino != 1)${countTables.map((t) => ` + (SELECT count(*) FROM ${t})`).join('')}`,
    args: [],
  });
  stmts.push({ sql: "SELECT value FROM fs_config WHERE key = 'chunk_size'", args: [] });
  if (tracked) stmts.push({ sql: 'SELECT revision, db_id FROM agentfs_sync_state WHERE id = 1', args: [] });
  const results = await remote.batch(stmts, 'read');
  const columns = new Map<string, string[]>();
  present.forEach((t, i) => columns.set(t.name, results[i]!.rows.map((r) => String(r[0]))));
  const agentEmpty = Number(results[present.length]!.rows[0]![0]) === 0;
  const cs = results[present.length + 1]!.rows[0]?.[0];
  const stateRow = tracked ? results[present.length + 2]!.rows[0] : undefined;
  return {
    empty: false,
    tables,
    columns,
    tracked,
    revision: stateRow ? Number(stateRow[0]) : 0,
    dbId: stateRow ? String(stateRow[1]) : undefined,
    agentEmpty,
    chunkSize: cs === undefined || cs === null ? undefined : Number(cs),
  };
}

async function readDbId(remote: RemoteDb, tracked: boolean): Promise<string | undefined> {
  if (!tracked) return undefined;
  const rs = await remote.execute('SELECT db_id FROM agentfs_sync_state WHERE id = 1');
  return rs.rows[0] ? String(rs.rows[0][0]) : undefined;
}

/** Creates the bookkeeping tables and the state row (the remote's id) if missing. */
export async function ensureBookkeeping(remote: RemoteDb): Promise<string> {
  const stmts = BOOKKEEPING_DDL.map((sql) => ({ sql, args: [] }));
  stmts.push({
    sql: 'INSERT OR IGNORE INTO agentfs_sync_state (id, revision, db_id, updated_at) VALUES (1, 0, ?, ?)',
    args: [nanoid(), BigInt(Math.floor(Date.now() / 1000))] as never[],
  });
  stmts.push({ sql: 'SELECT db_id FROM agentfs_sync_state WHERE id = 1', args: [] });
  const results = await remote.batch(stmts, 'write');
  return String(results[results.length - 1]!.rows[0]![0]);
}
