/**
 * What the server learns about inodes beyond what the filesystem tells on request: parents of
 * directories (for '..' where the fs cannot look it up: the overlay), and where an inode is that
 * the filesystem does not know right now (the overlay knows only what was looked up since it
 * opened, so after a restart the handles clients still hold name inodes it has not seen).
 */
import { readdirPlusPages } from '../core/fs/index.js';
import { isDir, type FileSystem } from '../core/types.js';

/** most entries one walk visits */
const RELOCATE_MAX_ENTRIES = 100_000;
/** walks are at most this often: one teaches the filesystem every inode in reach */
const RELOCATE_RETRY_MS = 60_000;

export class InodeKnowledge {
  /** directory -> parent, learned from lookups, mkdir and listings */
  private readonly parents = new Map<number, number>();
  /** when the last walk started */
  private lastWalk = -Infinity;

  constructor(private readonly fs: FileSystem) {}

  rememberParent(dir: number, parent: number): void {
    if (this.parents.size > 200_000) this.parents.clear();
    this.parents.set(dir, parent);
  }

  parentOf(dir: number): number | undefined {
    return this.parents.get(dir);
  }

  /**
   * One whole breadth-first walk of the tree (readdirPlus makes the overlay learn every entry),
   * bounded, then whether ino turned up. The walk is not cut short when ino is found and is not
   * repeated for a while: after it the filesystem knows every inode a client can hold, so a
   * handle it still does not know is gone (and a client sending made-up handles costs one walk
   * a minute, not one a call).
   */
  relocate(ino: number): boolean {
    if (Date.now() - this.lastWalk < RELOCATE_RETRY_MS) return false;
    this.lastWalk = Date.now();
    let found = false;
    const queue = [this.fs.rootIno];
    let budget = RELOCATE_MAX_ENTRIES;
    for (let i = 0; i < queue.length && budget > 0; i++) {
      const dir = queue[i]!;
      try {
        for (const page of readdirPlusPages(this.fs, dir)) {
          for (const e of page) {
            if (e.ino === ino) found = true;
            if (isDir(e.attr.mode)) {
              queue.push(e.ino);
              this.rememberParent(e.ino, dir);
            }
          }
          budget -= page.length;
          if (budget <= 0) break;
        }
      } catch {
        /* the directory went away meanwhile: nothing to find in it */
      }
    }
    return found;
  }
}
