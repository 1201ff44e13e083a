import { AsyncLocalStorage } from 'node:async_hooks';
import type { Store } from '../../store/index.js';
import { isAlive } from '../process-alive.js';
import { ownerAlive } from './owner.js';
import { pendingTest } from './source.js';

/**
 * How far to look for the call in progress. Each reach includes the ones before it:
 * - 'context': the call whose code is running here (runInCall), across awaits;
 * - 'process': else the innermost pending call this process started that is not scoped;
 * - 'anywhere': else the newest call another live process announced as shared (`agentfs record`
 *   running a command against a mount this process serves).
 */
export type CallReach = 'context' | 'process' | 'anywhere';

/** A pending call this process started, as it started it (finish() needs no read back). */
export interface LiveCall {
  scoped: boolean;
  startedNs: bigint;
  /** announced in agentfs_active_call (StartOptions.shared) */
  shared: boolean;
  parentId: number | undefined;
  /** the row's columns as start() wrote them: finish() returns the call without reading it */
  row: { name: string; parameters: string | null; startedAt: number };
}

/**
 * The one answer to "which tool call is in progress": the parent a new call nests in (ToolCalls
 * start/record), and the call the file-operation journal stamps its rows with. Callers differ
 * only in how far they look (CallReach), never in how.
 */
export class CurrentCall {
  private readonly store: Store;
  /** creates our tables if missing (another process may announce calls in them at any time) */
  private readonly ensure: () => void;
  /** pending calls started by this process, in start order (the last is the innermost) */
  private readonly live = new Map<number, LiveCall>();
  /** the call whose code is running, across awaits (set by runIn) */
  private readonly context = new AsyncLocalStorage<number>();
  private sharedCache: { version: number; id: number | undefined; pid: number | undefined; checkedMs: number } | undefined;

  /** calls started or finished inside the write transaction open now: a rollback may undo either */
  private readonly inTransaction = new Map<number, LiveCall>();

  constructor(store: Store, ensure: () => void) {
    this.store = store;
    this.ensure = ensure;
    store.onRollback(() => this.rolledBack());
    store.onEndWrite(() => {
      if (!store.inTransaction) this.inTransaction.clear();
    });
  }

  /** A call this process started is pending (scoped: in progress only inside runIn). */
  started(id: number, call: LiveCall): void {
    this.live.set(id, call);
    if (this.store.inTransaction) this.inTransaction.set(id, call);
  }

  /** The pending call `id` as this process started it; undefined when it is not ours or done. */
  liveCall(id: number): LiveCall | undefined {
    return this.live.get(id);
  }

  /** A call this process started has finished. */
  finished(id: number): void {
    const call = this.live.get(id);
    if (call && this.store.inTransaction) this.inTransaction.set(id, call);
    this.live.delete(id);
  }

  /**
   * A rollback took back starts or finishes: a call whose start is gone is no call of ours (its
   * id comes free for another process's call, which a finish from here must not reach), and one
   * whose finish is gone is pending again. Judged by its rows as they stand now.
   */
  private rolledBack(): void {
    if (this.inTransaction.size === 0) return;
    if (!this.store.schemaHas('agentfs_tool_call_ext')) {
      // made in the transaction that rolled back: so were the calls
      for (const id of this.inTransaction.keys()) this.live.delete(id);
      return;
    }
    const open = this.store.stmt(
      `SELECT 1 FROM agentfs_tool_call_ext e WHERE e.id = ? AND e.pid = ? AND e.started_ns = ? AND ${pendingTest(this.store.layout.toolCallsHasStatus, 'e.id')}`,
    );
    for (const [id, call] of this.inTransaction) {
      if (open.get(id, process.pid, call.startedNs) !== undefined) {
        if (!this.live.has(id)) this.live.set(id, call);
      } else this.live.delete(id);
    }
  }

  /** True while this process has call `id` pending. */
  isLive(id: number): boolean {
    return this.live.has(id);
  }

  /** Runs fn with `id` as the call in progress for everything it does, across awaits. */
  runIn<T>(id: number, fn: () => T): T {
    return this.context.run(id, fn);
  }

  /** The call in progress as far as `reach` looks (see CallReach); undefined when none. */
  find(reach: CallReach): number | undefined {
    const ctx = this.context.getStore();
    if (ctx !== undefined && this.live.has(ctx)) return ctx;
    if (reach === 'context') return undefined;
    let last: number | undefined;
    for (const [id, call] of this.live) if (!call.scoped) last = id;
    if (last !== undefined || reach === 'process') return last;
    return this.shared();
  }

  /**
   * The newest call another live process announced. Cheap enough for every journal record: the
   * table is re-read only when another connection committed (PRAGMA data_version), and at most
   * once per millisecond: a recorder announces its call well before the command it starts can
   * touch a file (fork + exec take longer than that).
   */
  private shared(): number | undefined {
    this.ensure();
    const nowMs = performance.now();
    let cache = this.sharedCache;
    if (cache && nowMs - cache.checkedMs < 1) return cache.id;
    const version = this.store.recentDataVersion(1);
    if (!cache || cache.version !== version) {
      const rows = this.store.stmt('SELECT id, pid, started_ns FROM agentfs_active_call ORDER BY started_ns DESC, id DESC').all() as {
        id: number;
        pid: number;
        started_ns: number;
      }[];
      const alive = rows.find((r) => ownerAlive(Number(r.pid), r.started_ns));
      cache = this.sharedCache = { version, id: alive ? Number(alive.id) : undefined, pid: alive ? Number(alive.pid) : undefined, checkedMs: nowMs };
    }
    cache.checkedMs = nowMs;
    // between re-reads only the cheap check: kill(pid, 0)
    if (cache.pid !== undefined && !isAlive(cache.pid)) {
      this.sharedCache = undefined; // its owner died without finishing: look again next time
      return undefined;
    }
    return cache.id;
  }
}
