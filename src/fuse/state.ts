import { now } from '../core/fs/time.js';
import { S_IFMT, type Attr, type DirEntry, type DirEntryPlus, type FileSystem, type HostFiles, type SetAttr } from '../core/types.js';
import type { NativeBinding, SessionHandle } from './binding.js';
import type { FuseRequest } from './requests.js';
import { attrRecord, type OwnerOverride } from './attr.js';
import type { HostOffers } from './host-offers.js';

const MAX_KNOWN = 500_000;
/** removed directories remembered (ServeState.removedDir), the oldest forgotten first */
const MAX_REMOVED_DIRS = 4096;

/** Kernel cache lifetimes, in seconds. */
export interface CacheTimeouts {
  /** how long the kernel may trust a name -> inode mapping */
  entry: number;
  /** how long the kernel may trust attributes */
  attr: number;
  /** how long the kernel may remember that a name does not exist (0 = never) */
  negative: number;
}

export interface FileHandle {
  ino: number;
  flags: number;
  /** a read-only handle: the file's page-cache key when it was opened (see files.ts release) */
  cacheKey?: string;
  /** a direct_io handle of a mount whose pages are not watched: its open left them unchecked */
  unchecked?: boolean;
}

export interface DirHandle {
  ino: number;
  /** entries fetched from the core but not yet sent, continuing after kernel offset `from` */
  pending: (DirEntry | DirEntryPlus)[] | null;
  from: number;
  /** the core had no more entries after `pending` */
  atEnd: boolean;
  /** `pending` came from readdirPlus (with attributes) */
  plus: boolean;
  /** ServeState.changes when `pending` was read: any change since makes it stale */
  changes: number;
  /** the last reply did not end the listing */
  more?: boolean;
}

/** Everything the request handlers of one mount share. */
export class ServeState {
  readonly files = new Map<number, FileHandle>();
  /** ino -> handles the native read path opened on it (read-only; OPENED/RELEASED events) */
  readonly nativeOpens = new Map<number, number>();
  readonly dirs = new Map<number, DirHandle>();
  /** directory -> parent, learned from lookups, for '..' entries */
  readonly parents = new Map<number, number>();
  /** ino -> "mtime:size" when the kernel last had its pages, to decide keep_cache on open */
  readonly cacheKeys = new Map<number, string>();
  /** names and inodes the kernel may be caching, to invalidate when another process changes the database */
  readonly known = new Map<number, Set<string>>();
  readonly knownInodes = new Set<number>();
  private knownCount = 0;
  /** directories removed through this mount, as they were then with no link (removedDir) */
  private readonly removedDirs = new Map<number, Attr>();
  private nextFh = 1;
  handle: SessionHandle | undefined;
  /** outside changes to the storage are detected (and drop the kernel's caches) */
  watched = false;
  /**
   * every change to a file's content reaches the watcher, so the kernel may keep a file's pages
   * across opens unchecked: watched, and no host directory beneath (an overlay's base files
   * change on the host unseen, and are compared at each open instead)
   */
  pagesWatched = false;
  /** reads move access times (false: the database is open read-only, as noatime) */
  atimes = true;
  /** seconds the kernel may reuse an unchanged directory listing (0: no caching; FuseMountOptions.cacheReaddir) */
  listingMaxAgeS = 0;
  /** the native read path serves this mount, and a write transaction is open here now */
  sharesReads = false;
  /**
   * the native side answers from what this side says its open write transaction changed: the
   * attributes it sent (changedAttrs), the names it changed (changedName) and the directories it
   * made (madeDir). A mount whose reads it shares (sharesReads), and an overlay whose delta files'
   * attributes it answers (by overlay number)
   */
  sharesAttrs = false;
  /** host-backed overlay files go to the addon as they are handed out (FileSystem.hostFiles) */
  hostOffers: HostOffers | undefined;
  /** an overlay's view of which nodes are host files and which live in its delta (FileSystem.hostFiles) */
  hostFiles: HostFiles | undefined;
  writing = false;
  /** the open write transaction closed the native side's opens (closeOpens) */
  private opensClosed = false;
  /** counts the OPENED events queued by the native side (FuseServer.takeNativeOpens) */
  takeNativeOpens: () => void = () => {};
  /** the kernel leaves set-id bits to this server (FUSE_HANDLE_KILLPRIV; the INIT event says) */
  killpriv = false;
  /**
   * Changes served through this mount, and outside changes seen: a listing's entries kept for its
   * next page (DirHandle.pending) are used only while this has not moved, or a name removed
   * meanwhile came back with its old attributes, and the kernel kept it as a dentry.
   */
  changes = 0;

  constructor(
    readonly fs: FileSystem,
    readonly native: NativeBinding,
    readonly timeouts: CacheTimeouts,
    readonly owner: OwnerOverride,
  ) {}

  newFh(): number {
    return this.nextFh++;
  }

  rememberParent(dir: number, parent: number): void {
    if (this.parents.size > 200_000) this.parents.clear();
    this.parents.set(dir, parent);
  }

  /** The kernel now caches parent/name -> ino (and ino's attributes; ino 0: that there is no such name). */
  handedOut(parent: number, name: string, ino: number): void {
    // only an outside change (the watcher) invalidates them; beyond MAX_KNOWN, rely on the timeouts
    if (!this.watched || this.knownCount > MAX_KNOWN) return;
    let names = this.known.get(parent);
    if (!names) this.known.set(parent, (names = new Set()));
    if (!names.has(name)) {
      names.add(name);
      this.knownCount++;
    }
    if (ino) this.knownInodes.add(ino);
  }

  /** Asks the kernel to forget everything it cached from us (after an outside change). */
  invalidateAll(): void {
    if (!this.handle) return;
    for (const [parent, names] of this.known) for (const name of names) this.native.notifyInvalEntry(this.handle, parent, name);
    for (const ino of this.knownInodes) this.native.notifyInvalInode(this.handle, ino, 0, 0);
    // an open file's inode stays in the kernel though no lookup hands it out again (the known
    // sets are cleared below): its pages and size must follow the next outside changes too
    const open = new Set<number>();
    for (const { ino } of this.files.values()) if (!this.knownInodes.has(ino)) open.add(ino);
    for (const ino of this.nativeOpens.keys()) if (!this.knownInodes.has(ino)) open.add(ino);
    for (const ino of open) this.native.notifyInvalInode(this.handle, ino, 0, 0);
    this.native.notifyInvalInode(this.handle, 1, 0, 0);
    this.native.invalidateServed(this.handle);
    this.changes++;
    this.known.clear();
    this.knownInodes.clear();
    this.knownCount = 0;
    this.cacheKeys.clear();
  }

  /**
   * A name in directory `dir` is about to change in the open write transaction (or, for a moved
   * directory, its '..'). The native side lists a directory the transaction did not touch from
   * the database; from now on this one is JavaScript's to list, and the native listings of it in
   * flight are waited for, so none reaches the kernel after this change's reply.
   */
  changingDir(dir: number | undefined): void {
    if (dir === undefined || !this.sharesReads || !this.writing || !this.handle) return;
    this.native.changingDir(this.handle, dir);
  }

  /**
   * A name is about to be removed (unlink, rmdir, rename over it), which frees its inode unless
   * something has it open. Inside a write transaction the native side answers read-only opens of
   * files the transaction has not touched: from now to the transaction's end it leaves them here,
   * and the opens it answered (in flight included) are counted first. With no transaction open
   * yet (near a full disk every change commits alone) the removal opens its own: the opens are
   * closed before it begins, and its start counts those in flight (setWriting).
   */
  removingName(): void {
    if (!this.sharesReads || !this.handle || this.opensClosed) return;
    this.native.closeOpens(this.handle);
    if (!this.writing) return;
    this.opensClosed = true;
    this.takeNativeOpens();
  }

  /** A write transaction opened or ended here (FuseServer.shareReads). */
  setWriting(writing: boolean): void {
    this.writing = writing;
    this.opensClosed = false;
  }

  /**
   * Inode `ino` changed in the open write transaction: the native side answers the kernel's next
   * GETATTR of it with these attributes (attr: as the change left them, else read now), until the
   * transaction ends. The kernel asks for a directory's after every create or unlink in it, and
   * for a file's before a chown (tar x: right after its write). Only while one is open: outside
   * one, changes are committed already.
   */
  changedAttrs(ino: number, attr?: Attr): void {
    if (!this.sharesAttrs || !this.writing || !this.handle) return;
    try {
      this.native.changedAttrs(this.handle, attrRecord(attr ?? this.fs.getattr(ino), this.owner));
    } catch {
      this.native.forgetAttrs(this.handle, ino);
    }
  }

  /**
   * A write changed `ino`: its attributes go to the native side when the filesystem knows them
   * without a read (FileSystem.writtenAttr), else its GETATTR goes to JavaScript.
   */
  wroteTo(ino: number): void {
    if (!this.sharesAttrs || !this.writing || !this.handle) return;
    const attr = this.fs.writtenAttr?.(ino);
    if (attr) this.changedAttrs(ino, attr);
    else this.native.forgetAttrs(this.handle, ino);
  }

  /**
   * `name` in `dir` was added in the open write transaction (created, made, linked, renamed to),
   * or removed or moved away by a filesystem that did not say which inode it held: the addon's
   * lookups leave it to JavaScript until the commit. It answers any other name from the database
   * meanwhile: absent, or present with the attributes there when the transaction did not touch
   * the inode (changedAttrs, changedInode: a removed or moved name's inode is touched, which
   * keeps that name's lookups here too).
   */
  changedName(dir: number, name: string): void {
    if (this.sharesAttrs && this.writing && this.handle) this.native.nameChanged(this.handle, dir, name);
  }

  /**
   * Directory `dir` was made in the open write transaction: every name in it is one the
   * transaction added (changedName), so the addon answers lookups of any other name as absent. An
   * overlay's could have base entries if the host made the same directory since: the addon
   * checks the host directory they would come from.
   */
  madeDir(dir: number): void {
    if (!this.sharesAttrs || !this.writing || !this.handle) return;
    if (!this.hostFiles) return this.native.madeDir(this.handle, dir);
    const base = this.hostFiles.baseDir(dir);
    if (base !== undefined) this.native.madeDir(this.handle, dir, base);
  }

  /** ino changed (or went) in the open write transaction without its new attributes sent: JavaScript answers for it. */
  changedInode(ino: number | undefined): void {
    if (ino !== undefined && this.sharesAttrs && this.writing && this.handle) this.native.forgetAttrs(this.handle, ino);
  }

  /**
   * Directory `attr` was removed through this mount. The kernel keeps its inode while a process
   * still has it as its working directory (or open), and asks for its attributes and opens it
   * there (`stat .`, `ls`): as on a local disk, it then shows with no link and empty, where the
   * database, which has no row for it any more, would answer only ENOENT (ESTALE: fuse/stale.ts).
   */
  removedDir(attr: Attr, ctime: { sec: number; nsec: number }): void {
    if (this.removedDirs.size >= MAX_REMOVED_DIRS) this.removedDirs.delete(this.removedDirs.keys().next().value!);
    this.removedDirs.set(attr.ino, { ...attr, nlink: 0, ctime });
  }

  /** The attributes of a directory removed through this mount (removedDir), for a request the filesystem answered ENOENT. */
  removedDirAttr(ino: number): Attr | undefined {
    return this.removedDirs.get(ino);
  }

  /**
   * A chmod, chown or utimes of a directory removed through this mount (`chmod 700 .` in it): as
   * on a local disk it applies, to what is remembered of it (nothing stores it any more).
   */
  changeRemovedDir(ino: number, c: SetAttr): Attr | undefined {
    const a = this.removedDirs.get(ino);
    if (!a || c.size !== undefined) return undefined;
    const t = now();
    const next: Attr = {
      ...a,
      mode: c.mode === undefined ? a.mode : (a.mode & S_IFMT) | (c.mode & 0o7777),
      uid: c.uid === undefined || c.uid === -1 ? a.uid : c.uid,
      gid: c.gid === undefined || c.gid === -1 ? a.gid : c.gid,
      atime: c.atime === undefined ? a.atime : c.atime === 'now' ? t : c.atime,
      mtime: c.mtime === undefined ? a.mtime : c.mtime === 'now' ? t : c.mtime,
      ctime: t,
    };
    this.removedDirs.set(ino, next);
    return next;
  }

  /** ino names a new node: no longer a removed directory (a database whose numbers SQLite gives again) */
  madeNode(ino: number): void {
    if (this.removedDirs.size) this.removedDirs.delete(ino);
  }

  /** The attributes of what `name` in `dir` names now, if anything (before a change that may drop it). */
  attrAt(dir: number, name: string): Attr | undefined {
    try {
      return this.fs.lookup(dir, name);
    } catch {
      return undefined;
    }
  }

  /** The inode `name` in `dir` names now, if any (before a change that may drop or move it). */
  inodeAt(dir: number, name: string): number | undefined {
    if (!this.sharesAttrs || !this.writing) return undefined;
    try {
      return this.fs.lookup(dir, name).ino;
    } catch {
      return undefined;
    }
  }

  /** A read-only handle the native side opened (+1) or released (-1). */
  countNativeOpen(ino: number, delta: 1 | -1): void {
    const n = (this.nativeOpens.get(ino) ?? 0) + delta;
    if (n > 0) this.nativeOpens.set(ino, n);
    else this.nativeOpens.delete(ino);
  }

  rememberCacheKey(ino: number, key: string): void {
    if (this.cacheKeys.size > 200_000) this.cacheKeys.clear();
    this.cacheKeys.set(ino, key);
  }
}


/** Sends a reply: run now, or once the batch that produced it has committed. */
export type Reply = () => void;

/**
 * Serves one kind of request (its fields named as in native/requests.json). A request is also
 * its caller (uid, gid, pid): handlers pass it where the core wants a Caller, without a copy.
 */
export type Handler<R extends FuseRequest = FuseRequest> = (s: ServeState, req: R) => Reply;
