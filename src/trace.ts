/**
 * AGENTFS_FUSE_TRACE: opt-in counts of the work a mount does (kernel requests by kind, SQLite
 * statements by SQL), reported when it ends. Unset or "0": off; "1": to stderr; else a file to
 * append to (a background mount's stderr is its log).
 */
import { appendFileSync } from 'node:fs';

export function traceTarget(): string | undefined {
  const v = process.env.AGENTFS_FUSE_TRACE;
  return v && v !== '0' ? v : undefined;
}

/** Writes a trace report where AGENTFS_FUSE_TRACE says. */
export function writeTrace(lines: string[]): void {
  const target = traceTarget();
  if (!target || lines.length === 0) return;
  const text = lines.join('\n') + '\n';
  if (target === '1') process.stderr.write(text);
  else appendFileSync(target, text);
}
