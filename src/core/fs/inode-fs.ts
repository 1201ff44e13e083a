/**
 * The inode filesystem on the SPEC v0.4 tables: one class implementing FileSystem, each
 * operation in its own module under ops/ (lookup.ts, create.ts, rename.ts, write.ts, ...).
 * Every mutating operation is one transaction; statements are prepared once per store.
 */
import type { Store } from '../../store/index.js';
import {
  ROOT_INO, S_IFMT, S_IFREG, processCaller,
  type Attr, type Caller, type DirEntry, type DirEntryPlus, type FileSystem, type Removal, type SetAttr, type StatFs,
} from '../types.js';
import type { FsContext } from './context.js';
import { storeNotedBlocks } from './stored-blocks.js';
import { ensureFsExtras, purgeDeadOrphans, purgeHandedOrphans, registerHolder } from './lifecycle.js';
import { LazyAtime } from './lazy-atime.js';
import { sharedReads, type SharedReads } from './shared-reads.js';
import type { MutationObserver } from './mutation.js';
import { knownBlocks, rowsPredictable, rowToAttr, writtenRow } from './rows.js';
import { create, mkdir, mknod, symlink } from './ops/create.js';
import { access } from './ops/access.js';
import { fsync } from './ops/fsync.js';
import { getattr } from './ops/getattr.js';
import { link } from './ops/link.js';
import { entryOf, lookup, parentOf, pathOf } from './ops/lookup.js';
import { open, release } from './ops/open.js';
import { readlink } from './ops/readlink.js';
import { read } from './ops/read.js';
import { readdir, readdirPlus } from './ops/readdir.js';
import { rmdir, unlink } from './ops/remove.js';
import { answerUnlinksFirst } from './ops/unlink-later.js';
import { rename } from './ops/rename.js';
import { setattr } from './ops/setattr.js';
import { statfs } from './ops/statfs.js';
import { append, write } from './ops/write.js';
import { fallocate } from './ops/fallocate.js';
import { writeWhole, type WholeTarget } from './ops/put.js';
import { createAlone } from './ops/create-alone.js';
import { copyIn, type CopySource } from './ops/copy-in.js';
import { copyInAlone, copyInTables, type CopyRows, type CopyRowsShape } from './ops/copy-in-alone.js';
import { makeScratchTables } from './ops/scratch.js';

export interface InodeFsOptions {
  /** told about every successful mutation, inside its transaction (the journal) */
  observer?: MutationObserver;
}

export class InodeFs implements FileSystem {
  readonly rootIno = ROOT_INO;
  readonly store: Store;
  readonly chunkSize: number;
  private readonly ctx: FsContext;

  constructor(store: Store, options: InodeFsOptions = {}) {
    this.store = store;
    this.chunkSize = store.chunkSize;
    this.ctx = {
      store,
      chunkSize: store.chunkSize,
      observer: options.observer,
      openCount: new Map(),
      blocks: new Map(),
      blocksToStore: new Set(),
      scratch: new Map(),
      orphans: new Set(),
      handed: new Set(),
      fresh: 0,
      written: new Map(),
      atime: new LazyAtime(store),
    };
    // another process may change the database between transactions: a fresh inode is fresh no more
    store.onBeginWrite(() => (this.ctx.fresh = 0));
    // stale once the transaction ends (Store.changes says so too): the memory goes with it
    store.onEndWrite(() => this.ctx.written.clear());
    // looked up now, not in the first write's transaction (with the data version it is judged by)
    try {
      store.dataVersion();
    } catch {
      /* looked up again at the first write */
    }
    rowsPredictable(this.ctx);
    const extras = ensureFsExtras(store);
    this.ctx.blocksTable = extras || store.schemaHas('agentfs_fs_blocks');
    store.onBeforeCommit(() => storeNotedBlocks(this.ctx));
    store.onRollback((depth) => depth === 1 && this.ctx.blocksToStore.clear());
    if (extras) {
      try {
        purgeDeadOrphans(this.ctx);
      } catch {
        /* read-only or busy database: orphans wait for the next writable open */
      }
    }
  }

  /**
   * For a process that keeps files open on behalf of others (a mount): another process's unlink
   * of a file open here then keeps its data until the last release here. Returns the unregister.
   */
  holdOpenFiles(): () => void {
    const unregister = registerHolder(this.ctx);
    this.ctx.holder = true;
    return () => {
      this.ctx.holder = false;
      unregister();
    };
  }

  /**
   * For a mount's batch (Store.beginBatch): an unlink that frees a file nothing holds open is
   * answered first and written with the next ones, up to `batch` in one statement (ops/unlink-later.ts).
   */
  answerUnlinksFirst(batch: number): void {
    answerUnlinksFirst(this.ctx, batch);
  }

  /**
   * The kernel holds no file of ours any more (the FUSE session is over): whatever is still
   * counted open was released unseen (a lazily detached mount sends no RELEASE for the last
   * descriptor closed after it), so close() passes those orphans on or frees them too.
   */
  forgetOpenFiles(): void {
    this.ctx.openCount.clear();
  }

  /** An unlinked file had its last release here since purgeHandedOrphans (see there). */
  get handedPurgeDue(): boolean {
    return this.ctx.handedDue === true;
  }

  /** A holder, after another process changed the database: passes on or frees the orphans it does not hold open. */
  purgeHandedOrphans(): void {
    if (this.ctx.holder) this.store.transaction(() => purgeHandedOrphans(this.ctx));
  }

  /** Runs fn in one transaction: path helpers group multi-step changes (rm -r, writeFile) with it. */
  transaction<T>(fn: () => T): T {
    return this.store.transaction(fn);
  }

  lookup(parent: number, name: string): Attr {
    return lookup(this.ctx, parent, name);
  }
  getattr(ino: number): Attr {
    return getattr(this.ctx, ino);
  }
  setattr(ino: number, changes: SetAttr, caller?: Caller): Attr {
    return setattr(this.ctx, ino, changes, caller);
  }
  access(ino: number, mask: number, caller: Caller): void {
    access(this.ctx, ino, mask, caller);
  }
  mkdir(parent: number, name: string, mode: number, caller: Caller = processCaller()): Attr {
    return mkdir(this.ctx, parent, name, mode, caller);
  }
  mknod(parent: number, name: string, mode: number, rdev: number, caller: Caller = processCaller()): Attr {
    return mknod(this.ctx, parent, name, mode, rdev, caller);
  }
  create(parent: number, name: string, mode: number, caller: Caller = processCaller()): Attr {
    return create(this.ctx, parent, name, mode, caller);
  }
  symlink(parent: number, name: string, target: string, caller: Caller = processCaller()): Attr {
    return symlink(this.ctx, parent, name, target, caller);
  }
  link(ino: number, newParent: number, newName: string): Attr {
    return link(this.ctx, ino, newParent, newName);
  }
  unlink(parent: number, name: string): Removal {
    return unlink(this.ctx, parent, name);
  }
  rmdir(parent: number, name: string): Removal {
    return rmdir(this.ctx, parent, name);
  }
  rename(parent: number, name: string, newParent: number, newName: string, flags = 0): void {
    rename(this.ctx, parent, name, newParent, newName, flags);
  }
  readlink(ino: number): string {
    return readlink(this.ctx, ino);
  }
  read(ino: number, offset: number, length: number): Buffer {
    return read(this.ctx, ino, offset, length);
  }
  write(ino: number, offset: number, data: Uint8Array, caller?: Caller): number {
    return write(this.ctx, ino, offset, data, caller);
  }
  append(ino: number, data: Uint8Array, caller?: Caller): number {
    return append(this.ctx, ino, data, caller);
  }
  writeWhole(target: WholeTarget, data: Uint8Array): Attr {
    return writeWhole(this.ctx, target, data);
  }
  createWhole(dir: Attr, dirPath: string, name: string, mode: number, caller: Caller, data: Uint8Array): Attr | 'taken' | undefined {
    return createAlone(this.ctx, dir, dirPath, name, mode, caller, data);
  }
  /** A copy of a file or directory from elsewhere, unjournaled (ops/copy-in.ts). */
  copyIn(parent: number, name: string, src: CopySource): Attr {
    return copyIn(this.ctx, parent, name, src);
  }
  /**
   * copyIn of a regular file or directory as one statement, `rows` (the caller's own) written by
   * it; undefined when that route cannot take it, nothing written (ops/copy-in-alone.ts).
   */
  copyInAlone(parent: number, name: string, src: CopySource, rows?: CopyRows): Attr | undefined {
    return copyInAlone(this.ctx, parent, name, src, rows);
  }
  fallocate(ino: number, mode: number, offset: number, length: number, caller?: Caller): void {
    fallocate(this.ctx, ino, mode, offset, length, caller);
  }
  /** Sets the size (shorthand for setattr({ size })). */
  truncate(ino: number, size: number): Attr {
    return setattr(this.ctx, ino, { size });
  }
  fsync(ino: number, _datasync = false): void {
    fsync(this.ctx, ino);
  }
  readdir(ino: number, offset = 0, limit = -1): DirEntry[] {
    return readdir(this.ctx, ino, offset, limit);
  }
  readdirPlus(ino: number, offset = 0, limit = -1): DirEntryPlus[] {
    return readdirPlus(this.ctx, ino, offset, limit);
  }
  statfs(): StatFs {
    return statfs(this.ctx);
  }
  sharedReads(): SharedReads | undefined {
    return sharedReads(this.ctx);
  }
  /** FileSystem.prepareWrites; `copyRows`: the shape of the rows copyInAlone will be given too. */
  prepareWrites(copyRows?: CopyRowsShape): void {
    if (!this.store.readOnly) makeScratchTables(this.ctx, copyRows ? copyInTables(this.ctx, copyRows) : []);
  }
  writtenAttr(ino: number): Attr | undefined {
    const row = writtenRow(this.ctx, ino);
    // a file whose chunks would have to be counted (a sparse one: after every write) is asked for
    return row && knownBlocks(this.ctx, row) !== undefined ? rowToAttr(this.ctx, row) : undefined;
  }
  open(ino: number, flags: number, seen?: boolean): void {
    open(this.ctx, ino, flags, seen);
  }
  release(ino: number): void {
    release(this.ctx, ino);
  }

  /**
   * Runs fn without telling the observer of what it changes: an overlay's copy-up writes the
   * delta, but the merged view did not change (the journal recorded a create, a write, chmod,
   * chown and times, and the parent's times, for every file an agent edited).
   */
  unobserved<T>(fn: () => T): T {
    const observer = this.ctx.observer;
    this.ctx.observer = undefined;
    try {
      return fn();
    } finally {
      this.ctx.observer = observer;
    }
  }

  /** A path of ino from the root (undefined once unlinked); used by the journal. */
  pathOf(ino: number): string | undefined {
    return pathOf(this.ctx, ino);
  }
  /** The inode `name` in directory `parent` names, if any: a lookup without the attributes or an error. */
  childIno(parent: number, name: string): number | undefined {
    const r = this.store.arrayStmt('SELECT ino FROM fs_dentry WHERE parent_ino = ? AND name = ?').get(parent, name) as [number] | undefined;
    return r?.[0];
  }
  /** The entry pathOf follows from ino (its directory and name); undefined for the root or once unlinked. */
  entryOf(ino: number): { parent: number; name: string } | undefined {
    return entryOf(this.ctx, ino);
  }
  /** The directory holding ino (the root is its own parent). */
  parentOf(ino: number): number {
    return parentOf(this.ctx, ino);
  }
  /** Inodes in use and bytes of regular-file content (agentfs-sdk's statfs numbers). */
  usage(): { inodes: number; bytes: number } {
    const r = this.store
      .stmt(`SELECT COUNT(*) AS inodes, COALESCE(SUM(CASE WHEN mode & ${S_IFMT} = ${S_IFREG} THEN size ELSE 0 END), 0) AS bytes FROM fs_inode`)
      .get() as { inodes: number; bytes: number };
    return { inodes: r.inodes, bytes: r.bytes };
  }

  /** Open handles on ino in this process. */
  openCount(ino: number): number {
    return this.ctx.openCount.get(ino) ?? 0;
  }
}
