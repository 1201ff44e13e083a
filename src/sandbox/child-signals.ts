import type { ChildProcess } from 'node:child_process';
import { passToCommand, untilExit, type ChildExit } from '../platform/signals.js';

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGINT', 'SIGQUIT'];

/**
 * Spawns a sandboxed command's process (start) and runs it to its end, passing on the signals
 * agentfs receives. A terminal's Ctrl-C / Ctrl-\ already reach the command (same process group):
 * those are passed on only when there is no terminal; the others always are.
 */
export function untilSandboxExit(start: () => ChildProcess): Promise<ChildExit> {
  return untilExit(start, FORWARDED, { pass: passToCommand() });
}
