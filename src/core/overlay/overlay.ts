import type { BigIntStats } from 'node:fs';
import type { Store } from '../../store/index.js';
import { FsError, isFsError } from '../errors.js';
import type { Attr, Caller, DirEntry, DirEntryPlus, FileSystem, SetAttr, StatFs } from '../types.js';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, ROOT_INO, S_IFDIR, S_IFMT, S_IFREG, isDir } from '../types.js';
import type { MutationObserver } from '../fs/mutation.js';
import { checkName, checkNotDot, checkRenameArgs, isDotName } from '../fs/names.js';
import { cycleError } from '../fs/paths.js';
import { checkAccess } from './access.js';
import { BaseReader, attrOfStats, join } from './base.js';
import { copyUpEntry } from './copy-up.js';
import { NodeTable, exposedDeltaIno, type Node } from './inodes.js';
import { Origins } from './origins.js';
import { BASE_COOKIE, baseEntriesFrom } from './readdir-merge.js';
import { ensureOverlaySchema } from './schema.js';
import { Whiteouts } from './whiteouts.js';

/** The delta: the FileSystem contract, plus the path of an inode (InodeFs has it). */
export type DeltaFs = FileSystem & { pathOf(ino: number): string | undefined };

export interface OverlayOptions {
  /** the delta filesystem: an InodeFs over the same store */
  delta: DeltaFs;
  /** base paths ('/x/y') never shown from the base (e.g. the session database's directory) */
  hide?: readonly string[];
  /** read the base by path instead of through a descriptor (see BaseReader) */
  direct?: boolean;
  /** told about changes the delta's own observer cannot see (deleting base entries: whiteouts) */
  observer?: MutationObserver;
}

/** agentfs_meta key: a base directory rename commit has started (JSON { from, to }) */
const PENDING_RENAME = 'overlay.commit_rename';

interface Found {
  node: Node;
  attr: Attr;
}

/**
 * Copy-on-write overlay: a read-only base directory under a writable delta (an inode filesystem
 * in the agent's database). Lookup order: delta entry, then whiteout, then base. Reads of
 * untouched files go to the base; the first change copies the file up into the delta. The base
 * is never written.
 */
export class OverlayFs implements FileSystem {
  readonly rootIno = ROOT_INO;
  readonly base: BaseReader;
  readonly delta: DeltaFs;
  readonly whiteouts: Whiteouts;
  readonly origins: Origins;
  readonly store: Store;
  private readonly nodes = new NodeTable();
  private readonly hidden: Set<string>;
  private readonly root: Node;
  /** bumped whenever a directory moves or changes its base layer: invalidates cached paths */
  private generation = 0;
  private readonly pathCache = new WeakMap<Node, { gen: number; path: string; base: string | null }>();

  constructor(store: Store, baseDir: string, options: OverlayOptions) {
    this.store = store;
    this.delta = options.delta;
    this.hidden = new Set(options.hide ?? []);
    this.observer = options.observer;
    ensureOverlaySchema(store);
    this.whiteouts = new Whiteouts(store);
    this.origins = new Origins(store);
    this.base = new BaseReader(baseDir, { direct: options.direct });
    this.root = this.nodes.add({ ino: ROOT_INO, parent: null, name: '', type: S_IFDIR, delta: this.delta.rootIno, baseOpens: 0 });
    this.adoptBaseRoot();
    this.recoverBaseRename();
  }

  /** The root shows the base root's attributes again (discard of everything). */
  resetRoot(): void {
    this.adoptBaseRoot(true);
  }

  /** The delta root starts as a copy of the base root's attributes (mode, owner, times). */
  private adoptBaseRoot(force = false): void {
    const rootDelta = this.delta.rootIno;
    if (!force && this.origins.baseIno(rootDelta) !== undefined) return;
    const st = this.base.lstat('/');
    if (!st) throw new FsError('ENOENT', 'overlay', this.base.dir, 'base directory is missing');
    if (this.store.readOnly) return; // a viewer shows the delta root as it is; the next writer adopts
    this.store.transaction(() => {
      const ts = (ns: bigint) => ({ sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) });
      this.delta.setattr(rootDelta, { mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), atime: ts(st.atimeNs), mtime: ts(st.mtimeNs) });
      this.origins.record(rootDelta, '/', st);
    });
  }

  close(): void {
    this.base.close();
  }

  // ---- transactions ------------------------------------------------------------------------

  /**
   * The contract's transaction: the delta's store transaction, and on failure what this object
   * remembers is rolled back too (see tx).
   */
  transaction<T>(fn: () => T): T {
    return this.tx(fn);
  }

  private txDepth = 0;
  private readonly observer: MutationObserver | undefined;
  private copiedUp: Node[] = [];

  /**
   * A store transaction whose failure also rolls back what this object remembers: nodes copied
   * up inside it lose their delta inode again, cached whiteouts and paths are dropped.
   */
  private tx<T>(fn: () => T): T {
    this.txDepth++;
    try {
      const out = this.store.transaction(fn);
      if (this.txDepth === 1) this.copiedUp = [];
      return out;
    } catch (e) {
      if (this.txDepth === 1) {
        for (const n of this.copiedUp) this.nodes.dropDelta(n);
        this.copiedUp = [];
      }
      this.whiteouts.invalidate();
      this.generation++;
      throw e;
    } finally {
      this.txDepth--;
    }
  }

  // ---- paths -------------------------------------------------------------------------------

  /** Path of a node in the merged view ('/' for the root). */
  pathOf(node: Node): string {
    return this.paths(node).path;
  }

  /** Base directory (or file) this node shows from the base, or null (opaque / no base layer). */
  basePathOf(node: Node): string | null {
    return this.paths(node).base;
  }

  private paths(node: Node): { path: string; base: string | null } {
    const hit = this.pathCache.get(node);
    if (hit && hit.gen === this.generation) return hit;
    // Up to the nearest node whose paths are known, iteratively (a deep tree needs no deep
    // stack), then down again. A damaged delta (an entry leading back to a directory above)
    // makes a loop of parents: ELOOP rather than endless recursion.
    const chain: Node[] = [];
    const seen = new Set<Node>();
    let known: { gen: number; path: string; base: string | null } | undefined;
    for (let cur: Node | null = node; cur; cur = cur.parent) {
      const cached = this.pathCache.get(cur);
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
      this.pathCache.set(n, known);
    }
    return known!;
  }

  /** The node of an ino handed out earlier (for the change engine). */
  nodeOf(ino: number): Node {
    return this.nodes.must(ino, 'stat');
  }

  /** The entry `name` of a directory node in the merged view, or undefined. */
  entry(parent: Node, name: string): { node: Node; attr: Attr } | undefined {
    return this.find(parent, name);
  }

  /** The entry at an overlay path ('/a/b'), without following symlinks, or undefined. */
  resolvePath(path: string): { node: Node; attr: Attr } | undefined {
    let cur: { node: Node; attr: Attr } = { node: this.root, attr: this.attrOf(this.root) };
    for (const part of path.split('/').filter(Boolean)) {
      if ((cur.node.type & S_IFMT) !== S_IFDIR) return undefined;
      const next = this.find(cur.node, part);
      if (!next) return undefined;
      cur = next;
    }
    return cur;
  }

  get rootNode(): Node {
    return this.root;
  }

  /** Whether a base path is kept out of the merged view. */
  hides(basePath: string): boolean {
    return this.isHidden(basePath);
  }

  private isHidden(basePath: string): boolean {
    return this.hidden.size > 0 && this.hidden.has(basePath);
  }

  // ---- reverting (commit, discard) ----------------------------------------------------------

  /** Delta (parent dir, inode) of the delta entry at an overlay path, walking the delta tree. */
  deltaEntryAt(path: string): { parent: number; name: string; ino: number } | undefined {
    const parts = path.split('/').filter(Boolean);
    if (!parts.length) return undefined;
    let dir = this.delta.rootIno;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = this.deltaChild(dir, parts[i]!);
      if (next === undefined) return undefined;
      dir = next;
    }
    const name = parts[parts.length - 1]!;
    const ino = this.deltaChild(dir, name);
    return ino === undefined ? undefined : { parent: dir, name, ino };
  }

  /**
   * Removes the delta entry at `path` (with everything below it when `recursive`), so the
   * merged view falls through to whiteouts and the base there. Returns whether one existed.
   * A directory that still has delta children is kept unless recursive.
   */
  dropDeltaEntry(path: string, recursive: boolean): boolean {
    const at = this.deltaEntryAt(path);
    if (!at) return false;
    let removed = true;
    this.tx(() => {
      removed = this.dropDeltaTree(at.parent, at.name, at.ino, recursive);
    });
    this.generation++;
    return removed;
  }

  private dropDeltaTree(parent: number, name: string, ino: number, recursive: boolean, onPath = new Set<number>()): boolean {
    const attr = this.delta.getattr(ino);
    if ((attr.mode & S_IFMT) === S_IFDIR) {
      const children = this.delta.readdir(ino);
      if (children.length && !recursive) return false;
      // a damaged delta can lead back to a directory above: ELOOP, not a stack overflow
      if (onPath.has(ino)) throw cycleError(name);
      onPath.add(ino);
      for (const c of children) this.dropDeltaTree(ino, c.name, c.ino, true, onPath);
      onPath.delete(ino);
      this.delta.rmdir(parent, name);
      this.origins.forget(ino);
    } else {
      this.delta.unlink(parent, name);
      if (attr.nlink <= 1) this.origins.forget(ino);
    }
    const node = this.nodes.byDeltaIno(ino);
    if (node && (attr.nlink <= 1 || (attr.mode & S_IFMT) === S_IFDIR)) {
      if (node.baseIno === undefined && this.origins.baseIno(ino) === undefined) this.nodes.delete(node);
      else this.nodes.dropDelta(node);
      // a node that came from the base reads from the base again
      if (node.baseIno === undefined) node.baseIno = node.ino;
    }
    return true;
  }

  /** Overlay path of a delta inode (its first name), or undefined when it has none. */
  deltaPathOf(deltaIno: number): string | undefined {
    return this.delta.pathOf(deltaIno);
  }

  /** Commit is about to rename base directory `from` to `to` (recorded for recovery). */
  beginBaseRename(from: string, to: string): void {
    this.store.setMeta(PENDING_RENAME, JSON.stringify({ from, to }));
  }

  /** The base directory `from` now lives at `to` (commit renamed it): follow it. */
  baseRenamed(from: string, to: string): void {
    this.tx(() => {
      this.origins.rebase(from, to);
      this.store.setMeta(PENDING_RENAME, undefined);
    });
    this.base.forgetAll();
    this.generation++;
  }

  /** Finishes (or forgets) a base rename that a commit was killed in the middle of. */
  private recoverBaseRename(): void {
    const raw = this.store.getMeta(PENDING_RENAME);
    if (!raw || this.store.readOnly) return; // recovery is the next writer's
    const { from, to } = JSON.parse(raw) as { from: string; to: string };
    if (!this.base.lstat(from) && this.base.lstat(to)) this.baseRenamed(from, to);
    else this.store.setMeta(PENDING_RENAME, undefined);
  }

  // ---- lookup ------------------------------------------------------------------------------

  /** The delta inode of deltaDir/name, through the delta's FileSystem interface. */
  private deltaChild(deltaDir: number, name: string): number | undefined {
    if (isDotName(name)) return undefined; // never an entry (lookup would follow it)
    try {
      return this.delta.lookup(deltaDir, name).ino;
    } catch (e) {
      if (isFsError(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  private dirNode(ino: number, syscall: string): Node {
    const n = this.nodes.must(ino, syscall);
    if ((n.type & S_IFMT) !== S_IFDIR) throw new FsError('ENOTDIR', syscall);
    return n;
  }

  private find(parent: Node, name: string): Found | undefined {
    if (parent.delta !== undefined) {
      const d = this.deltaChild(parent.delta, name);
      if (d !== undefined) {
        const attr = this.delta.getattr(d);
        const node = this.nodeForDelta(d, attr.mode, parent, name);
        return { node, attr: this.deltaAttr(node, attr) };
      }
    }
    const { path, base } = this.paths(parent);
    if (base === null) return undefined;
    const bp = join(base, name);
    if (this.isHidden(bp)) return undefined;
    if (this.whiteouts.has(join(path, name))) return undefined;
    const st = this.base.lstat(bp);
    if (!st) return undefined;
    const node = this.baseNode(st, parent, name);
    // a hard link of a file already copied up through another name: show the copy
    if (node.delta !== undefined) return { node, attr: this.deltaAttr(node, this.delta.getattr(node.delta)) };
    return { node, attr: attrOfStats(st, node.ino) };
  }

  /** The node of a base entry seen at parent/name (created, or moved to where it was seen). */
  private baseNode(st: BigIntStats, parent: Node, name: string): Node {
    const ino = Number(st.ino);
    let node = this.nodes.get(ino);
    if (!node || node === this.root) {
      node = this.nodes.add({ ino, parent, name, type: Number(st.mode) & S_IFMT, baseIno: ino, baseOpens: 0 });
    } else if (node.delta === undefined) {
      if ((node.parent !== parent || node.name !== name) && (node.type & S_IFMT) === S_IFDIR) this.generation++;
      node.parent = parent;
      node.name = name;
      node.type = Number(st.mode) & S_IFMT;
    }
    return node;
  }

  private nodeForDelta(deltaIno: number, mode: number, parent: Node, name: string): Node {
    let node = this.nodes.byDeltaIno(deltaIno);
    if (!node) {
      const ino = exposedDeltaIno(deltaIno, this.origins.baseIno(deltaIno));
      const existing = this.nodes.get(ino);
      if (existing && existing.delta === undefined && existing !== this.root) {
        node = existing;
        this.nodes.setDelta(node, deltaIno);
      } else {
        node = this.nodes.add({ ino, parent, name, type: mode & S_IFMT, delta: deltaIno, baseOpens: 0 });
      }
    }
    if (node.parent !== parent || node.name !== name) {
      node.parent = parent;
      node.name = name;
      if ((node.type & S_IFMT) === S_IFDIR) this.generation++;
    }
    node.type = mode & S_IFMT;
    return node;
  }

  private deltaAttr(node: Node, attr: Attr): Attr {
    attr.ino = node.ino;
    // A directory merging with a base directory: its link count is unknown (find's leaf
    // optimisation must not trust it), as btrfs reports.
    if ((attr.mode & S_IFMT) === S_IFDIR && node !== this.root && node.parent) {
      const base = this.basePathOf(node);
      if (base !== null && this.base.lstat(base)) attr.nlink = 1;
    }
    return attr;
  }

  lookup(parent: number, name: string): Attr {
    if (name === '.' || name === '..') {
      const dir = this.dirNode(parent, 'lookup');
      return this.attrOf(name === '.' ? dir : dir.parent ?? this.root);
    }
    checkName(name, 'lookup');
    const found = this.find(this.dirNode(parent, 'lookup'), name);
    if (!found) throw new FsError('ENOENT', 'lookup', name);
    return found.attr;
  }

  getattr(ino: number): Attr {
    return this.attrOf(this.nodes.must(ino, 'getattr'));
  }

  private attrOf(node: Node): Attr {
    if (node.delta !== undefined) return this.deltaAttr(node, this.delta.getattr(node.delta));
    const bp = this.basePathOf(node);
    const st = bp === null ? undefined : this.base.lstat(bp);
    if (!st) throw new FsError('ESTALE', 'getattr', this.pathOf(node), 'the base file is gone');
    return attrOfStats(st, node.ino);
  }

  access(ino: number, mask: number, caller: Caller): void {
    const node = this.nodes.must(ino, 'access');
    if (node.delta !== undefined) return this.delta.access(node.delta, mask, caller);
    checkAccess(this.attrOf(node), mask, caller);
  }

  readlink(ino: number): string {
    const node = this.nodes.must(ino, 'readlink');
    if (node.delta !== undefined) return this.delta.readlink(node.delta);
    const bp = this.basePathOf(node);
    if (bp === null) throw new FsError('ESTALE', 'readlink');
    return this.base.readlink(bp);
  }

  // ---- copy-up -----------------------------------------------------------------------------

  /** The node's delta inode, copying it (and its parent directories) up from the base first. */
  private ensureDelta(node: Node, keepBytes = Infinity): number {
    if (node.delta !== undefined) return node.delta;
    if (!node.parent) throw new FsError('ESTALE', 'copy-up', undefined, 'no parent known for this inode');
    const parentDelta = this.ensureDelta(node.parent);
    const bp = this.basePathOf(node);
    const st = bp === null ? undefined : this.base.lstat(bp);
    if (!st || bp === null) throw new FsError('ESTALE', 'copy-up', this.pathOf(node), 'the base file is gone');
    const d = this.tx(() => {
      // Another process (a second mount, the CLI) may have copied it up since this node was
      // seen: use that copy; a second copy-up would fail (EEXIST) or shadow its changes.
      const theirs = this.deltaChild(parentDelta, node.name);
      if (theirs !== undefined && this.origins.baseIno(theirs) === node.baseIno) return theirs;
      const ino = copyUpEntry(this.delta, this.base, bp, st, parentDelta, node.name, keepBytes);
      this.origins.record(ino, bp, st);
      return ino;
    });
    this.nodes.setDelta(node, d);
    if (this.txDepth > 0) this.copiedUp.push(node);
    for (; node.baseOpens > 0; node.baseOpens--) this.delta.open(d, 2);
    this.base.forget(bp);
    return d;
  }

  // ---- creation ----------------------------------------------------------------------------

  private prepareCreate(parent: number, name: string, syscall: 'mkdir' | 'mknod' | 'create' | 'symlink'): { p: Node; pd: number; path: string; hadWhiteout: boolean } {
    checkName(name, syscall);
    const p = this.dirNode(parent, syscall);
    checkNotDot(name, syscall);
    if (this.find(p, name)) throw new FsError('EEXIST', syscall, name);
    const pd = this.ensureDelta(p);
    const path = join(this.pathOf(p), name);
    const hadWhiteout = this.whiteouts.has(path);
    return { p, pd, path, hadWhiteout };
  }

  private created(p: Node, name: string, attr: Attr): Attr {
    const node = this.nodeForDelta(attr.ino, attr.mode, p, name);
    return this.deltaAttr(node, { ...attr });
  }

  mkdir(parent: number, name: string, mode: number, caller: Caller): Attr {
    const c = this.prepareCreate(parent, name, 'mkdir');
    const attr = this.tx(() => {
      const a = this.delta.mkdir(c.pd, name, mode, caller);
      if (c.hadWhiteout) {
        // re-created over a deleted base path: the new directory must not show the old contents
        this.whiteouts.remove(c.path);
        this.whiteouts.removeUnder(c.path);
        this.origins.setRedirect(a.ino, null);
      }
      return a;
    });
    this.generation++;
    return this.created(c.p, name, attr);
  }

  mknod(parent: number, name: string, mode: number, rdev: number, caller: Caller): Attr {
    const c = this.prepareCreate(parent, name, 'mknod');
    const attr = this.tx(() => {
      if (c.hadWhiteout) this.whiteouts.remove(c.path);
      return this.delta.mknod(c.pd, name, mode, rdev, caller);
    });
    return this.created(c.p, name, attr);
  }

  create(parent: number, name: string, mode: number, caller: Caller): Attr {
    const c = this.prepareCreate(parent, name, 'create');
    const attr = this.tx(() => {
      if (c.hadWhiteout) this.whiteouts.remove(c.path);
      return this.delta.create(c.pd, name, mode, caller);
    });
    return this.created(c.p, name, attr);
  }

  symlink(parent: number, name: string, target: string, caller: Caller): Attr {
    const c = this.prepareCreate(parent, name, 'symlink');
    const attr = this.tx(() => {
      if (c.hadWhiteout) this.whiteouts.remove(c.path);
      return this.delta.symlink(c.pd, name, target, caller);
    });
    return this.created(c.p, name, attr);
  }

  link(ino: number, newParent: number, newName: string): Attr {
    checkName(newName, 'link');
    const node = this.nodes.must(ino, 'link');
    if ((node.type & S_IFMT) === S_IFDIR) throw new FsError('EPERM', 'link', newName, 'hard links to directories are not allowed');
    const q = this.dirNode(newParent, 'link');
    checkNotDot(newName, 'link');
    if (this.find(q, newName)) throw new FsError('EEXIST', 'link', newName);
    const attr = this.tx(() => {
      const d = this.ensureDelta(node);
      const qd = this.ensureDelta(q);
      this.whiteouts.remove(join(this.pathOf(q), newName));
      return this.delta.link(d, qd, newName);
    });
    return this.deltaAttr(node, { ...attr });
  }

  // ---- removal -----------------------------------------------------------------------------

  /** True when the base has an entry that would show at parent/name without a whiteout. */
  private baseHas(parent: Node, name: string): boolean {
    const base = this.basePathOf(parent);
    if (base === null) return false;
    const bp = join(base, name);
    return !this.isHidden(bp) && this.base.lstat(bp) !== undefined;
  }

  unlink(parent: number, name: string): void {
    checkNotDot(name, 'unlink');
    checkName(name, 'unlink');
    const p = this.dirNode(parent, 'unlink');
    const found = this.find(p, name);
    if (!found) throw new FsError('ENOENT', 'unlink', name);
    if (isDir(found.attr.mode)) throw new FsError('EISDIR', 'unlink', name);
    this.remove(p, name, found.node, false);
  }

  rmdir(parent: number, name: string): void {
    checkNotDot(name, 'rmdir');
    checkName(name, 'rmdir');
    const p = this.dirNode(parent, 'rmdir');
    const found = this.find(p, name);
    if (!found) throw new FsError('ENOENT', 'rmdir', name);
    if (!isDir(found.attr.mode)) throw new FsError('ENOTDIR', 'rmdir', name);
    if (this.readdir(found.node.ino, 0, 1).length || this.holdsUnnamed(found.node)) throw new FsError('ENOTEMPTY', 'rmdir', name);
    this.remove(p, name, found.node, true);
  }

  /** The directory's base layer holds host entries the view leaves out (see BaseReader.hasUnnamed). */
  private holdsUnnamed(node: Node): boolean {
    const bp = this.basePathOf(node);
    return bp !== null && this.base.hasUnnamed(bp);
  }

  private remove(p: Node, name: string, node: Node, dir: boolean): void {
    const path = join(this.pathOf(p), name);
    const hideBase = this.baseHas(p, name);
    this.tx(() => {
      const d = p.delta !== undefined ? this.deltaChild(p.delta, name) : undefined;
      if (d !== undefined) {
        if (dir) {
          this.delta.rmdir(p.delta!, name);
          this.origins.forget(d);
        } else {
          this.delta.unlink(p.delta!, name);
        }
      }
      if (dir) this.whiteouts.removeUnder(path);
      if (hideBase) this.whiteouts.add(path);
      // a base-only entry: the delta saw nothing, so the journal hears it here
      if (d === undefined && hideBase) this.observer?.({ op: dir ? 'rmdir' : 'unlink', ino: node.ino, path });
    });
    if (dir) {
      this.nodes.delete(node);
      this.generation++;
    }
  }

  // ---- rename ------------------------------------------------------------------------------

  rename(parent: number, name: string, newParent: number, newName: string, flags = 0): void {
    checkRenameArgs(name, newName, flags);
    const p = this.dirNode(parent, 'rename');
    const q = this.dirNode(newParent, 'rename');
    const src = this.find(p, name);
    if (!src) throw new FsError('ENOENT', 'rename', name);
    const dst = this.find(q, newName);
    if (flags & RENAME_EXCHANGE) {
      if (!dst) throw new FsError('ENOENT', 'rename', newName);
      return this.exchange(p, name, src.node, q, newName, dst.node);
    }
    if (dst && dst.node === src.node) return; // same file (or hard links of it): nothing to do
    if (flags & RENAME_NOREPLACE && dst) throw new FsError('EEXIST', 'rename', newName);
    const srcDir = isDir(src.attr.mode);
    if (dst) {
      const dstDir = isDir(dst.attr.mode);
      if (srcDir && !dstDir) throw new FsError('ENOTDIR', 'rename', newName);
      if (!srcDir && dstDir) throw new FsError('EISDIR', 'rename', newName);
      if (dstDir && (this.readdir(dst.node.ino, 0, 1).length || this.holdsUnnamed(dst.node))) throw new FsError('ENOTEMPTY', 'rename', newName);
    }
    if (srcDir) {
      for (let a: Node | null = q; a; a = a.parent) if (a === src.node) throw new FsError('EINVAL', 'rename', newName);
    }
    const from = join(this.pathOf(p), name);
    const to = join(this.pathOf(q), newName);
    const hideBase = this.baseHas(p, name);
    this.tx(() => {
      const qd = this.ensureDelta(q);
      if (dst && isDir(dst.attr.mode)) this.whiteouts.removeUnder(to);
      if (srcDir) this.moveDir(p, name, src.node, qd, newName, dst?.node);
      else {
        const sd = this.ensureDelta(src.node);
        const pd = p.delta!;
        if (this.deltaChild(pd, name) !== sd) throw new FsError('EXDEV', 'rename', name, 'hard link copied up under another name');
        this.delta.rename(pd, name, qd, newName);
      }
      this.whiteouts.remove(to);
      if (hideBase) this.whiteouts.add(from);
      if (srcDir) this.whiteouts.moveUnder(from, to);
    });
    if (dst && dst.node !== src.node && isDir(dst.attr.mode)) this.nodes.delete(dst.node);
    src.node.parent = q;
    src.node.name = newName;
    this.generation++;
  }

  /** Moves a directory; its base layer (if any) stays the base directory it showed before. */
  private moveDir(p: Node, name: string, node: Node, qd: number, newName: string, dst: Node | undefined): void {
    const bp = this.basePathOf(node);
    const bst = bp === null ? undefined : this.base.lstat(bp);
    const baseDir = bst && (Number(bst.mode) & S_IFMT) === S_IFDIR ? bp : null;
    if (node.delta !== undefined) {
      this.origins.setRedirect(node.delta, baseDir);
      this.delta.rename(p.delta!, name, qd, newName);
      return;
    }
    // base-only directory: its delta copy is made directly at the new place
    if (dst) {
      const dd = this.deltaChild(qd, newName);
      if (dd !== undefined) {
        this.delta.rmdir(qd, newName);
        this.origins.forget(dd);
      }
    }
    if (!bst || bp === null) throw new FsError('ESTALE', 'rename', name, 'the base directory is gone');
    const d = copyUpEntry(this.delta, this.base, bp, bst, qd, newName);
    this.origins.record(d, bp, bst);
    this.origins.setRedirect(d, bp);
    this.nodes.setDelta(node, d);
    if (this.txDepth > 0) this.copiedUp.push(node);
  }

  private exchange(p: Node, name: string, a: Node, q: Node, newName: string, b: Node): void {
    const pa = join(this.pathOf(p), name);
    const pb = join(this.pathOf(q), newName);
    this.tx(() => {
      for (const n of [a, b]) {
        const isD = (n.type & S_IFMT) === S_IFDIR;
        const bp = isD ? this.basePathOf(n) : null;
        const d = this.ensureDelta(n);
        if (isD) {
          const st = bp === null ? undefined : this.base.lstat(bp);
          this.origins.setRedirect(d, st && (Number(st.mode) & S_IFMT) === S_IFDIR ? bp : null);
        }
      }
      this.delta.rename(p.delta!, name, q.delta!, newName, RENAME_EXCHANGE);
      const tmp = '/\u0001exchange';
      this.whiteouts.moveUnder(pa, tmp);
      this.whiteouts.moveUnder(pb, pa);
      this.whiteouts.moveUnder(tmp, pb);
    });
    [a.parent, a.name, b.parent, b.name] = [q, newName, p, name];
    this.generation++;
  }

  // ---- data and attributes -----------------------------------------------------------------

  setattr(ino: number, changes: SetAttr, caller?: Caller): Attr {
    const node = this.nodes.must(ino, 'setattr');
    if (!Object.values(changes).some((v) => v !== undefined)) return this.attrOf(node);
    const d = this.tx(() => this.ensureDelta(node, changes.size ?? Infinity));
    return this.deltaAttr(node, this.delta.setattr(d, changes, caller));
  }

  read(ino: number, offset: number, length: number): Buffer {
    const node = this.nodes.must(ino, 'read');
    if (node.delta !== undefined) return this.delta.read(node.delta, offset, length);
    if ((node.type & S_IFMT) === S_IFDIR) throw new FsError('EISDIR', 'read');
    if ((node.type & S_IFMT) !== S_IFREG) throw new FsError('EINVAL', 'read');
    const bp = this.basePathOf(node);
    if (bp === null) throw new FsError('ESTALE', 'read');
    return this.base.read(bp, offset, length);
  }

  write(ino: number, offset: number, data: Uint8Array): number {
    const node = this.nodes.must(ino, 'write');
    if ((node.type & S_IFMT) === S_IFDIR) throw new FsError('EISDIR', 'write');
    const d = this.ensureDelta(node);
    return this.delta.write(d, offset, data);
  }

  append(ino: number, data: Uint8Array): number {
    const node = this.nodes.must(ino, 'write');
    if ((node.type & S_IFMT) === S_IFDIR) throw new FsError('EISDIR', 'write');
    return this.tx(() => this.delta.append(this.ensureDelta(node), data));
  }

  fallocate(ino: number, mode: number, offset: number, length: number): void {
    const node = this.nodes.must(ino, 'fallocate');
    if ((node.type & S_IFMT) === S_IFDIR) throw new FsError('EISDIR', 'fallocate');
    this.tx(() => this.delta.fallocate(this.ensureDelta(node), mode, offset, length));
  }

  fsync(ino: number, datasync: boolean): void {
    const node = this.nodes.must(ino, 'fsync');
    if (node.delta !== undefined) this.delta.fsync(node.delta, datasync);
  }

  open(ino: number, flags: number): void {
    const node = this.nodes.must(ino, 'open');
    if (node.delta !== undefined) this.delta.open(node.delta, flags);
    else node.baseOpens++;
  }

  release(ino: number): void {
    const node = this.nodes.get(ino);
    if (!node) return;
    if (node.delta !== undefined) this.delta.release(node.delta);
    else if (node.baseOpens > 0) node.baseOpens--;
  }

  statfs(): StatFs {
    return this.delta.statfs();
  }

  // ---- directories -------------------------------------------------------------------------

  readdir(ino: number, offset = 0, limitArg = -1): DirEntry[] {
    const dir = this.dirNode(ino, 'readdir');
    const limit = limitArg < 0 ? Infinity : limitArg;
    const out: DirEntry[] = [];
    if (dir.delta !== undefined && offset < BASE_COOKIE) {
      // every ino handed out is one the other calls take (the contract): register the nodes
      for (const e of this.delta.readdir(dir.delta, offset, limit === Infinity ? -1 : limit)) {
        out.push({ ...e, ino: this.nodeForDelta(e.ino, e.mode, dir, e.name).ino });
      }
      if (out.length >= limit) return out;
    }
    const { path, base } = this.paths(dir);
    if (base === null) return out;
    const whiteouts = this.whiteouts.namesIn(path);
    const deltaDir = dir.delta;
    const more = baseEntriesFrom(
      this.base.list(base),
      offset,
      limit - out.length,
      (name) =>
        whiteouts.has(name) || this.isHidden(join(base, name)) || (deltaDir !== undefined && this.deltaChild(deltaDir, name) !== undefined),
      (e) => this.baseNode(e.stats, dir, e.name).ino,
    );
    for (const e of more) out.push(e);
    return out;
  }

  readdirPlus(ino: number, offset = 0, limit = -1): DirEntryPlus[] {
    const dir = this.dirNode(ino, 'readdir');
    const out: DirEntryPlus[] = [];
    const base = this.basePathOf(dir);
    // Base entries come with the lstat of a listing at most a second old (relisted otherwise):
    // the same staleness the kernel's attribute cache allows.
    const listed = base !== null ? this.base.list(base, 1000) : [];
    for (const e of this.readdir(ino, offset, limit)) {
      const b = e.offset >= BASE_COOKIE ? listed[e.offset - BASE_COOKIE - 1] : undefined;
      if (b && b.name === e.name) {
        const node = this.baseNode(b.stats, dir, e.name);
        if (node.delta === undefined) {
          b.attr ??= attrOfStats(b.stats, node.ino);
          out.push({ ...e, ino: node.ino, attr: { ...b.attr } });
          continue;
        }
      }
      const found = this.find(dir, e.name);
      if (found) out.push({ ...e, ino: found.attr.ino, attr: found.attr });
    }
    return out;
  }
}

