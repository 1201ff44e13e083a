/** Serving an agent over NFS: open it as every adapter does (journal and all), then serve its fs. */
import { Agent } from '../core/agent.js';
import { StoreError, type AgentTarget } from '../store/index.js';
import { handleGeneration } from './handles.js';
import { NfsServer } from './server.js';

export interface AgentNfsOptions {
  host?: string;
  port?: number;
  onError?: (e: unknown) => void;
  maxPartial?: number;
}

export interface AgentNfs {
  agent: Agent;
  server: NfsServer;
  /** stops serving and closes the agent (writes out journal bursts) */
  close(): Promise<void>;
}

export async function serveAgentNfs(target: AgentTarget, options: AgentNfsOptions = {}): Promise<AgentNfs> {
  // journal on unless the agent says otherwise; changes are attributed to the tool call in
  // progress (`agentfs record`) exactly as changes through a FUSE mount are
  const agent = openForServing(target);
  try {
    const server = await NfsServer.start(agent.fs, {
      host: options.host,
      port: options.port,
      generation: handleGeneration(agent.store),
      groupCommit: agent.store.readOnly ? undefined : { begin: () => agent.store.beginBatch(), commit: () => agent.store.commitBatch() },
      onError: options.onError,
      maxPartial: options.maxPartial,
    });
    let closed = false;
    return {
      agent,
      server,
      async close() {
        if (closed) return;
        closed = true;
        try {
          await server.close();
        } finally {
          agent.close();
        }
      },
    };
  } catch (e) {
    agent.close();
    throw e;
  }
}

/** A database this process may not write is served read-only: every change answers ROFS. */
function openForServing(target: AgentTarget): Agent {
  try {
    return Agent.open(target);
  } catch (e) {
    if (!(e instanceof StoreError && e.code === 'denied')) throw e;
    return Agent.open(target, { readOnly: true });
  }
}
