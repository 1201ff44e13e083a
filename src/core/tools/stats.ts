import { Where, type Store } from '../../store/index.js';
import { orphaned } from './owner.js';
import { timeNameTerms, type TimeNameFilter } from './source.js';
import type { ToolCallStats, ToolCallStatus } from './types.js';

/**
 * Per-tool counts, failures and average/p95/max duration of finished calls, busiest first, as
 * agentfs-sdk's getStats() counts them. A pending call whose process is gone counts as failed
 * (ToolCalls reads it so), without a duration. `source` is ToolCalls' SELECT source.
 */
export function toolCallStats(store: Store, source: string, filter: TimeNameFilter = {}): ToolCallStats[] {
  const where = timeNameTerms(filter, new Where());
  const rows = store
    .stmt(
      `SELECT c.name, c.status, c.duration_ms,
              CASE WHEN c.status = 'pending' THEN (SELECT e.pid FROM agentfs_tool_call_ext e WHERE e.id = c.id) END AS pid,
              CASE WHEN c.status = 'pending' THEN (SELECT e.started_ns FROM agentfs_tool_call_ext e WHERE e.id = c.id) END AS started_ns
       FROM ${source} c ${where}
       ORDER BY c.name, c.duration_ms`,
    )
    .all(...where.args) as { name: string; status: ToolCallStatus; duration_ms: number | null; pid: number | null; started_ns: number | null }[];
  const byName = new Map<string, { ok: number; failed: number; pending: number; durations: number[] }>();
  for (const r of rows) {
    let s = byName.get(r.name);
    if (!s) byName.set(r.name, (s = { ok: 0, failed: 0, pending: 0, durations: [] }));
    if (orphaned(r.status, r.pid, r.started_ns)) {
      s.failed++; // an orphan; no duration
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
