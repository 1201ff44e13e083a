/**
 * The tables sync moves, row by row: every AgentFS SPEC v0.4 table. Each row is named by a key of
 * one or two columns, encoded as (k1, k2) with k2 = 0 for one-column keys, in the change log
 * (local `agentfs_sync_changes`) and the remote's per-row revision log (`agentfs_sync_rows`).
 * Our own `agentfs_*` tables stay local: they hold this machine's settings and bookkeeping.
 */
export interface SyncedTable {
  name: string;
  /** primary-key columns: one or two */
  keys: readonly [string] | readonly [string, string];
  /** append-only rows that merge without conflict (tool calls) */
  appendOnly?: boolean;
}

/** Order matters only for readability of progress; apply order is handled by the appliers. */
export const SYNCED_TABLES: readonly SyncedTable[] = [
  { name: 'fs_config', keys: ['key'] },
  { name: 'fs_inode', keys: ['ino'] },
  { name: 'fs_dentry', keys: ['id'] },
  { name: 'fs_symlink', keys: ['ino'] },
  { name: 'fs_whiteout', keys: ['path'] },
  { name: 'fs_origin', keys: ['delta_ino'] },
  { name: 'kv_store', keys: ['key'] },
  { name: 'tool_calls', keys: ['id'], appendOnly: true },
  { name: 'fs_data', keys: ['ino', 'chunk_index'] },
];

export function syncedTable(name: string): SyncedTable {
  const t = SYNCED_TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`not a synced table: ${name}`);
  return t;
}

/** SQL expression for a row's (k1, k2) from a row alias (NEW, OLD or a table alias). */
export function keyExprs(t: SyncedTable, alias: string): [string, string] {
  return [`${alias}.${t.keys[0]}`, t.keys[1] ? `${alias}.${t.keys[1]}` : '0'];
}

/** Join condition between a table alias and a (k1, k2) source alias. */
export function keyJoin(t: SyncedTable, tableAlias: string, keyAlias: string): string {
  const parts = [`${tableAlias}.${t.keys[0]} = ${keyAlias}.k1`];
  if (t.keys[1]) parts.push(`${tableAlias}.${t.keys[1]} = ${keyAlias}.k2`);
  return parts.join(' AND ');
}

/** A row key as it travels: k1 is an integer or text, k2 an integer (0 when unused). */
export interface RowKey {
  tbl: string;
  k1: bigint | string;
  k2: bigint;
}

export function keyId(k: RowKey): string {
  return `${k.tbl}\u0000${typeof k.k1}\u0000${String(k.k1)}\u0000${String(k.k2)}`;
}

/** A column value exactly as SQLite holds it (integers as bigint so nothing is rounded). */
export type SqlValue = null | bigint | number | string | Uint8Array;
