import type { Store } from './store.js';

/**
 * Compaction of a database file that other connections (a live mount) may be using: every step
 * waits for them at most a bounded time, then reports that it could not run instead of blocking.
 */

export interface PageCounts {
  pageSize: number;
  pages: number;
  /** pages on the free list: space a VACUUM gives back */
  freePages: number;
}

export function pageCounts(store: Store): PageCounts {
  const n = (pragma: string) => Number(Object.values(store.db.prepare(`PRAGMA ${pragma}`).get() as Record<string, unknown>)[0]);
  return { pageSize: n('page_size'), pages: n('page_count'), freePages: n('freelist_count') };
}

/** Runs fn with the connection's busy timeout set to ms, then restores it. */
export function withBusyTimeout<T>(store: Store, ms: number, fn: () => T): T {
  const before = Number(Object.values(store.db.prepare('PRAGMA busy_timeout').get() as Record<string, unknown>)[0]);
  store.db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(ms))}`);
  try {
    return fn();
  } finally {
    store.db.exec(`PRAGMA busy_timeout = ${before}`);
  }
}

export type StepOutcome = { done: true } | { done: false; reason: string };

/**
 * Rewrites the file without its free pages (VACUUM). Keeps every row, rowid-less key and
 * AUTOINCREMENT counter; other connections only wait for it (their statements re-prepare).
 */
export function vacuum(store: Store): StepOutcome {
  if (store.inTransaction) return { done: false, reason: 'a transaction is open on this connection' };
  // VACUUM builds the new file as a temporary database: on disk, not in memory (libsql's default)
  const temp = Number(Object.values(store.db.prepare('PRAGMA temp_store').get() as Record<string, unknown>)[0]);
  store.db.exec('PRAGMA temp_store = FILE');
  try {
    store.db.exec('VACUUM');
    return { done: true };
  } catch (e) {
    return { done: false, reason: describeBusy(e) };
  } finally {
    store.db.exec(`PRAGMA temp_store = ${temp}`);
  }
}

export interface WalCheckpoint {
  /** the WAL was copied into the database file and truncated to zero bytes */
  truncated: boolean;
  /** frames in the WAL before, and how many of them reached the database file */
  frames: number;
  checkpointed: number;
  reason?: string;
}

/** `wal_checkpoint(TRUNCATE)`: waits (busy timeout) for readers and writers of the WAL to finish. */
export function checkpointWal(store: Store): WalCheckpoint {
  try {
    const r = store.db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number; log: number; checkpointed: number };
    const busy = Number(r.busy) !== 0;
    return {
      truncated: !busy,
      frames: Number(r.log),
      checkpointed: Number(r.checkpointed),
      ...(busy ? { reason: 'another connection (a live mount?) kept reading or writing the WAL past the busy timeout' } : {}),
    };
  } catch (e) {
    return { truncated: false, frames: 0, checkpointed: 0, reason: describeBusy(e) };
  }
}

function describeBusy(e: unknown): string {
  const err = e as { code?: string; message?: string };
  if (/^SQLITE_(BUSY|LOCKED)/.test(String(err.code))) {
    return 'the database stayed busy (another connection, e.g. a live mount, was writing) past the busy timeout';
  }
  return String(err.message ?? e);
}

/**
 * The first problem `PRAGMA quick_check` finds, or undefined when the file is sound. Compacting a
 * damaged file (VACUUM rewrites every page) could lose what is left of it.
 */
export function damage(store: Store): string | undefined {
  try {
    const rows = store.db.prepare('PRAGMA quick_check(1)').all() as Record<string, unknown>[];
    const first = rows.length ? String(Object.values(rows[0]!)[0]) : 'ok';
    return first === 'ok' ? undefined : first;
  } catch (e) {
    return (e as Error).message;
  }
}
