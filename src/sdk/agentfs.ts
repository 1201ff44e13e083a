import { isMainThread } from 'node:worker_threads';
import { Agent, type AgentOpenOptions } from '../core/agent.js';
import { AgentfsError } from '../errors.js';
import { checkpointInBackground } from '../platform/wal-checkpoints.js';
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
    const agent = Agent.open(target, openOptions);
    // The WAL's checkpoints off the awaited writes' path, as a mount has them (a 4 KiB writeFile,
    // kv set or tool record: 0.8-1.0x of bare libsql's commit here, against 1.05-1.3x checkpointing
    // in the commits). Not under durability 'full': the thread's syncs then queue with every
    // commit's own (kv set and tool record 1.1-1.2x against 1.0x). Where the addon cannot load
    // (no prebuild, no libfuse 3 runtime) commits checkpoint themselves, as before. Nor in a
    // worker thread: a worker that ended with its agent open (no close()) left the addon's
    // SQLite, shared by the whole process, writing pages into the wrong database files.
    if (options.durability !== 'full' && isMainThread) {
      checkpointInBackground(agent.store, reportCheckpointProblem, { watchSpace: true, keepWalBytes: SDK_KEEP_WAL_BYTES });
    }
    return new AgentFS(agent);
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

/** ~2.5 restarts' bound of WAL (RESTART_FRAMES in platform/wal-checkpoints.ts), kept while writes go on */
const SDK_KEEP_WAL_BYTES = 40 << 20;

/** A checkpoint thread that could not start or failed: a warning (the writes go on, checkpointing themselves). */
function reportCheckpointProblem(e: unknown): void {
  if (e instanceof AgentfsError && e.code === 'unsupported') return; // no addon here: nothing to tell
  process.emitWarning(`agentfs: WAL checkpoints in the background: ${(e as Error)?.message ?? String(e)}`);
}
