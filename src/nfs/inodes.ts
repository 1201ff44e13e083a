/**
 * What the server learns about inodes beyond what the filesystem tells on request: parents of
 * directories (for '..' where the fs cannot look it up: the overlay), and where an inode is that
 * the filesystem does not know right now (the overlay knows only what was looked up since it
 * opened, so after a restart the handles clients still hold name inodes it has not seen).
 */
import { isDir, type FileSystem } from '../core/types.js';

/** most entries one search for an unknown inode visits */
const RELOCATE_MAX_ENTRIES = 100_000;
/** a failed search for an inode is not repeated sooner */
const RELOCATE_RETRY_MS = 60_000;

export class InodeKnowledge {
  /** directory -> parent, learned from lookups, mkdir and listings */
  private readonly parents = new Map<number, number>();
  /** inode -> when a walk last failed to find it */
  private readonly lost = new Map<number, number>();

  constructor(private readonly fs: FileSystem) {}

  rememberParent(dir: number, parent: number): void {
    if (this.parents.size > 200_000) this.parents.clear();
    this.parents.set(dir, parent);
  }

  parentOf(dir: number): number | undefined {
    return this.parents.get(dir);
  }

  /**
   * One breadth-first walk of the tree (readdirPlus makes the overlay learn every entry) until
   * ino turns up; bounded, and not repeated for the same inode for a while. True when found.
   */
  relocate(ino: number): boolean {
    const failed = this.lost.get(ino);
    if (failed !== undefined && Date.now() - failed < RELOCATE_RETRY_MS) return false;
    const queue = [this.fs.rootIno];
    let budget = RELOCATE_MAX_ENTRIES;
    for (let i = 0; i < queue.length && budget > 0; i++) {
      const dir = queue[i]!;
      let cookie = 0;
      for (;;) {
        let page;
        try {
          page = this.fs.readdirPlus(dir, cookie, 1024);
        } catch {
          break;
        }
        for (const e of page) {
          if (e.ino === ino) return true;
          if (isDir(e.attr.mode)) {
            queue.push(e.ino);
            this.rememberParent(e.ino, dir);
          }
        }
        budget -= page.length;
        if (page.length < 1024 || budget <= 0) break;
        cookie = page[page.length - 1]!.offset;
      }
    }
    if (this.lost.size > 10_000) this.lost.clear();
    this.lost.set(ino, Date.now());
    return false;
  }
}
