/**
 * What the NFS procedures of one server share: the filesystem, handles, verifiers, permission
 * checks and the group commit.
 *
 * Group commit, as in the FUSE server: the changes of the calls served within a few ms share one
 * storage transaction, and replies go out before it commits (3x the small-file operations per
 * second here). A kill of the server can therefore lose the last few ms of acknowledged changes,
 * like the mount's; COMMIT and FILE_SYNC / DATA_SYNC writes commit and sync before they answer, and
 * the write verifier (new at every start) makes clients resend UNSTABLE writes they had not
 * committed. With `groupCommitMs: 0` every burst commits before its replies are sent.
 */
import { randomBytes } from 'node:crypto';
import { FsError, isFsError } from '../core/errors.js';
import { checkAccess } from '../core/fs/access.js';
import { isDir, type Attr, type Caller, type FileSystem } from '../core/types.js';
import { NFS3ERR, NfsError } from './errors.js';
import { Handles } from './handles.js';

/** Opens and commits a transaction spanning several calls (Store.beginBatch/commitBatch). */
export interface GroupCommit {
  begin(): boolean;
  commit(): void;
}

export const GROUP_COMMIT_MS = 10;
/** most entries one search for an unknown inode visits */
const RELOCATE_MAX_ENTRIES = 100_000;
/** commit early after this much written data, to keep the open transaction small */
const GROUP_MAX_BYTES = 64 << 20;

export class NfsState {
  readonly handles: Handles;
  /** fattr3 fsid: the database's generation */
  readonly fsid: Buffer;
  /** WRITE/COMMIT verifier: new at every server start, so clients resend unstable writes */
  readonly writeVerifier: Buffer = randomBytes(8);
  /** READDIR cookie verifier: cookies are dentry ids, valid as long as the database is */
  readonly cookieVerifier: Buffer;
  private groupOpen = false;
  private groupBytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly fs: FileSystem,
    generation: Buffer,
    private readonly group?: GroupCommit,
    /** longest a change waits for its commit; 0: before the replies of its burst */
    private readonly groupCommitMs = GROUP_COMMIT_MS,
    /** a commit that failed after its replies went out (it can only be reported) */
    private readonly onCommitError?: (e: unknown) => void,
  ) {
    this.handles = new Handles(generation);
    this.fsid = generation;
    this.cookieVerifier = Buffer.from(generation);
  }

  /** directory -> parent, learned from lookups (for '..' where the fs cannot look it up) */
  private readonly parents = new Map<number, number>();

  /** Notes that dir is a directory inside parent (mkdir, lookup, readdirplus). */
  rememberParent(dir: number, parent: number): void {
    if (this.parents.size > 200_000) this.parents.clear();
    this.parents.set(dir, parent);
  }

  /**
   * The attributes of '..' of dir: the core looks it up where it can (the inode filesystem); the
   * overlay cannot, so the parent learned from earlier lookups serves, else dir itself.
   */
  parentAttr(dir: number, dirAttr: Attr): Attr {
    try {
      return this.fs.lookup(dir, '..');
    } catch {
      const p = this.parents.get(dir);
      return (p !== undefined && this.tryAttr(p)) || dirAttr;
    }
  }

  /** Attributes of the object a handle names: STALE when it no longer exists. */
  attrOf(ino: number): Attr {
    try {
      return this.fs.getattr(ino);
    } catch (e) {
      if (isFsError(e, 'ESTALE') && this.relocate(ino)) return this.fs.getattr(ino);
      if (isFsError(e, 'ENOENT') || isFsError(e, 'ESTALE')) throw new NfsError(NFS3ERR.STALE, `inode ${ino} is gone`);
      throw e;
    }
  }

  /** inode -> when a walk last failed to find it */
  private readonly lost = new Map<number, number>();

  /**
   * Finds an inode the filesystem does not know at the moment: the overlay knows only what was
   * looked up since it opened, so after a restart the handles clients still hold name inodes it
   * has not seen. One breadth-first walk of the tree (readdirPlus makes the overlay learn every
   * entry) finds it; bounded, and not repeated for the same inode within a minute.
   */
  private relocate(ino: number): boolean {
    const failed = this.lost.get(ino);
    if (failed !== undefined && Date.now() - failed < 60_000) return false;
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

  /** Attributes for a reply's post-op fields; undefined when they cannot be had. */
  tryAttr(ino: number): Attr | undefined {
    try {
      return this.fs.getattr(ino);
    } catch {
      return undefined;
    }
  }

  /** A directory handle's attributes (NOTDIR when it is not one). */
  dirAttr(ino: number): Attr {
    const a = this.attrOf(ino);
    if (!isDir(a.mode)) throw new NfsError(NFS3ERR.NOTDIR);
    return a;
  }

  /**
   * Called before a procedure changes anything (with the bytes it writes): joins (or opens) the
   * group transaction.
   */
  mutating(bytes = 0): void {
    this.groupBytes += bytes;
    if (this.groupOpen || !this.group) return;
    if (this.group.begin()) this.groupOpen = true;
  }

  /**
   * A burst of calls was served, its replies are about to go out: commit now (strict mode, or
   * after much written data), or within groupCommitMs. Throws when a commit now fails.
   */
  endOfBurst(): void {
    if (!this.groupOpen) return;
    if (this.groupCommitMs <= 0 || this.groupBytes >= GROUP_MAX_BYTES) {
      this.commit();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.commit();
      } catch (e) {
        this.onCommitError?.(e);
      }
    }, this.groupCommitMs);
  }

  /** Commits the group transaction, if one is open. */
  commit(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.groupBytes = 0;
    if (!this.groupOpen) return;
    this.groupOpen = false;
    this.group!.commit();
  }

  /** Commits and makes everything durable, as fsync of ino does (COMMIT, FILE_SYNC writes). */
  sync(ino: number): void {
    this.commit();
    this.fs.fsync(ino, false);
  }
}

/** EACCES unless caller has mask on a (root passes, as in the core's access()). */
export function requireAccess(a: Attr, mask: number, caller: Caller): void {
  if (!checkAccess(a, mask, caller)) throw new FsError('EACCES', 'access');
}

/** Like requireAccess, but the owner may always read and write their file (as knfsd does). */
export function requireDataAccess(a: Attr, mask: number, caller: Caller): void {
  if (caller.uid === a.uid) return;
  requireAccess(a, mask, caller);
}
