import type { ToolCall, ToolCalls, ToolCallStats, ToolCallStatus } from '../tools/index.js';
import { JournalReader, pathMatcher, type PathStats } from './reader.js';
import type { JournalEntry } from './types.js';

/** One line of the timeline: a tool call (at its start) or a journal entry. */
export type TimelineEvent =
  | { type: 'call'; time_ns: number; call: ToolCall }
  | { type: 'file'; time_ns: number; entry: JournalEntry };

export interface TimelineQuery {
  /** include tool calls (default true) */
  calls?: boolean;
  /** include journal entries (default true) */
  files?: boolean;
  /** only calls of this tool, and file changes made inside them */
  name?: string;
  /** only calls with this status, and file changes made inside them */
  status?: ToolCallStatus;
  sinceNs?: bigint;
  untilNs?: bigint;
  /** only file changes on matching paths, and the calls that made them */
  path?: string;
  /** at most this many events (default 100) */
  limit?: number;
  /** 'desc' (default): newest first */
  order?: 'asc' | 'desc';
}

/** When a call started, in ns: exact when we recorded it, else its started_at second. */
export function callTimeNs(c: ToolCall): number {
  return c.started_ns ?? c.started_at * 1e9;
}

/**
 * Tool calls and file changes interleaved by time, so an auditor sees which call changed which
 * file. Calls carry the ids file entries point to (tool_call_id).
 */
export function timeline(tools: ToolCalls, journal: JournalReader, q: TimelineQuery = {}): TimelineEvent[] {
  const limit = q.limit ?? 100;
  const order = q.order ?? 'desc';
  const wantCalls = q.calls ?? true;
  const wantFiles = q.files ?? true;
  const events: TimelineEvent[] = [];
  const inRange = (ns: number) =>
    (q.sinceNs === undefined || ns >= Number(q.sinceNs)) && (q.untilNs === undefined || ns <= Number(q.untilNs));

  if (wantCalls) {
    const exact = q.sinceNs !== undefined || q.untilNs !== undefined || q.path !== undefined;
    let calls = tools.list({
      name: q.name,
      status: q.status,
      since: q.sinceNs === undefined ? undefined : Math.floor(Number(q.sinceNs) / 1e9),
      until: q.untilNs === undefined ? undefined : Math.ceil(Number(q.untilNs) / 1e9),
      limit: exact ? undefined : limit,
      order,
    });
    if (q.path !== undefined) {
      const touched = new Set(
        journal.list({ path: pathMatcher(q.path), toolName: q.name, toolStatus: q.status }).map((e) => e.tool_call_id),
      );
      calls = calls.filter((c) => touched.has(c.id));
    }
    for (const call of calls) {
      const t = callTimeNs(call);
      if (inRange(t)) events.push({ type: 'call', time_ns: t, call });
    }
  }
  if (wantFiles) {
    const entries = journal.list({
      sinceNs: q.sinceNs,
      untilNs: q.untilNs,
      path: q.path,
      toolName: q.name,
      toolStatus: q.status,
      limit,
      order,
    });
    for (const entry of entries) events.push({ type: 'file', time_ns: entry.time_ns, entry });
  }
  // a call sorts before the file changes of the same instant (it started them)
  const rank = (e: TimelineEvent) => (e.type === 'call' ? 0 : 1);
  events.sort((a, b) => {
    const d = a.time_ns - b.time_ns || rank(a) - rank(b) || idOf(a) - idOf(b);
    return order === 'asc' ? d : -d;
  });
  return events.slice(0, limit);
}

function idOf(e: TimelineEvent): number {
  return e.type === 'call' ? e.call.id : e.entry.id;
}

export interface TimelineStats {
  tools: ToolCallStats[];
  paths: PathStats[];
}

/** Per-tool counts, failures and durations, and the most changed paths. */
export function timelineStats(
  tools: ToolCalls,
  journal: JournalReader,
  q: Pick<TimelineQuery, 'name' | 'sinceNs' | 'untilNs' | 'path'> & { topPaths?: number } = {},
): TimelineStats {
  return {
    tools: tools.stats({
      name: q.name,
      since: q.sinceNs === undefined ? undefined : Math.floor(Number(q.sinceNs) / 1e9),
      until: q.untilNs === undefined ? undefined : Math.ceil(Number(q.untilNs) / 1e9),
    }),
    paths: journal.topPaths(q.topPaths ?? 10, { sinceNs: q.sinceNs, untilNs: q.untilNs, path: q.path }),
  };
}
