import type { Where } from '../../store/index.js';
import type { ToolCallStatus } from './types.js';
import { TOOL_CALL_STATUSES } from './types.js';

/**
 * Where the calls are read from, whatever the layout. agentfs-sdk's layout has `status`; the spec
 * text's layout has none (its status follows from error/completed_at) and keeps pending calls in
 * agentfs_tool_call_pending until they finish.
 */
const SPEC_STATUS = `CASE WHEN error IS NOT NULL THEN 'error' WHEN completed_at IS NULL THEN 'pending' ELSE 'success' END`;

/** A SELECT source (alias it `c`) with the spec columns plus `status`. */
export function callsSource(hasStatus: boolean, hasPendingTable: boolean): string {
  if (hasStatus) return 'tool_calls';
  const pending = hasPendingTable
    ? `UNION ALL SELECT id, name, parameters, NULL, NULL, 'pending', started_at, NULL, NULL FROM agentfs_tool_call_pending`
    : '';
  return `(SELECT id, name, parameters, result, error, ${SPEC_STATUS} AS status, started_at, completed_at, duration_ms FROM tool_calls ${pending})`;
}

/** The columns of a call row every reader selects: the source's and those of agentfs_tool_call_ext. */
export interface CallColumns {
  id: number;
  name: string;
  status: string;
  started_at: number;
  completed_at: number | null;
  duration_ms: number | null;
  parent_id: number | null;
  started_ns: number | null;
}

/** A status as stored; anything else another program wrote reads as pending. */
export function statusOf(stored: string): ToolCallStatus {
  return TOOL_CALL_STATUSES.includes(stored as ToolCallStatus) ? (stored as ToolCallStatus) : 'pending';
}

/** The filter on name and start time (Unix seconds) that listings and statistics share. */
export interface TimeNameFilter {
  name?: string;
  since?: number;
  until?: number;
}

/** Adds the terms of a TimeNameFilter over the source aliased `c`. */
export function timeNameTerms(filter: TimeNameFilter, where: Where): Where {
  return where.when('c.name = ?', filter.name).when('c.started_at >= ?', filter.since).when('c.started_at <= ?', filter.until);
}

/**
 * SQL true while the call whose id is `id` (an SQL expression) is stored pending: in tool_calls
 * with that status, or (spec-text layout) waiting in agentfs_tool_call_pending. Our ext rows do
 * not record the end, so this is how the open calls are told apart.
 */
export function pendingTest(hasStatus: boolean, id: string): string {
  return hasStatus
    ? `EXISTS (SELECT 1 FROM tool_calls p WHERE p.id = ${id} AND p.status = 'pending')`
    : `EXISTS (SELECT 1 FROM agentfs_tool_call_pending p WHERE p.id = ${id})`;
}
