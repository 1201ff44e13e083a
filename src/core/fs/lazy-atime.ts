/**
 * Access times kept in memory and written with the next change (Linux's lazytime): a read that
 * moves atime (relatime: the first read after a change) would otherwise commit a write of its
 * own, which cost reads of fresh files a third of their time. Pending times are shown by this
 * filesystem's own attribute queries at once; they reach the database at the start of the next
 * write transaction on this connection, after at most FLUSH_MS, on fsync and on close, and once
 * FLUSH_COUNT of them pile up. Other processes see them then. atime is advisory: a crash loses at
 * most that second of it.
 */
import type { Store } from '../../store/index.js';
import type { Timespec } from '../types.js';
import type { InodeRow } from './rows.js';
import { now } from './time.js';

const FLUSH_MS = 1000;
/**
 * A pending time is stored only on an inode unchanged since the read (utimes moves ctime: a time
 * set after the read stands), and only over an older time or one later than the clock now: a
 * later time another process stored by reading is a reading of the same clock, so one beyond it
 * was set (touch -d 2300), before the read, and the read moves it back as relatime says. This
 * process's own changes store the pending times first. A mount that showed a pending time that
 * was not stored drops it (settle), and answers from the database again.
 */
const STORABLE = (atime: string, ctime: string, t: string, clock: string): string =>
  `((${atime}, ${atime}_nsec) < (${t}) OR (${atime}, ${atime}_nsec) > (${clock})) AND (${ctime}, ${ctime}_nsec) <= (${t})`;
const SQL_SET_ATIME = `UPDATE fs_inode SET atime = ?2, atime_nsec = ?3 WHERE ino = ?1 AND ${STORABLE('atime', 'ctime', '?2, ?3', '?4, ?5')}`;
/**
 * Many at once, as a JSON array of [ino, sec, nsec]: half the time of a statement each (150 files a
 * `git status`). No RETURNING: a row each for JavaScript cost a third of the statement (5,000 times
 * after a `grep -r`: 11 ms with it, 7.5 without); the count of rows changed says whether all were
 * stored, and only when not are the stored ones looked for (SQL_STORED_ATIMES).
 */
const SQL_SET_ATIMES =
  'UPDATE fs_inode SET atime = j.value ->> 1, atime_nsec = j.value ->> 2 FROM json_each(?1) AS j WHERE fs_inode.ino = j.value ->> 0 AND ' +
  STORABLE('fs_inode.atime', 'fs_inode.ctime', 'j.value ->> 1, j.value ->> 2', '?2, ?3');
/** Of the times SQL_SET_ATIMES was given, those an inode has now: stored (or there already, the same). */
const SQL_STORED_ATIMES =
  'SELECT i.ino FROM json_each(?1) AS j JOIN fs_inode i ON i.ino = j.value ->> 0 WHERE (i.atime, i.atime_nsec) = (j.value ->> 1, j.value ->> 2)';
const MANY = 8;
/**
 * Pending times beyond this many are stored at the event loop's next turn, in a transaction of
 * their own: otherwise the next change after a long read burst stores them all before its reply
 * (5,000 after a `grep -r`: the first unlink of the `rm -rf` after it took 13-17 ms, 2-3 with this).
 */
export const FLUSH_COUNT = 1024;
/** pending times a write lock held elsewhere may keep in memory; past this many they are given up */
const MAX_PENDING = 1 << 16;

/** Told of pending times, so that another reader of the database (the mount's native reads) shows them too. */
export interface AtimeListener {
  /** ino's access time is t, in memory only */
  pending(ino: number, t: Timespec): void;
  /** ino's pending time is stored now (t), or dropped (undefined: the inode is gone or its atime was set) */
  stored(ino: number, t?: Timespec): void;
  /**
   * The pending times a write transaction's start just ended, at once: each stored (in `stored`,
   * or every one when it is 'all') or given up. The other reader must stop answering from its last
   * commit for all of them before it drops any (see the addon's atimesStored). `times` is emptied
   * after the call: read it then, do not keep it.
   */
  settled(times: ReadonlyMap<number, Timespec>, stored: ReadonlySet<number> | 'all'): void;
}

export class LazyAtime {
  private readonly pending = new Map<number, Timespec>();
  private timer: NodeJS.Timeout | undefined;
  /** the flush FLUSH_COUNT asked for, at the next turn */
  private soon: NodeJS.Immediate | undefined;
  /** the last flush found the write lock taken: the timer tries again, not every next turn */
  private locked = false;
  listener: AtimeListener | undefined;

  constructor(private readonly store: Store) {
    // every write transaction carries the pending times along
    store.onBeginWrite(() => this.writeOut());
    store.onClose(() => this.flush(true));
  }

  /** ino was read at t (tell: false when the listener noted it itself). */
  note(ino: number, t: Timespec, tell = true): void {
    if (this.store.readOnly) return; // a look from a read-only open leaves no trace (as noatime)
    this.pending.set(ino, t);
    if (tell) this.listener?.pending(ino, t);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.timer.unref();
    }
    // not here: a note comes in the middle of a caller's work (a batch of the mount's requests)
    if (this.pending.size >= FLUSH_COUNT && !this.soon && !this.locked) {
      this.soon = setImmediate(() => {
        this.soon = undefined;
        if (this.pending.size >= FLUSH_COUNT) this.flush();
      });
      this.soon.unref();
    }
  }

  /** row with its pending atime, if any (rows fresh from a query). */
  apply<R extends InodeRow>(row: R): R {
    if (this.pending.size === 0) return row;
    const t = this.pending.get(row.ino);
    if (t) {
      row.atime = t.sec;
      row.atime_nsec = t.nsec;
    }
    return row;
  }

  /** Drops ino's pending time: its atime was just written, or the inode is gone (numbers are reused). */
  forget(ino: number): void {
    this.pending.delete(ino);
    this.listener?.stored(ino);
  }

  /**
   * Writes the pending times now, in a transaction of their own unless one is open. Only a closing
   * store waits for a write lock another process holds: the timer's and FLUSH_COUNT's flushes and
   * fsync's leave the times pending and try again later (a mount's requests would wait with them,
   * up to the busy timeout, for an advisory time), unless MAX_PENDING are pending.
   */
  flush(closing = false): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.locked = false;
    if (this.pending.size === 0 || this.store.isClosed) return;
    try {
      // the transaction's begin hook writes them out
      this.store.advisory(() => this.store.transaction(() => this.writeOut(), closing ? undefined : 0));
    } catch (e) {
      if (!closing && (e as { code?: unknown }).code === 'busy' && this.pending.size < MAX_PENDING) {
        this.locked = true;
        this.timer = setTimeout(() => this.flush(), FLUSH_MS);
        this.timer.unref();
        return;
      }
      this.settle(); // a read-only database, or one locked too long, keeps the old times
    }
  }

  private writeOut(): void {
    if (this.pending.size === 0) return;
    const at = now();
    let stored: Set<number> | 'all' = new Set<number>();
    try {
      if (this.pending.size >= MANY) {
        // built in one loop: this runs once per write transaction, in code V8 has not optimized,
        // where a closure and an array per time cost more than the statement's own work
        let json = '[';
        for (const [ino, t] of this.pending) json += `${json.length > 1 ? ',' : ''}[${ino},${t.sec},${t.nsec}]`;
        json += ']';
        const changed = this.store.stmt(SQL_SET_ATIMES).run(json, at.sec, at.nsec).changes;
        if (changed === this.pending.size) stored = 'all';
        else for (const [ino] of this.store.arrayStmt(SQL_STORED_ATIMES).all(json) as number[][]) stored.add(ino!);
      } else {
        const stmt = this.store.stmt(SQL_SET_ATIME);
        for (const [ino, t] of this.pending) if (stmt.run(ino, t.sec, t.nsec, at.sec, at.nsec).changes > 0) stored.add(ino);
      }
    } finally {
      this.settle(stored); // written, or not writable: either way not retried
    }
  }

  /**
   * Ends the pending times, stored or given up: either way the other reader must not keep showing
   * them. Written ones are inside the write transaction, so other readers see them once it commits;
   * until then the mount's reader leaves those inodes to this side (the addon's atimesStored).
   */
  private settle(stored: ReadonlySet<number> | 'all' = new Set()): void {
    this.listener?.settled(this.pending, stored);
    this.pending.clear();
    this.locked = false;
  }
}
