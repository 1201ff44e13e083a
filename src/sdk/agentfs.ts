import { Agent, type AgentOpenOptions } from '../core/agent.js';
import { AgentFsFilesystem } from './fs.js';
import { AgentKv } from './kv.js';
import { AgentTools } from './tools.js';

export interface AgentFSOptions {
  /** agent id: the database is `.agentfs/<id>.db` under the current directory */
  id?: string;
  /** explicit database file (takes precedence over id) */
  path?: string;
  /** create the database when it does not exist (default true, as agentfs-sdk does) */
  create?: boolean;
  /** chunk size of a new database (default 4096) */
  chunkSize?: number;
  /** 'normal' (default): crash-safe, durable at fsync; 'full': every commit fsynced */
  durability?: 'normal' | 'full';
  /** keep the file-operation journal (default: the database's setting, on unless disabled at init) */
  journal?: boolean;
}

/**
 * An agent's filesystem, key-value store and tool-call log, in one SQLite file.
 * `AgentFS.open({ id })` opens `.agentfs/<id>.db`, `{ path }` a file, `{}` an in-memory database.
 */
export class AgentFS {
  readonly fs: AgentFsFilesystem;
  readonly kv: AgentKv;
  readonly tools: AgentTools;
  private readonly agent: Agent;

  private constructor(agent: Agent) {
    this.agent = agent;
    this.fs = new AgentFsFilesystem(agent.paths, () => agent.holdOpenFiles());
    this.kv = new AgentKv(agent.kv);
    this.tools = new AgentTools(agent.tools);
  }

  static async open(options: AgentFSOptions = {}): Promise<AgentFS> {
    const target = options.path ? { path: options.path } : options.id ? { id: options.id } : {};
    const openOptions: AgentOpenOptions = {
      create: options.create ?? true,
      chunkSize: options.chunkSize,
      durability: options.durability,
      journal: options.journal,
    };
    return new AgentFS(Agent.open(target, openOptions));
  }

  /** absolute path of the database file (':memory:' for an in-memory agent) */
  get path(): string {
    return this.agent.store.path;
  }

  /** the read-only base directory, for an overlay agent */
  get base(): string | undefined {
    return this.agent.base;
  }

  async close(): Promise<void> {
    this.agent.close();
  }
}
