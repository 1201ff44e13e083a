import { Where, withBusyTimeout, type Store } from '../../store/index.js';
import { nowNs, nsToSeconds } from './clock.js';
import { CurrentCall, type CallReach } from './current.js';
import { ToolCallError } from './errors.js';
import { errorText, fromJson, toJson } from './json.js';
import { orphaned, orphanReason, ownerAlive, storedStatuses } from './owner.js';
import { FINISH_CALL, NEXT_CALL_ID, START_CALL, OLD_OPEN_CALL_INDEX, OPEN_FROM_KEY, PARENT_INDEX, PARENT_INDEX_OLD, TOOL_CALLS_SCHEMA, startTrigger } from './schema.js';
import { callsSource, pendingTest, statusOf, timeNameTerms, type CallColumns, type TimeNameFilter } from './source.js';
import { toolCallStats } from './stats.js';
import type { RecordInput, StartOptions, ToolCall, ToolCallFilter, ToolCallStats } from './types.js';
import { TOOL_CALL_STATUSES } from './types.js';

/** reapOrphans moves its mark once it would skip this many calls (a write at an open, so not each time) */
const MARK_STEP = 256;
/** rows list() reads at a time under a status filter and a limit */
const LIST_PAGE = 256;

interface Row extends CallColumns {
  parameters: string | null;
  result: string | null;
  error: string | null;
  pid: number | null;
}

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
  /** which call is in progress: the parent of new calls, the call file operations happen in */
  private readonly inProgress: CurrentCall;
  private ready = false;
  private shortcutMade: boolean | undefined;

  constructor(store: Store) {
    this.store = store;
    this.hasStatus = store.layout.toolCallsHasStatus;
    // ensure() creates the pending table before any query reads it
    this.source = callsSource(this.hasStatus, true);
    this.inProgress = new CurrentCall(store, () => this.ensure());
  }

  private ensure(): void {
    if (this.ready) return;
    const l = this.store.layout;
    const present = l.hasTable('agentfs_tool_call_ext') && l.hasTable('agentfs_active_call') && l.hasTable('agentfs_tool_call_pending');
    if (!present) this.store.ensureSchema('tool_calls', TOOL_CALLS_SCHEMA);
    // tables made inside an enclosing transaction go if it rolls back: checked again next time
    this.ready = present || !this.store.inTransaction;
  }

  /** Starts a pending call (visible to readers at once); finish it with success() or error(). */
  start(name: string, parameters?: unknown, options: StartOptions = {}): number {
    checkName(name);
    this.ensure();
    const params = toJson(parameters);
    const startedNs = nowNs();
    const startedAt = nsToSeconds(startedNs);
    const parentId = options.parentId === undefined ? this.current(options.scoped ? 'context' : 'process') : options.parentId;
    let id: number;
    if (!options.shared && this.shortcut()) {
      // one statement, committing itself (startTrigger writes the ext row)
      const start = this.store.stmt(START_CALL);
      id = Number(this.store.autocommit(() => start.run(name, params, startedAt, startedNs, parentId ?? null)).lastInsertRowid);
    } else {
      id = this.store.transaction(() => {
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
          .stmt('INSERT OR REPLACE INTO agentfs_tool_call_ext (id, parent_id, started_ns, pid) VALUES (?, ?, ?, ?)')
          .run(newId, parentId ?? null, startedNs, process.pid);
        if (options.shared) {
          this.store
            .stmt('INSERT OR REPLACE INTO agentfs_active_call (id, pid, started_ns) VALUES (?, ?, ?)')
            .run(newId, process.pid, startedNs);
        }
        return newId;
      });
    }
    this.inProgress.started(id, {
      scoped: options.scoped === true, startedNs, shared: options.shared === true, parentId: parentId ?? undefined,
      row: { name, parameters: params, startedAt },
    });
    return id;
  }

  /** Finishes a pending call successfully. */
  success(id: number, result?: unknown): ToolCall {
    return this.finish(id, 'success', toJson(result), null);
  }

  /**
   * Finishes a pending call as failed; err is a message or an Error (its message is kept), and
   * result what the call still produced (a failed command's exit status and output), if any.
   */
  error(id: number, err: unknown, result?: unknown): ToolCall {
    return this.finish(id, 'error', result === undefined ? null : toJson(result), errorText(err));
  }

  private finish(id: number, status: 'success' | 'error', result: string | null, error: string | null, opts: { orphan?: boolean } = {}): ToolCall {
    this.ensure();
    if (!opts.orphan) {
      const done = this.finishLive(id, status, result, error);
      if (done) return done;
    }
    const call = this.get(id);
    if (!call) {
      // deleted elsewhere: no longer in progress here (the parent of new calls)
      if (!opts.orphan) this.inProgress.finished(id);
      throw new ToolCallError('ENOENT', `no tool call with id ${id}`);
    }
    const mine = opts.orphan ? undefined : this.inProgress.liveCall(id)?.row;
    if (mine && (call.name !== mine.name || Number(call.started_at) !== Number(mine.startedAt))) {
      // another call has its id now (a sync pull --theirs, the table remade): ours is gone
      this.inProgress.finished(id);
      throw new ToolCallError('ENOENT', `tool call ${id} (${mine.name}) is gone: the id now belongs to another call (${call.name})`);
    }
    // an orphan reads as failed already (view); its row is still pending
    if (call.status !== 'pending' && !opts.orphan) {
      // finished elsewhere: no longer in progress here either
      this.inProgress.finished(id);
      throw new ToolCallError('EALREADY', `tool call ${id} (${call.name}) already finished with ${call.status}`);
    }
    const endNs = nowNs();
    const completedAt = nsToSeconds(endNs);
    const startNs = call.started_ns !== undefined ? BigInt(call.started_ns) : undefined;
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
      this.store.stmt('DELETE FROM agentfs_active_call WHERE id = ?').run(id);
    });
    this.inProgress.finished(id);
    return this.get(id)!;
  }

  /**
   * finish() of a call this process started and still runs (so it cannot read as an orphan): the
   * pending check, the update and the row to return in one statement, no read before or after.
   * undefined, having changed nothing, when it is not such a call or no longer pending.
   */
  private finishLive(id: number, status: 'success' | 'error', result: string | null, error: string | null): ToolCall | undefined {
    const live = this.inProgress.liveCall(id);
    if (!live || !this.hasStatus) return undefined;
    const endNs = nowNs();
    const completedAt = nsToSeconds(endNs);
    const durationMs = Math.max(0, Math.round(Number(endNs - live.startedNs) / 1e6));
    if (!live.shared) {
      // one statement committing itself, and the call as this process wrote it: nothing read
      const finish = this.store.stmt(FINISH_CALL);
      // nothing changed: finished elsewhere, or gone (finish() says which)
      const { name, startedAt } = live.row;
      if (Number(this.store.autocommit(() => finish.run(status, result, error, completedAt, durationMs, id, name, startedAt)).changes) === 0) return undefined;
      this.inProgress.finished(id);
      return toToolCall({
        id, name: live.row.name, parameters: live.row.parameters, result, error, status, started_at: live.row.startedAt,
        completed_at: completedAt, duration_ms: durationMs, parent_id: live.parentId ?? null, started_ns: Number(live.startedNs), pid: process.pid,
      });
    }
    const row = this.store.transaction(() => {
      const r = this.store
        .stmt(`${FINISH_CALL} RETURNING id, name, parameters, result, error, status, started_at, completed_at, duration_ms`)
        .get(status, result, error, completedAt, durationMs, id, live.row.name, live.row.startedAt) as Row | undefined;
      if (!r) return undefined; // finished elsewhere, or gone: finish() says which
      if (live.shared) this.store.stmt('DELETE FROM agentfs_active_call WHERE id = ?').run(id);
      return r;
    });
    if (!row) return undefined;
    this.inProgress.finished(id);
    return toToolCall({ ...row, parent_id: live.parentId ?? null, started_ns: Number(live.startedNs), pid: process.pid });
  }

  /** This connection's one-statement start is in place (startTrigger); made on first use. */
  private shortcut(): boolean {
    if (this.shortcutMade === undefined) {
      this.ensure(); // the ext table
      if (!this.hasStatus || this.store.readOnly || !integerTimes(this.store)) this.shortcutMade = false;
      // made inside a transaction, a rollback would take it back: at the next call outside one
      else if (this.store.inTransaction) return false;
      else {
        this.store.db.exec(startTrigger(process.pid));
        this.shortcutMade = true;
      }
    }
    return this.shortcutMade;
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
          .stmt('INSERT OR REPLACE INTO agentfs_tool_call_ext (id, parent_id) VALUES (?, ?)')
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
    if (filter.status !== undefined && !TOOL_CALL_STATUSES.includes(filter.status)) {
      throw new ToolCallError('EINVAL', `unknown status '${filter.status}' (expected pending, success or error)`);
    }
    // an orphan is stored pending but reads as failed (see view): the status is judged on the
    // call as read, so under a status filter the limit counts after that judgement
    const stored = filter.status === undefined ? [] : storedStatuses(filter.status);
    const where = timeNameTerms(filter, new Where())
      .when('c.id > ?', filter.afterId)
      .when('e.parent_id = ?', filter.parentId);
    if (stored.length) where.add(`c.status IN (${stored.map(() => '?').join(', ')})`, ...stored);
    const dir = filter.order === 'asc' ? 'ASC' : 'DESC';
    const sql = `SELECT c.id, c.name, c.parameters, c.result, c.error, c.status, c.started_at, c.completed_at, c.duration_ms,
                        e.parent_id, e.started_ns, e.pid
                 FROM ${this.source} c LEFT JOIN agentfs_tool_call_ext e ON e.id = c.id
                 ${where}
                 ORDER BY c.started_at ${dir}, c.id ${dir}`;
    if (filter.limit !== undefined && (!Number.isInteger(filter.limit) || filter.limit < 0)) {
      throw new ToolCallError('EINVAL', `invalid limit ${filter.limit}`);
    }
    if (filter.status === undefined) {
      const rows = filter.limit === undefined ? this.store.stmt(sql).all(...where.args) : this.store.stmt(`${sql} LIMIT ?`).all(...where.args, filter.limit);
      return (rows as Row[]).map((r) => this.view(r));
    }
    const out: ToolCall[] = [];
    const limit = filter.limit ?? Infinity;
    if (limit === 0) return out;
    // In pages read whole (all()), each past the last row of the one before: a statement left
    // mid-iteration keeps its read snapshot, and once another process commits every write of
    // this connection is refused as locked.
    const page = this.store.stmt(`SELECT * FROM (${sql}) WHERE (started_at, id) ${dir === 'ASC' ? '>' : '<'} (?, ?) ORDER BY started_at ${dir}, id ${dir} LIMIT ?`);
    let after: [number, number] = dir === 'ASC' ? [-Infinity, -Infinity] : [Infinity, Infinity];
    for (;;) {
      const rows = (filter.limit === undefined ? this.store.stmt(sql).all(...where.args) : page.all(...where.args, ...after, LIST_PAGE)) as Row[];
      for (const r of rows) {
        const call = this.view(r);
        if (call.status !== filter.status) continue;
        out.push(call);
        if (out.length >= limit) return out;
      }
      if (filter.limit === undefined || rows.length < LIST_PAGE) return out;
      const last = rows[rows.length - 1]!;
      after = [Number(last.started_at), Number(last.id)];
    }
  }

  /**
   * A row as a call. A pending call whose recording process is gone (killed, crashed) can never
   * finish: it reads as failed, with the reason, until the next writable open stores that
   * (reapOrphans).
   */
  private view(r: Row): ToolCall {
    const call = toToolCall(r);
    const orphan = orphaned(call.status, r.pid, r.started_ns);
    if (orphan) {
      call.status = 'error';
      call.error = orphan;
    }
    return call;
  }

  /**
   * Stores as failed every pending call whose recording process is gone (a `record` killed with
   * SIGKILL, a crashed SDK process), and forgets their announcements. Run on writable opens;
   * returns how many it finished.
   */
  reapOrphans(): number {
    if (!this.store.layout.hasTable('agentfs_tool_call_ext')) return 0;
    this.ensureExtIndexes();
    // Calls below the mark were all closed at an earlier open: only the rest are read, by id (no
    // index of open calls: it cost every start and every finish a WAL frame). Calls started from
    // now on get ids past `last`, so a mark up to last + 1 never passes one.
    const mark = Number(this.store.getMeta(OPEN_FROM_KEY) ?? 0) || 0;
    const maxExt = 'SELECT COALESCE(MAX(id), 0) AS m FROM agentfs_tool_call_ext';
    let last = Number((this.store.stmt(maxExt).get() as { m: number }).m);
    if (last >= Number((this.store.arrayStmt(NEXT_CALL_ID).get() as [number])[0])) {
      // Rows of calls past every id given: tool_calls was made again by another program (ids
      // start at 1 again). Theirs would be read as the new calls' (parent, process, orphan).
      this.store.transaction(() => {
        this.store.db.exec(`DELETE FROM agentfs_tool_call_ext WHERE id >= (${NEXT_CALL_ID})`);
        this.store.db.exec(`DELETE FROM agentfs_active_call WHERE id >= (${NEXT_CALL_ID})`);
      });
      last = Number((this.store.stmt(maxExt).get() as { m: number }).m);
    }
    // a mark is never written past the largest id + 1: past it, the calls were cleared with
    // AUTOINCREMENT's counter (ids start again at 1), and all of them are read
    const from = mark > last + 1 ? 0 : mark;
    const rows = this.store
      .stmt(`SELECT e.id, e.pid, e.started_ns FROM agentfs_tool_call_ext e WHERE e.id >= ? AND e.id <= ? AND e.pid IS NOT NULL AND ${pendingTest(this.hasStatus, 'e.id')}`)
      .all(from, last) as { id: number; pid: number; started_ns: number | null }[];
    let reaped = 0;
    let stillOpen = last + 1;
    for (const r of rows) {
      if (this.inProgress.isLive(Number(r.id)) || ownerAlive(Number(r.pid), r.started_ns)) {
        stillOpen = Math.min(stillOpen, Number(r.id));
        continue;
      }
      const call = this.get(Number(r.id));
      if (!call) continue;
      if (call.status !== 'error' || call.error !== orphanReason(Number(r.pid))) {
        // finished by someone else meanwhile: only its announcement is left to drop
        this.store.autocommit(() => this.store.stmt('DELETE FROM agentfs_active_call WHERE id = ?').run(r.id));
        continue;
      }
      this.finish(Number(r.id), 'error', null, orphanReason(Number(r.pid)), { orphan: true });
      reaped++;
    }
    if ((stillOpen - from >= MARK_STEP || from !== mark) && !this.store.inTransaction) {
      // Not worth waiting for the write lock (a busy mount's): the next open moves it. Through
      // exec, which finalizes its statement whatever happens: a prepared statement refused with
      // SQLITE_BUSY stays active, holding its read snapshot, and every later write of this
      // connection would then fail with SQLITE_BUSY_SNAPSHOT.
      try {
        withBusyTimeout(this.store, 0, () =>
          this.store.db.exec(
            `INSERT INTO agentfs_meta (key, value) VALUES ('${OPEN_FROM_KEY}', '${stillOpen}') ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
          ),
        );
      } catch {
        /* locked: read from the old mark next time */
      }
    }
    return reaped;
  }

  /**
   * The indexes of agentfs_tool_call_ext as they are now: the partial parent index in place of
   * the full one of older versions, and no index of open calls (reapOrphans reads from a mark).
   */
  private ensureExtIndexes(): void {
    const names = (this.store
      .stmt("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN (?, 'agentfs_idx_tool_call_ext_parent', ?)")
      .all(OLD_OPEN_CALL_INDEX, PARENT_INDEX_OLD) as { name: string }[]).map((r) => r.name);
    if (names.length === 1 && names[0] === 'agentfs_idx_tool_call_ext_parent') return;
    this.store.transaction(() => {
      this.store.db.exec(PARENT_INDEX);
      this.store.db.exec(`DROP INDEX IF EXISTS ${PARENT_INDEX_OLD}`);
      this.store.db.exec(`DROP INDEX IF EXISTS ${OLD_OPEN_CALL_INDEX}`);
    });
  }

  /** Per-tool counts, failures and average/p95/max duration of finished calls, busiest first. */
  stats(filter: TimeNameFilter = {}): ToolCallStats[] {
    this.ensure();
    return toolCallStats(this.store, this.source, filter);
  }

  /** Runs fn with `id` as the call in progress for everything it does, across awaits. */
  runInCall<T>(id: number, fn: () => T): T {
    return this.inProgress.runIn(id, fn);
  }

  /**
   * The call in progress (see CallReach): by default in this process, the one whose code is
   * running (runInCall), else the innermost pending unscoped call it started. undefined when none.
   */
  current(reach: CallReach = 'process'): number | undefined {
    return this.inProgress.find(reach);
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
    status: statusOf(r.status),
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

/**
 * tool_calls' completed_at and duration_ms have INTEGER affinity (as the spec makes them): a start
 * carries its start in nanoseconds and its parent in them (startTrigger), which REAL would round
 * and TEXT turn to text.
 */
function integerTimes(store: Store): boolean {
  const cols = store.db.prepare('PRAGMA main.table_info(tool_calls)').all() as { name: string; type: string }[];
  return ['completed_at', 'duration_ms'].every((n) => /INT/i.test(cols.find((c) => c.name === n)?.type ?? ''));
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new ToolCallError('EINVAL', 'a tool call needs a non-empty name');
}
