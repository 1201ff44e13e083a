export type ToolCallStatus = 'pending' | 'success' | 'error';

export const TOOL_CALL_STATUSES: readonly ToolCallStatus[] = ['pending', 'success', 'error'];

/** One tool call, shaped as agentfs-sdk returns it (snake_case, absent fields undefined). */
export interface ToolCall {
  id: number;
  name: string;
  parameters?: unknown;
  result?: unknown;
  error?: string;
  status: ToolCallStatus;
  /** Unix seconds */
  started_at: number;
  /** Unix seconds */
  completed_at?: number;
  duration_ms?: number;
  /** the call this one ran inside (our extension table), if any */
  parent_id?: number;
  /** start time in nanoseconds when we recorded it (our extension table), else started_at * 1e9 */
  started_ns?: number;
}

export interface ToolCallFilter {
  /** exact tool name */
  name?: string;
  status?: ToolCallStatus;
  /** started_at >= since (Unix seconds) */
  since?: number;
  /** started_at <= until (Unix seconds) */
  until?: number;
  /** only calls with a larger id (to follow new calls) */
  afterId?: number;
  /** calls nested directly in this one */
  parentId?: number;
  /** at most this many (the newest when order is 'desc') */
  limit?: number;
  /** 'desc' (default): newest first */
  order?: 'asc' | 'desc';
}

/** Per-tool figures over finished calls (pending ones are counted apart). */
export interface ToolCallStats {
  name: string;
  /** finished calls (success + error), as agentfs-sdk counts them */
  total_calls: number;
  successful: number;
  failed: number;
  pending: number;
  avg_duration_ms: number;
  p95_duration_ms: number;
  max_duration_ms: number;
}

export interface StartOptions {
  /** the enclosing call; default: the call in progress in this process (null: none) */
  parentId?: number | null;
  /**
   * Announce the call to other processes on this database (agentfs_active_call), so file
   * operations served by another process (a mount) are attributed to it while it runs.
   */
  shared?: boolean;
  /**
   * The caller runs the call's work inside runInCall (as SDK wrap does): it is the call in
   * progress only there, never for unrelated code that runs meanwhile (concurrent calls).
   */
  scoped?: boolean;
}

export interface RecordInput {
  name: string;
  parameters?: unknown;
  result?: unknown;
  /** an error message (or Error): the call failed */
  error?: unknown;
  /** Unix seconds */
  started_at: number;
  /** Unix seconds */
  completed_at: number;
  /** default: (completed_at - started_at) * 1000, as agentfs-sdk computes it */
  duration_ms?: number;
  parentId?: number | null;
}
