import type { Attr, DirEntry, DirEntryPlus } from '../types.js';
import { attrOfStats, join, type BaseEntry } from './base.js';
import type { Node } from './inodes.js';
import type { MergedLookup } from './lookup.js';
import type { OverlayParts } from './parts.js';

/** A delta directory this small is listed once per merge instead of a lookup per base name. */
const SHADOW_LIST = 1024;

/** Cookies at or above this continue in the base listing; below it they are delta cookies. */
export const BASE_COOKIE = 2 ** 49;

/**
 * The base half of a merged directory listing: base entries from cookie `offset` on, minus
 * whited-out, hidden and delta-shadowed names. A base cookie is the entry's index in the sorted
 * base listing, so whiteouts added while a reader walks the directory (rm -rf) shift nothing.
 */
export function baseEntriesFrom(
  entries: readonly BaseEntry[],
  offset: number,
  limit: number,
  skip: (name: string) => boolean,
  inoOf: (e: BaseEntry) => number,
): DirEntry[] {
  const out: DirEntry[] = [];
  const start = offset >= BASE_COOKIE ? offset - BASE_COOKIE : 0;
  for (let i = start; i < entries.length && out.length < limit; i++) {
    const e = entries[i]!;
    if (skip(e.name)) continue;
    out.push({ name: e.name, ino: inoOf(e), mode: e.mode, offset: BASE_COOKIE + i + 1 });
  }
  return out;
}

/** Listing a directory of the merged view: the delta's entries first, then the base's. */
export class MergedDirs {
  constructor(
    private readonly o: OverlayParts,
    private readonly lookup: MergedLookup,
  ) {}

  readdir(dir: Node, offset: number, limit: number): DirEntry[] {
    return this.merged(dir, offset, limit, Infinity).out;
  }

  readdirPlus(dir: Node, offset: number, limit: number): DirEntryPlus[] {
    // Base entries come with the lstat of a listing at most a second old (relisted otherwise):
    // the same staleness the kernel's attribute cache allows. One listing serves both the merge
    // and the attributes. Delta entries come with theirs from the delta's own listing (one
    // statement a page; a lookup of each took two more, and `find` or `rm -rf` of a tree made in
    // the session listed at 3x fuse-overlayfs's time).
    const { out: entries, listed, attrs } = this.merged(dir, offset, limit, 1000, true);
    const out: DirEntryPlus[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const attr = attrs[i];
      if (attr) {
        out.push({ ...e, attr });
        continue;
      }
      const b = e.offset >= BASE_COOKIE ? listed[e.offset - BASE_COOKIE - 1] : undefined;
      if (b && b.name === e.name) {
        const node = this.lookup.baseNode(b.stats, dir, e.name);
        // another name of the file was edited (in an earlier session too): the copy shows here
        this.lookup.adoptIfLinked(node, b.stats);
        if (node.delta === undefined) {
          b.attr ??= attrOfStats(b.stats, node.ino);
          out.push({ name: e.name, ino: node.ino, mode: e.mode, offset: e.offset, attr: { ...b.attr } });
          continue;
        }
      }
      const found = this.lookup.find(dir, e.name);
      if (found) out.push({ ...e, ino: found.attr.ino, attr: found.attr });
    }
    return out;
  }

  /**
   * The merged listing from `offset`, the base listing its base cookies index, and with `plus`
   * the merged view's attributes of its delta entries (by index in `out`).
   */
  private merged(
    dir: Node,
    offset: number,
    limitArg: number,
    maxAgeMs: number,
    plus = false,
  ): { out: DirEntry[]; listed: readonly BaseEntry[]; attrs: (Attr | undefined)[] } {
    const limit = limitArg < 0 ? Infinity : limitArg;
    const out: DirEntry[] = [];
    const attrs: (Attr | undefined)[] = [];
    const deltaDir = dir.delta;
    if (deltaDir !== undefined && offset < BASE_COOKIE) {
      // every ino handed out is one the other calls take (the contract): register the nodes
      const deltaLimit = limit === Infinity ? -1 : limit;
      if (plus) {
        for (const e of this.o.delta.readdirPlus(deltaDir, offset, deltaLimit)) {
          const node = this.lookup.nodeForDelta(e.ino, e.mode, dir, e.name);
          attrs[out.length] = this.lookup.deltaAttr(node, e.attr);
          out.push({ name: e.name, ino: node.ino, mode: e.mode, offset: e.offset });
        }
      } else {
        for (const e of this.o.delta.readdir(deltaDir, offset, deltaLimit)) {
          out.push({ ...e, ino: this.lookup.nodeForDelta(e.ino, e.mode, dir, e.name).ino });
        }
      }
      if (out.length >= limit) return { out, listed: [], attrs };
    }
    const { path, base } = this.o.paths.of(dir);
    if (base === null) return { out, listed: [], attrs };
    const listed = this.o.base.list(base, maxAgeMs);
    if (!listed.length) return { out, listed, attrs };
    const whiteouts = this.o.whiteouts.namesIn(path);
    // names the delta shadows: one listing of a small delta directory, else a lookup per entry
    const shadowed = deltaDir !== undefined ? this.deltaNames(deltaDir) : undefined;
    const hides = this.o.paths.hidesAny();
    const more = baseEntriesFrom(
      listed,
      offset,
      limit - out.length,
      (name) =>
        whiteouts.has(name) ||
        (hides && this.o.paths.isHidden(join(base, name))) ||
        (deltaDir !== undefined &&
          (shadowed !== undefined ? shadowed.has(name) : this.lookup.deltaChild(deltaDir, name) !== undefined)),
      (e) => this.lookup.baseNode(e.stats, dir, e.name).ino,
    );
    for (const e of more) out.push(e);
    return { out, listed, attrs };
  }

  /** The names in a delta directory of at most SHADOW_LIST entries, else undefined. */
  private deltaNames(deltaDir: number): Set<string> | undefined {
    const entries = this.o.delta.readdir(deltaDir, 0, SHADOW_LIST + 1);
    if (entries.length > SHADOW_LIST) return undefined;
    return new Set(entries.map((e) => e.name));
  }

  /** rmdir's and rename's test: no entry shows, and the base layer holds no entries left out. */
  isEmpty(dir: Node): boolean {
    if (this.readdir(dir, 0, 1).length) return false;
    // host entries the view leaves out (see BaseReader.hasUnnamed) still make it non-empty
    const bp = this.o.paths.basePathOf(dir);
    return !(bp !== null && this.o.base.hasUnnamed(bp));
  }
}
