import { Where, type Store } from '../../store/index.js';
import type { ToolCallStatus } from './types.js';
import { TOOL_CALL_STATUSES } from './types.js';
import { checkJsonText } from '../kv/json.js';
import { callsSource, statusOf, type CallColumns } from './source.js';

/**
 * Read-only queries over the tool calls for viewers (`agentfs ui`): pages in start order, counts,
 * per-tool figures. Unlike ToolCalls it never creates a table (it may run on a read-only store):
 * our extension tables are joined only when they exist. Every query is bounded by a LIMIT or
 * streams rows, so 100k calls cost no more memory than a page.
 */

/** One call as a waterfall row: times in ns, previews instead of full arguments. */
export interface CallRow {
  id: number;
  name: string;
  status: ToolCallStatus;
  /** start, Unix ns (exact when recorded by us, else started_at seconds) */
  start_ns: number;
  /** end, Unix ns (start + duration), absent while pending */
  end_ns?: number;
  duration_ms?: number;
  parent_id?: number;
  /** nesting depth (0: top level) */
  depth: number;
  /** the first characters of the parameters' JSON */
  args_preview?: string;
  /** the first line of the error */
  error_preview?: string;
}

/** A call with everything the call page shows. */
export interface CallDetail extends CallRow {
  /** the value, or its JSON text when too deep to handle, or the first TEXT_MAX characters */
  parameters?: unknown;
  result?: unknown;
  error?: string;
  /** full length in characters, when the text above was cut at TEXT_MAX */
  parameters_length?: number;
  result_length?: number;
  error_length?: number;
  started_at: number;
  completed_at?: number;
  pid?: number;
  /** calls nested directly in this one (at most 1000) */
  children: CallRow[];
}

export interface CallQuery {
  /** tool names (any of) */
  names?: string[];
  statuses?: ToolCallStatus[];
  /** start >= sinceNs */
  sinceNs?: number;
  /** start <= untilNs */
  untilNs?: number;
  /** substring of parameters, result or error (case-insensitive for ASCII) */
  text?: string;
  /** only these ids (e.g. the calls that touched a path) */
  ids?: ReadonlySet<number>;
  offset?: number;
  /** default 200, at most 2000 */
  limit?: number;
  /** 'last': the page that ends with the newest call (offset is ignored) */
  page?: 'last';
}

export interface CallPage {
  total: number;
  offset: number;
  calls: CallRow[];
}

export interface ToolFigures {
  name: string;
  calls: number;
  success: number;
  error: number;
  pending: number;
  failure_rate: number;
  p50_ms: number;
  p95_ms: number;
  max_ms: number;
  avg_ms: number;
}

export interface CallTotals {
  calls: number;
  failures: number;
  pending: number;
  /** first start and last start/end, Unix ns (undefined without calls) */
  first_ns?: number;
  last_ns?: number;
}

const PREVIEW = 160;
/** Most characters of a tool name shown (ours are short; another program may store any text). */
const NAME_MAX = 256;
/** Most characters of arguments, result and error one call sends (another program may store megabytes). */
export const TEXT_MAX = 512 * 1024;

export class CallReader {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  /** The calls table with `status` whatever the layout, plus pending calls of the spec-text layout. */
  private source(): string {
    const hasStatus = this.store.layout.toolCallsHasStatus;
    return callsSource(hasStatus, !hasStatus && this.store.schemaHas('agentfs_tool_call_pending'));
  }

  /** SELECT ... FROM source c [LEFT JOIN ext e]: the columns of a CallRow. */
  private select(extra = ''): string {
    const ext = this.store.schemaHas('agentfs_tool_call_ext');
    const cols = `c.id, substr(c.name, 1, ${NAME_MAX}) AS name, c.status, c.started_at, c.completed_at, c.duration_ms,
      ${ext ? 'e.parent_id, e.started_ns, e.completed_ns' : 'NULL AS parent_id, NULL AS started_ns, NULL AS completed_ns'},
      substr(c.parameters, 1, ${PREVIEW}) AS args_preview, substr(c.error, 1, ${PREVIEW}) AS error_preview${extra}`;
    return `SELECT ${cols} FROM ${this.source()} c ${ext ? 'LEFT JOIN agentfs_tool_call_ext e ON e.id = c.id' : ''}`;
  }

  private where(q: CallQuery): { sql: string; args: unknown[] } {
    const where = new Where();
    if (q.names?.length) where.add(`c.name IN (${q.names.map(() => '?').join(', ')})`, ...q.names);
    if (q.statuses?.length) {
      for (const s of q.statuses) if (!TOOL_CALL_STATUSES.includes(s)) throw new RangeError(`unknown status '${s}'`);
      where.add(`c.status IN (${q.statuses.map(() => '?').join(', ')})`, ...q.statuses);
    }
    // the started_at index narrows by second; the exact ns bound is applied on top
    if (q.sinceNs !== undefined) where.add('c.started_at >= ?', Math.floor(q.sinceNs / 1e9));
    if (q.untilNs !== undefined) where.add('c.started_at <= ?', Math.ceil(q.untilNs / 1e9));
    if (q.text) {
      where.add(`(instr(lower(c.parameters), lower(?)) > 0 OR instr(lower(c.result), lower(?)) > 0 OR instr(lower(c.error), lower(?)) > 0)`, q.text, q.text, q.text);
    }
    // a JSON array bound as one parameter: any number of ids without a statement per size
    if (q.ids) where.add('c.id IN (SELECT value FROM json_each(?))', JSON.stringify([...q.ids]));
    return { sql: String(where), args: where.args };
  }

  /** A page of calls in start order, with the total that match. */
  page(q: CallQuery = {}): CallPage {
    const limit = Math.min(Math.max(1, Math.floor(q.limit ?? 200)), 2000);
    const { sql, args } = this.where(q);
    const exactTime = q.sinceNs !== undefined || q.untilNs !== undefined;
    const inRange = (ns: number) => (q.sinceNs === undefined || ns >= q.sinceNs) && (q.untilNs === undefined || ns <= q.untilNs);
    if (exactTime) {
      // the seconds-wide index bound may let in a few calls just outside: filter those in JS
      const rows = (this.store.stmt(`${this.select()} ${sql} ORDER BY c.started_at, c.id`).iterate(...args) as IterableIterator<RawCall>);
      let total = 0;
      const all: CallRow[] = [];
      const offsetWanted = q.page === 'last' ? undefined : Math.max(0, Math.floor(q.offset ?? 0));
      for (const r of rows) {
        const row = toRow(r);
        if (!inRange(row.start_ns)) continue;
        if (offsetWanted === undefined) {
          all.push(row);
          if (all.length > limit) all.shift();
        } else if (total >= offsetWanted && all.length < limit) all.push(row);
        total++;
      }
      const offset = offsetWanted ?? Math.max(0, total - limit);
      return { total, offset, calls: this.withDepth(all) };
    }
    const total = Number((this.store.stmt(`SELECT COUNT(*) AS n FROM ${this.source()} c ${sql}`).get(...args) as { n: number }).n);
    const offset = q.page === 'last' ? Math.max(0, total - limit) : Math.min(Math.max(0, Math.floor(q.offset ?? 0)), Math.max(0, total - 1));
    const rows = this.store.stmt(`${this.select()} ${sql} ORDER BY c.started_at, c.id LIMIT ? OFFSET ?`).all(...args, limit, offset) as RawCall[];
    return { total, offset, calls: this.withDepth(rows.map(toRow)) };
  }

  /** Index (in start order, among all calls) of a call: which page it is on. */
  position(id: number): number | undefined {
    const c = this.store.stmt(`SELECT started_at FROM ${this.source()} c WHERE c.id = ?`).get(id) as { started_at: number } | undefined;
    if (!c) return undefined;
    const n = this.store
      .stmt(`SELECT COUNT(*) AS n FROM ${this.source()} c WHERE c.started_at < ? OR (c.started_at = ? AND c.id < ?)`)
      .get(c.started_at, c.started_at, id) as { n: number };
    return Number(n.n);
  }

  get(id: number): CallDetail | undefined {
    if (!Number.isSafeInteger(id)) return undefined;
    const ext = this.store.schemaHas('agentfs_tool_call_ext');
    const r = this.store
      .stmt(
        `${this.select(
          `, substr(c.parameters, 1, ${TEXT_MAX}) AS parameters, length(c.parameters) AS parameters_length,
           substr(c.result, 1, ${TEXT_MAX}) AS result, length(c.result) AS result_length,
           substr(c.error, 1, ${TEXT_MAX}) AS error, length(c.error) AS error_length${ext ? ', e.pid' : ', NULL AS pid'}`,
        )} WHERE c.id = ?`,
      )
      .get(id) as (RawCall & { parameters: string | null; result: string | null; error: string | null; pid: number | null } & Lengths) | undefined;
    if (!r) return undefined;
    const [row] = this.withDepth([toRow(r)]);
    const children = ext
      ? this.withDepth(
          (this.store.stmt(`${this.select()} WHERE e.parent_id = ? ORDER BY c.started_at, c.id LIMIT 1000`).all(id) as RawCall[]).map(toRow),
        )
      : [];
    const detail: CallDetail = { ...row!, started_at: Number(r.started_at), children };
    const cut = (what: keyof Lengths) => {
      const n = Number(r[what]);
      if (n > TEXT_MAX) detail[what] = n;
      return n > TEXT_MAX;
    };
    if (r.parameters !== null) detail.parameters = cut('parameters_length') ? r.parameters : fromJson(r.parameters);
    if (r.result !== null) detail.result = cut('result_length') ? r.result : fromJson(r.result);
    if (r.error !== null) {
      cut('error_length');
      detail.error = r.error;
    }
    if (r.completed_at !== null) detail.completed_at = Number(r.completed_at);
    if (r.pid !== null && r.pid !== undefined) detail.pid = Number(r.pid);
    return detail;
  }

  /** Counts of all calls, failures and pending ones, and the time they span. */
  totals(): CallTotals {
    const r = this.store
      .stmt(
        `SELECT COUNT(*) AS calls, COALESCE(SUM(c.status = 'error'), 0) AS failures, COALESCE(SUM(c.status = 'pending'), 0) AS pending,
                MIN(c.started_at) AS first, MAX(COALESCE(c.completed_at, c.started_at)) AS last FROM ${this.source()} c`,
      )
      .get() as { calls: number; failures: number; pending: number; first: number | null; last: number | null };
    const out: CallTotals = { calls: Number(r.calls), failures: Number(r.failures), pending: Number(r.pending) };
    if (r.first !== null) {
      // exact ns of the first and last calls where we recorded them
      const first = this.store.stmt(`${this.select()} ORDER BY c.started_at, c.id LIMIT 1`).get() as RawCall;
      const last = this.store.stmt(`${this.select()} ORDER BY c.started_at DESC, c.id DESC LIMIT 1`).get() as RawCall;
      const lr = toRow(last);
      out.first_ns = toRow(first).start_ns;
      out.last_ns = Math.max(lr.end_ns ?? lr.start_ns, Number(r.last) * 1e9);
    }
    return out;
  }

  /** Tool names, most used first. */
  names(limit = 500): { name: string; calls: number }[] {
    return (
      this.store.stmt(`SELECT substr(name, 1, ${NAME_MAX}) AS name, COUNT(*) AS calls FROM ${this.source()} c GROUP BY c.name ORDER BY calls DESC, name LIMIT ?`).all(limit) as {
        name: string;
        calls: number;
      }[]
    ).map((r) => ({ name: r.name, calls: Number(r.calls) }));
  }

  /**
   * Per tool: counts by status, failure rate, p50/p95/max/avg duration of finished calls, busiest
   * first. Durations stream in sorted order, one tool's at a time.
   */
  figures(limit = 100): ToolFigures[] {
    const out: ToolFigures[] = [];
    let cur: { f: ToolFigures; durations: number[] } | undefined;
    const close = () => {
      if (!cur) return;
      const d = cur.durations;
      const f = cur.f;
      const pick = (p: number) => (d.length ? d[Math.min(d.length - 1, Math.ceil(p * d.length) - 1)]! : 0);
      f.p50_ms = pick(0.5);
      f.p95_ms = pick(0.95);
      f.max_ms = d.length ? d[d.length - 1]! : 0;
      f.avg_ms = d.length ? d.reduce((a, b) => a + b, 0) / d.length : 0;
      const finished = f.success + f.error;
      f.failure_rate = finished ? f.error / finished : 0;
      out.push(f);
    };
    const rows = this.store
      .stmt(`SELECT substr(c.name, 1, ${NAME_MAX}), c.status, c.duration_ms FROM ${this.source()} c ORDER BY c.name, c.duration_ms`)
      .raw(true)
      .iterate() as IterableIterator<[string, string, number | null]>;
    for (const [name, status, duration] of rows) {
      if (!cur || cur.f.name !== name) {
        close();
        cur = { f: { name, calls: 0, success: 0, error: 0, pending: 0, failure_rate: 0, p50_ms: 0, p95_ms: 0, max_ms: 0, avg_ms: 0 }, durations: [] };
      }
      cur.f.calls++;
      if (status === 'error') cur.f.error++;
      else if (status === 'pending') cur.f.pending++;
      else cur.f.success++;
      if (status !== 'pending' && duration !== null) cur.durations.push(Number(duration));
    }
    close();
    return out.sort((a, b) => b.calls - a.calls || a.name.localeCompare(b.name)).slice(0, limit);
  }

  /** Parent of each call on a page and their depths (parents off the page are looked up). */
  private withDepth(rows: CallRow[]): CallRow[] {
    if (!rows.length || !this.store.schemaHas('agentfs_tool_call_ext')) return rows;
    const parentOf = new Map<number, number | undefined>();
    for (const r of rows) parentOf.set(r.id, r.parent_id);
    const stmt = this.store.stmt('SELECT parent_id FROM agentfs_tool_call_ext WHERE id = ?');
    const depthOf = (id: number): number => {
      let depth = 0;
      let p = parentOf.get(id);
      const seen = new Set<number>([id]);
      while (p !== undefined && !seen.has(p) && depth < 64) {
        seen.add(p);
        depth++;
        if (!parentOf.has(p)) {
          const r = stmt.get(p) as { parent_id: number | null } | undefined;
          parentOf.set(p, r?.parent_id === null || r?.parent_id === undefined ? undefined : Number(r.parent_id));
        }
        p = parentOf.get(p);
      }
      return depth;
    };
    for (const r of rows) r.depth = depthOf(r.id);
    return rows;
  }
}

interface RawCall extends CallColumns {
  completed_ns: number | null;
  args_preview: string | null;
  error_preview: string | null;
}

function toRow(r: RawCall): CallRow {
  const status = statusOf(r.status);
  const start = r.started_ns !== null && r.started_ns !== undefined ? Number(r.started_ns) : Number(r.started_at) * 1e9;
  const row: CallRow = { id: Number(r.id), name: r.name, status, start_ns: start, depth: 0 };
  if (r.duration_ms !== null) row.duration_ms = Number(r.duration_ms);
  if (status !== 'pending') {
    if (r.completed_ns !== null && r.completed_ns !== undefined) row.end_ns = Number(r.completed_ns);
    else if (row.duration_ms !== undefined) row.end_ns = start + row.duration_ms * 1e6;
    else if (r.completed_at !== null) row.end_ns = Math.max(start, Number(r.completed_at) * 1e9);
  }
  if (r.parent_id !== null && r.parent_id !== undefined) row.parent_id = Number(r.parent_id);
  if (r.args_preview !== null) row.args_preview = r.args_preview;
  if (r.error_preview !== null) row.error_preview = r.error_preview.split('\n')[0];
  return row;
}

interface Lengths {
  parameters_length: number | null;
  result_length: number | null;
  error_length: number | null;
}

/** The value of JSON text; the text itself when not JSON, or nested too deep to print back. */
function fromJson(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    checkJsonText(text);
    return value;
  } catch {
    return text;
  }
}
