import picomatch from 'picomatch';
import { Where, type Store } from '../../store/index.js';
import { statusAsRead, storedStatuses } from '../tools/owner.js';
import { callsSource, statusOf } from '../tools/source.js';

/** The columns of the journal row's call, selected when the filter names a tool or status. */
interface CallStatusCols {
  call_status: string;
  call_pid: number | null;
  call_started_ns: number | null;
}
import { JOURNAL_SCHEMA, type JournalOp } from './schema.js';
import type { JournalEntry, JournalFilter } from './types.js';
import { rememberExactNs } from './exact-ns.js';

/** journal rows list() reads at a time */
const LIST_PAGE = 512;

/** A journal row as SQLite returns it (integers may come back as bigint). */
export interface JournalRow {
  id: number;
  time_ns: number;
  end_ns: number | null;
  op: string;
  path: string | null;
  new_path: string | null;
  ino: number;
  offset: number | null;
  length: number | null;
  bytes: number | null;
  writes: number | null;
  size: number | null;
  mode: number | null;
  uid: number | null;
  gid: number | null;
  tool_call_id: number | null;
  pid: number | null;
  /** the times' stored digits (exact-ns.ts), where the query reads them */
  time_ns_text?: string;
  end_ns_text?: string | null;
}

export interface PathStats {
  path: string;
  /** journal rows naming this path (as path or new_path) */
  changes: number;
  /** bytes written to it */
  bytes_written: number;
  /** the operations seen, by count */
  ops: Record<string, number>;
}

/** Compiles a --path glob (picomatch, `**` crosses directories, dotfiles included). */
export function pathMatcher(glob: string): (p: string) => boolean {
  const m = picomatch(glob, { dot: true });
  // a glob without a slash matches a base name anywhere, as `find -name` does
  if (!glob.includes('/')) return (p) => m(p.slice(p.lastIndexOf('/') + 1));
  return (p) => m(p);
}

/** Reads the file-operation journal (it may not exist yet: then it is empty). */
export class JournalReader {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  private exists(): boolean {
    return this.store.schemaHas('agentfs_journal');
  }

  /** Creates the table if missing, so a reader can follow a journal that does not exist yet. */
  ensure(): void {
    this.store.ensureSchema('journal', JOURNAL_SCHEMA);
  }

  list(filter: JournalFilter = {}): JournalEntry[] {
    if (!this.exists()) return [];
    const where = new Where()
      .when('j.time_ns >= ?', filter.sinceNs)
      .when('j.time_ns <= ?', filter.untilNs)
      .when('j.id > ?', filter.afterId)
      .when('j.tool_call_id = ?', filter.toolCallId);
    let join = '';
    let callCols = '';
    if (filter.toolName !== undefined || filter.toolStatus !== undefined) {
      // the calls as ToolCalls reads them (pending ones of the spec-text layout included), with
      // what tells whether a pending one's process is gone (it then reads as an error)
      const hasStatus = this.store.layout.toolCallsHasStatus;
      const ext = this.store.schemaHas('agentfs_tool_call_ext');
      join = `JOIN ${callsSource(hasStatus, !hasStatus && this.store.schemaHas('agentfs_tool_call_pending'))} c ON c.id = j.tool_call_id
              ${ext ? 'LEFT JOIN agentfs_tool_call_ext e ON e.id = c.id' : ''}`;
      callCols = `, c.status AS call_status, ${ext ? 'e.pid' : 'NULL'} AS call_pid, ${ext ? 'e.started_ns' : 'NULL'} AS call_started_ns`;
      where.when('c.name = ?', filter.toolName);
      if (filter.toolStatus !== undefined) {
        const stored = storedStatuses(filter.toolStatus);
        where.add(`c.status IN (${stored.map(() => '?').join(', ')})`, ...stored);
      }
    }
    const dir = filter.order === 'asc' ? 'ASC' : 'DESC';
    const base = `SELECT j.id, j.time_ns, j.end_ns, j.op, j.path, j.new_path, j.ino, j.offset, j.length, j.bytes, j.writes, j.size,
                        j.mode, j.uid, j.gid, j.tool_call_id, j.pid, CAST(j.time_ns AS TEXT) AS time_ns_text,
                        CAST(j.end_ns AS TEXT) AS end_ns_text${callCols}
                 FROM agentfs_journal j ${join}
                 ${where}`;
    const match = typeof filter.path === 'string' ? pathMatcher(filter.path) : filter.path;
    const limit = filter.limit ?? Infinity;
    const out: JournalEntry[] = [];
    if (limit <= 0) return out;
    // The glob and the call's status are judged while scanning, so LIMIT counts matching rows
    // only. In pages read whole (all()), each past the last id of the one before: a statement
    // left mid-iteration keeps its read snapshot, and this connection would see no later commit
    // (`timeline --follow` never showed a new change) nor be let write.
    const page = this.store.stmt(`SELECT * FROM (${base}) WHERE id ${dir === 'ASC' ? '>' : '<'} ? ORDER BY id ${dir} LIMIT ${LIST_PAGE}`);
    for (let after = dir === 'ASC' ? -Infinity : Infinity; ; ) {
      const rows = page.all(...where.args, after) as (JournalRow & CallStatusCols)[];
      for (const row of rows) {
        if (match && !((row.path !== null && match(row.path)) || (row.new_path !== null && match(row.new_path)))) continue;
        if (filter.toolStatus !== undefined && statusAsRead(statusOf(row.call_status), row.call_pid, row.call_started_ns) !== filter.toolStatus) continue;
        out.push(toEntry(row));
        if (out.length >= limit) return out;
      }
      if (rows.length < LIST_PAGE) return out;
      after = Number(rows[rows.length - 1]!.id);
    }
    return out;
  }

  /** The paths changed most (by journal rows), with bytes written, most changed first. */
  topPaths(limit = 10, filter: Pick<JournalFilter, 'sinceNs' | 'untilNs' | 'path'> = {}): PathStats[] {
    const byPath = new Map<string, PathStats>();
    const note = (p: string | undefined, op: string, bytes: number) => {
      if (p === undefined) return;
      let s = byPath.get(p);
      if (!s) byPath.set(p, (s = { path: p, changes: 0, bytes_written: 0, ops: {} }));
      s.changes++;
      s.bytes_written += bytes;
      s.ops[op] = (s.ops[op] ?? 0) + 1;
    };
    for (const e of this.list({ ...filter, order: 'asc' })) {
      note(e.path, e.op, e.op === 'write' ? (e.bytes ?? 0) : 0);
      if (e.new_path !== undefined && e.op !== 'symlink') note(e.new_path, e.op, 0);
    }
    return [...byPath.values()]
      .sort((a, b) => b.changes - a.changes || b.bytes_written - a.bytes_written || a.path.localeCompare(b.path))
      .slice(0, limit);
  }

  /** Highest journal row id (0 when empty): where a follower starts. */
  lastId(): number {
    if (!this.exists()) return 0;
    return Number((this.store.stmt('SELECT COALESCE(MAX(id), 0) AS m FROM agentfs_journal').get() as { m: number }).m);
  }
}

const OPTIONAL_FIELDS = ['end_ns', 'path', 'new_path', 'offset', 'length', 'bytes', 'writes', 'size', 'mode', 'uid', 'gid', 'tool_call_id', 'pid'] as const;

/** A row as an entry: numbers as numbers, absent fields left out. */
export function toEntry(r: JournalRow): JournalEntry {
  const e: JournalEntry = { id: Number(r.id), time_ns: Number(r.time_ns), op: r.op as JournalOp, ino: Number(r.ino) };
  const rec = e as unknown as Record<string, unknown>;
  for (const k of OPTIONAL_FIELDS) {
    const v = r[k];
    if (v !== null && v !== undefined) rec[k] = typeof v === 'bigint' ? Number(v) : v;
  }
  if (r.time_ns_text !== undefined) rememberExactNs(e, r.time_ns_text, r.end_ns_text);
  return e;
}
