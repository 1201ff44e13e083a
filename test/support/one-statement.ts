import type { Agent } from '../../src/core/agent.js';

// Helpers of the tests of the one-statement routes (src/core/fs/ops/scratch.ts and its users).

/** The first column of the first row, and of every row (libsql's rows carry metadata besides their columns). */
export const one = (a: Agent, sql: string, ...params: unknown[]) => (a.store.db.prepare(sql).raw(true).get(...params) as unknown[] | undefined)?.[0];
export const column = (a: Agent, sql: string) => (a.store.db.prepare(sql).raw(true).all() as unknown[][]).map((r) => r[0]);

/**
 * The inode of the last operation that went through the one-statement route of scratch table
 * `table` with the journal on (its scratch row; `quiet`: with the observer off).
 */
export function scratchIno(a: Agent, table: string, quiet = false): number | undefined {
  const names = column(a, `SELECT name FROM sqlite_temp_master WHERE type = 'table' AND name LIKE '${table}_%'`) as string[];
  const name = names.find((n) => (n === `${table}_quiet`) === quiet);
  return name === undefined ? undefined : (one(a, `SELECT ino FROM temp.${name}`) as number | undefined);
}

/** The error code fn throws, or 'ok'. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return 'ok';
}
