import { Store, type OpenOptions } from '../store/index.js';
import type { AgentTarget } from '../store/index.js';
import type { FileSystem } from './types.js';
import { InodeFs } from './fs/index.js';
import { PathFs } from './fs/paths.js';
import { KvStore } from './kv/index.js';
import { ToolCalls } from './tools/index.js';

/** Keys of our own settings in agentfs_meta. */
export const META = {
  /** absolute path of the read-only base directory of an overlay agent */
  base: 'overlay.base',
  /** 'off' disables the file-operation journal */
  journal: 'journal',
  /** remote database URL for sync */
  syncRemote: 'sync.remote_url',
  createdAt: 'created_at',
} as const;

export interface AgentOpenOptions extends OpenOptions {
  /** override the journal setting stored in the database */
  journal?: boolean;
}

/**
 * One agent: its database and the core services over it (filesystem, kv, tool calls).
 * Every adapter (SDK, CLI, FUSE, MCP, sandbox) opens agents through here.
 */
export class Agent {
  readonly store: Store;
  /** the agent's filesystem: the inode filesystem, or the overlay over a base directory */
  readonly fs: FileSystem;
  /** path-based helpers (mkdir -p, readFile, writeFile, rm -r, copy) over `fs` */
  readonly paths: PathFs;
  readonly kv: KvStore;
  readonly tools: ToolCalls;
  /** base directory when this agent is an overlay */
  readonly base: string | undefined;

  private constructor(store: Store) {
    this.store = store;
    this.base = store.getMeta(META.base);
    const inode = new InodeFs(store);
    this.fs = inode;
    this.paths = new PathFs(this.fs);
    this.kv = new KvStore(store);
    this.tools = new ToolCalls(store);
  }

  static open(target: AgentTarget = {}, options: AgentOpenOptions = {}): Agent {
    const store = Store.open(target, options);
    try {
      return new Agent(store);
    } catch (e) {
      store.close();
      throw e;
    }
  }

  close(): void {
    this.store.close();
  }
}
