/**
 * The directories PathFs.writeFile created files in, by path, with their attributes as looked up
 * then and the names known to be taken in them: hints, never trusted. The one-statement create
 * (ops/create-alone.ts) checks under the write lock that the directory is still at that path and
 * unchanged, and writes nothing when it is not; the path is then forgotten and looked up again.
 * So no other process's change needs to be watched for here, and a burst of files written into
 * one directory skips its lookup. A name known to be taken goes straight to the transaction
 * route (a replacement): a create refused for it costs about half a create.
 */
import type { Attr } from '../types.js';

/** enough for the directories an agent writes into at a time; past it, start over */
const MAX_DIRS = 256;
/** names remembered across all directories; past it, start over */
const MAX_NAMES = 1 << 16;

interface Dir {
  attr: Attr;
  taken: Set<string>;
}

export class DirsWritten {
  private readonly dirs = new Map<string, Dir>();
  private names = 0;

  /** The directory at path as last seen, undefined when unknown. */
  get(path: string): Attr | undefined {
    return this.dirs.get(path)?.attr;
  }

  /** name is known to be taken in the directory at path (a create there would be refused). */
  taken(path: string, name: string): boolean {
    return this.dirs.get(path)?.taken.has(name) === true;
  }

  /** The directory at path is `attr`, and `name` is taken in it. */
  remember(path: string, attr: Attr, name: string): void {
    let d = this.dirs.get(path);
    if (!d || d.attr !== attr) {
      if (!d && this.dirs.size >= MAX_DIRS) this.clear();
      if (d) this.names -= d.taken.size;
      d = { attr, taken: new Set() };
      this.dirs.set(path, d);
    }
    if (this.names >= MAX_NAMES) {
      this.clear();
      return this.remember(path, attr, name);
    }
    if (!d.taken.has(name)) {
      d.taken.add(name);
      this.names++;
    }
  }

  forget(path: string): void {
    const d = this.dirs.get(path);
    if (!d) return;
    this.names -= d.taken.size;
    this.dirs.delete(path);
  }

  private clear(): void {
    this.dirs.clear();
    this.names = 0;
  }
}
