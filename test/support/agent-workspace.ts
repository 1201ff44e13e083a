import { join } from 'node:path';
import { Agent } from '../../src/core/agent.js';
import { runCli, tempDir } from './cli.js';

/**
 * A temporary directory of agents driven through the CLI (ids under its `.agentfs/`) and
 * inspected in-process, as the sync tests do.
 */
export function agentWorkspace(prefix: string, env: NodeJS.ProcessEnv = {}) {
  const tmp = tempDir(prefix);
  const db = (id: string) => join(tmp.dir, '.agentfs', `${id}.db`);
  /** runs `agentfs ARGS` in the workspace; throws with its stderr unless it exits 0 */
  const cli = async (...args: string[]) => {
    const r = await runCli(args, { cwd: tmp.dir, env });
    if (r.code !== 0) throw new Error(`agentfs ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  /** fn over the agent, opened for the call only */
  const withAgent = <T>(id: string, fn: (a: Agent) => T): T => {
    const a = Agent.open({ path: db(id) });
    try {
      return fn(a);
    } finally {
      a.close();
    }
  };
  return { tmp, db, cli, withAgent };
}
