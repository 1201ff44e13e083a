/**
 * One operation as one statement inside the caller's transaction (ops/unlink-alone.ts,
 * ops/make-alone.ts): an insert of the operation's values into a per-connection TEMP scratch
 * table, whose AFTER INSERT triggers write the operation's rows and the observer's
 * (InlineRecorders.metadata), and delete the table's earlier row (one row stays: the last). An
 * operation that reads nothing back (ops/setattr-alone.ts, ops/write-alone.ts) inserts into a
 * TEMP view instead, whose INSTEAD OF trigger does the same and stores nothing. A
 * plain INSERT, not INSERT OR REPLACE: the outer statement's conflict clause applies to every
 * statement of the triggers it fires, and REPLACE turned a NULL that must fail (NOT NULL) into
 * the column's default (found by the hostile pass: a NaN owner became root). A statement is
 * atomic by itself, so no savepoint is needed; each statement run from JavaScript costs some
 * microseconds of the driver besides its SQLite work, and an operation through the transaction
 * route runs five to seven.
 *
 * A table's triggers write the rows of one observer's recorder, or none: the table is named after
 * the recorder's SQL (a hash of it), so an operation run while the observer is off
 * (InodeFs.unobserved) or by another InodeFs of the connection with another observer uses a table
 * of its own, never triggers made for another. The table and its triggers are made in one exec
 * inside the caller's transaction, so a rollback of it takes them all (the next insert finds no
 * table and they are made again); a table left without all its triggers would make inserts that
 * write part of an operation, so one whose triggers cannot be made (a database without a table
 * they name) is dropped again.
 */
import type { Statement } from '../../../store/index.js';
import type { FsContext } from '../context.js';
import type { InlineRecorder } from '../mutation.js';
import { missingTable } from '../stored-blocks.js';

export interface ScratchTable {
  /** the start of the TEMP table's name (the recorder's hash follows) */
  readonly name: string;
  /** its columns before the observer's ('k' first: the key, the rowid; the insert gives it NULL) */
  readonly columns: readonly string[];
  /** the triggers' CREATE TEMP TRIGGER IF NOT EXISTS statements on `table`, with the observer's SQL */
  triggers(table: string, observerSql: string): string;
  /** the insert into `table`, the observer's values last */
  insert(table: string, observerColumns: readonly string[]): string;
  /** a read of what the insert wrote (a write burst: its journal row), if the operation needs one */
  readBack?(table: string): string;
  /** the insert has a RETURNING clause, read as an array (getScratch) */
  readonly returning?: boolean;
  /**
   * a TEMP view with INSTEAD OF triggers rather than a table: nothing of the insert is stored
   * (a write's data); what the triggers must hand back goes into a side table `<name>_row`
   * they make themselves
   */
  readonly view?: boolean;
}

/**
 * A view's side table for the id of the row its trigger wrote last (the observer's: the first row
 * of a write burst, whose totals are written later): made with the trigger, written at its end,
 * read back after the insert.
 */
export const keptRow = {
  table: (view: string): string => `CREATE TEMP TABLE IF NOT EXISTS ${view}_row (k INTEGER PRIMARY KEY, row);`,
  keep: (view: string): string => `INSERT OR REPLACE INTO ${view}_row (k, row) VALUES (1, last_insert_rowid());`,
  read: (view: string): string => `SELECT row FROM temp.${view}_row WHERE k = 1`,
};

/** The insert into `table` of every one of `columns`, each bound. */
export function insertOf(table: string, columns: readonly string[]): string {
  return `INSERT INTO temp.${table} (${columns.join(', ')}) VALUES (?${', ?'.repeat(columns.length - 1)})`;
}

/** A made table: its name, its insert and its read-back. */
export interface Scratch {
  readonly table: string;
  readonly insert: Statement;
  readonly read?: Statement;
}

/**
 * Table names, made once per table and recorder: every operation looks its table up, and neither
 * hashing the recorder's SQL nor building a new name string belongs on that path.
 */
const quietNames = new Map<ScratchTable, string>();
const recorderNames = new WeakMap<InlineRecorder, Map<ScratchTable, string>>();

function tableName(t: ScratchTable, recorder: InlineRecorder | undefined): string {
  const names = recorder ? (recorderNames.get(recorder) ?? recorderNames.set(recorder, new Map()).get(recorder)!) : quietNames;
  let name = names.get(t);
  if (name === undefined) {
    name = `${t.name}_${recorder ? hash(`${recorder.columns.join(',')}\n${recorder.sql}`) : 'quiet'}`;
    names.set(t, name);
  }
  return name;
}

/**
 * Every kind of scratch table, each with the recorders its operation takes under the context's
 * observer now (none: the operation does not take this route then). Registered by the
 * operations' modules when they load (registerScratch).
 */
const kinds: { t: ScratchTable; recorders: (ctx: FsContext) => readonly (InlineRecorder | undefined)[] }[] = [];

/** Registers a kind of table, so that the first one made on a connection makes it too (scratchTable). */
export function registerScratch(t: ScratchTable, recorders: (ctx: FsContext) => readonly (InlineRecorder | undefined)[]): void {
  kinds.push({ t, recorders });
}

/**
 * The table of `t` for the observer's recorder now (none: the observer is off) on this
 * connection, made on first use; undefined when no transaction is open or this database cannot
 * have it.
 *
 * The first table made on a connection brings every other registered kind for the same observer
 * with it, in the same exec: SQLite expires every prepared statement of a connection when its
 * TEMP schema changes, and each then compiles again on its next run (an insert with its triggers
 * took 0.4 ms instead of 0.2 in `run`'s second `git status`, its unlink's table having been made
 * after it). One change instead of one a kind.
 */
export function scratchTable(ctx: FsContext, t: ScratchTable, recorder: InlineRecorder | undefined): Scratch | undefined {
  if (!ctx.store.inTransaction) return undefined;
  const table = tableName(t, recorder);
  let made = ctx.scratch.get(table);
  if (made === undefined) {
    const wanted = [{ t, recorder, table }, ...unmade(ctx).filter((w) => w.table !== table)];
    // all at once; if one of them cannot be made, each by itself (a table that cannot stays unmade)
    if (wanted.length === 1 || !makeTables(ctx, wanted)) makeTables(ctx, wanted.slice(0, 1));
    made = ctx.scratch.get(table)!;
  }
  return made || undefined;
}

/**
 * Every registered kind's tables not made yet on this connection, for the context's observer and
 * for none: an overlay's copy-up runs unobserved (InodeFs.unobserved) in the same request as the
 * observed operation it serves (the first CREATE in a copied-up directory), and each set made by
 * itself would change the TEMP schema twice.
 */
function unmade(ctx: FsContext): { t: ScratchTable; recorder: InlineRecorder | undefined; table: string }[] {
  const wanted: { t: ScratchTable; recorder: InlineRecorder | undefined; table: string }[] = [];
  const observer = ctx.observer;
  try {
    for (const o of observer ? [observer, undefined] : [undefined]) {
      ctx.observer = o;
      for (const kind of kinds) {
        for (const r of kind.recorders(ctx)) {
          const name = tableName(kind.t, r);
          if (!ctx.scratch.has(name) && !wanted.some((w) => w.table === name)) wanted.push({ t: kind.t, recorder: r, table: name });
        }
      }
    }
  } finally {
    ctx.observer = observer;
  }
  return wanted;
}

/** A table of `t` for `recorder`, wanted made ahead (makeScratchTables' `extra`). */
export interface WantedScratch {
  readonly t: ScratchTable;
  readonly recorder: InlineRecorder | undefined;
}

/**
 * Makes every table the connection's one-statement operations may take (scratchTable), and the
 * `extra` ones (kinds whose recorders only their caller knows: an overlay's copy-up), inside the
 * open transaction or in one of its own (makeTables): done before a client waits on the first
 * write, that write does not pay for the DDL (2 ms in `run`'s first `git status`) nor for the
 * statements it expires.
 */
export function makeScratchTables(ctx: FsContext, extra: readonly WantedScratch[] = []): void {
  const wanted = unmade(ctx);
  for (const { t, recorder } of extra) {
    const table = tableName(t, recorder);
    if (!ctx.scratch.has(table) && !wanted.some((w) => w.table === table)) wanted.push({ t, recorder, table });
  }
  if (wanted.length === 0 || makeTables(ctx, wanted)) return;
  for (const w of wanted) makeTables(ctx, [w]);
}

/**
 * Makes the tables in one exec and notes them; false (none made, `false` noted for a single one)
 * when it failed. Outside the store's transactions (makeScratchTables) the exec has one of its
 * own, deferred: the DDL writes only the connection's TEMP schema, so it takes no write lock of
 * the database and waits for no other process.
 */
function makeTables(ctx: FsContext, tables: readonly { t: ScratchTable; recorder: InlineRecorder | undefined; table: string }[]): boolean {
  const alone = !ctx.store.inTransaction;
  try {
    const sql = tables.map(({ t, recorder, table }) => ddl(t, table, recorder)).join(';\n');
    ctx.store.db.exec(alone ? `BEGIN; ${sql}; COMMIT` : sql);
    for (const { t, recorder, table } of tables) {
      const insert = t.insert(table, recorder?.columns ?? []);
      ctx.scratch.set(table, {
        table,
        insert: t.returning ? ctx.store.arrayStmt(insert) : ctx.store.stmt(insert),
        read: t.readBack && ctx.store.arrayStmt(t.readBack(table)),
      });
    }
    return true;
  } catch {
    if (alone && ctx.store.db.inTransaction) ctx.store.db.exec('ROLLBACK');
    for (const { t, table } of tables) {
      ctx.scratch.delete(table);
      ctx.store.db.exec(t.view ? `DROP VIEW IF EXISTS temp.${table}; DROP TABLE IF EXISTS temp.${table}_row` : `DROP TABLE IF EXISTS temp.${table}`);
    }
    if (tables.length === 1) ctx.scratch.set(tables[0].table, false);
    return false;
  }
}

/** The table (or view) of `t` named `table` and its triggers, for the recorder. */
function ddl(t: ScratchTable, table: string, recorder: InlineRecorder | undefined): string {
  const columns = [...t.columns, ...(recorder?.columns ?? [])];
  const create = t.view
    ? `CREATE TEMP VIEW IF NOT EXISTS ${table} AS SELECT ${columns.map((c) => `NULL AS ${c}`).join(', ')}`
    : `CREATE TEMP TABLE IF NOT EXISTS ${table} (${columns.map((c) => (c === 'k' ? 'k INTEGER PRIMARY KEY' : c)).join(', ')})`;
  return `${create};
        ${t.triggers(table, recorder?.sql ?? '')}`;
}

/** Runs the insert: the rows it inserted, or undefined when its table went with a rollback (nothing written). */
export function runScratch(ctx: FsContext, s: Scratch, args: unknown[]): number | undefined {
  return unlessGone(ctx, s, () => s.insert.run(...args).changes);
}

/** Runs an insert with RETURNING: its row, or undefined when it inserted none or its table went with a rollback. */
export function getScratch(ctx: FsContext, s: Scratch, args: unknown[]): unknown[] | undefined {
  return unlessGone(ctx, s, () => s.insert.get(...args) as unknown[] | undefined);
}

function unlessGone<T>(ctx: FsContext, s: Scratch, run: () => T): T | undefined {
  // the statement is held here, not taken from the store: writes answered earlier go first
  ctx.store.catchUp();
  try {
    return run();
  } catch (e) {
    ctx.store.lostTransaction(); // a full disk may have taken the whole transaction back
    if (missingTable(e)) {
      // the stored counts' table went (another program dropped it): its triggers cannot run, and
      // nothing ran; the transaction route goes on without it (stored-blocks.ts)
      ctx.blocksTable = false;
      ctx.scratch.set(s.table, false);
      return undefined;
    }
    if (!(e instanceof Error && e.message.includes('no such table: ') && e.message.includes(s.table))) throw e;
    ctx.scratch.delete(s.table);
    return undefined;
  }
}

/** FNV-1a, 32 bits, in hex: a short name for a recorder's SQL. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16);
}
