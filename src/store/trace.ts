/**
 * Opt-in counting of the SQLite work a process does (AGENTFS_FUSE_TRACE, src/trace.ts): every statement run,
 * by its SQL, and every exec (BEGIN, COMMIT, ...). For finding where the work per request goes
 * without timing noise; off, it costs nothing (the database object is left as it is).
 */
import type { Db } from './store.js';

/** The SQL, whitespace collapsed: the key of a counter. */
function label(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}

const COUNTED = new Set(['run', 'get', 'all', 'iterate']);

/**
 * Counts what runs on db from now on: wraps prepare (every statement it makes counts each run)
 * and exec. Returns the report, printed by the caller when the database closes.
 */
export function countSql(db: Db): () => string[] {
  const counts = new Map<string, number>();
  const bump = (sql: string): void => {
    counts.set(sql, (counts.get(sql) ?? 0) + 1);
  };
  const d = db as unknown as { prepare(sql: string): object; exec(sql: string): unknown };
  const prepare = d.prepare.bind(db);
  const exec = d.exec.bind(db);
  d.prepare = (sql: string) => {
    const key = label(sql);
    const stmt = prepare(sql) as Record<string, unknown>;
    const proxy: object = new Proxy(stmt, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        if (COUNTED.has(prop as string)) {
          return (...args: unknown[]) => {
            bump(key);
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        // raw(), pluck(), safeIntegers() return the statement for chaining: keep counting it
        return (...args: unknown[]) => {
          const out = (v as (...a: unknown[]) => unknown).apply(target, args);
          return out === target ? proxy : out;
        };
      },
    });
    return proxy;
  };
  d.exec = (sql: string) => {
    bump(label(sql));
    return exec(sql);
  };
  return () => {
    const rows = [...counts].sort((a, b) => b[1] - a[1]);
    const total = rows.reduce((n, [, c]) => n + c, 0);
    return [`sql: ${total} statements`, ...rows.map(([sql, c]) => `sql ${String(c).padStart(8)}  ${sql.length > 150 ? `${sql.slice(0, 147)}...` : sql}`)];
  };
}
