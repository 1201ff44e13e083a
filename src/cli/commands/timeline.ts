import type { Command } from 'commander';
import { onStopSignal } from '../../platform/signals.js';
import { Agent } from '../../core/agent.js';
import {
  JournalReader, pathMatcher, timeline, timelineStats, callTimeNs, exactNs,
  type JournalEntry, type TimelineEvent, type TimelineQuery,
} from '../../core/journal/index.js';
import { TOOL_CALL_STATUSES, type ToolCall, type ToolCallStatus } from '../../core/tools/index.js';
import { AGENT_ARG, openAgentArg } from '../agent-arg.js';
import { checkForeignText } from '../../store/index.js';
import { UserError } from '../errors.js';
import { parseIntOption } from '../options.js';
import { quoteName } from '../quote.js';
import { ExactInteger, stringifyExact } from '../exact-json.js';

/** The tables the timeline reads text from. */
const TIMELINE_TABLES = ['tool_calls', 'agentfs_tool_call_pending', 'agentfs_journal'];

interface TimelineOptions {
  limit: string;
  filter?: string;
  status?: string;
  format: string;
  calls?: boolean;
  files?: boolean;
  since?: string;
  until?: string;
  path?: string;
  follow?: boolean;
  stats?: boolean;
  interval: string;
}

const HEADER = ['ID', 'TOOL', 'STATUS', 'DURATION', 'STARTED'];

/** Columns padded to their widest cell, two spaces apart, the last one unpadded. */
export function renderColumns(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `YYYY-MM-DD HH:MM:SS` in local time (TZ applies). */
export function formatTime(sec: number): string {
  const d = new Date(sec * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function callRow(c: ToolCall): string[] {
  return [String(c.id), quoteName(c.name), c.status, c.duration_ms === undefined || c.status === 'pending' ? '--' : `${c.duration_ms}ms`, formatTime(c.started_at)];
}

/** What a journal entry did, in a few words (the FILE column). */
export function describeEntry(e: JournalEntry): string {
  const path = e.path === undefined || e.path === null ? '?' : quoteName(e.path);
  const newPath = e.new_path === undefined || e.new_path === null ? '?' : quoteName(e.new_path);
  switch (e.op) {
    case 'rename':
    case 'link':
      return `${path} -> ${newPath}`;
    case 'symlink':
      return `${path} -> ${newPath} (target)`;
    case 'write':
      return `${path} [${e.offset ?? 0}, ${(e.offset ?? 0) + (e.length ?? 0)}) ${e.bytes ?? 0}B in ${e.writes ?? 1} write${e.writes === 1 ? '' : 's'}`;
    case 'truncate':
      return `${path} size ${e.size ?? '?'}`;
    case 'chmod':
      return `${path} mode ${((e.mode ?? 0) & 0o7777).toString(8).padStart(4, '0')}`;
    case 'chown':
      return `${path} owner ${e.uid ?? '?'}:${e.gid ?? '?'}`;
    default:
      return path;
  }
}

function fileRow(e: JournalEntry): string[] {
  const burstMs = e.end_ns !== undefined ? Math.round((e.end_ns - e.time_ns) / 1e6) : undefined;
  return [
    e.tool_call_id === undefined ? '-' : String(e.tool_call_id),
    `fs:${e.op}`,
    '-',
    burstMs ? `${burstMs}ms` : '-',
    formatTime(Math.floor(e.time_ns / 1e9)),
    describeEntry(e),
  ];
}

/** A tool call as the reference prints it in JSON (parent_id is ours, kept when set). */
export function callJson(c: ToolCall): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    started_at: c.started_at,
    completed_at: c.completed_at,
    duration_ms: c.duration_ms,
    parameters: c.parameters,
    result: c.result,
    error: c.error,
    parent_id: c.parent_id,
  };
}

export function fileJson(e: JournalEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { type: 'file', ...e, time: new Date(Math.floor(e.time_ns / 1e6)).toISOString() };
  // the stored nanoseconds, not the double's rounding of them
  for (const f of ['time_ns', 'end_ns'] as const) {
    const digits = exactNs(e, f);
    if (digits !== undefined) out[f] = new ExactInteger(digits);
  }
  return out;
}

function eventJson(e: TimelineEvent): Record<string, unknown> {
  return e.type === 'call' ? callJson(e.call) : fileJson(e.entry);
}

export function parseLimit(text: string): number {
  return parseIntOption('--limit', text);
}

export function parseStatus(text: string | undefined): ToolCallStatus | undefined {
  if (text === undefined) return undefined;
  if (!TOOL_CALL_STATUSES.includes(text as ToolCallStatus)) throw new UserError(`--status ${text}: expected pending, success or error`);
  return text as ToolCallStatus;
}

const UNITS: Record<string, number> = { ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * A point in time as Unix nanoseconds: Unix seconds (`1704447825`), a duration ago (`90s`,
 * `10m`, `2h`, `1d`), or a date (`2024-01-05`, `2024-01-05T09:44:00Z`).
 */
export function parseTimeArg(text: string, option: string, nowMs = Date.now()): bigint {
  const t = text.trim();
  const rel = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(t);
  let us: number; // microseconds: exact for every time in range, still a safe integer
  if (/^\d+(\.\d+)?$/.test(t)) us = Math.round(Number(t) * 1e6);
  else if (rel) us = Math.round((nowMs - Number(rel[1]) * UNITS[rel[2]!]! * 1000) * 1000);
  else us = Date.parse(t) * 1000;
  if (Number.isNaN(us)) {
    throw new UserError(`${option} ${text}: expected Unix seconds, a duration ago (10m, 2h, 1d) or a date (2024-01-05T09:00:00Z)`);
  }
  // times are stored as signed 64-bit nanoseconds: 1677-09-21 to 2262-04-11
  if (!(Math.abs(us) <= MAX_US)) throw new UserError(`${option} ${text}: out of range (times from 1678 to 2262)`);
  return BigInt(us) * 1000n;
}

const MAX_US = 9_223_372_036_854_775;

function queryFrom(opts: TimelineOptions): TimelineQuery {
  if (!['table', 'json', 'ndjson'].includes(opts.format)) throw new UserError(`--format ${opts.format}: expected table, json or ndjson`);
  if (opts.calls && opts.files) throw new UserError('--calls and --files exclude each other (give neither for both)');
  const q: TimelineQuery = {
    limit: parseLimit(opts.limit),
    name: opts.filter,
    status: parseStatus(opts.status),
    calls: !opts.files,
    files: !opts.calls,
    sinceNs: opts.since === undefined ? undefined : parseTimeArg(opts.since, '--since'),
    untilNs: opts.until === undefined ? undefined : parseTimeArg(opts.until, '--until'),
    path: opts.path,
  };
  if (q.path !== undefined) {
    try {
      pathMatcher(q.path);
    } catch (e) {
      throw new UserError(`--path ${q.path}: ${(e as Error).message}`);
    }
  }
  return q;
}

function printEvents(events: TimelineEvent[], format: string): void {
  if (format === 'json') {
    console.log(stringifyExact(events.map(eventJson), 2));
    return;
  }
  if (format === 'ndjson') {
    if (events.length) process.stdout.write(events.map((e) => stringifyExact(eventJson(e))).join('\n') + '\n');
    return;
  }
  const withFiles = events.some((e) => e.type === 'file');
  const header = withFiles ? [...HEADER, 'FILE'] : HEADER;
  const rows = events.map((e) => (e.type === 'call' ? [...callRow(e.call), ...(withFiles ? [''] : [])] : fileRow(e.entry)));
  console.log(renderColumns(header, rows));
}

function printStats(agent: Agent, q: TimelineQuery, format: string, top: number): void {
  const stats = timelineStats(agent.tools, new JournalReader(agent.store), { ...q, topPaths: top });
  if (format !== 'table') {
    console.log(format === 'json' ? JSON.stringify(stats, null, 2) : JSON.stringify(stats));
    return;
  }
  const r = (n: number) => `${Math.round(n)}ms`;
  console.log(
    renderColumns(
      ['TOOL', 'CALLS', 'FAILED', 'PENDING', 'AVG', 'P95', 'MAX'],
      stats.tools.map((s) => [quoteName(s.name), String(s.total_calls), String(s.failed), String(s.pending), r(s.avg_duration_ms), r(s.p95_duration_ms), r(s.max_duration_ms)]),
    ),
  );
  console.log('');
  console.log(
    renderColumns(
      ['PATH', 'CHANGES', 'WRITTEN', 'OPS'],
      stats.paths.map((p) => [
        quoteName(p.path),
        String(p.changes),
        `${p.bytes_written}B`,
        Object.entries(p.ops)
          .map(([op, n]) => `${op}:${n}`)
          .join(' '),
      ]),
    ),
  );
}

const FOLLOW_WIDTHS = [6, 22, 8, 9, 19];

function followLine(cells: string[]): string {
  return cells
    .map((c, i) => (i < FOLLOW_WIDTHS.length && i < cells.length - 1 ? c.padEnd(FOLLOW_WIDTHS[i]!) : c))
    .join('  ')
    .trimEnd();
}

/**
 * Prints the last events oldest first, then every new call, call completion and file change as it
 * is committed, until interrupted. Polls the database (cheap indexed queries on ids).
 */
async function follow(agent: Agent, q: TimelineQuery, format: string, intervalMs: number): Promise<void> {
  const reader = new JournalReader(agent.store);
  const emit = (e: TimelineEvent) => {
    if (format === 'table') {
      const cells = e.type === 'call' ? callRow(e.call) : fileRow(e.entry);
      console.log(followLine(cells));
    } else console.log(stringifyExact(eventJson(e)));
  };
  // the handlers go in before the first line is out: whoever reads it may stop us at once
  // a stop ends the wait for the next poll too (--interval may be an hour)
  let stop = false;
  let wake = (): void => undefined;
  const removeHandlers = onStopSignal(
    () => {
      stop = true;
      wake();
    },
    { signals: ['SIGINT', 'SIGTERM'] },
  );
  try {
    if (format === 'table') console.log(followLine([...HEADER, 'FILE']));
    const initial = timeline(agent.tools, reader, { ...q, order: 'desc' }).reverse();
    for (const e of initial) emit(e);
    let lastCall = agent.tools.list({ limit: 1 })[0]?.id ?? 0;
    let lastEntry = reader.lastId();
    const pending = new Set(agent.tools.list({ status: 'pending' }).map((c) => c.id));
    const match = q.path === undefined ? undefined : pathMatcher(q.path);
    const callOk = (c: ToolCall) =>
      q.calls !== false && match === undefined && (q.name === undefined || c.name === q.name) && (q.status === undefined || c.status === q.status);
    while (!stop) {
      await new Promise<void>((r) => {
        const timer = setTimeout(r, intervalMs);
        wake = () => {
          clearTimeout(timer);
          r();
        };
      });
      if (stop) break;
      const out: TimelineEvent[] = [];
      for (const id of [...pending]) {
        const c = agent.tools.get(id);
        if (!c || c.status === 'pending') continue;
        pending.delete(id);
        if (callOk(c)) out.push({ type: 'call', time_ns: callTimeNs(c), call: c });
      }
      for (const c of agent.tools.list({ afterId: lastCall, order: 'asc' })) {
        lastCall = Math.max(lastCall, c.id);
        if (c.status === 'pending') pending.add(c.id);
        if (callOk(c)) out.push({ type: 'call', time_ns: callTimeNs(c), call: c });
      }
      if (q.files !== false) {
        for (const entry of reader.list({ afterId: lastEntry, order: 'asc', path: match, toolName: q.name, toolStatus: q.status })) {
          out.push({ type: 'file', time_ns: entry.time_ns, entry });
        }
        lastEntry = Math.max(lastEntry, reader.lastId());
      }
      out.sort((a, b) => a.time_ns - b.time_ns);
      for (const e of out) emit(e);
    }
  } finally {
    removeHandlers();
  }
}

export function registerTimeline(program: Command): void {
  program
    .command('timeline')
    .description("Show an agent's tool calls and file changes, newest first")
    .argument('<ID>', AGENT_ARG)
    .option('--limit <N>', 'at most N entries', '100')
    .option('--filter <TOOL>', 'only calls of this tool (and the file changes they made)')
    .option('--status <STATUS>', 'only calls with this status: pending, success, error (and their file changes)')
    .option('--format <FORMAT>', 'table, json or ndjson', 'table')
    .option('--calls', 'only tool calls')
    .option('--files', 'only file changes (the journal)')
    .option('--since <TIME>', 'from TIME: Unix seconds, a duration ago (10m, 2h, 1d), or a date')
    .option('--until <TIME>', 'up to TIME (same forms as --since)')
    .option('--path <GLOB>', 'only changes of matching paths (and the calls that made them); a glob without / matches base names')
    .option('--follow', 'keep printing new events as they happen (oldest first), until interrupted')
    .option('--interval <MS>', 'poll interval of --follow', '200')
    .option('--stats', 'per-tool counts, failures, average/p95 duration, and the most changed paths')
    .action(async (id: string, opts: TimelineOptions) => {
      const q = queryFrom(opts);
      const interval = parseIntOption('--interval', opts.interval, { min: 10, max: 3_600_000 });
      const agent = openAgentArg(id, { readOnly: true, journal: false });
      try {
        // text another program stored as non-UTF-8 would abort libsql mid-listing: one line instead
        checkForeignText(agent.store, TIMELINE_TABLES);
        if (opts.stats) printStats(agent, q, opts.format, q.limit === 100 ? 10 : q.limit!);
        else if (opts.follow) await follow(agent, q, opts.format, interval);
        else printEvents(timeline(agent.tools, new JournalReader(agent.store), q), opts.format);
      } finally {
        agent.close();
      }
    });
}
