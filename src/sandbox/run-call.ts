import type { Agent } from '../core/agent.js';
import { startCommandCall, type CommandCall } from '../core/tools/index.js';

/**
 * The tool call of one `agentfs run` (either sandbox): started before the command, finished
 * with its exit. Best effort: the audit trail must not stop the command.
 */
export function recordRunStart(agent: Agent, argv: string[], cwd: string, extra: Record<string, unknown> = {}): CommandCall | undefined {
  try {
    return startCommandCall(agent.tools, argv, { name: 'agentfs run', cwd, extra: { pid: process.pid, ...extra } });
  } catch {
    return undefined;
  }
}

export function recordRunEnd(call: CommandCall | undefined, outcome: { code: number | null; signal: NodeJS.Signals | null }): void {
  try {
    call?.finish(outcome);
  } catch {
    /* see recordRunStart */
  }
}
