/** First column of the first row (libsql's pluck() affects iterate() only, not get()). */
export function scalar(stmt: { get(...params: unknown[]): unknown }, ...params: unknown[]): unknown {
  const row = stmt.get(...params) as Record<string, unknown> | unknown[] | undefined;
  if (row === undefined || row === null) return undefined;
  return Array.isArray(row) ? row[0] : Object.values(row)[0];
}

/**
 * A row of counts as numbers (SQLite may hand back bigints), keyed as the caller's type; other
 * fields (libsql adds `_metadata` to every row) are left out.
 */
export function numbers<K extends string>(row: Record<K, number | bigint>): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const [k, v] of Object.entries(row) as [K, unknown][]) {
    if (typeof v === 'number' || typeof v === 'bigint') out[k] = Number(v);
  }
  return out;
}
