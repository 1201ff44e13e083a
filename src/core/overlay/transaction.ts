import type { Store } from '../../store/index.js';
import type { Node, NodeTable } from './inodes.js';
import type { MergedPaths } from './merged-paths.js';
import type { Whiteouts } from './whiteouts.js';

/**
 * The overlay's transactions: a store transaction whose failure also rolls back what the overlay
 * remembers. Nodes copied up inside it lose their delta inode again; cached whiteouts and paths
 * are dropped, unless it failed before any statement that may write (a refusal: ENOTEMPTY,
 * EEXIST...), which left them as they were: dropping the paths takes every host file back from
 * the addon (a refused `mv -T` made the next `git status` ask JavaScript for each lstat).
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
    let wrote = true;
    try {
      const out = this.store.transaction(() => this.refusedUnwritten(fn, (w) => (wrote = w)));
      if (this.depth === 1) this.copied = [];
      return out;
    } catch (e) {
      if (this.depth === 1) {
        for (const n of this.copied) this.nodes.dropDelta(n);
        this.copied = [];
      }
      if (wrote) this.dropCaches();
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
    let wrote = true;
    try {
      return this.refusedUnwritten(fn, (w) => (wrote = w));
    } catch (e) {
      if (wrote) this.dropCaches();
      throw e;
    }
  }

  /** fn; if it throws, `wrote` hears whether a statement that may write ran before (Store.changes). */
  private refusedUnwritten<T>(fn: () => T, wrote: (w: boolean) => void): T {
    const at = this.store.changes;
    try {
      return fn();
    } catch (e) {
      wrote(this.store.changes !== at);
      throw e;
    }
  }

  private dropCaches(): void {
    this.whiteouts.invalidate();
    this.paths.invalidate();
  }

  /** A node got its delta inode: inside a transaction, it loses it again if that fails. */
  copiedUp(node: Node): void {
    if (this.depth > 0) this.copied.push(node);
  }
}
