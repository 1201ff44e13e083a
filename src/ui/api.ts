import { computeChanges, patchOf, type Change } from '../core/changes/index.js';
import { FsError } from '../core/errors.js';
import { checkJsonText } from '../core/kv/json.js';
import { OverlayFs } from '../core/overlay/index.js';
import { TOOL_CALL_STATUSES, type CallRow, type ToolCallStatus } from '../core/tools/index.js';
import { fileType } from '../core/file-type.js';
import { isDir, isReg } from '../core/types.js';
import type { AgentHandle, AgentSet } from './agents.js';
import type { Agent } from '../core/agent.js';
import type { WindowPage } from '../core/journal/index.js';

/**
 * The JSON API: read paths of the core, shaped for the browser. Every handler is bounded (pages,
 * previews, LIMITs), so a 100k-call agent costs a page of memory per request.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Largest text shown inline (file view, diffs); bigger files are downloaded. */
const MAX_TEXT = 512 * 1024;
const MAX_DIR_ENTRIES = 2000;

export interface AgentSummary {
  key: string;
  label: string;
  kind: string;
  path: string;
  size: number;
  calls?: number;
  failures?: number;
  pending?: number;
  file_changes?: number;
  last_activity_ms?: number;
  first_activity_ms?: number;
  base?: string;
  error?: string;
}

export function summary(h: AgentHandle): AgentSummary {
  const s = h.source;
  const out: AgentSummary = { key: s.key, label: s.label, kind: s.kind, path: s.database, size: h.size() };
  try {
    Object.assign(
      out,
      h.cached('summary', () => {
        const t = h.calls.totals();
        const j = h.journal.totals();
        const last = Math.max(t.last_ns ?? 0, j.last_ns ?? 0);
        const firsts = [t.first_ns, j.first_ns].filter((x): x is number => x !== undefined);
        return {
          calls: t.calls,
          failures: t.failures,
          pending: t.pending,
          file_changes: j.rows,
          last_activity_ms: last ? Math.floor(last / 1e6) : undefined,
          first_activity_ms: firsts.length ? Math.floor(Math.min(...firsts) / 1e6) : undefined,
          base: h.base(),
        };
      }),
    );
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}

export function listAgents(set: AgentSet): AgentSummary[] {
  return set.sources().map((s) => summary(set.get(s.key)!));
}

function num(v: string | null, what: string): number | undefined {
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new HttpError(400, `${what}: expected a number`);
  return n;
}

function list(v: string | null): string[] | undefined {
  if (v === null || v === '') return undefined;
  return v.split(',').filter(Boolean);
}

/**
 * A page of calls for the waterfall; filters: name, status, q (text), path (glob), since/until (ns).
 * With journal=N, also the first N journal rows of the page's time span.
 */
export function callsPage(h: AgentHandle, p: URLSearchParams): { total: number; offset: number; calls: CallRow[]; journal?: WindowPage } {
  const page = callsOnly(h, p);
  const rows = num(p.get('journal'), 'journal');
  if (!rows || !page.calls.length) return page;
  // the file changes of the page's time span (or of the zoomed range), in the same round trip
  const since = num(p.get('since'), 'since') ?? Math.min(...page.calls.map((c) => c.start_ns));
  const until = num(p.get('until'), 'until') ?? Math.max(...page.calls.map((c) => c.end_ns ?? Date.now() * 1e6));
  return { ...page, journal: h.journal.window({ sinceNs: since, untilNs: until, path: p.get('path') || undefined, limit: rows }) };
}

function callsOnly(h: AgentHandle, p: URLSearchParams): { total: number; offset: number; calls: CallRow[] } {
  const statuses = list(p.get('status'));
  for (const s of statuses ?? []) {
    if (!TOOL_CALL_STATUSES.includes(s as ToolCallStatus)) throw new HttpError(400, `status ${s}: expected pending, success or error`);
  }
  const path = p.get('path') || undefined;
  let ids: Set<number> | undefined;
  if (path) ids = h.cached(`touching:${path}`, () => h.journal.callsTouching(path), Infinity, 2000);
  let offset = num(p.get('offset'), 'offset');
  const around = num(p.get('around'), 'around');
  const limit = num(p.get('limit'), 'limit') ?? 200;
  if (around !== undefined) {
    const pos = h.calls.position(around);
    if (pos !== undefined) offset = Math.floor(pos / limit) * limit;
  }
  return h.calls.page({
    names: list(p.get('name')),
    statuses: statuses as ToolCallStatus[] | undefined,
    text: p.get('q') || undefined,
    sinceNs: num(p.get('since'), 'since'),
    untilNs: num(p.get('until'), 'until'),
    ids,
    offset,
    limit,
    page: p.get('page') === 'last' && offset === undefined ? 'last' : undefined,
  });
}

/** Journal rows in a time range (the changes shown with a page of calls), paged by id with after=. */
export function journalWindow(h: AgentHandle, p: URLSearchParams) {
  return h.journal.window({
    sinceNs: num(p.get('since'), 'since'),
    untilNs: num(p.get('until'), 'until'),
    path: p.get('path') || undefined,
    afterId: num(p.get('after'), 'after'),
    limit: num(p.get('limit'), 'limit'),
  });
}

/** One call: everything recorded, its nested calls and the files it changed. */
export function callDetail(h: AgentHandle, id: number) {
  const call = h.calls.get(id);
  if (!call) throw new HttpError(404, `no tool call ${id}`);
  const end = call.end_ns ?? Date.now() * 1e6;
  // the journal rows of the call lie within its time span (its start second when only that is known)
  const files = h.journal.window({ sinceNs: call.start_ns - 1e9, untilNs: end + 1e9, toolCallId: id, limit: 1000 });
  return { call, files: files.entries, files_truncated: files.truncated, overlay: h.base() !== undefined };
}

export function overview(h: AgentHandle) {
  return {
    ...summary(h),
    tools: h.cached('names', () => h.calls.names()),
    version: h.version(),
  };
}

export function stats(h: AgentHandle) {
  // whole-table aggregates: at most every 2 s while the agent is busy
  return h.cached(
    'stats',
    () => ({ tools: h.calls.figures(), paths: h.journal.topPaths(20), ops: h.journal.opCounts() }),
    Infinity,
    2000,
  );
}

function overlayOf(h: AgentHandle): OverlayFs {
  const fs = h.agent().fs;
  if (!(fs instanceof OverlayFs)) throw new HttpError(404, `${h.source.label} is not an overlay agent (no base directory)`);
  return fs;
}

/** The A/M/D list against the base (overlay agents and run sessions). */
export function changes(h: AgentHandle): { base: string; changes: Change[] } {
  return h.cached('changes', () => {
    const ov = overlayOf(h);
    return { base: ov.baseDir, changes: computeChanges(ov.changes) };
  }, 3000);
}

export interface FileDiff {
  path: string;
  /** 'A' | 'M' | 'D', or undefined when unchanged against the base / no base */
  status?: string;
  /** unified diff text for diff2html */
  patch?: string;
  binary?: boolean;
  size?: number;
  /** why there is no patch */
  note?: string;
}

/**
 * The diff of one path: against the base for overlays; for plain agents (no base to compare
 * with) the current content as an added file.
 */
export function fileDiff(h: AgentHandle, path: string): FileDiff {
  const agent = h.agent();
  if (agent.fs instanceof OverlayFs) {
    const ov = agent.fs;
    const change = changes(h).changes.find((c) => c.path === path);
    if (!change) return { path, note: 'unchanged against the base (or no longer present)' };
    if (change.type !== 'file' && change.oldType !== 'file') return { path, status: change.status, note: `${change.type}, no content diff` };
    const patch = patchOf(ov.changes, change);
    if (/^Binary files /m.test(patch)) return { path, status: change.status, binary: true, size: change.size ?? change.oldSize };
    if (/^File too large/m.test(patch)) return { path, status: change.status, note: patch.split('\n')[1], size: change.size };
    return { path, status: change.status, patch: patch || undefined, note: patch ? undefined : 'metadata only' };
  }
  let attr;
  try {
    attr = agent.paths.lstat(path);
  } catch {
    return { path, note: 'no longer present' };
  }
  if (!isReg(attr.mode)) return { path, note: 'not a regular file' };
  if (attr.size > MAX_TEXT) return { path, size: attr.size, note: 'too large to show; download it from Files' };
  const buf = agent.paths.readFile(path);
  if (buf.subarray(0, 8000).includes(0)) return { path, binary: true, size: attr.size };
  const lines = buf.toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const patch =
    `diff --agentfs a${path} b${path}\n--- /dev/null\n+++ b${path}\n@@ -0,0 +1,${lines.length} @@\n` + lines.map((l) => `+${l}\n`).join('');
  return { path, status: 'A', patch, note: 'no base to compare with: the current content' };
}

function fsCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FsError) throw new HttpError(e.code === 'ENOENT' || e.code === 'ENOTDIR' ? 404 : 400, e.message);
    throw e;
  }
}

/** A directory's entries (at most MAX_DIR_ENTRIES), directories first. */
export function listDir(h: AgentHandle, path: string) {
  const agent = h.agent();
  return fsCall(() => {
    const dir = agent.paths.resolve(path);
    if (!isDir(dir.mode)) throw new HttpError(400, `${path} is not a directory`);
    const raw = agent.fs.readdirPlus(dir.ino, 0, MAX_DIR_ENTRIES + 1);
    const entries = raw
      .filter((e) => e.name !== '.' && e.name !== '..')
      .slice(0, MAX_DIR_ENTRIES)
      .map((e) => ({
        name: e.name,
        type: fileType(e.attr.mode),
        size: e.attr.size,
        mode: e.attr.mode & 0o7777,
        mtime_ms: e.attr.mtime.sec * 1000 + Math.floor(e.attr.mtime.nsec / 1e6),
      }))
      .sort((a, b) => (a.type === 'dir' ? 0 : 1) - (b.type === 'dir' ? 0 : 1) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { path, entries, truncated: raw.length > MAX_DIR_ENTRIES };
  });
}

/** A file for the viewer: text up to MAX_TEXT, or what it is. */
export function viewFile(h: AgentHandle, path: string) {
  const agent = h.agent();
  return fsCall(() => {
    const a = agent.paths.lstat(path);
    const type = fileType(a.mode);
    if (type === 'symlink') return { path, type, size: a.size, target: agent.paths.readlink(path) };
    if (type !== 'file') return { path, type, size: a.size };
    const pieces: Buffer[] = [];
    let got = 0;
    for (const p of agent.paths.readPieces(path, 64 * 1024)) {
      pieces.push(p);
      got += p.length;
      if (got >= MAX_TEXT) break;
    }
    const head = Buffer.concat(pieces).subarray(0, MAX_TEXT);
    if (head.subarray(0, 8000).includes(0)) return { path, type, size: a.size, binary: true };
    return { path, type, size: a.size, text: head.toString('utf8'), truncated: a.size > MAX_TEXT };
  });
}

/**
 * The file's bytes, piece by piece (for a download), from an agent of the download's own: the
 * shared one is reopened after every commit elsewhere, which would cut a download short.
 */
export function filePieces(agent: Agent, path: string): { size: number; pieces: Generator<Buffer> } {
  return fsCall(() => {
    const a = agent.paths.stat(path);
    if (!isReg(a.mode)) throw new HttpError(400, `${path} is not a regular file`);
    return { size: a.size, pieces: agent.paths.readPieces(path, 256 * 1024) };
  });
}

/** Characters of a kv value shown; longer values are pretty-printed from at most KV_PARSE_MAX. */
const KV_SHOWN = 4096;
const KV_PARSE_MAX = 64 * 1024;

/** JSON text indented; as stored when it is not JSON or nests too deep to print back. */
function prettyJson(text: string): string {
  try {
    checkJsonText(text);
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A page of kv entries (values as JSON text, cut at 4 KiB). */
export function kvPage(h: AgentHandle, p: URLSearchParams) {
  const limit = Math.min(Math.max(1, num(p.get('limit'), 'limit') ?? 200), 1000);
  const kv = h.agent().kv;
  const rows = kv.pageText(p.get('prefix') ?? '', p.get('after') ?? '', limit + 1, KV_PARSE_MAX);
  const entries = rows.slice(0, limit).map((e) => {
    const text = e.length <= KV_PARSE_MAX ? prettyJson(e.text) : e.text;
    const cut = text.length > KV_SHOWN || e.length > KV_PARSE_MAX;
    return { key: e.key, value: cut ? `${text.slice(0, KV_SHOWN)}…` : text, created_at: e.created_at, updated_at: e.updated_at };
  });
  return { entries, more: rows.length > limit, total: kv.count() };
}
