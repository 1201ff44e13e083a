import type { Store } from '../../store/index.js';
import type { Node, NodeTable } from './inodes.js';
import type { MergedPaths } from './merged-paths.js';
import type { Whiteouts } from './whiteouts.js';

/**
 * The overlay's transactions: a store transaction whose failure also rolls back what the overlay
 * remembers. Nodes copied up inside it lose their delta inode again; cached whiteouts and paths
 * are dropped.
 */
export class OverlayTransactions {
  private depth = 0;
  private copied: Node[] = [];

  constructor(
    private readonly store: Store,
    private readonly nodes: NodeTable,
    private readonly whiteouts: Whiteouts,
    private readonly paths: MergedPaths,
  ) {}

  run<T>(fn: () => T): T {
    this.depth++;
    try {
      const out = this.store.transaction(fn);
      if (this.depth === 1) this.copied = [];
      return out;
    } catch (e) {
      if (this.depth === 1) {
        for (const n of this.copied) this.nodes.dropDelta(n);
        this.copied = [];
      }
      this.whiteouts.invalidate();
      this.paths.invalidate();
      throw e;
    } finally {
      this.depth--;
    }
  }

  /**
   * fn, one operation of the delta that is atomic by itself and copies nothing up, without a
   * savepoint around it (inside a mount's group commit the delta's create is one statement); a
   * failure drops the cached whiteouts and paths as run() does.
   */
  alone<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      this.whiteouts.invalidate();
      this.paths.invalidate();
      throw e;
    }
  }

  /** A node got its delta inode: inside a transaction, it loses it again if that fails. */
  copiedUp(node: Node): void {
    if (this.depth > 0) this.copied.push(node);
  }
}
