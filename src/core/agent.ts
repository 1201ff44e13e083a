import { Store, StoreError, type OpenOptions } from '../store/index.js';
import type { AgentTarget } from '../store/index.js';
import type { FileSystem } from './types.js';
import { InodeFs } from './fs/index.js';
import { PathFs } from './fs/paths.js';
import { KvStore } from './kv/index.js';
import { ToolCalls } from './tools/index.js';
import { Journal } from './journal/index.js';
import { OverlayFs } from './overlay/index.js';

/** Keys of our own settings in agentfs_meta. */
export const META = {
  /** absolute path of the read-only base directory of an overlay agent */
  base: 'overlay.base',
  /** JSON array of base paths ('/.agentfs') an overlay never shows from the base */
  hide: 'overlay.hide',
  /** 'off' disables the file-operation journal */
  journal: 'journal',
  /** remote database URL for sync */
  syncRemote: 'sync.remote_url',
  createdAt: 'created_at',
} as const;

export interface AgentOpenOptions extends OpenOptions {
  /** override the journal setting stored in the database */
  journal?: boolean;
  /**
   * overlay: read the base by its path rather than through a descriptor; only for a process in
   * whose mount namespace nothing is mounted over the base (the sandbox binds it elsewhere)
   */
  baseDirect?: boolean;
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
  /** the file-operation journal, unless turned off (init/mount --no-journal, or options.journal false) */
  readonly journal: Journal | undefined;
  /** base directory when this agent is an overlay */
  readonly base: string | undefined;
  /** the inode filesystem (the delta of an overlay) */
  private readonly inode: InodeFs;
  private unhold: (() => void) | undefined;

  private constructor(store: Store, options: AgentOpenOptions) {
    this.store = store;
    this.base = store.getMeta(META.base);
    this.tools = new ToolCalls(store);
    const journalOn = !store.readOnly && (options.journal ?? store.getMeta(META.journal) !== 'off');
    const tools = this.tools;
    let inode: InodeFs | undefined;
    this.journal = journalOn
      ? new Journal(store, { pathOf: (ino) => inode!.pathOf(ino), entryOf: (ino) => inode!.entryOf(ino), currentCall: () => tools.current('anywhere') })
      : undefined;
    inode = new InodeFs(store, { observer: this.journal?.observer });
    this.inode = inode;
    this.fs =
      this.base === undefined
        ? inode
        : new OverlayFs(store, this.base, {
            delta: inode,
            hide: hiddenPaths(store),
            direct: options.baseDirect,
            observer: this.journal?.observer,
          });
    this.paths = new PathFs(this.fs);
    this.kv = new KvStore(store);
    // pending calls of processes that died (a `record` killed with SIGKILL) are stored as failed
    if (!store.readOnly) this.tools.reapOrphans();
  }

  static open(target: AgentTarget = {}, options: AgentOpenOptions = {}): Agent {
    const store = Store.open(target, options);
    try {
      return new Agent(store, options);
    } catch (e) {
      store.close();
      // a read-only open of an agent whose first open still has something to set up (an overlay
      // adopting its base root): one writable open does it, then read as asked
      if (options.readOnly && !options.neverWrite && e instanceof StoreError && e.code === 'read-only') {
        Agent.open(target, { ...options, readOnly: false }).close();
        const again = Store.open(target, options);
        try {
          return new Agent(again, options);
        } catch (e2) {
          again.close();
          throw e2;
        }
      }
      throw e;
    }
  }

  /**
   * This process keeps the agent's files open for others (a mount): a file another process
   * unlinks keeps its data while open here (see core/fs/lifecycle.ts). Undone by close().
   */
  holdOpenFiles(): void {
    if (!this.unhold && !this.store.readOnly) this.unhold = this.inode.holdOpenFiles();
  }

  /** A mount's unlinks may be answered before they are written, up to `batch` at a time (InodeFs.answerUnlinksFirst; a plain agent's only). */
  answerUnlinksFirst(batch: number): void {
    if (this.base === undefined && !this.store.readOnly && batch > 1) this.inode.answerUnlinksFirst(batch);
  }

  /** The mount that held its files open ended: nothing is open here any more (InodeFs.forgetOpenFiles). */
  forgetOpenFiles(): void {
    this.inode.forgetOpenFiles();
  }

  /** An unlinked file was last released here: purgeHandedOrphans passes it on or frees it (see holdOpenFiles). */
  get handedPurgeDue(): boolean {
    return this.unhold !== undefined && this.inode.handedPurgeDue;
  }

  /** For a holder, after another process changed the database (see holdOpenFiles). */
  purgeHandedOrphans(): void {
    if (this.unhold) this.inode.purgeHandedOrphans();
  }

  close(): void {
    try {
      try {
        this.unhold?.();
      } catch {
        /* a busy database: the row of a dead holder is swept by the next writable open */
      }
      this.unhold = undefined;
      this.journal?.close(); // writes out open write bursts
    } finally {
      if (this.fs instanceof OverlayFs) this.fs.close();
      this.store.close();
    }
  }
}

function hiddenPaths(store: Store): string[] {
  const raw = store.getMeta(META.hide);
  return raw ? (JSON.parse(raw) as string[]) : [];
}
