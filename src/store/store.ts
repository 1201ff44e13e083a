import Database from 'libsql';
import { accessSync, closeSync, constants as fsConstants, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, realpathSync, rmSync, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StoreError } from './errors.js';
import { databasePath, type AgentTarget } from './locate.js';
import { DEFAULT_CHUNK_SIZE, EXTENSION_TABLES, REQUIRED_TABLES, SCHEMA_VERSION, SPEC_TABLES } from './schema.js';
import { detectLayout, type Layout } from './layout.js';
import { checkSqliteHeader, readHead } from './sqlite-file.js';
import { heldOpen, noteLocked, noteOpen } from './open-files.js';
import { accessProblem, throwAccessProblem, throwOpenProblem } from './access.js';
import { countSql } from './trace.js';
import { walBatchVfs } from './wal-batch.js';
import { traceTarget, writeTrace } from '../trace.js';

export type Db = InstanceType<typeof Database>;
/** A prepared statement (libsql's better-sqlite3 compatible API). */
export interface Statement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
  raw(toggle?: boolean): Statement;
  pluck(toggle?: boolean): Statement;
}

export interface OpenOptions {
  /** create the database when missing (default: false, so typos in ids do not create files) */
  create?: boolean;
  /** chunk size for a new database (fixed at creation) */
  chunkSize?: number;
  /** busy timeout in ms, so the CLI and a mount can share one database (default 5000) */
  busyTimeoutMs?: number;
  /** open a database of an older layout without complaining (used by migrate) */
  allowOldLayout?: boolean;
  /**
   * 'normal' (default): WAL with synchronous=NORMAL, commits survive a process crash and fsync()
   * makes them durable; 'full': every commit is fsynced (what agentfs-sdk does).
   */
  durability?: 'normal' | 'full';
  /**
   * Open for reading only (commands that only look): no write lock is ever taken, so a writer
   * holding a transaction does not block us, and a database we may not write can still be read.
   * Tables a feature would create are made as empty TEMP tables; transaction() is refused.
   */
  readOnly?: boolean;
  /**
   * With readOnly, for viewers (`agentfs ui`): not even the one writable open that adds our
   * tables to a database another SDK made; what is missing is read as empty.
   */
  neverWrite?: boolean;
}


/**
 * One open AgentFS database. The storage layer: it knows files, schema, transactions and
 * prepared statements, and nothing about paths or inodes.
 */
export class Store {
  /** the connection (db: the same, with writes answered already run first) */
  private readonly conn: Db;
  /** absolute file path, or ':memory:' */
  readonly path: string;
  readonly chunkSize: number;
  readonly layout: Layout;
  /** opened with readOnly: nothing is ever written */
  readonly readOnly: boolean;
  private depth = 0;
  /** features ensureSchema made inside an enclosing transaction -> the depth they were made at */
  private readonly provisional = new Map<string, number>();
  private writeTransactions = 0;
  private readonly statements = new Map<string, Statement>();
  private readonly arrayStatements = new Map<string, Statement>();
  private readonly beginWriteHooks: Array<() => void> = [];
  private readonly endWriteHooks: Array<() => void> = [];
  private readonly autocommitHooks: Array<() => void> = [];
  private readonly beforeCommitHooks: Array<() => void> = [];
  private readonly closeHooks: Array<() => void> = [];
  private readonly rollbackHooks: Array<(depth: number) => void> = [];
  /** SQLite rolled the open transaction back by itself, and the hooks were told (lostTransaction) */
  private lost = false;
  private readonly ensured = new Set<string>();
  private closed = false;
  private version = { value: 0, atMs: -Infinity, serial: 0 };
  /** see `changes` */
  private changeCount = 0;
  /** the WAL file (inode) whose directory entry sync() made durable */
  private syncedWal: number | undefined;
  /** every commit fsynced (durability 'full') */
  private readonly fullSync: boolean;
  /** how long beginImmediate waits for another process's write lock */
  private readonly busyTimeoutMs: number;
  /** notes this connection's close in open-files.ts */
  private releaseFile: ((locked: boolean) => void) | undefined;
  /** AGENTFS_FUSE_TRACE: the statements run on this connection, reported at close */
  private readonly sqlReport: (() => string[]) | undefined;
  /** the database's directory, held open (O_PATH) from the start: hostFreeBytes measures through it */
  private dirFd: number | undefined;
  /**
   * The file SQLite opened, a symlink resolved as SQLite resolves it: its -wal is named after this
   * file, in its directory (sync() looked for the link's own -wal, found none, and synced nothing).
   */
  private readonly file: string;

  /** writes a caller answered before running them (deferWrites): they run before anything else here */
  private deferred: (() => void) | undefined;
  /** the open transaction is beginBatch's */
  private batching = false;
  /** >0 inside quietly(): deferred writes stay pending */
  private quiet = 0;
  /** what the deferred writes threw: the open batch fails with it at its commit */
  private deferredError: unknown;

  private constructor(db: Db, path: string, chunkSize: number, layout: Layout, options: OpenOptions) {
    this.conn = db;
    this.path = path;
    this.chunkSize = chunkSize;
    this.layout = layout;
    this.readOnly = options.readOnly === true;
    this.fullSync = options.durability === 'full' && path !== ':memory:';
    this.busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000));
    if (path !== ':memory:') this.releaseFile = noteOpen(path);
    this.file = path === ':memory:' ? path : resolvedFile(path);
    if (path !== ':memory:') this.dirFd = openDir(dirname(this.file));
    if (traceTarget() && !this.readOnly) this.sqlReport = countSql(db);
    // every exec may write (BEGIN, COMMIT and ROLLBACK included): see `changes`
    const exec = db.exec;
    db.exec = (sql: string) => {
      this.changeCount++;
      return exec.call(db, sql);
    };
    // a writer waits in beginImmediate's fine polls (readers keep the whole timeout)
    if (!this.readOnly && path !== ':memory:') db.exec(`PRAGMA busy_timeout = ${Math.min(BUSY_POLL_MS, this.busyTimeoutMs)}`);
  }

  /** Open by `{ id }`, `{ path }`, or in memory with `{}`. */
  static open(target: AgentTarget = {}, options: OpenOptions = {}): Store {
    if (!target.id && !target.path) return Store.create(':memory:', options);
    const file = databasePath(target);
    if (!existsSync(file)) {
      if (!options.create) throw noSuchAgent(target, file);
      if (options.readOnly) throw new StoreError('not-found', `no such database ${file}`);
      mkdirSync(dirname(file), { recursive: true });
      return Store.create(file, options);
    }
    return Store.openExisting(file, options);
  }

  private static create(file: string, options: OpenOptions): Store {
    const db = openDatabase(file, false);
    try {
      configure(db, options, file !== ':memory:');
      const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
      if (!Number.isInteger(chunkSize) || chunkSize < 512 || chunkSize > 1 << 20) {
        throw new StoreError('usage', `invalid chunk size ${chunkSize}`);
      }
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const sql of SPEC_TABLES) db.exec(sql);
        for (const sql of EXTENSION_TABLES) db.exec(sql);
        db.prepare("INSERT OR IGNORE INTO fs_config (key, value) VALUES ('chunk_size', ?)").run(String(chunkSize));
        db.prepare("INSERT OR REPLACE INTO fs_config (key, value) VALUES ('schema_version', ?)").run(SCHEMA_VERSION);
        const now = Date.now();
        const sec = Math.floor(now / 1000);
        const nsec = (now % 1000) * 1e6;
        const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
        const gid = typeof process.getgid === 'function' ? process.getgid() : 0;
        db.prepare(
          `INSERT OR IGNORE INTO fs_inode (ino, mode, nlink, uid, gid, size, atime, mtime, ctime, rdev, atime_nsec, mtime_nsec, ctime_nsec)
           VALUES (1, ?, 2, ?, ?, 0, ?, ?, ?, 0, ?, ?, ?)`,
        ).run(0o040755, uid, gid, sec, sec, sec, nsec, nsec, nsec);
        db.exec('COMMIT');
      } catch (e) {
        rollback(db);
        throw e;
      }
      return new Store(db, file, chunkSize, detectLayout(db), { ...options, readOnly: false });
    } catch (e) {
      db.close();
      if (file !== ':memory:') {
        // the file this create made never got its schema (a full disk): no agent, nothing left behind
        for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
        throwOpenProblem(file, e, true);
      }
      throw e;
    }
  }

  private static openExisting(file: string, options: OpenOptions, mayAddTables = true): Store {
    checkSqliteHeader(file);
    const readOnly = options.readOnly === true;
    if (!readOnly) {
      // SQLite quietly opens a file it may not write read-only and fails at the first write
      // ("attempt to write a readonly database", no path): say it now, with the reason
      const problem = accessProblem(file, true);
      if (problem) throw new StoreError('denied', `cannot write ${file}: ${problem}`);
    }
    const immutable = readOnly && readsImmutable(file, options.neverWrite === true);
    const onDisk = immutable ? diskState(file) : undefined;
    const db = openDatabase(file, readOnly, immutable);
    // its locks outlive even the close() of a failed or redone open (open-files.ts)
    if (!immutable) noteLocked(file);
    try {
      // Validate before any statement that could write (journal mode, schema). Wait for a busy
      // writer first, so a locked database is not reported as a corrupt one.
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
      let tables: Set<string>;
      let objects: Set<string>;
      try {
        const rows = db.prepare("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'index')").all() as { name: string; type: string }[];
        tables = new Set(rows.filter((r) => r.type === 'table').map((r) => r.name));
        objects = new Set(rows.map((r) => r.name));
      } catch (e) {
        throwOpenProblem(file, e, false);
        throw new StoreError('corrupt', `${file} is corrupt or not a database: ${(e as Error).message}`);
      }
      const missing = REQUIRED_TABLES.filter((t) => !tables.has(t));
      if (missing.length) {
        throw new StoreError('foreign', `${file} is a SQLite database but not an AgentFS database (no ${missing.join(', ')} table)`);
      }
      const layout = detectLayout(db);
      if (layout.newer) {
        throw new StoreError('schema', `${file} has schema version ${layout.version}, newer than this agentfs supports (${SCHEMA_VERSION})`);
      }
      if (layout.outdated.length && !options.allowOldLayout) {
        throw new StoreError(
          'schema',
          `${file} uses an older AgentFS layout (${layout.outdated.join('; ')}); upgrade it with \`agentfs migrate ${file}\``,
        );
      }
      if (readOnly && mayAddTables && !options.neverWrite && missingTables(objects).length) {
        // a database that never had our additive tables: make them once with a writable open
        // (a reader never writes; where we may not write, go on without them: see ensureSchema)
        db.close();
        try {
          Store.openExisting(file, { ...options, readOnly: false }).close();
        } catch (e) {
          if (!(e instanceof StoreError && e.code === 'denied')) throw e;
        }
        return Store.openExisting(file, options, false);
      }
      configure(db, options, true, readOnly);
      // Only when something is missing: taking the write lock at every open would queue each
      // command behind a busy mount's group commits (and in SQLite's coarse busy waits).
      if (!layout.outdated.length && !readOnly && missingTables(objects).length) {
        // Additive only: spec tables another SDK may not have made (whiteouts, origins) and ours.
        db.exec('BEGIN IMMEDIATE');
        try {
          for (const sql of SPEC_TABLES) db.exec(sql);
          for (const sql of EXTENSION_TABLES) db.exec(sql);
          db.exec('COMMIT');
        } catch (e) {
          rollback(db);
          throw e;
        }
      }
      const row = db.prepare("SELECT value FROM fs_config WHERE key = 'chunk_size'").get() as { value: string } | undefined;
      const chunkSize = row ? parseInt(row.value, 10) : DEFAULT_CHUNK_SIZE;
      if (!Number.isInteger(chunkSize) || chunkSize <= 0) {
        throw new StoreError('corrupt', `${file} has an invalid chunk_size '${row?.value}' in fs_config`);
      }
      const store = new Store(db, file, chunkSize, detectLayout(db), options);
      store.onDisk = onDisk;
      // an immutable open takes no locks: a read of the file beside it drops nothing (open-files.ts)
      if (onDisk !== undefined) {
        store.releaseFile?.(false);
        store.releaseFile = undefined;
      }
      // a reader that may not add our tables (a viewer; another SDK's database) reads them as empty
      if (readOnly && missingTables(objects).length) {
        try {
          store.ensureSchema('additive', [...SPEC_TABLES, ...EXTENSION_TABLES]);
        } catch (e) {
          store.close(); // its directory's handle too
          throw e;
        }
      }
      return store;
    } catch (e) {
      if (db.open) db.close();
      if (e instanceof StoreError) throw e;
      throwOpenProblem(file, e, !readOnly);
      // not a damaged file: another process has held its write lock past our busy timeout
      if (isBusy(e)) throw lockedError(file, Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000)));
      throw new StoreError('corrupt', `${file} cannot be opened as an AgentFS database: ${(e as Error).message}`);
    }
  }

  /** The connection; writes answered before they were run (deferWrites) run first. */
  get db(): Db {
    this.catchUp();
    return this.conn;
  }

  /**
   * fn writes what a caller has already answered for (a FUSE mount's unlinks, sixteen to a
   * statement: core/fs/ops/unlink-later.ts), inside the open batch (beginBatch). It runs before any
   * other use of this store (a statement, a transaction, the connection, the batch's commit), so
   * no reader here sees the database without it; if it throws, the batch fails at its commit (a
   * group commit's failure, reported to the next fsync). The last fn given replaces an earlier one
   * not run yet: a caller gives the same one while its list grows.
   */
  deferWrites(fn: () => void): void {
    if (!this.inBatch) throw new StoreError('usage', 'deferWrites outside a batch');
    this.deferred = fn;
  }

  /** A batch is open (beginBatch) and nothing else: no savepoint inside it, no rollback by SQLite. */
  get inBatch(): boolean {
    return this.batching && this.depth === 1 && !this.lost;
  }

  /** Runs the deferred writes unless inside quietly(): before a statement held elsewhere runs (ops/scratch.ts). */
  catchUp(): void {
    if (this.deferred !== undefined && this.quiet === 0) this.runDeferred();
  }

  /** Runs the deferred writes now (a caller whose list is long enough). */
  runDeferred(): void {
    const fn = this.deferred;
    if (fn === undefined) return;
    this.deferred = undefined;
    try {
      fn();
    } catch (e) {
      this.deferredError ??= e;
    }
  }

  /** Runs fn (reads that must not see the deferred writes run first: the next one's checks) with them pending. */
  quietly<T>(fn: () => T): T {
    this.quiet++;
    try {
      return fn();
    } finally {
      this.quiet--;
    }
  }

  /** A prepared statement, cached for the life of the store. */
  stmt(sql: string): Statement {
    this.catchUp();
    let s = this.statements.get(sql);
    if (!s) {
      s = recoverable(this.conn, sql, false, this.counted);
      this.statements.set(sql, s);
    }
    return s;
  }

  /**
   * stmt() whose rows come back as arrays of column values. libsql builds a row object one named
   * property at a time through N-API; an array of an inode row costs about half (8 vs 14 us).
   */
  arrayStmt(sql: string): Statement {
    this.catchUp();
    let s = this.arrayStatements.get(sql);
    if (!s) {
      s = recoverable(this.conn, sql, true, this.counted);
      this.arrayStatements.set(sql, s);
    }
    return s;
  }

  /**
   * Runs fn in one transaction (a savepoint when nested); rolls back if it throws. The write lock
   * is waited for up to waitMs (default: the busy timeout; 0 tries once, without SQLite's own
   * wait), then the store says the file is locked (StoreError 'busy').
   */
  transaction<T>(fn: () => T, waitMs = this.busyTimeoutMs): T {
    this.catchUp();
    if (this.depth === 0) {
      this.beginImmediate(waitMs);
      this.depth++;
      try {
        this.runBeginWriteHooks();
        const out = fn();
        this.runBeforeCommitHooks();
        this.conn.exec('COMMIT');
        this.provisional.clear();
        return out;
      } catch (e) {
        rollback(this.conn);
        this.forgetProvisional(1);
        throw e;
      } finally {
        this.depth--;
        this.runEndWriteHooks();
      }
    }
    // Named by depth, so the same few prepared statements serve every savepoint: exec() of a
    // fresh name parsed it each time, and a group commit runs one savepoint per request.
    const sp = savepoint(this, this.depth);
    sp.open.run();
    this.depth++;
    try {
      const out = fn();
      sp.release.run();
      return out;
    } catch (e) {
      // no savepoint left to roll back to: the error's own (SQLITE_FULL, not "no such savepoint")
      if (this.lostTransaction()) throw e;
      sp.rollback.run();
      sp.release.run();
      this.forgetProvisional(this.depth);
      throw e;
    } finally {
      this.depth--;
    }
  }

  /**
   * Whether SQLite rolled the open transaction back by itself, as it may when a statement fails
   * with SQLITE_FULL, IOERR or NOMEM: then what hangs on its work (the journal's write bursts,
   * made features) is forgotten at once, before the next statement runs (outside any transaction
   * now). The transaction's COMMIT then fails, as a group commit reports. Call after an error.
   */
  lostTransaction(): boolean {
    if (this.depth === 0 || this.conn.inTransaction) return false;
    if (!this.lost) {
      this.lost = true;
      this.forgetProvisional(1);
    }
    return true;
  }

  /**
   * Runs fn, which executes exactly one write statement, as its own transaction (autocommit): one
   * row committed costs one statement instead of BEGIN, the statement and COMMIT. Waits for the
   * write lock like transaction() (a statement refused with SQLITE_BUSY changed nothing, so it is
   * simply run again). Inside a transaction it joins it. Deferred writes (onBeginWrite hooks) wait
   * for the next transaction() instead.
   */
  autocommit<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    if (this.readOnly) throw new StoreError('read-only', `${this.path} is open read-only here (a command that only reads)`);
    let out: T;
    try {
      out = this.whileBusy(fn);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'busy') settle(this.conn, fn);
      throw e;
    }
    for (const hook of this.autocommitHooks) hook();
    return out;
  }

  /**
   * Runs fn, a statement that takes the write lock, again while another process holds that lock,
   * up to the busy timeout; then says the file is locked (not damaged, not a bare SQLite code).
   */
  private whileBusy<T>(fn: () => T, waitMs = this.busyTimeoutMs): T {
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        return fn();
      } catch (e) {
        if (isBusy(e) && Date.now() < deadline) continue;
        if (this.path === ':memory:') throw e;
        throwAccessProblem(this.path, e, true);
        if (isBusy(e)) throw lockedError(this.path, waitMs);
        throw e;
      }
    }
  }

  /**
   * Opens a transaction that stays open across calls, for group commit (the FUSE server folds
   * a stream of requests into one commit); transaction() inside it makes savepoints. Returns
   * false, opening nothing, when a transaction is already open.
   */
  beginBatch(): boolean {
    if (this.depth > 0) return false;
    this.beginImmediate();
    this.depth++;
    this.batching = true;
    try {
      this.runBeginWriteHooks();
    } catch (e) {
      // nothing may stay open that no commit will ever end
      rollback(this.conn);
      this.forgetProvisional(1);
      this.depth = 0;
      this.batching = false;
      this.runEndWriteHooks();
      throw e;
    }
    return true;
  }

  /**
   * Takes the write lock; a refusal to write says which file and why. Waiting is done here, in
   * short polls, up to the busy timeout: SQLite's own busy handler (left at BUSY_POLL_MS) sleeps
   * 100 ms between tries once it has waited 300 ms, and a mount that writes without pause frees
   * the lock only for moments between its group commits, so a writer polling that coarsely
   * could wait seconds or time out beside it.
   */
  private beginImmediate(waitMs = this.busyTimeoutMs): void {
    if (this.readOnly) throw new StoreError('read-only', `${this.path} is open read-only here (a command that only reads)`);
    if (waitMs > 0 || this.path === ':memory:') this.whileBusy(() => this.conn.exec('BEGIN IMMEDIATE'), waitMs);
    else {
      this.conn.exec('PRAGMA busy_timeout = 0');
      try {
        this.whileBusy(() => this.conn.exec('BEGIN IMMEDIATE'), 0);
      } finally {
        this.conn.exec(`PRAGMA busy_timeout = ${Math.min(BUSY_POLL_MS, this.busyTimeoutMs)}`);
      }
    }
    this.lost = false;
    this.writeTransactions++;
  }

  /**
   * fn runs at the start of every top-level write transaction (transaction(), beginBatch()), inside
   * it: deferred writes (lazy access times) join the next commit instead of making their own.
   * `first`: fn runs before the hooks that write (a reader on another connection must learn that
   * a transaction is open before the first uncommitted change).
   */
  onBeginWrite(fn: () => void, first = false): void {
    if (first) this.beginWriteHooks.unshift(fn);
    else this.beginWriteHooks.push(fn);
  }

  /**
   * fn runs when a top-level write transaction has ended (committed or rolled back): what it wrote
   * is then visible to other connections, or gone.
   */
  onEndWrite(fn: () => void): void {
    this.endWriteHooks.push(fn);
  }

  /**
   * fn runs after each write statement that committed by itself (autocommit(), outside any
   * transaction: onEndWrite does not see those). It must not throw: the write is made.
   */
  onAutocommit(fn: () => void): void {
    this.autocommitHooks.push(fn);
  }

  /**
   * fn runs inside every top-level write transaction just before its COMMIT: what it writes
   * commits with the rest. For advisory rows only (a record kept to save work later): fn must not
   * throw, since a throw fails the transaction.
   */
  onBeforeCommit(fn: () => void): void {
    this.beforeCommitHooks.push(fn);
  }

  private runBeforeCommitHooks(): void {
    this.runDeferred();
    if (this.deferredError !== undefined) {
      const e = this.deferredError;
      this.deferredError = undefined;
      throw e;
    }
    for (const fn of this.beforeCommitHooks) fn();
  }

  private runEndWriteHooks(): void {
    for (const fn of this.endWriteHooks) fn();
  }

  /**
   * fn runs when a rollback undid what was written at transaction depth `depth` and deeper (1:
   * the whole transaction, after it; a savepoint: inside the enclosing transaction).
   */
  onRollback(fn: (depth: number) => void): void {
    this.rollbackHooks.push(fn);
  }

  /** fn runs when close() starts, while the database is still open. */
  onClose(fn: () => void): void {
    this.closeHooks.push(fn);
  }

  private runBeginWriteHooks(): void {
    for (const fn of this.beginWriteHooks) fn();
  }

  /** Commits what beginBatch opened; if the commit fails, rolls back and throws. */
  commitBatch(): void {
    if (this.depth !== 1) throw new StoreError('usage', 'commitBatch without an open batch');
    try {
      this.runBeforeCommitHooks();
      this.conn.exec('COMMIT');
      this.provisional.clear();
    } catch (e) {
      rollback(this.conn);
      this.forgetProvisional(1);
      throw e;
    } finally {
      this.depth = 0;
      this.batching = false;
      this.runEndWriteHooks();
    }
  }

  /**
   * Runs fn, whose changes are advisory (atime), without an fsync of its own even under
   * durability 'full': they reach the disk with the next synced commit. Reads then cost no
   * fsync. Inside a transaction, fn simply joins it.
   */
  advisory<T>(fn: () => T): T {
    if (!this.fullSync || this.depth > 0) return fn();
    this.conn.exec('PRAGMA synchronous = NORMAL');
    try {
      return fn();
    } finally {
      this.conn.exec('PRAGMA synchronous = FULL');
    }
  }

  /** Changes whenever another connection commits to this database (PRAGMA data_version). */
  /**
   * Opened as an unchanging file (immutable, see readsImmutable): the main file's identity, size
   * and mtime then, and whether it had no -wal and -shm. SQLite reads such a file without locks
   * and believes its cache, so a reader opens it again once changedOnDisk() says so.
   */
  onDisk: string | undefined;

  /** An immutable open's file was written since (a writer came, maybe went): open it again. */
  changedOnDisk(): boolean {
    return this.onDisk !== undefined && diskState(this.path) !== this.onDisk;
  }

  /** Moves when another connection changes the file's schema (TEMP stand-ins may then hide new tables). */
  schemaVersion(): number {
    const row = this.stmt('PRAGMA main.schema_version').get() as { schema_version: number } | undefined;
    return Number(row?.schema_version ?? 0);
  }

  dataVersion(): number {
    const row = this.stmt('PRAGMA data_version').get() as { data_version: number } | undefined;
    const v = Number(row?.data_version ?? 0);
    this.version = { value: v, atMs: performance.now(), serial: this.writeSerial };
    return v;
  }

  /**
   * Whether the database has this table (or index) now: unlike layout.hasTable, a snapshot taken
   * at open, it sees what another connection created since.
   */
  schemaHas(name: string, type: 'table' | 'index' = 'table'): boolean {
    return this.stmt('SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?').get(type, name) !== undefined;
  }

  /**
   * dataVersion(), read once per write transaction (no other connection commits while it is
   * open, as in a mount's group commit), and outside one at most once per maxAgeMs: the
   * per-operation checks for other writers (journal path cache, the shared tool call) share one
   * read. Inside a transaction it is always read afresh at its first use, never taken from an
   * earlier one: a rename committed by another process a moment before would go unseen.
   */
  recentDataVersion(maxAgeMs = 1): number {
    const serial = this.writeSerial;
    if (serial !== 0) return this.version.serial === serial ? this.version.value : this.dataVersion();
    if (performance.now() - this.version.atMs < maxAgeMs) return this.version.value;
    return this.dataVersion();
  }

  /**
   * The data_version this connection read last (0: none yet), without a read of its own: it
   * moves once a reader here (a mount's change watcher, the journal's check) noticed another
   * connection's commit.
   */
  get lastDataVersion(): number {
    return this.version.value;
  }

  /**
   * Numbers the top-level write transactions of this connection. While one is open no other
   * process can commit, so what was read in it under the same number is still true.
   */
  get writeSerial(): number {
    return this.depth > 0 ? this.writeTransactions : 0;
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  /**
   * Moves before every statement run here that may write (anything but a SELECT, through stmt(),
   * arrayStmt() or db.exec()): a row remembered as written with the value it had is still the
   * row in the database while the value is unchanged (core/fs/rows.ts noteWritten).
   */
  get changes(): number {
    return this.changeCount;
  }

  private readonly counted = (): void => {
    this.changeCount++;
  };

  /** Creates a feature's own tables once per open store (idempotent DDL). */
  ensureSchema(feature: string, statements: readonly string[]): void {
    if (this.ensured.has(feature)) return;
    if (this.readOnly) {
      this.ensureTempSchema(statements);
      this.ensured.add(feature);
      return;
    }
    this.transaction(() => {
      for (const sql of statements) this.conn.exec(sql);
    });
    this.ensured.add(feature);
    // made inside an enclosing transaction, the tables go if it rolls back: made again then
    if (this.depth > 0) this.provisional.set(feature, this.depth);
  }

  /** A rollback undid what was made at `depth` and deeper: those features are not made. */
  private forgetProvisional(depth: number): void {
    if (depth <= 1) {
      // the batch they belonged to is gone (deferWrites is for the outermost level only)
      this.deferred = undefined;
      this.deferredError = undefined;
    }
    for (const [feature, at] of this.provisional) {
      if (at < depth) continue;
      this.provisional.delete(feature);
      this.ensured.delete(feature);
    }
    for (const fn of this.rollbackHooks) fn(depth);
  }

  /**
   * Read-only: the feature's tables that the file lacks become empty TEMP tables (what a reader
   * of a database without them should see), never shadowing a table the file has.
   */
  private ensureTempSchema(statements: readonly string[]): void {
    const existing = new Set(
      (this.conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name),
    );
    const made = new Set<string>();
    for (const sql of statements) {
      const table = /^\s*CREATE TABLE IF NOT EXISTS (\w+)/i.exec(sql);
      if (table) {
        if (existing.has(table[1]!)) continue;
        this.conn.exec(sql.replace(/^\s*CREATE TABLE/i, 'CREATE TEMP TABLE'));
        made.add(table[1]!);
        continue;
      }
      const index = /^\s*CREATE (UNIQUE )?INDEX IF NOT EXISTS (\w+) ON (\w+)/i.exec(sql);
      if (index && made.has(index[3]!)) this.conn.exec(sql.replace(index[2]!, `temp.${index[2]!}`));
    }
  }

  /** Our own per-database settings (agentfs_meta). */
  getMeta(key: string): string | undefined {
    const row = this.stmt('SELECT value FROM agentfs_meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string | undefined): void {
    if (value === undefined) this.stmt('DELETE FROM agentfs_meta WHERE key = ?').run(key);
    else this.stmt('INSERT INTO agentfs_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /**
   * The database's directory as a path this process can open: the directory held open since the
   * store opened, through /proc/self/fd, when there is one. Its own path can lead through a
   * mount over that directory (a database inside its own mountpoint: the server, opening its
   * WAL there to sync it, waited on itself) or name another directory since a rename.
   */
  private directory(): string {
    const held = this.dirFd !== undefined ? `/proc/self/fd/${this.dirFd}` : undefined;
    // without /proc (a bare chroot) the path it is: a WAL not found there would go unsynced
    return held !== undefined && existsSync(held) ? held : dirname(this.file);
  }

  /** The WAL file's path (through the directory held open: directory()). */
  private walPath(): string {
    return `${this.directory()}/${basename(this.file)}-wal`;
  }

  /** The WAL file's size in bytes (0 without one). */
  walBytes(): number {
    if (this.path === ':memory:') return 0;
    try {
      return statSync(this.walPath()).size;
    } catch {
      return 0;
    }
  }

  /**
   * Makes committed transactions durable on disk (WAL + synchronous=NORMAL defers the fsync).
   * Every commit is in the WAL file (a checkpoint syncs the database file before the WAL is
   * reused), so syncing that file is enough: a checkpoint here copied the whole WAL into the
   * database first, 330 ms of a 64 MiB write's fsync through a mount with checkpoints left to a
   * thread (native/checkpointer.h), and it is the thread's job.
   */
  sync(): void {
    if (this.path === ':memory:' || this.readOnly) return;
    let fd: number | undefined;
    try {
      fd = openSync(this.walPath(), 'r');
      fsyncSync(fd);
      // a new WAL file's name must be durable too (once per file)
      const ino = fstatSync(fd).ino;
      if (ino !== this.syncedWal) {
        syncDirectory(this.directory());
        this.syncedWal = ino;
      }
    } catch (e) {
      // no WAL: the last connection's close checkpointed it into the database, synced
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /**
   * SQLite checkpoints in a commit once the WAL holds this many frames (its default 1000); a
   * writer whose checkpoints run elsewhere (native/checkpointer.h) keeps a high bound as a backstop.
   */
  setAutoCheckpoint(frames: number): void {
    this.conn.exec(`PRAGMA wal_autocheckpoint = ${Math.max(0, Math.floor(frames))}`);
  }

  /** A restarted WAL file is cut back to this size (SQLite's journal_size_limit; -1: never). */
  limitWal(bytes: number): void {
    this.conn.exec(`PRAGMA journal_size_limit = ${Math.floor(bytes)}`);
  }

  /**
   * Makes the next write start the WAL over (a RESTART checkpoint: what another connection's
   * checkpoints left is copied, waiting up to waitMs for readers of older snapshots and another
   * process's writer): a WAL restarts only when a write begins after a checkpoint that left
   * nothing behind, which a stream of commits beside a checkpoint thread never allows. False when
   * it could not in that time, or at once when another checkpoint is under way (SQLite never
   * waits for that lock). `truncate`: the WAL file is emptied too (TRUNCATE), for a store gone idle.
   */
  restartWal(waitMs: number, truncate = false): boolean {
    if (this.path === ':memory:' || this.readOnly || this.depth > 0) return false;
    // the requests behind this commit wait with it
    this.conn.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(waitMs))}`);
    try {
      const sql = truncate ? 'PRAGMA wal_checkpoint(TRUNCATE)' : 'PRAGMA wal_checkpoint(RESTART)';
      const row = this.conn.prepare(sql).raw(true).get() as [number, number, number] | undefined;
      return row !== undefined && row[0] === 0;
    } finally {
      this.conn.exec(`PRAGMA busy_timeout = ${Math.min(BUSY_POLL_MS, this.busyTimeoutMs)}`);
    }
  }

  /**
   * Bytes free to unprivileged users on the host filesystem holding the database (0 when that
   * cannot be told). Asked of the directory held open since the store opened, not of its path:
   * a path can lead through a mount over that directory (a database inside its own mountpoint,
   * whose server would then wait on itself) or name another directory since a rename.
   */
  hostFreeBytes(): number {
    const at = this.path === ':memory:' ? tmpdir() : this.directory();
    try {
      const h = statfsSync(at);
      return h.bavail * h.bsize;
    } catch {
      return 0;
    }
  }

  close(): void {
    if (this.closed) return;
    for (const fn of this.closeHooks) {
      try {
        fn();
      } catch {
        /* closing goes on */
      }
    }
    this.closed = true;
    if (this.sqlReport) writeTrace([`store ${this.path}:`, ...this.sqlReport()]);
    // libsql cannot finalize prepared statements, so sqlite3_close leaves the WAL behind; fold it
    // into the main file ourselves (without waiting, in case a mount still reads) so the .db file
    // alone is complete when copied.
    if (this.path !== ':memory:' && !this.readOnly) {
      try {
        this.conn.exec('PRAGMA busy_timeout = 0');
        this.conn.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      } catch {
        /* busy: another connection will checkpoint later */
      }
    }
    this.statements.clear();
    this.arrayStatements.clear();
    this.conn.close();
    if (this.dirFd !== undefined) closeSync(this.dirFd);
    this.dirFd = undefined;
    // its locks linger until collected (open-files.ts)
    this.releaseFile?.(true);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/** The file a path leads to, symlinks resolved (the path itself when it cannot be resolved). */
function resolvedFile(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** O_PATH: a handle on the directory itself, which needs no read permission on it. */
const O_PATH = 0o10000000;

/** A directory held open for statfs (Store.hostFreeBytes); undefined when it cannot be. */
function openDir(dir: string): number | undefined {
  try {
    return openSync(dir, O_PATH | fsConstants.O_DIRECTORY);
  } catch {
    return undefined;
  }
}

/**
 * A prepared statement (rows as arrays when `raw`) that stays usable after its get() failed.
 * libsql (0.5) leaves a statement whose get() failed unreset, and every later get() of it fails
 * the same way whatever its values (run() and all() do not): a cached statement would fail for the
 * life of the store after one refusal (found by the hostile pass: one EEXIST of the one-statement
 * mkdir, and every later create of the mount failed). A failed get() gives the statement a fresh
 * handle (libsql's Statement keeps its native one as `stmt`).
 */
function recoverable(db: Db, sql: string, raw: boolean, wrote: () => void): Statement {
  const prepare = () => {
    const p = db.prepare(sql) as unknown as Statement;
    return raw ? p.raw(true) : p;
  };
  const s = prepare();
  const proto = Object.getPrototypeOf(s) as Statement;
  const writes = !READ_ONLY_SQL.test(sql);
  s.get = function (this: Statement, ...args: unknown[]) {
    if (writes) wrote();
    try {
      return proto.get.apply(this, args);
    } catch (e) {
      (this as unknown as { stmt: unknown }).stmt = (prepare() as unknown as { stmt: unknown }).stmt;
      throw e;
    }
  };
  if (writes) {
    s.run = function (this: Statement, ...args: unknown[]) {
      wrote();
      return proto.run.apply(this, args);
    };
    s.all = function (this: Statement, ...args: unknown[]) {
      wrote();
      return proto.all.apply(this, args);
    };
    s.iterate = function (this: Statement, ...args: unknown[]) {
      wrote();
      return proto.iterate.apply(this, args);
    };
  }
  return s;
}

/** a statement that cannot write (Store.changes leaves it uncounted) */
const READ_ONLY_SQL = /^\s*SELECT\s/i;

/**
 * A libsql statement refused with SQLITE_BUSY stays active, holding its read snapshot (libsql has
 * no reset): the connection's later autocommit writes would stay uncommitted under the write
 * lock, and its next COMMIT fail. Running it again resets it; under query_only it is then refused
 * before it writes anything.
 */
function settle(db: Db, fn: () => unknown): void {
  db.exec('PRAGMA query_only = 1');
  try {
    fn();
  } catch {
    /* refused, as meant */
  } finally {
    db.exec('PRAGMA query_only = 0');
  }
}

/** The statements of the savepoint at one nesting depth. */
function savepoint(store: Store, depth: number): { open: Statement; release: Statement; rollback: Statement } {
  const name = `agentfs_sp${depth}`;
  return { open: store.stmt(`SAVEPOINT ${name}`), release: store.stmt(`RELEASE ${name}`), rollback: store.stmt(`ROLLBACK TO ${name}`) };
}

/** libsql's open, whose failures name SQLite's result code only ("ConnectionFailed(... 14)"). */
/**
 * Whether a reader opens the file as unchanging (SQLite's immutable=1: no locks, no -wal, no -shm).
 * Only when no connection has it open in WAL mode (no -wal, no -shm: the main file holds every
 * commit) and the reader may not create them: a read-only directory, where SQLite could not open
 * it at all otherwise, or a viewer that must leave no trace (neverWrite; it watches for writers
 * with Store.changedOnDisk and opens the file again).
 */
function readsImmutable(file: string, neverWrite: boolean): boolean {
  if (file === ':memory:' || existsSync(`${file}-wal`) || existsSync(`${file}-shm`)) return false;
  // a read-only directory or file system: SQLite could not create -wal/-shm to read it otherwise
  if (!dirWritable(dirname(file))) return true;
  // WAL mode (header bytes 18, 19 = 2): a rollback-journal file is read with locks, leaving nothing
  // (no -wal and -shm: no connection of ours closed since holds a lock; see heldOpen)
  return neverWrite && !heldOpen(file, true) && readHead(file, 20).subarray(18, 20).equals(Buffer.from([2, 2]));
}

function dirWritable(dir: string): boolean {
  try {
    accessSync(dir, fsConstants.W_OK | fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The one error for a target whose database file does not exist (every command says it alike). */
export function noSuchAgent(target: AgentTarget, file = databasePath(target)): StoreError {
  const what = target.id ? `agent '${target.id}' (no ${file})` : `database ${file}`;
  return new StoreError('not-found', `no such ${what}; create it with \`agentfs init\``);
}

export function openDatabase(file: string, readOnly: boolean, immutable = readOnly && readsImmutable(file, false)): Db {
  try {
    if (!readOnly) {
      const vfs = file === ':memory:' ? undefined : walBatchVfs();
      return new Database(vfs ? `${pathToFileURL(file).href}?vfs=${vfs}` : file);
    }
    // libsql ignores better-sqlite3's `readonly` option (such a connection writes); SQLite's own
    // URI parameter mode=ro is honoured, so a reader cannot change the file even by mistake.
    const uri = pathToFileURL(file).href;
    return new Database(immutable ? `${uri}?mode=ro&immutable=1` : `${uri}?mode=ro`);
  } catch (e) {
    if (file !== ':memory:') throwOpenProblem(file, e, !readOnly);
    throw new StoreError('corrupt', `cannot open ${file}: ${(e as Error).message}`);
  }
}

function diskState(file: string): string {
  try {
    const st = statSync(file, { bigint: true });
    const sidecars = ['-wal', '-shm'].filter((x) => existsSync(file + x)).join('');
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${sidecars}`;
  } catch {
    return 'gone';
  }
}

/** Tables our additive DDL would create in this file. */
/** Another process held the write lock for all of waitedMs. */
function lockedError(file: string, waitedMs: number): StoreError {
  return new StoreError('busy', `${file} is locked: another process holds a write transaction on it (waited ${waitedMs / 1000} s); try again when it is done`);
}

/** The additive tables (and, given indexes too, the indexes) the database lacks. */
function missingTables(names: Set<string>): string[] {
  const wanted = [...SPEC_TABLES, ...EXTENSION_TABLES]
    .map((sql) => /CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)/.exec(sql)?.[1])
    .filter((n): n is string => n !== undefined);
  return wanted.filter((n) => !names.has(n));
}

function configure(db: Db, options: OpenOptions, onDisk: boolean, readOnly = false): void {
  db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
  if (onDisk && !readOnly) {
    const mode = (db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode: string }).journal_mode;
    if (String(mode).toLowerCase() !== 'wal') throw new StoreError('corrupt', `cannot switch to WAL mode (got ${mode})`);
  }
  // WAL + NORMAL: commits survive a process crash; fsync() forces them to disk (Store.sync).
  db.exec(`PRAGMA synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec('PRAGMA foreign_keys = OFF');
  // Read the file through a memory map: a large read is hundreds of chunk pages, and a read(2) per
  // page costs more than SQLite's own work on it (sequential reads through a mount: ~2x). SQLite
  // writes through the WAL either way and caps the map at its built-in maximum (2 GiB).
  if (onDisk) db.exec(`PRAGMA mmap_size = ${MMAP_BYTES}`);
}

const MMAP_BYTES = 2 ** 34;

/**
 * Makes a directory's entries durable (a file just created in it). Best effort, as SQLite's own
 * directory sync: a directory this process may write but not read cannot be opened.
 */
function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * SQLite's busy handler wait per try once a store is open (its open-time steps wait the full
 * busy timeout): short, so that Store.beginImmediate polls for the write lock finely.
 */
const BUSY_POLL_MS = 50;

/** SQLite could not get a lock in time (SQLITE_BUSY and its extended codes): by code, not message. */
function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** Ends the open transaction after a failure; after some errors SQLite has rolled back already. */
function rollback(db: Db): void {
  try {
    db.exec('ROLLBACK');
  } catch {
    /* already rolled back by SQLite */
  }
}
