import { AsyncLocalStorage } from 'node:async_hooks';
import type { Store } from '../../store/index.js';
import { nowNs, nsToSeconds } from './clock.js';
import { TOOL_CALLS_SCHEMA } from './schema.js';
import type { RecordInput, StartOptions, ToolCall, ToolCallFilter, ToolCallStats, ToolCallStatus } from './types.js';
import { TOOL_CALL_STATUSES } from './types.js';
import { isAlive, processInfo } from '../process-alive.js';
import { OPEN_CALL_INDEX, PARENT_INDEX, PARENT_INDEX_OLD } from './schema.js';

/** Why a tool-call operation was refused (POSIX-style code). */
export class ToolCallError extends Error {
  readonly code: 'ENOENT' | 'EINVAL' | 'EALREADY';
  constructor(code: ToolCallError['code'], message: string) {
    super(message);
    this.name = 'ToolCallError';
    this.code = code;
  }
}

interface Row {
  id: number;
  name: string;
  parameters: string | null;
  result: string | null;
  error: string | null;
  status: string;
  started_at: number;
  completed_at: number | null;
  duration_ms: number | null;
  parent_id: number | null;
  started_ns: number | null;
  pid: number | null;
}

interface LiveCall {
  startedNs: bigint;
  scoped: boolean;
  /** announced in agentfs_active_call (StartOptions.shared) */
  shared: boolean;
  parentId: number | undefined;
}

const SPEC_STATUS = `CASE WHEN error IS NOT NULL THEN 'error' WHEN completed_at IS NULL THEN 'pending' ELSE 'success' END`;

/**
 * The agent's tool calls, in the spec table `tool_calls`, written as agentfs-sdk writes them
 * (status pending/success/error, started_at/completed_at in Unix seconds, duration_ms). Nesting,
 * nanosecond start times and cross-process "call in progress" live in our own tables.
 *
 * Databases in the spec text's layout (no `status`, completed_at NOT NULL) are read with the
 * status derived from error/completed_at; their pending calls wait in agentfs_tool_call_pending
 * under a reserved id and move into tool_calls, under that same id, when they finish.
 */
export class ToolCalls {
  private readonly store: Store;
  private readonly hasStatus: boolean;
  /** SELECT source with the spec columns plus `status`, whatever the layout */
  private readonly source: string;
  /** pending calls started by this process, in start order (the last is the innermost) */
  private readonly live = new Map<number, LiveCall>();
  /** the call whose code is running, across awaits (set by runInCall / SDK wrap) */
  private readonly context = new AsyncLocalStorage<number>();
  private sharedCache: { version: number; id: number | undefined; pid: number | undefined; checkedMs: number } | undefined;
  private ready = false;

  constructor(store: Store) {
    this.store = store;
    this.hasStatus = store.layout.toolCallsHasStatus;
    this.source = this.hasStatus
      ? 'tool_calls'
      : `(SELECT id, name, parameters, result, error, ${SPEC_STATUS} AS status, started_at, completed_at, duration_ms FROM tool_calls
          UNION ALL
          SELECT id, name, parameters, NULL, NULL, 'pending', started_at, NULL, NULL FROM agentfs_tool_call_pending)`;
  }

  private ensure(): void {
    if (this.ready) return;
    const l = this.store.layout;
    const present = l.hasTable('agentfs_tool_call_ext') && l.hasTable('agentfs_active_call') && l.hasTable('agentfs_tool_call_pending');
    if (!present) this.store.ensureSchema('tool_calls', TOOL_CALLS_SCHEMA);
    this.ready = true;
  }

  /** Starts a pending call (visible to readers at once); finish it with success() or error(). */
  start(name: string, parameters?: unknown, options: StartOptions = {}): number {
    checkName(name);
    this.ensure();
    const params = toJson(parameters);
    const startedNs = nowNs();
    const startedAt = nsToSeconds(startedNs);
    const parentId = options.parentId === undefined ? (options.scoped ? this.contextCall() : this.current()) : options.parentId;
    const id = this.store.transaction(() => {
      let newId: number;
      if (this.hasStatus) {
        newId = Number(
          this.store.stmt(`INSERT INTO tool_calls (name, parameters, status, started_at) VALUES (?, ?, 'pending', ?)`).run(name, params, startedAt)
            .lastInsertRowid,
        );
      } else {
        newId = this.reserveId();
        this.store
          .stmt('INSERT INTO agentfs_tool_call_pending (id, name, parameters, started_at) VALUES (?, ?, ?, ?)')
          .run(newId, name, params, startedAt);
      }
      this.store
        .stmt('INSERT INTO agentfs_tool_call_ext (id, parent_id, started_ns, pid) VALUES (?, ?, ?, ?)')
        .run(newId, parentId ?? null, startedNs, process.pid);
      if (options.shared) {
        this.store
          .stmt('INSERT OR REPLACE INTO agentfs_active_call (id, pid, started_ns) VALUES (?, ?, ?)')
          .run(newId, process.pid, startedNs);
      }
      return newId;
    });
    this.live.set(id, { startedNs, scoped: options.scoped === true, shared: options.shared === true, parentId: parentId ?? undefined });
    return id;
  }

  /** Finishes a pending call successfully. */
  success(id: number, result?: unknown): ToolCall {
    return this.finish(id, 'success', toJson(result), null);
  }

  /** Finishes a pending call as failed; err is a message or an Error (its message is kept). */
  error(id: number, err: unknown): ToolCall {
    return this.finish(id, 'error', null, errorText(err));
  }

  private finish(id: number, status: 'success' | 'error', result: string | null, error: string | null, opts: { orphan?: boolean } = {}): ToolCall {
    this.ensure();
    if (!opts.orphan) {
      const done = this.finishLive(id, status, result, error);
      if (done) return done;
    }
    const call = this.get(id);
    if (!call) throw new ToolCallError('ENOENT', `no tool call with id ${id}`);
    // an orphan reads as failed already (view); its row is still pending
    if (call.status !== 'pending' && !opts.orphan) throw new ToolCallError('EALREADY', `tool call ${id} (${call.name}) already finished with ${call.status}`);
    const endNs = nowNs();
    const completedAt = nsToSeconds(endNs);
    const startNs = this.live.get(id)?.startedNs ?? (call.started_ns !== undefined ? BigInt(call.started_ns) : undefined);
    // an orphan's end is unknown (only that it ended before now): no duration where the layout
    // allows none (the spec text's layout wants one: 0)
    const durationMs = opts.orphan
      ? this.hasStatus ? null : 0
      : startNs !== undefined ? Math.max(0, Math.round(Number(endNs - startNs) / 1e6)) : Math.max(0, (completedAt - call.started_at) * 1000);
    this.store.transaction(() => {
      if (this.hasStatus) {
        this.store
          .stmt(
            `UPDATE tool_calls SET status = ?, result = ?, error = ?, completed_at = ?, duration_ms = ? WHERE id = ? AND status = 'pending'`,
          )
          .run(status, result, error, completedAt, durationMs, id);
      } else {
        this.store
          .stmt(
            `INSERT INTO tool_calls (id, name, parameters, result, error, started_at, completed_at, duration_ms)
             SELECT id, name, parameters, ?, ?, started_at, ?, ? FROM agentfs_tool_call_pending WHERE id = ?`,
          )
          .run(result, error, completedAt, durationMs, id);
        this.store.stmt('DELETE FROM agentfs_tool_call_pending WHERE id = ?').run(id);
      }
      this.store.stmt('UPDATE agentfs_tool_call_ext SET completed_ns = ? WHERE id = ?').run(endNs, id);
      this.store.stmt('DELETE FROM agentfs_active_call WHERE id = ?').run(id);
    });
    this.live.delete(id);
    return this.get(id)!;
  }

  /**
   * finish() of a call this process started and still runs (so it cannot read as an orphan): the
   * pending check, the update and the row to return in one statement, no read before or after.
   * undefined, having changed nothing, when it is not such a call or no longer pending.
   */
  private finishLive(id: number, status: 'success' | 'error', result: string | null, error: string | null): ToolCall | undefined {
    const live = this.live.get(id);
    if (!live || !this.hasStatus) return undefined;
    const endNs = nowNs();
    const completedAt = nsToSeconds(endNs);
    const durationMs = Math.max(0, Math.round(Number(endNs - live.startedNs) / 1e6));
    const row = this.store.transaction(() => {
      const r = this.store
        .stmt(
          `UPDATE tool_calls SET status = ?, result = ?, error = ?, completed_at = ?, duration_ms = ? WHERE id = ? AND status = 'pending'
           RETURNING id, name, parameters, result, error, status, started_at, completed_at, duration_ms`,
        )
        .get(status, result, error, completedAt, durationMs, id) as Row | undefined;
      if (!r) return undefined; // finished elsewhere, or gone: finish() says which
      this.store.stmt('UPDATE agentfs_tool_call_ext SET completed_ns = ? WHERE id = ?').run(endNs, id);
      if (live.shared) this.store.stmt('DELETE FROM agentfs_active_call WHERE id = ?').run(id);
      return r;
    });
    if (!row) return undefined;
    this.live.delete(id);
    return toToolCall({ ...row, parent_id: live.parentId ?? null, started_ns: Number(live.startedNs), pid: process.pid });
  }

  /** Inserts a call that already finished (agentfs-sdk's record()); returns its id. */
  record(input: RecordInput): number {
    checkName(input.name);
    if (!Number.isFinite(input.started_at) || !Number.isFinite(input.completed_at)) {
      throw new ToolCallError('EINVAL', 'started_at and completed_at must be Unix seconds');
    }
    this.ensure();
    const failed = input.error !== undefined && input.error !== null && input.error !== '';
    const error = failed ? errorText(input.error) : null;
    const result = failed ? null : toJson(input.result);
    const duration = input.duration_ms ?? (input.completed_at - input.started_at) * 1000;
    const parentId = input.parentId === undefined ? this.current() : input.parentId;
    const params = [input.name, toJson(input.parameters), result, error];
    if (this.hasStatus && (parentId === undefined || parentId === null)) {
      // one row, one statement committing itself: run() gives the id (RETURNING would cost ~30%
      // here, an autocommit commit waits for the statement's reset)
      const insert = this.store.stmt(
        `INSERT INTO tool_calls (name, parameters, result, error, status, started_at, completed_at, duration_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const status = failed ? 'error' : 'success';
      return Number(this.store.autocommit(() => insert.run(...params, status, input.started_at, input.completed_at, duration)).lastInsertRowid);
    }
    return this.store.transaction(() => {
      const row = this.hasStatus
        ? (this.store
            .stmt(
              `INSERT INTO tool_calls (name, parameters, result, error, status, started_at, completed_at, duration_ms)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
            )
            .get(...params, failed ? 'error' : 'success', input.started_at, input.completed_at, duration) as { id: number })
        : (this.store
            .stmt(
              `INSERT INTO tool_calls (id, name, parameters, result, error, started_at, completed_at, duration_ms)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
            )
            .get(this.reserveId(), ...params, input.started_at, input.completed_at, duration) as { id: number });
      const id = Number(row.id);
      if (parentId !== undefined && parentId !== null) {
        this.store
          .stmt('INSERT INTO agentfs_tool_call_ext (id, parent_id, started_ns, completed_ns, pid) VALUES (?, ?, NULL, NULL, NULL)')
          .run(id, parentId);
      }
      return id;
    });
  }

  get(id: number): ToolCall | undefined {
    if (!Number.isSafeInteger(id)) return undefined;
    this.ensure();
    const row = this.store
      .stmt(
        `SELECT c.id, c.name, c.parameters, c.result, c.error, c.status, c.started_at, c.completed_at, c.duration_ms,
                e.parent_id, e.started_ns, e.pid
         FROM ${this.source} c LEFT JOIN agentfs_tool_call_ext e ON e.id = c.id WHERE c.id = ?`,
      )
      .get(id) as Row | undefined;
    return row ? this.view(row) : undefined;
  }

  /** Calls matching filter, newest first unless order is 'asc'. */
  list(filter: ToolCallFilter = {}): ToolCall[] {
    this.ensure();
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.name !== undefined) {
      where.push('c.name = ?');
      args.push(filter.name);
    }
    if (filter.status !== undefined) {
      if (!TOOL_CALL_STATUSES.includes(filter.status)) {
        throw new ToolCallError('EINVAL', `unknown status '${filter.status}' (expected pending, success or error)`);
      }
      where.push('c.status = ?');
      args.push(filter.status);
    }
    if (filter.since !== undefined) {
      where.push('c.started_at >= ?');
      args.push(filter.since);
    }
    if (filter.until !== undefined) {
      where.push('c.started_at <= ?');
      args.push(filter.until);
    }
    if (filter.afterId !== undefined) {
      where.push('c.id > ?');
      args.push(filter.afterId);
    }
    if (filter.parentId !== undefined) {
      where.push('e.parent_id = ?');
      args.push(filter.parentId);
    }
    const dir = filter.order === 'asc' ? 'ASC' : 'DESC';
    let sql = `SELECT c.id, c.name, c.parameters, c.result, c.error, c.status, c.started_at, c.completed_at, c.duration_ms,
                      e.parent_id, e.started_ns, e.pid
               FROM ${this.source} c LEFT JOIN agentfs_tool_call_ext e ON e.id = c.id
               ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
               ORDER BY c.started_at ${dir}, c.id ${dir}`;
    if (filter.limit !== undefined) {
      if (!Number.isInteger(filter.limit) || filter.limit < 0) throw new ToolCallError('EINVAL', `invalid limit ${filter.limit}`);
      sql += ' LIMIT ?';
      args.push(filter.limit);
    }
    const calls = (this.store.stmt(sql).all(...args) as Row[]).map((r) => this.view(r));
    // a pending row whose recorder is gone reads as failed (see view)
    return filter.status === undefined ? calls : calls.filter((c) => c.status === filter.status);
  }

  /**
   * A row as a call. A pending call whose recording process is gone (killed, crashed) can never
   * finish: it reads as failed, with the reason, until the next writable open stores that
   * (reapOrphans).
   */
  private view(r: Row): ToolCall {
    const call = toToolCall(r);
    if (call.status === 'pending' && r.pid !== null && r.pid !== undefined && !this.ownerAlive(Number(r.pid), r.started_ns)) {
      call.status = 'error';
      call.error = orphanReason(Number(r.pid));
    }
    return call;
  }

  /** True while the process that started a call (pid, at startedNs) still runs. */
  private ownerAlive(pid: number, startedNs: number | bigint | null): boolean {
    if (pid === process.pid) return true;
    const info = processInfo(pid);
    if (!info) return process.platform === 'linux' ? false : isAlive(pid);
    if (!info.running) return false;
    // a process that started after the call did is another one under a reused pid
    return startedNs === null || info.startMs <= Number(startedNs) / 1e6 + 2000;
  }

  /**
   * Stores as failed every pending call whose recording process is gone (a `record` killed with
   * SIGKILL, a crashed SDK process), and forgets their announcements. Run on writable opens;
   * returns how many it finished.
   */
  reapOrphans(): number {
    if (!this.store.layout.hasTable('agentfs_tool_call_ext')) return 0;
    this.ensureOpenCallIndex();
    const rows = this.store
      .stmt('SELECT id, pid, started_ns FROM agentfs_tool_call_ext WHERE completed_ns IS NULL AND pid IS NOT NULL')
      .all() as { id: number; pid: number; started_ns: number | null }[];
    let reaped = 0;
    for (const r of rows) {
      if (this.live.has(Number(r.id)) || this.ownerAlive(Number(r.pid), r.started_ns)) continue;
      const call = this.get(Number(r.id));
      if (!call) continue;
      if (call.status !== 'error' || call.error !== orphanReason(Number(r.pid))) {
        // finished by someone else meanwhile: only its bookkeeping is left to close
        this.store.transaction(() => {
          this.store.stmt('UPDATE agentfs_tool_call_ext SET completed_ns = ? WHERE id = ? AND completed_ns IS NULL').run(nowNs(), r.id);
          this.store.stmt('DELETE FROM agentfs_active_call WHERE id = ?').run(r.id);
        });
        continue;
      }
      this.finish(Number(r.id), 'error', null, orphanReason(Number(r.pid)), { orphan: true });
      reaped++;
    }
    return reaped;
  }

  /**
   * The partial indexes of agentfs_tool_call_ext as they are now: databases made before get the
   * one reapOrphans reads, and the partial parent index in place of the full one.
   */
  private ensureOpenCallIndex(): void {
    const names = (this.store
      .stmt("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('agentfs_idx_tool_call_ext_open', 'agentfs_idx_tool_call_ext_parent', ?)")
      .all(PARENT_INDEX_OLD) as { name: string }[]).map((r) => r.name);
    if (names.length === 2 && !names.includes(PARENT_INDEX_OLD)) return;
    this.store.transaction(() => {
      this.store.db.exec(OPEN_CALL_INDEX);
      this.store.db.exec(PARENT_INDEX);
      this.store.db.exec(`DROP INDEX IF EXISTS ${PARENT_INDEX_OLD}`);
    });
  }

  /** Per-tool counts, failures and average/p95/max duration of finished calls, busiest first. */
  stats(filter: Pick<ToolCallFilter, 'since' | 'until' | 'name'> = {}): ToolCallStats[] {
    this.ensure();
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.name !== undefined) {
      where.push('name = ?');
      args.push(filter.name);
    }
    if (filter.since !== undefined) {
      where.push('started_at >= ?');
      args.push(filter.since);
    }
    if (filter.until !== undefined) {
      where.push('started_at <= ?');
      args.push(filter.until);
    }
    const rows = this.store
      .stmt(
        `SELECT c.name, c.status, c.duration_ms,
                CASE WHEN c.status = 'pending' THEN (SELECT e.pid FROM agentfs_tool_call_ext e WHERE e.id = c.id) END AS pid,
                CASE WHEN c.status = 'pending' THEN (SELECT e.started_ns FROM agentfs_tool_call_ext e WHERE e.id = c.id) END AS started_ns
         FROM ${this.source} c ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY c.name, c.duration_ms`,
      )
      .all(...args) as { name: string; status: ToolCallStatus; duration_ms: number | null; pid: number | null; started_ns: number | null }[];
    const byName = new Map<string, { ok: number; failed: number; pending: number; durations: number[] }>();
    for (const r of rows) {
      let s = byName.get(r.name);
      if (!s) byName.set(r.name, (s = { ok: 0, failed: 0, pending: 0, durations: [] }));
      if (r.status === 'pending' && r.pid !== null && !this.ownerAlive(Number(r.pid), r.started_ns)) {
        s.failed++; // an orphan (see view); no duration
        continue;
      }
      if (r.status === 'pending') {
        s.pending++;
        continue;
      }
      if (r.status === 'error') s.failed++;
      else s.ok++;
      if (r.duration_ms !== null) s.durations.push(Number(r.duration_ms));
    }
    const out: ToolCallStats[] = [];
    for (const [name, s] of byName) {
      const d = s.durations; // ascending (ORDER BY)
      const avg = d.length ? d.reduce((a, b) => a + b, 0) / d.length : 0;
      out.push({
        name,
        total_calls: s.ok + s.failed,
        successful: s.ok,
        failed: s.failed,
        pending: s.pending,
        avg_duration_ms: avg,
        p95_duration_ms: d.length ? d[Math.ceil(0.95 * d.length) - 1]! : 0,
        max_duration_ms: d.length ? d[d.length - 1]! : 0,
      });
    }
    out.sort((a, b) => b.total_calls + b.pending - (a.total_calls + a.pending) || a.name.localeCompare(b.name));
    return out;
  }

  /** Runs fn with `id` as the call in progress for everything it does, across awaits. */
  runInCall<T>(id: number, fn: () => T): T {
    return this.context.run(id, fn);
  }

  /**
   * The call in progress in this process: the one whose code is running (runInCall), else the
   * innermost pending unscoped call this process started. undefined when none.
   */
  current(): number | undefined {
    const ctx = this.contextCall();
    if (ctx !== undefined) return ctx;
    let last: number | undefined;
    for (const [id, call] of this.live) if (!call.scoped) last = id;
    return last;
  }

  /** The pending call whose code is running here (runInCall), if any. */
  private contextCall(): number | undefined {
    const ctx = this.context.getStore();
    return ctx !== undefined && this.live.has(ctx) ? ctx : undefined;
  }

  /**
   * The call a file operation happens inside: this process's call in progress, else the newest
   * call another live process announced with `shared` (e.g. `agentfs record` running a command
   * against a mount this process serves). Cheap enough for every journal record: the shared
   * table is re-read only when another connection committed (PRAGMA data_version).
   */
  currentAnywhere(): number | undefined {
    return this.current() ?? this.sharedCurrent();
  }

  private sharedCurrent(): number | undefined {
    this.ensure();
    // revalidated at most once per millisecond: a recorder announces its call well before the
    // command it starts can touch a file (fork + exec take longer than that)
    const nowMs = performance.now();
    let cache = this.sharedCache;
    if (cache && nowMs - cache.checkedMs < 1) return cache.id;
    const version = this.store.recentDataVersion(1);
    if (!cache || cache.version !== version) {
      const rows = this.store.stmt('SELECT id, pid FROM agentfs_active_call ORDER BY started_ns DESC, id DESC').all() as {
        id: number;
        pid: number;
      }[];
      const alive = rows.find((r) => isAlive(Number(r.pid)));
      cache = this.sharedCache = { version, id: alive ? Number(alive.id) : undefined, pid: alive ? Number(alive.pid) : undefined, checkedMs: nowMs };
    }
    cache.checkedMs = nowMs;
    if (cache.pid !== undefined && !isAlive(cache.pid)) {
      this.sharedCache = undefined; // its owner died without finishing: look again next time
      return undefined;
    }
    return cache.id;
  }

  /** Pending calls this process started (their ids, oldest first). */
  livePending(): number[] {
    return [...this.live.keys()];
  }

  /** Spec-text layout: the next AUTOINCREMENT id, taken now so the finished row keeps it. */
  private reserveId(): number {
    const seq = this.store.stmt("SELECT seq FROM sqlite_sequence WHERE name = 'tool_calls'").get() as { seq: number } | undefined;
    const maxCall = this.store.stmt('SELECT COALESCE(MAX(id), 0) AS m FROM tool_calls').get() as { m: number };
    const maxPending = this.store.stmt('SELECT COALESCE(MAX(id), 0) AS m FROM agentfs_tool_call_pending').get() as { m: number };
    const id = Math.max(Number(seq?.seq ?? 0), Number(maxCall.m), Number(maxPending.m)) + 1;
    if (seq) this.store.stmt("UPDATE sqlite_sequence SET seq = ? WHERE name = 'tool_calls'").run(id);
    else this.store.stmt("INSERT INTO sqlite_sequence (name, seq) VALUES ('tool_calls', ?)").run(id);
    return id;
  }
}

function toToolCall(r: Row): ToolCall {
  const call: ToolCall = {
    id: Number(r.id),
    name: r.name,
    status: (TOOL_CALL_STATUSES.includes(r.status as ToolCallStatus) ? r.status : 'pending') as ToolCallStatus,
    started_at: Number(r.started_at),
  };
  if (r.parameters !== null) call.parameters = fromJson(r.parameters);
  if (r.result !== null) call.result = fromJson(r.result);
  if (r.error !== null) call.error = r.error;
  if (r.completed_at !== null) call.completed_at = Number(r.completed_at);
  if (r.duration_ms !== null) call.duration_ms = Number(r.duration_ms);
  if (r.parent_id !== null && r.parent_id !== undefined) call.parent_id = Number(r.parent_id);
  if (r.started_ns !== null && r.started_ns !== undefined) call.started_ns = Number(r.started_ns);
  return call;
}

function orphanReason(pid: number): string {
  return `the recording process (pid ${pid}) ended without finishing the call (killed?)`;
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new ToolCallError('EINVAL', 'a tool call needs a non-empty name');
}

/**
 * JSON text for a column; values JSON cannot hold are kept as their string form, never dropped.
 * A value nested too deeply to write (a stack overflow in JSON.stringify) is recorded as a note
 * saying so: the call itself is still recorded.
 */
export function toJson(value: unknown): string | null {
  if (value === undefined) return null;
  try {
    const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    return text === undefined ? JSON.stringify(String(value)) : text;
  } catch (e) {
    if (e instanceof RangeError) return JSON.stringify(TOO_DEEP);
    try {
      return JSON.stringify(String(value));
    } catch {
      return JSON.stringify(TOO_DEEP);
    }
  }
}

const TOO_DEEP = '[not recorded: nested too deeply to write as JSON]';

function fromJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text; // written by someone else as plain text
  }
}

/** The error column holds text, as agentfs-sdk writes it. */
export function errorText(err: unknown): string {
  if (typeof err === 'string') return err;
  if (err instanceof Error) return err.message || err.name;
  if (err === undefined || err === null) return 'error';
  return toJson(err) ?? String(err);
}

