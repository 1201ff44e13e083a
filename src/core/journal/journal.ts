import type { Store } from '../../store/index.js';
import { INLINE_STALE, type FsMutation, type MutationObserver } from '../fs/mutation.js';
import { ROOT_INO } from '../types.js';
import { nowNs } from '../fs/time.js';
import { JOURNAL_SCHEMA, OBSOLETE_JOURNAL_INDEX } from './schema.js';

export interface JournalOptions {
  /** path of an inode from the root (InodeFs.pathOf), undefined once unlinked */
  pathOf: (ino: number) => string | undefined;
  /**
   * the entry pathOf follows from an inode (InodeFs.entryOf): a file's path is then its
   * directory's, cached, and its name (one query instead of one per level)
   */
  entryOf?: (ino: number) => { parent: number; name: string } | undefined;
  /** id of the tool call in progress (ToolCalls.current('anywhere')), if any */
  currentCall?: () => number | undefined;
  /** a write burst longer than this becomes a new row (default 1 s) */
  maxBurstMs?: number;
  /** a burst of more write calls than this becomes a new row (default 65536) */
  maxBurstWrites?: number;
  /** an idle burst is written out after this long without writes (default 500 ms) */
  idleFlushMs?: number;
}

/** Writes to one inode not yet closed: its row exists, its totals are kept here until the flush. */
interface Burst {
  rowId: number;
  startNs: bigint;
  lastNs: bigint;
  minOff: number;
  maxEnd: number;
  bytes: number;
  writes: number;
  size: number | undefined;
  callId: number | undefined;
}

const MAX_DIR_CACHE = 4096;

/**
 * The file-operation journal: the MutationObserver of InodeFs. Every mutating operation becomes a
 * row of agentfs_journal, written inside the operation's own transaction (so the row and the
 * change commit or roll back together), stamped with the tool call in progress.
 *
 * Writes are coalesced: the first write to an inode inserts the row, later writes only grow its
 * totals in memory, and the row is updated once when the burst ends (last close of the inode,
 * any other operation on it, a different tool call, the time/count bound, an idle timer, or
 * close of the agent). A crash loses at most the totals of open bursts, never their first write.
 */
export class Journal {
  private readonly store: Store;
  private readonly pathOf: (ino: number) => string | undefined;
  private readonly entryOf: JournalOptions['entryOf'];
  private readonly currentCall: () => number | undefined;
  private readonly maxBurstNs: bigint;
  private readonly maxBurstWrites: number;
  private readonly idleFlushMs: number;
  private readonly bursts = new Map<number, Burst>();
  private readonly opens = new Map<number, number>();
  /** directory ino -> path; cleared on rename/rmdir here, and when another process commits */
  private readonly dirPaths = new Map<number, string>();
  /** paths of files this journal saw created, so their first write needs no path walk */
  private readonly filePaths = new Map<number, string>();
  private dataVersion = -1;
  private versionCheckedNs = 0n;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly pid = process.pid;

  /**
   * Pass this to InodeFs as `observer`. Its `inline` recorders write the rows metadata() writes
   * inside the operation's own statement: a whole-file create (ops/create-alone.ts; the 'write'
   * only when there is content), and an unlink, chmod, chown or utimens (ops/unlink-alone.ts,
   * ops/setattr-alone.ts).
   */
  readonly observer: MutationObserver = Object.assign((m: FsMutation): void => this.observe(m), {
    inline: {
      create: {
        columns: ['j_time', 'j_write_time', 'j_path', 'j_call', 'j_pid'],
        // rows are stamped in commit order (the timeline's time windows rely on it): the stamps
        // were taken before the statement waited for the lock, maybe while another writer committed
        sql: `SELECT RAISE(ABORT, '${INLINE_STALE}') WHERE (SELECT time_ns FROM agentfs_journal ORDER BY id DESC LIMIT 1) > NEW.j_time;
          INSERT INTO agentfs_journal (time_ns, op, path, ino, mode, uid, gid, tool_call_id, pid)
            VALUES (NEW.j_time, 'create', NEW.j_path, NEW.ino, NEW.mode, NEW.uid, NEW.gid, NEW.j_call, NEW.j_pid);
          INSERT INTO agentfs_journal (time_ns, end_ns, op, path, ino, offset, length, bytes, writes, size, tool_call_id, pid)
            SELECT NEW.j_write_time, NEW.j_write_time, 'write', NEW.j_path, NEW.ino, 0, NEW.size, NEW.size, 1, NEW.size, NEW.j_call, NEW.j_pid
            WHERE NEW.size > 0;`,
        values: (m: FsMutation): unknown[] | undefined => this.inlineValues(m),
        recorded: (m: FsMutation): void => {
          const path = m.path ?? this.child(m.parent, m.name);
          if (path !== undefined) this.rememberFile(m.ino, path);
        },
      },
      // one metadata row (unlink, chmod, chown, utimens) of a statement run under the write lock
      // (inside a transaction: ops/unlink-alone.ts, ops/setattr-alone.ts), so its stamp is in commit order
      metadata: {
        columns: ['j_time', 'j_op', 'j_path', 'j_mode', 'j_uid', 'j_gid', 'j_call', 'j_pid'],
        sql: `INSERT INTO agentfs_journal (time_ns, op, path, ino, mode, uid, gid, tool_call_id, pid)
          VALUES (NEW.j_time, NEW.j_op, NEW.j_path, NEW.ino, NEW.j_mode, NEW.j_uid, NEW.j_gid, NEW.j_call, NEW.j_pid);`,
        values: (m: FsMutation): unknown[] | undefined => this.inlineMetadataValues(m),
        recorded: (m: FsMutation): void => {
          // what metadata() does besides its row: the inode's write burst ends (its row is
          // older; its totals are written now) and an unlinked file's cached path goes. The
          // change is made already: a totals update that fails leaves the row with its first
          // write, as a crash would, rather than failing a change that happened
          if (m.op === 'unlink') this.filePaths.delete(m.ino);
          try {
            this.flushIno(m.ino);
          } catch {
            /* the burst is dropped all the same (flushIno forgets it first) */
          }
        },
      },
      // a create, mkdir or mknod made by one statement under the write lock (ops/make-alone.ts)
      node: {
        columns: ['j_time', 'j_op', 'j_path', 'j_call', 'j_pid'],
        sql: `INSERT INTO agentfs_journal (time_ns, op, path, ino, mode, uid, gid, tool_call_id, pid)
          VALUES (NEW.j_time, NEW.j_op, NEW.j_path, NEW.ino, NEW.mode, NEW.uid, NEW.gid, NEW.j_call, NEW.j_pid);`,
        values: (m: FsMutation): unknown[] | undefined => this.inlineNodeValues(m),
        recorded: (m: FsMutation): void => {
          // as metadata(): the new node's path, for its first write and its children
          const path = this.child(m.parent, m.name);
          if (path === undefined) return;
          if (m.op === 'mkdir') this.rememberDir(m.ino, path);
          else this.rememberFile(m.ino, path);
        },
      },
      // the first write of a burst, in a statement of its own under the write lock (ops/write-alone.ts;
      // ops/copy-in-alone.ts: a copy-up's append, in the copy's own statement)
      write: {
        columns: ['j_time', 'j_path', 'j_call', 'j_pid'],
        sql: `INSERT INTO agentfs_journal (time_ns, end_ns, op, path, ino, offset, length, bytes, writes, size, tool_call_id, pid)
          VALUES (NEW.j_time, NEW.j_time, 'write', NEW.j_path, NEW.ino, NEW.offset, NEW.length, NEW.length, 1, NEW.size, NEW.j_call, NEW.j_pid);`,
        joins: (m: FsMutation): boolean => this.joinsBurst(m, nowNs(), this.currentCall()),
        values: (m: FsMutation): unknown[] | undefined => this.inlineWriteValues(m),
        recorded: (m: FsMutation, row?: number): void => {
          if (row !== undefined) this.startBurst(m, row, this.inlineWriteNs, this.currentCall());
        },
      },
    },
  });

  /** the stamp inlineWriteValues gave the row it is about to write (its burst starts there) */
  private inlineWriteNs = 0n;

  constructor(store: Store, options: JournalOptions) {
    this.store = store;
    this.pathOf = options.pathOf;
    this.entryOf = options.entryOf;
    this.currentCall = options.currentCall ?? (() => undefined);
    this.maxBurstNs = BigInt(Math.round((options.maxBurstMs ?? 1000) * 1e6));
    this.maxBurstWrites = options.maxBurstWrites ?? 65536;
    this.idleFlushMs = options.idleFlushMs ?? 500;
    // no write transaction at every open when the table is already there
    if (!store.layout.hasTable('agentfs_journal')) store.ensureSchema('journal', JOURNAL_SCHEMA);
    store.onRollback(() => this.rolledBack());
    dropObsoleteIndex(store);
  }

  observe(m: FsMutation): void {
    if (this.closed) return;
    switch (m.op) {
      case 'open':
        this.opens.set(m.ino, (this.opens.get(m.ino) ?? 0) + 1);
        return;
      case 'release': {
        const n = (this.opens.get(m.ino) ?? 1) - 1;
        if (n > 0) this.opens.set(m.ino, n);
        else {
          this.opens.delete(m.ino);
          this.flushIno(m.ino);
        }
        return;
      }
      case 'write':
        if (m.whole) this.wholeWrite(m);
        else this.write(m);
        return;
      default:
        this.metadata(m);
    }
  }

  /** The values of observer.inline's columns for a whole-file create about to be written. */
  private inlineValues(m: FsMutation): unknown[] | undefined {
    if (this.closed || m.op !== 'create') return undefined;
    const t = nowNs();
    this.checkForeignChanges(t);
    const w = m.written !== undefined ? nowNs() : null;
    // m.path: the path the create's statement checks under the lock, fresher than the cache here
    return [t, w, m.path ?? this.child(m.parent, m.name) ?? null, this.currentCall() ?? null, this.pid];
  }

  /**
   * The values of observer.inline.metadata's columns for the row metadata() would write for m (an
   * unlink's ino not known yet: its path comes from its directory and name).
   */
  private inlineMetadataValues(m: FsMutation): unknown[] | undefined {
    if (this.closed) return undefined;
    const unlink = m.op === 'unlink';
    if (!unlink && m.op !== 'chmod' && m.op !== 'chown' && m.op !== 'utimens') return undefined;
    const t = nowNs();
    // before the paths: another process's rename empties the caches they come from
    this.checkForeignChanges(t);
    const path = unlink ? (m.path ?? this.child(m.parent, m.name)) : this.filepath(m.ino);
    return [t, m.op, path ?? null, m.mode ?? null, m.uid ?? null, m.gid ?? null, this.currentCall() ?? null, this.pid];
  }

  /** The values of observer.inline.node's columns for a create, mkdir or mknod (its ino not known yet). */
  private inlineNodeValues(m: FsMutation): unknown[] | undefined {
    if (this.closed || (m.op !== 'create' && m.op !== 'mkdir' && m.op !== 'mknod')) return undefined;
    const t = nowNs();
    // before the path: another process's rename empties the cache it comes from
    this.checkForeignChanges(t);
    return [t, m.op, this.child(m.parent, m.name) ?? null, this.currentCall() ?? null, this.pid];
  }

  /** The values of observer.inline.write's columns for the first write of a burst (ending an older one first). */
  private inlineWriteValues(m: FsMutation): unknown[] | undefined {
    if (this.closed || m.op !== 'write' || m.whole) return undefined;
    this.flushIno(m.ino);
    const t = nowNs();
    this.checkForeignChanges(t);
    this.inlineWriteNs = t;
    // a file made by the same statement (a copy-up's append, ops/copy-in-alone.ts) has no row to find it by yet
    const path = m.parent !== undefined && m.name !== undefined ? this.child(m.parent, m.name) : this.filepath(m.ino);
    return [t, path ?? null, this.currentCall() ?? null, this.pid];
  }

  /** Whether a write at t by call callId joins the burst of its file that is open. */
  private joinsBurst(m: FsMutation, t: bigint, callId: number | undefined): boolean {
    const b = this.bursts.get(m.ino);
    return !this.closed && b !== undefined && b.callId === callId && t - b.startNs <= this.maxBurstNs && b.writes < this.maxBurstWrites;
  }

  private write(m: FsMutation): void {
    const t = nowNs();
    const callId = this.currentCall();
    const offset = m.offset ?? 0;
    const length = m.length ?? 0;
    let b = this.bursts.get(m.ino);
    if (b && !this.joinsBurst(m, t, callId)) {
      this.flushIno(m.ino);
      b = undefined;
    }
    if (b) {
      b.lastNs = t;
      b.minOff = Math.min(b.minOff, offset);
      b.maxEnd = Math.max(b.maxEnd, offset + length);
      b.bytes += length;
      b.writes++;
      if (m.size !== undefined) b.size = m.size;
      return;
    }
    this.checkForeignChanges(t);
    const info = this.store
      .stmt(
        `INSERT INTO agentfs_journal (time_ns, end_ns, op, path, ino, offset, length, bytes, writes, size, tool_call_id, pid)
         VALUES (?, ?, 'write', ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
      )
      .run(t, t, this.filepath(m.ino) ?? null, m.ino, offset, length, length, m.size ?? null, callId ?? null, this.pid);
    this.startBurst(m, Number(info.lastInsertRowid), t, callId);
  }

  /**
   * A rollback took back what was written at some depth of the transaction. A burst whose row
   * went with it is forgotten: joined, its writes would have no row, and its totals would be
   * written over whatever row takes the id next (the hostile pass saw a mkdir's row overwritten).
   * Rollbacks are rare (an operation that failed after writing), so each open burst's row is
   * looked for; the paths cached meanwhile may name nodes that are gone, whose numbers SQLite
   * gives again.
   */
  private rolledBack(): void {
    for (const [ino, b] of this.bursts) {
      let kept = false;
      try {
        const r = this.store.arrayStmt('SELECT time_ns, ino FROM agentfs_journal WHERE id = ?').get(b.rowId) as [number, number] | undefined;
        kept = r !== undefined && Number(r[0]) === Number(b.startNs) && r[1] === ino;
      } catch {
        /* unreadable now: forgotten, as if gone */
      }
      if (!kept) this.bursts.delete(ino);
    }
    this.dirPaths.clear();
    this.filePaths.clear();
  }

  /** The burst m's row (id rowId, stamped t) starts: later writes of the same call join it. */
  private startBurst(m: FsMutation, rowId: number, t: bigint, callId: number | undefined): void {
    const offset = m.offset ?? 0;
    const length = m.length ?? 0;
    this.bursts.set(m.ino, {
      rowId,
      startNs: t,
      lastNs: t,
      minOff: offset,
      maxEnd: offset + length,
      bytes: length,
      writes: 1,
      size: m.size,
      callId,
    });
    this.armTimer();
  }

  /** A whole-file write of an empty file: its row, with no burst left open after it. */
  private wholeWrite(m: FsMutation): void {
    this.flushIno(m.ino);
    const t = nowNs();
    this.checkForeignChanges(t);
    const length = m.length ?? 0;
    this.store
      .stmt(
        `INSERT INTO agentfs_journal (time_ns, end_ns, op, path, ino, offset, length, bytes, writes, size, tool_call_id, pid)
         VALUES (?, ?, 'write', ?, ?, 0, ?, ?, 1, ?, ?, ?)`,
      )
      .run(t, t, this.filepath(m.ino) ?? null, m.ino, length, length, m.size ?? length, this.currentCall() ?? null, this.pid);
  }

  private metadata(m: FsMutation): void {
    // keep order: the burst of this inode (and, for a rename, of the one it replaces) ends first
    this.flushIno(m.ino);
    const t = nowNs();
    this.checkForeignChanges(t);
    let path: string | undefined;
    let newPath: string | undefined;
    switch (m.op) {
      case 'create':
      case 'mknod':
      case 'mkdir':
        path = this.child(m.parent, m.name);
        if (path !== undefined) {
          if (m.op === 'mkdir') this.rememberDir(m.ino, path);
          else this.rememberFile(m.ino, path);
        }
        break;
      case 'symlink':
        path = this.child(m.parent, m.name);
        newPath = this.symlinkTarget(m.ino);
        break;
      case 'unlink':
        path = m.path ?? this.child(m.parent, m.name);
        this.filePaths.delete(m.ino); // it may live on under another name (hard link)
        break;
      case 'rmdir':
        path = m.path ?? this.child(m.parent, m.name);
        this.dirPaths.clear(); // the directory and anything cached below it are gone
        break;
      case 'rename':
        path = m.path ?? this.child(m.parent, m.name);
        this.dirPaths.clear(); // a renamed directory moves every path below it
        this.filePaths.clear();
        newPath = m.newPath ?? this.child(m.newParent, m.newName);
        break;
      case 'link':
        newPath = this.child(m.newParent, m.newName);
        path = this.pathOf(m.ino);
        if (path === newPath) path = undefined; // pathOf may answer with the new name
        break;
      default:
        path = this.filepath(m.ino);
    }
    if (m.written !== undefined) {
      // the create or truncate and the whole-file write after it: both rows in one statement
      // (ids in this order), the same rows the operation and a write burst of one call give
      const callId = this.currentCall() ?? null;
      const w = nowNs();
      this.store
        .stmt(
          `INSERT INTO agentfs_journal (time_ns, end_ns, op, path, new_path, ino, offset, length, bytes, writes, size, mode, uid, gid, tool_call_id, pid)
           VALUES (?, NULL, ?, ?, NULL, ?, NULL, NULL, NULL, NULL, ?, ?, ?, ?, ?, ?), (?, ?, 'write', ?, NULL, ?, 0, ?, ?, 1, ?, NULL, NULL, NULL, ?, ?)`,
        )
        .run(
          t, m.op, path ?? null, m.ino, m.size ?? null, m.mode ?? null, m.uid ?? null, m.gid ?? null, callId, this.pid,
          w, w, path ?? null, m.ino, m.written, m.written, m.written, callId, this.pid,
        );
      return;
    }
    this.store
      .stmt(
        `INSERT INTO agentfs_journal (time_ns, op, path, new_path, ino, size, mode, uid, gid, tool_call_id, pid)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        t,
        m.op,
        path ?? null,
        newPath ?? null,
        m.ino,
        m.size ?? null,
        m.mode ?? null,
        m.uid ?? null,
        m.gid ?? null,
        this.currentCall() ?? null,
        this.pid,
      );
  }

  /** Writes out the totals of every open burst (close of the agent, tests, `timeline` freshness). */
  flush(): void {
    for (const ino of [...this.bursts.keys()]) this.flushIno(ino);
  }

  private flushIno(ino: number): void {
    const b = this.bursts.get(ino);
    if (!b) return;
    this.bursts.delete(ino);
    if (b.writes === 1) return; // the row already says it all
    const update = () =>
      this.store
        .stmt('UPDATE agentfs_journal SET end_ns = ?, offset = ?, length = ?, bytes = ?, writes = ?, size = ? WHERE id = ?')
        .run(b.lastNs, b.minOff, b.maxEnd - b.minOff, b.bytes, b.writes, b.size ?? null, b.rowId);
    // A release or the idle timer flushes outside any transaction: a statement alone would wait
    // only SQLite's short busy timeout for a mount's write lock (SQLITE_BUSY under load); a
    // transaction waits for it as every writer does (Store.beginImmediate).
    if (this.store.inTransaction) update();
    else this.store.transaction(update);
  }

  /** Flushes bursts idle for idleFlushMs, so a file left open still shows its writes soon. */
  private armTimer(): void {
    if (this.timer || this.idleFlushMs <= 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed) return;
      const idleBefore = nowNs() - BigInt(this.idleFlushMs) * 1_000_000n;
      try {
        // timers never run inside a (synchronous) transaction, so this commits on its own
        for (const [ino, b] of [...this.bursts]) if (b.lastNs <= idleBefore) this.flushIno(ino);
      } catch {
        /* busy database: the rows hold the first write; try again on the next tick */
      }
      if (this.bursts.size) this.armTimer();
    }, this.idleFlushMs);
    this.timer.unref();
  }

  close(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    try {
      if (!this.store.isClosed) this.flush();
    } finally {
      this.closed = true;
    }
  }

  private child(parent: number | undefined, name: string | undefined): string | undefined {
    if (parent === undefined || name === undefined) return undefined;
    const dir = this.dirPath(parent);
    if (dir === undefined) return undefined;
    return dir === '/' ? `/${name}` : `${dir}/${name}`;
  }

  private dirPath(ino: number): string | undefined {
    if (ino === ROOT_INO) return '/';
    const cached = this.dirPaths.get(ino);
    if (cached !== undefined) return cached;
    const p = this.pathOf(ino);
    if (p !== undefined) this.rememberDir(ino, p);
    return p;
  }

  private filepath(ino: number): string | undefined {
    const known = this.filePaths.get(ino);
    if (known !== undefined) return known;
    if (!this.entryOf || ino === ROOT_INO) return this.pathOf(ino);
    const e = this.entryOf(ino);
    return e && this.child(e.parent, e.name);
  }

  private rememberFile(ino: number, path: string): void {
    if (this.filePaths.size >= MAX_DIR_CACHE) this.filePaths.clear();
    this.filePaths.set(ino, path);
  }

  private rememberDir(ino: number, path: string): void {
    if (this.dirPaths.size >= MAX_DIR_CACHE) this.dirPaths.clear();
    this.dirPaths.set(ino, path);
  }

  /**
   * Another process (CLI, a second mount) may have renamed things: forget cached paths. Checked
   * once per write transaction, at its first journaled change (no other process commits while it
   * is open), and outside one at most once per millisecond (PRAGMA data_version costs about as
   * much as a small insert; the one-statement create brings its own checked path).
   */
  private checkForeignChanges(t: bigint): void {
    if (!this.store.inTransaction && t - this.versionCheckedNs < 1_000_000n) return;
    this.versionCheckedNs = t;
    const v = this.store.recentDataVersion(1);
    if (v !== this.dataVersion) {
      this.dataVersion = v;
      this.dirPaths.clear();
      this.filePaths.clear();
    }
  }

  private symlinkTarget(ino: number): string | undefined {
    const row = this.store.stmt('SELECT target FROM fs_symlink WHERE ino = ?').get(ino) as { target: string } | undefined;
    return row?.target;
  }
}

/** Drops the time index older versions made (it only slowed writes); a read-only database keeps it. */
function dropObsoleteIndex(store: Store): void {
  const found = store.schemaHas(OBSOLETE_JOURNAL_INDEX, 'index');
  if (!found) return;
  try {
    store.transaction(() => store.db.exec(`DROP INDEX IF EXISTS ${OBSOLETE_JOURNAL_INDEX}`));
  } catch {
    /* read-only or busy: harmless, try again next time */
  }
}
