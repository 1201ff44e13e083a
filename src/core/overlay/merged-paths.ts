import { cycleError } from '../fs/paths.js';
import { S_IFDIR, S_IFMT } from '../types.js';
import { join } from './base.js';
import type { Node } from './inodes.js';
import type { Origins } from './origins.js';

interface Placed {
  gen: number;
  /** path in the merged view ('/' for the root) */
  path: string;
  /** base path the node shows from, or null (opaque, or no base layer) */
  base: string | null;
}

/**
 * Where each node is: its path in the merged view and the base path it shows from. Cached per
 * node until something moves a directory or changes its base layer (invalidate).
 */
export class MergedPaths {
  private generation = 0;
  private readonly cache = new WeakMap<Node, Placed>();
  private readonly hidden: Set<string>;

  constructor(
    private readonly origins: Origins,
    hide: readonly string[],
    /** told when a node's cached path may be wrong (undefined: every node's) */
    private readonly onInvalidate: (ino?: number) => void = () => {},
  ) {
    this.hidden = new Set(hide);
  }

  /** A directory moved or changed its base layer: every cached path may be wrong. */
  invalidate(): void {
    this.generation++;
    this.onInvalidate();
  }

  /**
   * An empty directory removed (rmdir): no other node's path runs through it, so every other
   * stays cached, and so does every host file the addon was given. An invalidation here took them
   * all back: a `git status` after an `rm -rf` of a directory made in the sandbox asked JavaScript
   * for each of its 7,000 lstats (560-590 ms against ~200).
   */
  removed(node: Node): void {
    this.cache.delete(node);
    this.onInvalidate(node.ino);
  }

  /**
   * Directory `node` moved (a rename) and kept `base`, the base directory it showed before (null:
   * none, so no host file below it; OverlayRename.moveDir): the merged paths below it change, not
   * the base paths they show, so the host files the addon was given below it stay what they were.
   * `node` and `replaced` (the empty directory it took the place of) go back. A base layer other
   * than `base` now (a hidden path): everything goes back.
   */
  movedDir(node: Node, base: string | null, replaced?: Node): void {
    this.generation++;
    if (this.of(node).base !== base) return this.invalidate();
    this.onInvalidate(node.ino);
    if (replaced) this.onInvalidate(replaced.ino);
  }

  /**
   * A node that is not a directory moved or lost its name: only its own path changed (no other
   * node's path runs through it), so the others stay cached. A file rename (git's index.lock ->
   * index) took every host file back from the addon and sent every later OPENDIR to JavaScript.
   */
  forget(node: Node): void {
    if ((node.type & S_IFMT) === S_IFDIR) return this.invalidate();
    this.cache.delete(node);
    // a delta file is no host file: nothing to take back (each take-back sends the addon's
    // listings in flight to JavaScript, and hard links flip names at every listing)
    if (node.delta === undefined) this.onInvalidate(node.ino);
  }

  /** Path of a node in the merged view ('/' for the root). */
  pathOf(node: Node): string {
    return this.of(node).path;
  }

  /** Base directory (or file) this node shows from the base, or null (opaque / no base layer). */
  basePathOf(node: Node): string | null {
    return this.of(node).base;
  }

  /** Whether any base path is kept out of the merged view. */
  hidesAny(): boolean {
    return this.hidden.size > 0;
  }

  /** The base paths kept out of the merged view. */
  hiddenPaths(): string[] {
    return [...this.hidden];
  }

  /** Whether a base path is kept out of the merged view. */
  isHidden(basePath: string): boolean {
    return this.hidden.size > 0 && this.hidden.has(basePath);
  }

  of(node: Node): { path: string; base: string | null } {
    const hit = this.cache.get(node);
    if (hit && hit.gen === this.generation) return hit;
    // Up to the nearest node whose paths are known, iteratively (a deep tree needs no deep
    // stack), then down again. A damaged delta (an entry leading back to a directory above)
    // makes a loop of parents: ELOOP rather than endless recursion.
    const chain: Node[] = [];
    const seen = new Set<Node>();
    let known: Placed | undefined;
    for (let cur: Node | null = node; cur; cur = cur.parent) {
      const cached = this.cache.get(cur);
      if (cached && cached.gen === this.generation) {
        known = cached;
        break;
      }
      if (seen.has(cur)) throw cycleError(chain.map((n) => n.name).reverse().join('/'));
      seen.add(cur);
      chain.push(cur);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const n = chain[i]!;
      let path: string;
      let base: string | null;
      if (!n.parent || !known) {
        path = '/';
        base = '/';
      } else {
        path = join(known.path, n.name);
        const redirect = n.delta !== undefined && (n.type & S_IFMT) === S_IFDIR ? this.origins.redirect(n.delta) : undefined;
        base = redirect !== undefined ? redirect : known.base === null ? null : join(known.base, n.name);
        if (base !== null && this.isHidden(base)) base = null;
      }
      known = { gen: this.generation, path, base };
      this.cache.set(n, known);
    }
    return known!;
  }
}
