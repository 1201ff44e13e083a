import { isUtf8 } from 'node:buffer';
import { existsSync } from 'node:fs';
import { StoreError } from './errors.js';
import { pathToFileURL } from 'node:url';
import Database from 'libsql';
import type { Db, Store } from './store.js';

/**
 * Finds text that is not UTF-8 in the given tables (another program, e.g. sqlite3, can store any
 * bytes as TEXT). libsql aborts the whole process when it reads such a value, so the commands that
 * read whole tables through many queries (timeline, sync push) check first and stop with one line.
 * Cost: one scan of the tables' text in C (GLOB keeps only rows with a byte beyond ASCII), then an
 * exact check in JS of just those rows.
 */
export function checkForeignText(store: Store, tables: readonly string[]): void {
  checkTables(store.db, store.path, tables);
}

/** The same check over every table of a database file that is not ours (a `file:` sync remote). */
export function checkForeignTextInFile(path: string, timeoutMs = 0): void {
  rollBackHotJournal(path);
  // timeoutMs: how long to wait for another process's lock (a push in progress)
  const db = new Database(`${pathToFileURL(path).href}?mode=ro`, { timeout: timeoutMs }) as unknown as Db;
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map((r) => r.name);
    checkTables(db, path, tables);
  } finally {
    db.close();
  }
}

/**
 * A writer killed mid-transaction (a `sync push` into a file remote) leaves a hot journal beside
 * a rollback-journal file. Only a connection that may write rolls it back: a read-only one fails
 * with "attempt to write a readonly database", for good. Opened read-write and read once, the
 * file is back at its last commit (what any SQLite reader with write access does on its own).
 */
function rollBackHotJournal(path: string): void {
  if (!existsSync(`${path}-journal`)) return;
  try {
    const db = new Database(path);
    try {
      db.prepare('SELECT count(*) FROM sqlite_master').get();
    } finally {
      db.close();
    }
  } catch {
    /* no write access, or not a database: the read-only check says what is wrong */
  }
}

function checkTables(db: Db, label: string, tables: readonly string[]): void {
  const store = { db, path: label };
  for (const table of tables) {
    const def = store.db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as { sql: string } | undefined;
    if (def === undefined) continue;
    const rid = /WITHOUT\s+ROWID/i.test(def.sql) ? 'NULL' : 'rowid';
    const info = store.db.prepare(`PRAGMA table_info(${quoteId(table)})`).all() as { name: string; type: string }[];
    const cols = info.filter((c) => c.type === '' || /TEXT|CHAR|CLOB/i.test(c.type)).map((c) => c.name);
    if (!cols.length) continue;
    const nonAscii = `'*[^' || char(1) || '-' || char(127) || ']*'`;
    // text only: a BLOB holds any bytes (an untyped column of a sync staging table holds chunks)
    const sql = `SELECT ${rid} AS rid, ${cols.map((c, i) => `CASE WHEN typeof(${quoteId(c)}) = 'text' THEN CAST(${quoteId(c)} AS BLOB) END AS c${i}`).join(', ')} FROM ${quoteId(table)}
      WHERE ${cols.map((c) => `(typeof(${quoteId(c)}) = 'text' AND ${quoteId(c)} GLOB ${nonAscii})`).join(' OR ')}`;
    for (const row of store.db.prepare(sql).iterate() as IterableIterator<Record<string, unknown>>) {
      cols.forEach((col, i) => {
        let v = row[`c${i}`];
        if (v instanceof ArrayBuffer) v = new Uint8Array(v);
        if (v instanceof Uint8Array && !isUtf8(v)) {
          throw new StoreError(
            'corrupt',
            `${store.path}: ${table}.${col}${row.rid === null ? '' : ` of row ${String(row.rid)}`} is not valid UTF-8 (written by another program, or damaged); fix or delete that row with sqlite3`,
          );
        }
      });
    }
  }
}

function quoteId(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
