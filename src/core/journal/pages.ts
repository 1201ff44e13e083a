import type { Store } from '../../store/index.js';
import { pathMatcher, toEntry, type JournalRow } from './reader.js';
import type { JournalEntry } from './types.js';
import type { JournalOp } from './schema.js';

/**
 * Bounded reads of a large journal for viewers (`agentfs ui`), without an index of its own (the
 * journal has none, to keep writes cheap). Rows are in commit order and stamped with the time of
 * their insert, so time_ns rises with id but for clock skew between processes (< 1 ms) and
 * write bursts (stamped at their first write). A time range therefore maps to an id range by
 * binary search over the rowid, widened by SLACK_NS, and is then filtered exactly.
 */
const SLACK_NS = 2e9;
/** journal rows window() reads at a time */
const WINDOW_PAGE = 512;

/** pathMatcher, with a relative glob that names directories taken from the root ('src/**' = '/src/**'). */
function matcher(glob: string): (p: string) => boolean {
  return pathMatcher(glob.includes('/') && !glob.startsWith('/') && !glob.startsWith('*') ? `/${glob}` : glob);
}

export interface WindowQuery {
  sinceNs?: number;
  untilNs?: number;
  /** only rows made inside this call */
  toolCallId?: number;
  /** path or new_path matches this glob (see pathMatcher) */
  path?: string;
  /** rows after this id only: the next page of a window */
  afterId?: number;
  /** default 500, at most 5000 */
  limit?: number;
}

export interface WindowPage {
  entries: JournalEntry[];
  /** more rows matched than the limit */
  truncated: boolean;
}

export interface PathFigures {
  path: string;
  changes: number;
  bytes_written: number;
}

const COLS = 'id, time_ns, end_ns, op, path, new_path, ino, offset, length, bytes, writes, size, mode, uid, gid, tool_call_id, pid';

export class JournalPages {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  exists(): boolean {
    return this.store.schemaHas('agentfs_journal');
  }

  /** Rows, their first and last time (cheap: rowid ends). */
  totals(): { rows: number; first_ns?: number; last_ns?: number } {
    if (!this.exists()) return { rows: 0 };
    const n = this.store.stmt('SELECT COUNT(*) AS n FROM agentfs_journal').get() as { n: number };
    const first = this.store.stmt('SELECT time_ns FROM agentfs_journal ORDER BY id LIMIT 1').get() as { time_ns: number } | undefined;
    const last = this.store.stmt('SELECT time_ns, end_ns FROM agentfs_journal ORDER BY id DESC LIMIT 1').get() as
      | { time_ns: number; end_ns: number | null }
      | undefined;
    const out: { rows: number; first_ns?: number; last_ns?: number } = { rows: Number(n.n) };
    if (first) out.first_ns = Number(first.time_ns);
    if (last) out.last_ns = Number(last.end_ns ?? last.time_ns);
    return out;
  }

  /** The lowest id whose row may be at or after ns (clock skew allowed for). */
  private firstIdAt(ns: number): number {
    const bounds = this.store.stmt('SELECT MIN(id) AS lo, MAX(id) AS hi FROM agentfs_journal').get() as { lo: number | null; hi: number | null };
    if (bounds.lo === null || bounds.hi === null) return 0;
    const probe = this.store.stmt('SELECT id, time_ns FROM agentfs_journal WHERE id >= ? ORDER BY id LIMIT 1');
    const target = ns - SLACK_NS;
    let lo = Number(bounds.lo);
    let hi = Number(bounds.hi) + 1; // first id with time >= target lies in [lo, hi)
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const r = probe.get(mid) as { id: number; time_ns: number } | undefined;
      if (!r) hi = mid;
      else if (Number(r.time_ns) < target) lo = Number(r.id) + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Rows in a time range (or of one call), oldest first, at most `limit`. */
  window(q: WindowQuery = {}): WindowPage {
    if (!this.exists()) return { entries: [], truncated: false };
    const limit = Math.min(Math.max(1, Math.floor(q.limit ?? 500)), 5000);
    const fromId = Math.max(q.sinceNs === undefined ? 0 : this.firstIdAt(q.sinceNs), q.afterId === undefined ? 0 : q.afterId + 1);
    const match = q.path ? matcher(q.path) : undefined;
    const stop = q.untilNs === undefined ? Infinity : q.untilNs + SLACK_NS;
    const entries: JournalEntry[] = [];
    // In pages read whole (all()), each from past the last row of the one before: a statement
    // left mid-iteration keeps its read snapshot, and this connection would see no later commit
    // (a viewer's pages froze; a writer's writes were refused as locked)
    const sql =
      q.toolCallId === undefined
        ? `SELECT ${COLS} FROM agentfs_journal WHERE id >= ? ORDER BY id LIMIT ${WINDOW_PAGE}`
        : `SELECT ${COLS} FROM agentfs_journal WHERE id >= ? AND tool_call_id = ? ORDER BY id LIMIT ${WINDOW_PAGE}`;
    let truncated = false;
    for (let from = fromId; ; ) {
      const rows = this.store.stmt(sql).all(...(q.toolCallId === undefined ? [from] : [from, q.toolCallId])) as JournalRow[];
      for (const r of rows) {
        const t = Number(r.time_ns);
        if (t > stop) return { entries, truncated };
        if (q.sinceNs !== undefined && t < q.sinceNs) continue;
        if (q.untilNs !== undefined && t > q.untilNs) continue;
        if (match && !((r.path !== null && match(r.path)) || (r.new_path !== null && match(r.new_path)))) continue;
        if (entries.length >= limit) {
          truncated = true;
          return { entries, truncated };
        }
        entries.push(toEntry(r));
      }
      if (rows.length < WINDOW_PAGE) break;
      from = Number(rows[rows.length - 1]!.id) + 1;
    }
    return { entries, truncated };
  }

  /** Ids of the calls whose file changes match a path glob (a scan of the journal). */
  callsTouching(glob: string): Set<number> {
    const ids = new Set<number>();
    if (!this.exists()) return ids;
    const match = matcher(glob);
    const it = this.store
      .stmt('SELECT tool_call_id, path, new_path FROM agentfs_journal WHERE tool_call_id IS NOT NULL')
      .raw(true)
      .iterate() as IterableIterator<[number, string | null, string | null]>;
    for (const [id, p, np] of it) {
      if (ids.has(Number(id))) continue;
      if ((p !== null && match(p)) || (np !== null && match(np))) ids.add(Number(id));
    }
    return ids;
  }

  /** The most changed paths (rows naming them, bytes written), most changed first. */
  topPaths(limit = 20): PathFigures[] {
    if (!this.exists()) return [];
    const rows = this.store
      .stmt(
        `SELECT p AS path, COUNT(*) AS changes, SUM(b) AS bytes_written FROM (
           SELECT path AS p, CASE WHEN op = 'write' THEN COALESCE(bytes, 0) ELSE 0 END AS b FROM agentfs_journal WHERE path IS NOT NULL
           UNION ALL
           SELECT new_path, 0 FROM agentfs_journal WHERE new_path IS NOT NULL AND op != 'symlink'
         ) GROUP BY p ORDER BY changes DESC, bytes_written DESC, p LIMIT ?`,
      )
      .all(limit) as { path: string; changes: number; bytes_written: number }[];
    return rows.map((r) => ({ path: r.path, changes: Number(r.changes), bytes_written: Number(r.bytes_written) }));
  }

  /** Rows per operation. */
  opCounts(): Record<string, number> {
    if (!this.exists()) return {};
    const out: Record<string, number> = {};
    for (const r of this.store.stmt('SELECT op, COUNT(*) AS n FROM agentfs_journal GROUP BY op').all() as { op: string; n: number }[]) {
      out[r.op] = Number(r.n);
    }
    return out;
  }
}

