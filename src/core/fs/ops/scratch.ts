/**
 * One operation as one statement inside the caller's transaction (ops/unlink-alone.ts,
 * ops/setattr-alone.ts): an insert of the operation's values into a per-connection TEMP scratch
 * table (one row, key 0, replaced each time), whose AFTER INSERT triggers write the operation's
 * rows and the observer's (InlineRecorders.metadata). A statement is atomic by itself, so no
 * savepoint is needed; each statement run from JavaScript costs some microseconds of the driver
 * besides its SQLite work, and an operation through the transaction route runs five to seven.
 *
 * The table and its triggers are made in one exec inside the caller's transaction, so a rollback
 * of it takes them all (the next insert finds no table and they are made again); a table left
 * without all its triggers would make inserts that write part of an operation, so one whose
 * triggers cannot be made (a database without a table they name) is dropped again.
 */
import type { Statement } from '../../../store/index.js';
import type { FsContext } from '../context.js';

export interface ScratchTable {
  /** the TEMP table's name */
  readonly name: string;
  /** its columns before the observer's ('k' first: the key) */
  readonly columns: readonly string[];
  /** the triggers' CREATE TEMP TRIGGER IF NOT EXISTS statements, with the observer's SQL */
  triggers(observerSql: string): string;
  /** the insert, the observer's values last */
  insert(observerColumns: readonly string[]): string;
}

/** The insert of `t` on this connection (undefined: no transaction open, or this database cannot have it). */
export function scratchStatement(ctx: FsContext, t: ScratchTable): Statement | undefined {
  if (!ctx.store.inTransaction) return undefined;
  let sql = ctx.scratch.get(t.name);
  if (sql === undefined) {
    const inline = ctx.observer?.inline?.metadata;
    const columns = [...t.columns, ...(inline?.columns ?? [])];
    try {
      ctx.store.db.exec(
        `CREATE TEMP TABLE IF NOT EXISTS ${t.name} (${columns.map((c) => (c === 'k' ? 'k INTEGER PRIMARY KEY' : c)).join(', ')});
        ${t.triggers(inline?.sql ?? '')}`,
      );
      sql = t.insert(inline?.columns ?? []);
    } catch {
      sql = false;
      ctx.store.db.exec(`DROP TABLE IF EXISTS temp.${t.name}`);
    }
    ctx.scratch.set(t.name, sql);
  }
  return sql ? ctx.store.stmt(sql) : undefined;
}

/** Runs the insert: the rows it inserted, or undefined when its table went with a rollback (nothing written). */
export function runScratch(ctx: FsContext, t: ScratchTable, insert: Statement, args: unknown[]): number | undefined {
  try {
    return insert.run(...args).changes;
  } catch (e) {
    if (!(e instanceof Error && e.message.includes(`no such table: `) && e.message.includes(t.name))) throw e;
    ctx.scratch.delete(t.name);
    return undefined;
  }
}
