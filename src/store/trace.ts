/**
 * Opt-in counting of the SQLite work a process does (AGENTFS_FUSE_TRACE, src/trace.ts): every statement run,
 * by its SQL, and every exec (BEGIN, COMMIT, ...), with its average time. For finding where the work per request goes
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
  // per SQL: [runs, milliseconds]
  const counts = new Map<string, [number, number]>();
  const timed = <T>(sql: string, fn: () => T): T => {
    const t = performance.now();
    try {
      return fn();
    } finally {
      const c = counts.get(sql);
      if (c) {
        c[0]++;
        c[1] += performance.now() - t;
      } else counts.set(sql, [1, performance.now() - t]);
    }
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
          return (...args: unknown[]) => timed(key, () => (v as (...a: unknown[]) => unknown).apply(target, args));
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
  d.exec = (sql: string) => timed(label(sql), () => exec(sql));
  return () => {
    const rows = [...counts].sort((a, b) => b[1][0] - a[1][0]);
    const total = rows.reduce((n, [, c]) => n + c[0], 0);
    const ms = rows.reduce((n, [, c]) => n + c[1], 0);
    return [
      `sql: ${total} statements, ${ms.toFixed(0)} ms`,
      ...rows.map(([sql, [n, t]]) => `sql ${String(n).padStart(8)} ${(t * 1000 / n).toFixed(1).padStart(7)} us  ${sql.length > 140 ? `${sql.slice(0, 137)}...` : sql}`),
    ];
  };
}
