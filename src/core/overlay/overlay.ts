import type { Store } from '../../store/index.js';
import { FsError } from '../errors.js';
import type { Attr, Caller, DirEntry, DirEntryPlus, FileSystem, HostFiles, Removal, SetAttr, StatFs } from '../types.js';
import { ROOT_INO, S_IFDIR, S_IFMT, S_IFREG, isDir } from '../types.js';
import type { MutationObserver } from '../fs/mutation.js';
import { checkName, checkNotDot } from '../fs/names.js';
import { writable } from '../fs/open-flags.js';
import { checkAccess } from './access.js';
import { BaseReader, baseName, join, parentOf } from './base.js';
import { baseLinkIndex } from './base-links.js';
import { nsOf } from './host-stat.js';
import { BaseRenames } from './base-rename.js';
import { adoptBaseRoot } from './base-root.js';
import { ChangesView, type OverlayChanges } from './changes-view.js';
import { CopyUp, type Appending } from './copy-up.js';
import { overlayHostFiles } from './host-files.js';
import { BaseInos, NodeTable, type Node } from './inodes.js';
import { MergedLookup, type Found } from './lookup.js';
import { MergedPaths } from './merged-paths.js';
import { Origins, type CopyUpRecord } from './origins.js';
import type { DeltaFs, OverlayParts } from './parts.js';
import { MergedDirs } from './readdir-merge.js';
import { OverlayRename } from './rename.js';
import { DeltaRevert } from './revert.js';
import { ensureOverlaySchema } from './schema.js';
import { OverlayTransactions } from './transaction.js';
import { Whiteouts } from './whiteouts.js';
import { HiddenBase } from './hidden-base.js';

export type { DeltaFs } from './parts.js';

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

/**
 * Copy-on-write overlay: a read-only base directory under a writable delta (an inode filesystem
 * in the agent's database). Lookup order: delta entry, then whiteout, then base. Reads of
 * untouched files go to the base; the first change copies the file up into the delta. The base
 * is never written. This class is the FileSystem; the work is done by the modules it composes
 * (lookup, readdir-merge, copy-up, rename, revert, ...).
 */
export class OverlayFs implements FileSystem {
  readonly rootIno = ROOT_INO;
  /** what diff, patch, commit and discard see of this overlay */
  readonly changes: OverlayChanges;
  private readonly o: OverlayParts;
  private readonly observer: MutationObserver | undefined;
  private readonly tx: OverlayTransactions;
  private readonly lookups: MergedLookup;
  private readonly dirs: MergedDirs;
  private readonly copyUp: CopyUp;
  private readonly renames: OverlayRename;

  constructor(store: Store, baseDir: string, options: OverlayOptions) {
    this.observer = options.observer;
    ensureOverlaySchema(store);
    const delta = options.delta;
    const whiteouts = new Whiteouts(store);
    const origins = new Origins(store);
    const nodes = new NodeTable();
    const paths = new MergedPaths(origins, options.hide ?? [], (ino) => nodes.changed(ino));
    const base = new BaseReader(baseDir, { direct: options.direct });
    const root = nodes.add({ ino: ROOT_INO, parent: null, name: '', type: S_IFDIR, delta: delta.rootIno, baseOpens: 0 });
    this.o = { store, delta, base, whiteouts, origins, hidden: new HiddenBase(store), nodes, paths, root, baseInos: new BaseInos(base.dev) };
    this.tx = new OverlayTransactions(store, nodes, whiteouts, paths);
    this.lookups = new MergedLookup(this.o);
    const made = this.lookups.madeNow;
    store.onEndWrite(() => made.clear());
    store.onRollback(() => made.clear());
    nodes.onChange(() => made.clear());
    this.dirs = new MergedDirs(this.o, this.lookups);
    this.copyUp = new CopyUp(this.o, this.lookups, this.tx);
    this.renames = new OverlayRename(this.o, this.lookups, this.dirs, this.copyUp, this.tx, this.observer);
    const baseRenames = new BaseRenames(this.o, this.tx);
    this.changes = new ChangesView(this, this.o, this.lookups, new DeltaRevert(this.o, this.lookups, this.tx), baseRenames, this.tx);
    adoptBaseRoot(this.o);
    baseRenames.recover();
  }

  /** The base directory (host path). */
  get baseDir(): string {
    return this.o.base.dir;
  }

  close(): void {
    this.o.base.close();
  }

  /**
   * The contract's transaction: the delta's store transaction, and on failure what this object
   * remembers is rolled back too (see OverlayTransactions).
   */
  transaction<T>(fn: () => T): T {
    return this.tx.run(fn);
  }

  // ---- lookup and attributes ---------------------------------------------------------------

  lookup(parent: number, name: string): Attr {
    if (name === '.' || name === '..') {
      const dir = this.lookups.dirNode(parent, 'lookup');
      return this.lookups.attrOf(name === '.' ? dir : dir.parent ?? this.o.root);
    }
    checkName(name, 'lookup');
    const found = this.lookups.find(this.lookups.dirNode(parent, 'lookup'), name);
    if (!found) throw new FsError('ENOENT', 'lookup', name);
    return found.attr;
  }

  getattr(ino: number): Attr {
    return this.lookups.attrOf(this.o.nodes.must(ino, 'getattr'));
  }

  access(ino: number, mask: number, caller: Caller): void {
    const node = this.o.nodes.must(ino, 'access');
    if (node.delta !== undefined) return this.o.delta.access(node.delta, mask, caller);
    checkAccess(this.lookups.attrOf(node), mask, caller);
  }

  readlink(ino: number): string {
    const node = this.o.nodes.must(ino, 'readlink');
    if (node.delta !== undefined) return this.o.delta.readlink(node.delta);
    return this.o.base.readlink(this.lookups.placedBase(node, 'readlink'));
  }

  // ---- creation ----------------------------------------------------------------------------

  private prepareCreate(parent: number, name: string, syscall: 'mkdir' | 'mknod' | 'create' | 'symlink'): { p: Node; pd: number; path: string; hadWhiteout: boolean } {
    checkName(name, syscall);
    const p = this.lookups.dirNode(parent, syscall);
    checkNotDot(name, syscall);
    if (this.lookups.find(p, name)) throw new FsError('EEXIST', syscall, name);
    const pd = this.copyUp.ensureDelta(p);
    const path = join(this.o.paths.pathOf(p), name);
    const hadWhiteout = this.o.whiteouts.has(path);
    return { p, pd, path, hadWhiteout };
  }

  /** made: a directory mkdir made, in the open write transaction (MergedLookup.madeNow) */
  private created(p: Node, name: string, attr: Attr, made = false): Attr {
    const node = this.lookups.nodeForDelta(attr.ino, attr.mode, p, name);
    if (made && this.o.store.inTransaction) this.lookups.madeNow.add(node);
    return this.lookups.deltaAttr(node, { ...attr });
  }

  mkdir(parent: number, name: string, mode: number, caller: Caller): Attr {
    const c = this.prepareCreate(parent, name, 'mkdir');
    const { delta, whiteouts, origins } = this.o;
    // no whiteout to clear: the delta's mkdir alone (one statement in a mount's group commit)
    const attr = !c.hadWhiteout
      ? this.tx.alone(() => delta.mkdir(c.pd, name, mode, caller))
      : this.tx.run(() => {
          const a = delta.mkdir(c.pd, name, mode, caller);
          // re-created over a deleted base path: the new directory must not show the old contents
          whiteouts.remove(c.path);
          whiteouts.removeUnder(c.path);
          origins.setRedirect(a.ino, null);
          return a;
        });
    // made over a whiteout, it is opaque, but no node's path runs through a directory just made
    // (an invalidation took every host file back from the addon: `rm -rf dist && mkdir dist`
    // sent each lstat of the next `git status` to JavaScript)
    return this.created(c.p, name, attr, true);
  }

  mknod(parent: number, name: string, mode: number, rdev: number, caller: Caller): Attr {
    const c = this.prepareCreate(parent, name, 'mknod');
    return this.createOver(c, name, () => this.o.delta.mknod(c.pd, name, mode, rdev, caller));
  }

  create(parent: number, name: string, mode: number, caller: Caller): Attr {
    const c = this.prepareCreate(parent, name, 'create');
    return this.createOver(c, name, () => this.o.delta.create(c.pd, name, mode, caller));
  }

  symlink(parent: number, name: string, target: string, caller: Caller): Attr {
    const c = this.prepareCreate(parent, name, 'symlink');
    return this.createOver(c, name, () => this.o.delta.symlink(c.pd, name, target, caller));
  }

  /** A non-directory made in the delta; a whiteout at its path goes (the new entry hides the base). */
  private createOver(c: { p: Node; path: string; hadWhiteout: boolean }, name: string, make: () => Attr): Attr {
    // no whiteout to clear: the delta's create alone, with no savepoint of ours around it (one
    // statement in a mount's group commit: make-alone.ts)
    const attr = !c.hadWhiteout
      ? this.tx.alone(make)
      : this.tx.run(() => {
          this.o.whiteouts.remove(c.path);
          return make();
        });
    return this.created(c.p, name, attr);
  }

  link(ino: number, newParent: number, newName: string): Attr {
    checkName(newName, 'link');
    const node = this.o.nodes.must(ino, 'link');
    if ((node.type & S_IFMT) === S_IFDIR) throw new FsError('EPERM', 'link', newName, 'hard links to directories are not allowed');
    const q = this.lookups.dirNode(newParent, 'link');
    checkNotDot(newName, 'link');
    if (this.lookups.find(q, newName)) throw new FsError('EEXIST', 'link', newName);
    const attr = this.tx.run(() => {
      const d = this.copyUp.ensureDelta(node);
      const qd = this.copyUp.ensureDelta(q);
      this.o.whiteouts.remove(join(this.o.paths.pathOf(q), newName));
      return this.o.delta.link(d, qd, newName);
    });
    return this.lookups.deltaAttr(node, { ...attr });
  }

  // ---- removal -----------------------------------------------------------------------------

  // what went, by overlay number; the parent's attributes are not read back (Removal.parent)
  unlink(parent: number, name: string): Removal {
    const { p, found } = this.toRemove(parent, name, 'unlink');
    if (isDir(found.attr.mode)) throw new FsError('EISDIR', 'unlink', name);
    this.remove(p, name, found.node, false);
    return { ino: found.node.ino, parent: undefined };
  }

  rmdir(parent: number, name: string): Removal {
    const { p, found } = this.toRemove(parent, name, 'rmdir');
    if (!isDir(found.attr.mode)) throw new FsError('ENOTDIR', 'rmdir', name);
    if (!this.dirs.isEmpty(found.node)) throw new FsError('ENOTEMPTY', 'rmdir', name);
    this.remove(p, name, found.node, true);
    return { ino: found.node.ino, parent: undefined };
  }

  /** The entry unlink or rmdir is to remove (names checked in the order Linux checks them). */
  private toRemove(parent: number, name: string, syscall: 'unlink' | 'rmdir'): { p: Node; found: Found } {
    checkNotDot(name, syscall);
    checkName(name, syscall);
    const p = this.lookups.dirNode(parent, syscall);
    const found = this.lookups.find(p, name);
    if (!found) throw new FsError('ENOENT', syscall, name);
    return { p, found };
  }

  /** Removes the delta entry (if any) and whites out the base entry (if any) at p/name. */
  private remove(p: Node, name: string, node: Node, dir: boolean): void {
    const { delta, whiteouts, origins, hidden } = this.o;
    const path = join(this.o.paths.pathOf(p), name);
    const shown = this.lookups.baseEntry(p, name);
    // a directory moved here shows a base directory from elsewhere, which commit deletes with it
    const movedFrom = dir && !shown ? this.o.paths.basePathOf(node) : null;
    const moved = movedFrom !== null ? this.o.base.lstat(movedFrom) : undefined;
    let freed: number | undefined;
    // read under the write lock (a mount's open group): no other process changes the delta before
    // this removal's statements run
    const locked = this.o.store.inTransaction;
    const d0 = !dir && p.delta !== undefined ? this.lookups.deltaChild(p.delta, name) : undefined;
    // the file's copy-up record: none for a file made in the session
    const rec = d0 !== undefined && node.delta === d0 ? origins.copyUp(d0) : undefined;
    const heir = rec ? this.linkHeir(node, path, rec) : undefined;
    if (shown) this.o.nodes.hiding(p);
    if (locked && d0 !== undefined && node.delta === d0 && !rec && !shown) {
      // A file made in the session, with nothing of the base's at its name: the delta's unlink
      // alone (one statement, no savepoint), which purges fs_origin with the inode; no copy-up
      // record (nor the birth time kept beside one) is left to forget. `rm -rf` of a tree built
      // in the session took eight statements more a file, and 2.7x fuse-overlayfs's time.
      const removed = this.tx.alone(() => delta.unlink(p.delta!, name));
      if ((removed?.links ?? 0) === 0 && (removed?.gone ?? !this.deltaExists(d0))) freed = d0;
    } else this.tx.run(() => {
      const d = p.delta !== undefined ? this.lookups.deltaChild(p.delta, name) : undefined;
      if (d !== undefined && heir && d === node.delta) {
        // the copy lives on under another base name of its file, which shows it
        delta.link(d, this.copyUp.ensureDelta(heir.parent), heir.name);
        delta.unlink(p.delta!, name);
        // its record names where it sits: the removed name may leave the host too
        origins.movedTo(d, heir.basePath);
      } else if (d !== undefined) {
        if (dir) {
          delta.rmdir(p.delta!, name);
          origins.forget(d);
        } else {
          const removed = delta.unlink(p.delta!, name);
          // A copy other hard links of its base file shared (MergedLookup.adoptLinkedCopy) is
          // gone: they show their host file again, not a freed inode (ENOENT, and their
          // directory's listing failed). A copy still open lives on as an orphan.
          // (the removal's count of names left spares every other unlink the check)
          if (node.delta === d && (removed?.links ?? 0) === 0 && !this.deltaExists(d)) {
            origins.forget(d);
            freed = d;
          }
        }
      }
      if (dir) whiteouts.removeUnder(path);
      if (shown) {
        whiteouts.add(path, true);
        hidden.note(path, shown.basePath, shown.st);
      } else if (moved) hidden.note(path, movedFrom!, moved);
      // a base-only entry: the delta saw nothing, so the journal hears it here
      if (d === undefined && shown) this.observer?.({ op: dir ? 'rmdir' : 'unlink', ino: node.ino, path });
    });
    if (dir) {
      this.o.nodes.delete(node);
      this.o.paths.removed(node);
    } else if (heir) {
      node.parent = heir.parent;
      node.name = heir.name;
      this.o.paths.forget(node);
    } else {
      if (freed !== undefined && node.delta === freed) this.o.nodes.dropDelta(node);
      if (node.delta === undefined) {
        // a base file that lost this name lives on under other names (hard links) or handles:
        // the name may come to hold another host file (MergedLookup.placedBase)
        node.nameTaken = true;
        this.o.paths.forget(node);
      }
    }
  }

  /**
   * The base name the copy of a hard-linked base file moves to when `path`, the name it sits
   * under, is removed. Every base name of the file shows the copy (adoptLinkedCopy) and the copy
   * sits under the name last looked up, not the one written through: dropping it took a write
   * made through another name back (`exec 3>>b; cat a; echo x >&3; rm a` left b without the
   * write). undefined when no other name in the base shows it. The base's names of files with
   * several links are found by one walk of their device, kept for the overlay's life (a walk per
   * removal made `rm -r` of edited files from a package store a walk each): only a hint, each
   * name is checked again, and walked again when the file's links changed on the host since.
   */
  private linkHeir(node: Node, path: string, rec: CopyUpRecord): { parent: Node; name: string; basePath: string } | undefined {
    const st = this.o.base.lstat(rec.basePath);
    let dev: number;
    if (st && (st.mode & S_IFMT) === S_IFREG && st.ino === rec.baseIno) {
      if (st.nlink < 2) return undefined;
      dev = st.dev;
    } else {
      // the name the record holds is gone from the host (or another file now): a copy numbered
      // as its base file (fs_origin) is of the base root's device, and its other names may remain
      if (this.o.origins.baseIno(node.delta!) === undefined) return undefined;
      dev = this.o.base.dev;
    }
    let index = this.linkIndexes.get(dev);
    if (!index) this.linkIndexes.set(dev, (index = walkLinks(this.o.base.dir, dev)));
    const { heir, stale } = this.heirAmong(index.names.get(`${dev}:${rec.baseIno}`) ?? [], node, path, dev, rec.baseIno);
    // the walk is out of date for this file when a name it found is gone (its directory may have
    // moved on the host), or when the file's links changed after it (a link made or moved on the
    // host changes the file's ctime): walk again. A file the host left alone is never walked for again.
    if (heir || !(stale || (st && nsOf(st.ctime) >= index.since))) return heir;
    this.linkIndexes.set(dev, (index = walkLinks(this.o.base.dir, dev)));
    return this.heirAmong(index.names.get(`${dev}:${rec.baseIno}`) ?? [], node, path, dev, rec.baseIno).heir;
  }

  /**
   * The first of base names `names` (of base file dev:ino) that shows `node` somewhere but at
   * `path`; stale: one of the names no longer holds that file.
   */
  private heirAmong(names: string[], node: Node, path: string, dev: number, ino: number): { heir?: { parent: Node; name: string; basePath: string }; stale: boolean } {
    let stale = false;
    for (const q of names) {
      const now = this.o.base.lstat(q);
      if (!now || now.ino !== ino || now.dev !== dev) {
        stale = true;
        continue;
      }
      for (const at of this.shownAt(q)) {
        const parent = at !== path ? this.lookups.resolve(parentOf(at))?.node : undefined;
        if (!parent || (parent.type & S_IFMT) !== S_IFDIR || this.o.paths.basePathOf(parent) !== parentOf(q)) continue;
        if (this.lookups.find(parent, baseName(q))?.node === node) return { heir: { parent, name: baseName(q), basePath: q }, stale };
      }
    }
    return { stale };
  }

  /**
   * The overlay paths where base path `q` may show: its own, and under every directory the
   * session moved that shows a base directory above it (agentfs_overlay_dir); the caller checks.
   */
  private shownAt(q: string): string[] {
    const out = [q];
    for (const r of this.o.origins.redirects()) {
      if (r.basePath === null || r.basePath === '/' || !q.startsWith(`${r.basePath}/`)) continue;
      const at = this.o.delta.pathOf(r.deltaIno);
      if (at !== undefined) out.push(join(at, q.slice(r.basePath.length + 1)));
    }
    return out;
  }

  /** baseLinkIndex per device, made on first need (linkHeir) */
  private readonly linkIndexes = new Map<number, LinkWalk>();

  private deltaExists(deltaIno: number): boolean {
    try {
      this.o.delta.getattr(deltaIno);
      return true;
    } catch (e) {
      if (e instanceof FsError && e.code === 'ENOENT') return false;
      throw e;
    }
  }

  rename(parent: number, name: string, newParent: number, newName: string, flags = 0): void {
    this.tx.run(() => {
      // a file replacing the name a hard-linked copy sits under: the copy first moves to another
      // base name that shows it, as unlink moves it (the replace freed it, the other names then
      // named a gone inode, and resumed showed the host's file without the write)
      const heir = flags === 0 ? this.replacedCopy(parent, name, newParent, newName) : undefined;
      if (heir) this.remove(heir.q, newName, heir.node, false);
      this.renames.rename(parent, name, newParent, newName, flags);
    });
  }

  /** The directory and node of a hard-linked copy sitting under newName that a rename replaces and linkHeir keeps. */
  private replacedCopy(parent: number, name: string, newParent: number, newName: string): { q: Node; node: Node } | undefined {
    const p = this.o.nodes.get(parent);
    const q = this.o.nodes.get(newParent);
    if (!p || !q || q.delta === undefined || (p.type & S_IFMT) !== S_IFDIR || (q.type & S_IFMT) !== S_IFDIR) return undefined;
    // (most renames replace no copy-up: the cheap checks first, every rename pays them)
    const d = this.lookups.deltaChild(q.delta, newName);
    const rec = d === undefined ? undefined : this.o.origins.copyUp(d);
    if (rec === undefined) return undefined;
    const src = this.lookups.find(p, name);
    const dst = this.lookups.find(q, newName);
    // only where the rename cannot refuse (two files, not one): it then replaces dst for sure
    if (!src || !dst || src.node === dst.node || isDir(src.attr.mode) || isDir(dst.attr.mode)) return undefined;
    if (dst.node.delta !== d || dst.attr.nlink > 1) return undefined;
    return this.linkHeir(dst.node, join(this.o.paths.pathOf(q), newName), rec) ? { q, node: dst.node } : undefined;
  }

  // ---- data and attributes -----------------------------------------------------------------

  setattr(ino: number, changes: SetAttr, caller?: Caller): Attr {
    const node = this.o.nodes.must(ino, 'setattr');
    if (!Object.values(changes).some((v) => v !== undefined)) return this.lookups.attrOf(node);
    // copied up already: no savepoint around nothing (tar x in `run` sends three setattrs a file)
    const d = node.delta ?? this.tx.run(() => this.copyUp.ensureDelta(node, changes.size ?? Infinity));
    return this.lookups.deltaAttr(node, this.o.delta.setattr(d, changes, caller));
  }

  read(ino: number, offset: number, length: number): Buffer {
    const node = this.o.nodes.must(ino, 'read');
    if (node.delta !== undefined) return this.o.delta.read(node.delta, offset, length);
    if ((node.type & S_IFMT) === S_IFDIR) throw new FsError('EISDIR', 'read');
    if ((node.type & S_IFMT) !== S_IFREG) throw new FsError('EINVAL', 'read');
    return this.o.base.read(this.lookups.placedBase(node, 'read'), offset, length);
  }

  write(ino: number, offset: number, data: Uint8Array, caller?: Caller): number {
    const node = this.fileNode(ino, 'write');
    return this.o.delta.write(this.copyUp.ensureDelta(node), offset, data, caller);
  }

  append(ino: number, data: Uint8Array, caller?: Caller): number {
    const node = this.fileNode(ino, 'write');
    if (node.delta !== undefined) return this.o.delta.append(node.delta, data, caller);
    // a base file's first append goes into its copy as it is made (`echo >> f`), often in the
    // copy's one statement
    const copyAndAppend = (): number => {
      const appending: Appending = { data, caller };
      const d = this.copyUp.ensureDelta(node, Infinity, appending);
      return appending.at ?? this.o.delta.append(d, data, caller);
    };
    // Its directory not copied up yet: all or nothing, in a savepoint (a base file that cannot be
    // read leaves no directory copied up, whose later host changes the session would no longer
    // see). Else none: as for write(), an append that fails after its copy was made (the copy
    // made by the transaction route) leaves the copy, which shows what the base file showed
    return node.parent?.delta === undefined ? this.tx.run(copyAndAppend) : copyAndAppend();
  }

  fallocate(ino: number, mode: number, offset: number, length: number, caller?: Caller): void {
    const node = this.fileNode(ino, 'fallocate');
    this.tx.run(() => this.o.delta.fallocate(this.copyUp.ensureDelta(node), mode, offset, length, caller));
  }

  /** The node of an ino that data is written to: not a directory. */
  private fileNode(ino: number, syscall: string): Node {
    const node = this.o.nodes.must(ino, syscall);
    if ((node.type & S_IFMT) === S_IFDIR) throw new FsError('EISDIR', syscall);
    return node;
  }

  fsync(ino: number, datasync: boolean): void {
    const node = this.o.nodes.must(ino, 'fsync');
    if (node.delta !== undefined) this.o.delta.fsync(node.delta, datasync);
  }

  open(ino: number, flags: number, seen?: boolean): void {
    const node = this.o.nodes.must(ino, 'open');
    if (node.delta !== undefined) this.o.delta.open(node.delta, flags, seen);
    else {
      if (node.nameTaken) {
        // for writing, ESTALE: its copy-up needs a name, and the kernel looks the name it opened
        // up again, which places the node there. For reading (/proc/self/fd/N of a replaced
        // file too), only when the host file is another one now.
        if (writable(flags)) throw new FsError('ESTALE', 'open', this.o.paths.pathOf(node), 'the file lost the name it was seen at');
        this.lookups.placedBase(node, 'open');
      }
      node.baseOpens++;
    }
  }

  release(ino: number): void {
    const node = this.o.nodes.get(ino);
    if (!node) return;
    if (node.delta !== undefined) this.o.delta.release(node.delta);
    else if (node.baseOpens > 0) node.baseOpens--;
  }

  hostFiles(): HostFiles {
    return overlayHostFiles(
      this.o,
      (dir, name, ino, mode) => {
        const d = this.o.nodes.get(dir);
        if (d && d.delta === undefined) this.lookups.listedNode(ino, mode, d, name);
      },
      // the directory at a merged path, else the base path it would show (null: none)
      (path) => {
        let node = this.o.root;
        const names = path.split('/').filter((n) => n !== '');
        for (let i = 0; i < names.length; i++) {
          const found = this.lookups.find(node, names[i]!);
          if (found && isDir(found.attr.mode)) {
            node = found.node;
            continue;
          }
          const base = this.o.paths.basePathOf(node);
          return base === null ? null : join(base, names.slice(i).join('/'));
        }
        return node;
      },
    );
  }

  prepareWrites(): void {
    // with the copy-up's own view: made at the first copy-up, its DDL expired every statement of
    // the connection in the middle of that request (`run`'s first `git status`: index.lock's CREATE)
    this.o.delta.prepareWrites?.(this.o.origins.copyRowsShape);
  }

  changedOutside(): void {
    // another process's whiteouts (an unlink through a second mount), copy-ups and moves; the
    // node table is looked up through the delta again at the next lookup
    this.o.whiteouts.invalidate();
    this.o.paths.invalidate();
  }

  statfs(): StatFs {
    return this.o.delta.statfs();
  }

  // ---- directories -------------------------------------------------------------------------

  readdir(ino: number, offset = 0, limit = -1): DirEntry[] {
    return this.dirs.readdir(this.lookups.dirNode(ino, 'readdir'), offset, limit);
  }

  readdirPlus(ino: number, offset = 0, limit = -1): DirEntryPlus[] {
    return this.dirs.readdirPlus(this.lookups.dirNode(ino, 'readdir'), offset, limit);
  }
}

/** A walk of a base device's linked names, and the host time (ns) it can be trusted since. */
interface LinkWalk {
  names: Map<string, string[]>;
  since: bigint;
}

function walkLinks(baseDir: string, dev: number): LinkWalk {
  // (a file system's timestamps run up to a clock tick behind the wall clock: a margin of 20 ms)
  const since = BigInt(Date.now() - 20) * 1_000_000n;
  return { names: baseLinkIndex(baseDir, dev), since };
}
