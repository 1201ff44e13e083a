/** Typed fetches of the server's JSON API (same origin; the token travels in the cookie). */
// The shapes are the server's own (type-only imports: nothing of the server is bundled).
import type { AgentSummary, FileDiff } from '../../src/ui/api.js';
import type { CallDetail, CallRow, ToolFigures } from '../../src/core/tools/reader.js';
import type { JournalEntry } from '../../src/core/journal/types.js';
export type { AgentSummary, CallDetail, CallRow, FileDiff, JournalEntry, ToolFigures };

export interface Overview extends AgentSummary {
  tools: { name: string; calls: number }[];
  version: number;
}

export type Status = CallRow['status'];

export interface Change {
  path: string;
  status: 'A' | 'M' | 'D';
  type: string;
  oldType?: string;
  what?: string[];
  size?: number;
  oldSize?: number;
}

export interface DirEntry {
  name: string;
  type: string;
  size: number;
  mode: number;
  mtime_ms: number;
}

export interface Stats {
  tools: ToolFigures[];
  paths: { path: string; changes: number; bytes_written: number }[];
  ops: Record<string, number>;
}

export async function get<T>(url: string): Promise<T> {
  const res = await fetch(url, { credentials: 'same-origin' });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${res.status}: ${text.slice(0, 200)}`);
  }
  if (!res.ok) throw new Error((body as { error?: string }).error ?? `HTTP ${res.status}`);
  return body as T;
}

export function agentUrl(key: string, rest = '', params: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `api/agents/${encodeURIComponent(key)}${rest}${qs ? `?${qs}` : ''}`;
}
