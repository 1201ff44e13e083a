/** Every command's agent argument, read one way (sandbox/resolve.ts) and described one way. */
import { Agent, type AgentOpenOptions } from '../core/agent.js';
import { resolveAgent } from '../sandbox/resolve.js';

/** The help text of every ID argument: all commands accept the same three forms. */
export const AGENT_ARG = 'agent id, run session id, or path to a .db file';

/** Opens the agent an argument names (id in .agentfs/, path to a .db, or run session id). */
export function openAgentArg(arg: string, options: AgentOpenOptions = {}): Agent {
  return Agent.open(resolveAgent(arg).target, options);
}
