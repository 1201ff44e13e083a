/** First column of the first row (libsql's pluck() affects iterate() only, not get()). */
export function scalar(stmt: { get(...params: unknown[]): unknown }, ...params: unknown[]): unknown {
  const row = stmt.get(...params) as Record<string, unknown> | unknown[] | undefined;
  if (row === undefined || row === null) return undefined;
  return Array.isArray(row) ? row[0] : Object.values(row)[0];
}
