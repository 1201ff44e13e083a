import { cycleError } from '../fs/paths.js';
import { S_IFDIR, S_IFMT } from '../types.js';
import type { MergedLookup } from './lookup.js';
import { hostInoOf } from './inodes.js';
import type { OverlayParts } from './parts.js';
import type { OverlayTransactions } from './transaction.js';

/** A delta entry found by its overlay path. */
export interface DeltaEntry {
  /** delta inode of its directory */
  parent: number;
  name: string;
  ino: number;
}

/**
 * Taking delta entries out again (commit once the base holds them, discard), so that the merged
 * view falls through to whiteouts and the base there.
 */
export class DeltaRevert {
  constructor(
    private readonly o: OverlayParts,
    private readonly lookup: MergedLookup,
    private readonly tx: OverlayTransactions,
  ) {}

  /** The delta entry at an overlay path, walking the delta tree. */
  entryAt(path: string): DeltaEntry | undefined {
    const parts = path.split('/').filter(Boolean);
    if (!parts.length) return undefined;
    let dir = this.o.delta.rootIno;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = this.lookup.deltaChild(dir, parts[i]!);
      if (next === undefined) return undefined;
      dir = next;
    }
    const name = parts[parts.length - 1]!;
    const ino = this.lookup.deltaChild(dir, name);
    return ino === undefined ? undefined : { parent: dir, name, ino };
  }

  /**
   * Removes the delta entry at `path` (with everything below it when `recursive`). Returns
   * whether one existed. A directory that still has delta children is kept unless recursive.
   */
  drop(path: string, recursive: boolean): boolean {
    const at = this.entryAt(path);
    if (!at) return false;
    let removed = true;
    this.tx.run(() => {
      removed = this.dropTree(at.parent, at.name, at.ino, recursive);
    });
    this.o.paths.invalidate();
    return removed;
  }

  private dropTree(parent: number, name: string, ino: number, recursive: boolean, onPath = new Set<number>()): boolean {
    const { delta, origins, nodes } = this.o;
    const attr = delta.getattr(ino);
    if ((attr.mode & S_IFMT) === S_IFDIR) {
      const children = delta.readdir(ino);
      if (children.length && !recursive) return false;
      // a damaged delta can lead back to a directory above: ELOOP, not a stack overflow
      if (onPath.has(ino)) throw cycleError(name);
      onPath.add(ino);
      for (const c of children) this.dropTree(ino, c.name, c.ino, true, onPath);
      onPath.delete(ino);
      delta.rmdir(parent, name);
      origins.forget(ino);
    } else {
      delta.unlink(parent, name);
      if (attr.nlink <= 1) origins.forget(ino);
    }
    const node = nodes.byDeltaIno(ino);
    if (node && (attr.nlink <= 1 || (attr.mode & S_IFMT) === S_IFDIR)) {
      if (node.baseIno === undefined && origins.baseIno(ino) === undefined) nodes.delete(node);
      else nodes.dropDelta(node);
      // a node that came from the base reads from the base again
      if (node.baseIno === undefined) node.baseIno = hostInoOf(node.ino);
    }
    return true;
  }
}
