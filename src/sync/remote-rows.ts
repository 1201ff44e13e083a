import { keyExprs, keyJoin, syncedTable, type RowKey, type SqlValue } from '../core/sync-state/index.js';
import type { RemoteDb, RemoteValue } from './remote.js';
import { textFromBytes } from '../core/fs/names.js';

/** A row as read from the remote. */
export interface RemoteRow {
  key: RowKey;
  present: boolean;
  values: SqlValue[];
}

function toSql(v: RemoteValue): SqlValue {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return v;
}

/**
 * Text columns that hold names. They travel as blobs and are decoded here, strictly: a remote
 * name that is not UTF-8 would otherwise reach us as U+FFFD (or crash the remote's reader), and
 * two names would become one file. Such a pull stops with EILSEQ before anything is applied.
 */
const NAME_COLUMNS: Record<string, readonly string[]> = { fs_dentry: ['name'], fs_symlink: ['target'] };

function columnList(table: string, cols: string[]): string {
  const names = NAME_COLUMNS[table] ?? [];
  return cols.map((c) => (names.includes(c) ? `CAST(t."${c}" AS BLOB)` : `t."${c}"`)).join(', ');
}

function valuesOf(table: string, cols: string[], row: ArrayLike<unknown>, first: number): SqlValue[] {
  const names = NAME_COLUMNS[table] ?? [];
  return Array.from({ length: cols.length }, (_, i) => {
    const v = toSql(row[i + first] as RemoteValue);
    if (!names.includes(cols[i]!) || !(v instanceof Uint8Array)) return v;
    return textFromBytes(v, 'pull', `${table}.${cols[i]} on the remote`);
  });
}

function ownFilter(own: readonly number[]): string {
  return own.length ? `AND r.revision NOT IN (${own.map((n) => String(Math.trunc(n))).join(', ')})` : '';
}

/** Keys of rows the remote changed after `since`, leaving out revisions we pushed ourselves. */
export async function remoteChangedKeys(remote: RemoteDb, since: number, own: readonly number[], pageSize = 20_000): Promise<RowKey[]> {
  const out: RowKey[] = [];
  let after: RowKey | undefined;
  for (;;) {
    const cond = after ? 'AND (r.tbl, r.k1, r.k2) > (?, ?, ?)' : '';
    const args = after ? [BigInt(since), after.tbl, after.k1, after.k2] : [BigInt(since)];
    const rs = await remote.execute(
      `SELECT r.tbl, r.k1, r.k2 FROM agentfs_sync_rows r WHERE r.revision > ? ${ownFilter(own)} ${cond} ORDER BY r.tbl, r.k1, r.k2 LIMIT ${pageSize}`,
      args,
    );
    for (const r of rs.rows) out.push({ tbl: String(r[0]), k1: r[1] as bigint | string, k2: BigInt(r[2] as bigint) });
    if (rs.rows.length < pageSize) return out;
    after = out[out.length - 1];
  }
}

/** Rows per page so one response stays around a couple of MiB. */
export function pageRows(table: string, chunkSize: number): number {
  if (table === 'fs_data') return Math.max(1, Math.floor((1 << 20) / Math.max(chunkSize, 1)));
  return 2000;
}

/** Every row of a table, page by page, in key order. */
export async function* remoteAllRows(remote: RemoteDb, table: string, cols: string[], pageSize: number): AsyncGenerator<RemoteRow[]> {
  const t = syncedTable(table);
  const [k1, k2] = keyExprs(t, 't');
  const list = columnList(table, cols);
  let after: RowKey | undefined;
  for (;;) {
    const cond = after ? `WHERE (${k1}, ${k2}) > (?, ?)` : '';
    const rs = await remote.execute(
      `SELECT ${k1}, ${k2}, ${list} FROM ${table} t ${cond} ORDER BY ${t.keys.map((k) => `t.${k}`).join(', ')} LIMIT ${pageSize}`,
      after ? [after.k1, after.k2] : [],
    );
    const rows = rs.rows.map((r) => ({
      key: { tbl: table, k1: r[0] as bigint | string, k2: BigInt(r[1] as bigint) },
      present: true,
      values: valuesOf(table, cols, r, 2),
    }));
    if (rows.length) yield rows;
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!.key;
  }
}

/** Rows of a table changed after `since` (absent ones are deletions), page by page. */
export async function* remoteChangedRows(
  remote: RemoteDb,
  table: string,
  cols: string[],
  since: number,
  own: readonly number[],
  pageSize: number,
): AsyncGenerator<RemoteRow[]> {
  const t = syncedTable(table);
  const list = columnList(table, cols);
  let after: RowKey | undefined;
  for (;;) {
    const cond = after ? 'AND (r.k1, r.k2) > (?, ?)' : '';
    const args = after ? [table, BigInt(since), after.k1, after.k2] : [table, BigInt(since)];
    const rs = await remote.execute(
      `SELECT r.k1, r.k2, (t.rowid IS NOT NULL), ${list} FROM agentfs_sync_rows r LEFT JOIN ${table} t ON ${keyJoin(t, 't', 'r')}
        WHERE r.tbl = ? AND r.revision > ? ${ownFilter(own)} ${cond} ORDER BY r.k1, r.k2 LIMIT ${pageSize}`,
      args,
    );
    const rows = rs.rows.map((r) => ({
      key: { tbl: table, k1: r[0] as bigint | string, k2: BigInt(r[1] as bigint) },
      present: Number(r[2]) === 1,
      values: valuesOf(table, cols, r, 3),
    }));
    if (rows.length) yield rows;
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!.key;
  }
}

/** Specific rows by key (absent ones are reported as deletions). */
export async function remoteRowsByKey(remote: RemoteDb, table: string, cols: string[], keys: RowKey[]): Promise<RemoteRow[]> {
  const t = syncedTable(table);
  const out: RemoteRow[] = [];
  const list = columnList(table, cols);
  for (let i = 0; i < keys.length; i += 200) {
    const part = keys.slice(i, i + 200);
    const values = part.map(() => '(?, ?)').join(', ');
    const rs = await remote.execute(
      `WITH k(k1, k2) AS (VALUES ${values}) SELECT k.k1, k.k2, (t.rowid IS NOT NULL), ${list} FROM k LEFT JOIN ${table} t ON ${keyJoin(t, 't', 'k')}`,
      part.flatMap((k) => [k.k1, k.k2]),
    );
    for (const r of rs.rows) {
      out.push({
        key: { tbl: table, k1: r[0] as bigint | string, k2: BigInt(r[1] as bigint) },
        present: Number(r[2]) === 1,
        values: valuesOf(table, cols, r, 3),
      });
    }
  }
  return out;
}
