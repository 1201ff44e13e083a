import { isAlive, processInfo } from '../process-alive.js';
import type { ToolCallStatus } from './types.js';

/**
 * True while the process that started a call (pid, at startedNs) still runs: a pending call whose
 * process is gone (killed, crashed) can never finish.
 */
export function ownerAlive(pid: number, startedNs: number | bigint | null): boolean {
  if (pid === process.pid) return true;
  const info = processInfo(pid);
  if (!info) return process.platform === 'linux' ? false : isAlive(pid);
  if (!info.running) return false;
  // a process that started after the call did is another one under a reused pid
  return startedNs === null || info.startMs <= Number(startedNs) / 1e6 + 2000;
}

/** The error text of a call whose process ended before finishing it. */
export function orphanReason(pid: number): string {
  return `the recording process (pid ${pid}) ended without finishing the call (killed?)`;
}

/**
 * Why a call stored as pending can never finish (its process is gone), or undefined while it may
 * (or it is not pending, or nobody recorded its process). Such a call reads as failed.
 */
export function orphaned(status: string, pid: number | null | undefined, startedNs: number | bigint | null): string | undefined {
  if (status !== 'pending' || pid === null || pid === undefined || ownerAlive(Number(pid), startedNs)) return undefined;
  return orphanReason(Number(pid));
}

/** The status a call reads with: stored pending, it is an error once its process is gone. */
export function statusAsRead(stored: ToolCallStatus, pid: number | null | undefined, startedNs: number | bigint | null): ToolCallStatus {
  return orphaned(stored, pid, startedNs) ? 'error' : stored;
}

/** The stored statuses a call that reads as `status` may have (an orphan is stored pending). */
export function storedStatuses(status: ToolCallStatus): ToolCallStatus[] {
  return status === 'error' ? ['error', 'pending'] : [status];
}
